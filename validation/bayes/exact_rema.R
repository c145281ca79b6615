#!/usr/bin/env Rscript
## Reference values for painstats.meta.bayesian_random_effects(method = "exact").
##
## R's bayesmeta is not installable here, so this script computes the same posterior by
## brute force in base R: every quantity is an integrate() over tau (on s = log(tau)),
## with mu | tau handled analytically, and every quantile or interval end is a uniroot().
## It is written from the model's formulas, not from painstats' code:
##   * p(y | tau) with a normal mu prior is the multivariate normal density of
##     y ~ N(m0 1, D + s0^2 J), D = diag(v + tau^2), evaluated with the matrix determinant
##     lemma and the Sherman-Morrison formula; with a flat mu prior it is the restricted
##     likelihood (2 pi)^(-(k-1)/2) |D|^(-1/2) (sum w)^(-1/2) exp(-Q/2);
##   * the tau posterior is normalised by integrate() on (-Inf, mode) and (mode, upper);
##   * the theta_i | tau, y moments come from E[theta_i | mu, tau, y] averaged over mu;
##   * the marginal likelihood and the Bayes factor for mu = 0 are ratios of two
##     integrals over tau (no Savage-Dickey);
##   * shortest intervals solve f(q(p)) = f(q(p + level)) for p with uniroot().
##
## Usage (from the repository root):  Rscript validation/bayes/exact_rema.R [out.json]
## Writes tests/data/bayes_exact_reference.json (jsonlite, digits = NA). ~ a few minutes.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1] else "tests/data/bayes_exact_reference.json"
data_dir <- "data"
REL <- 1e-12
LEVEL <- 0.95

## ------------------------------------------------------------------------ priors on tau
## each returns list(name, params, logpdf(t), upper, zero)
half_normal <- function(scale) list(name = "half_normal", params = list(scale = scale),
  logpdf = function(t) log(2) + dnorm(t, 0, scale, log = TRUE), upper = Inf)
half_cauchy <- function(scale) list(name = "half_cauchy", params = list(scale = scale),
  logpdf = function(t) log(2) + dcauchy(t, 0, scale, log = TRUE), upper = Inf)
half_t <- function(scale, df) list(name = "half_t", params = list(scale = scale, df = df),
  logpdf = function(t) log(2) + dt(t / scale, df, log = TRUE) - log(scale), upper = Inf)
unif <- function(upper) list(name = "uniform", params = list(upper = upper),
  logpdf = function(t) ifelse(t <= upper, -log(upper), -Inf), upper = upper)
improper_unif <- function() list(name = "uniform", params = list(upper = NULL),
  logpdf = function(t) rep(0, length(t)), upper = Inf)
## log(tau^2) ~ N(mu, sigma): density of tau is dnorm(log t^2) * 2 / t
lognormal_tau2 <- function(mu, sigma) list(name = "lognormal_tau2",
  params = list(mu = mu, sigma = sigma),
  logpdf = function(t) dnorm(2 * log(t), mu, sigma, log = TRUE) + log(2) - log(t), upper = Inf)
log_t_tau2 <- function(location, scale, df) list(name = "log_t_tau2",
  params = list(location = location, scale = scale, df = df),
  logpdf = function(t) dt((2 * log(t) - location) / scale, df, log = TRUE) - log(scale) +
    log(2) - log(t), upper = Inf)

## ------------------------------------------------------------------- model pieces
## returns matrix rows: loglik, mhat, V for each tau in t
cond <- function(t, y, v, m0, s0) {
  k <- length(y)
  S2 <- outer(t^2, v, "+")                      # length(t) x k
  W <- 1 / S2
  sw <- rowSums(W)
  if (is.finite(s0)) {
    R <- matrix(y - m0, nrow(S2), k, byrow = TRUE)
    swr <- rowSums(W * R)
    # log N(y; m0 1, D + s0^2 J): determinant lemma and Sherman-Morrison
    logdet <- rowSums(log(S2)) + log1p(s0^2 * sw)
    quad <- rowSums(W * R^2) - s0^2 * swr^2 / (1 + s0^2 * sw)
    ll <- -0.5 * k * log(2 * pi) - 0.5 * logdet - 0.5 * quad
    V <- 1 / (1 / s0^2 + sw)
    mh <- V * (m0 / s0^2 + as.vector(W %*% y))
  } else {
    mh <- as.vector(W %*% y) / sw
    Q <- rowSums(W * (matrix(y, nrow(S2), k, byrow = TRUE) - mh)^2)
    ll <- -0.5 * (k - 1) * log(2 * pi) - 0.5 * rowSums(log(S2)) - 0.5 * log(sw) - 0.5 * Q
    V <- 1 / sw
  }
  list(ll = ll, mh = mh, V = V)
}

integ <- function(f, a, b) {
  if (a >= b) return(0)
  integrate(f, a, b, rel.tol = REL, abs.tol = 0, subdivisions = 5000L, stop.on.error = TRUE)$value
}

## build the posterior object for one case
posterior <- function(y, v, prior, m0, s0) {
  su <- if (is.finite(prior$upper)) log(prior$upper) else Inf
  lp <- function(s) {
    t <- exp(s)
    val <- cond(t, y, v, m0, s0)$ll + prior$logpdf(t) + s
    val[is.nan(val) | t == 0] <- -Inf  # log(0) terms of log-scale priors; tau underflow
    val
  }
  ref <- 0.5 * log(median(v))
  grid <- seq(ref - 40, if (is.finite(su)) su - 1e-9 else ref + 40, length.out = 4001)
  lg <- lp(grid)
  smode <- grid[which.max(lg)]
  lo_o <- max(grid[1], smode - 1); hi_o <- min(tail(grid, 1), smode + 1)
  smode <- optimize(lp, c(lo_o, hi_o), maximum = TRUE, tol = 1e-10)$maximum
  lmax <- lp(smode)
  g <- function(s) exp(lp(s) - lmax)
  gf <- function(f) function(s) { gs <- g(s); out <- gs * f(s); out[gs == 0] <- 0; out }
  full <- function(f) integ(gf(f), -Inf, smode) + integ(gf(f), smode, su)
  one <- function(s) rep(1, length(s))
  Z <- full(one)
  A <- integ(g, -Inf, smode)
  cdf_s <- function(s) if (s <= smode) integ(g, -Inf, s) / Z else (A + integ(g, smode, min(s, su))) / Z
  list(y = y, v = v, m0 = m0, s0 = s0, prior = prior, lp = lp, lmax = lmax, g = g, Z = Z,
       full = full, smode = smode, su = su, cdf_s = cdf_s, log_norm = lmax + log(Z))
}

tau_quantile <- function(P, p) {
  f <- function(s) P$cdf_s(s) - p
  hi <- P$smode + 1; while (f(hi) < 0) hi <- hi + 2
  if (is.finite(P$su)) hi <- min(hi, P$su)
  lo <- P$smode - 1; while (f(lo) > 0) lo <- lo - 2
  exp(uniroot(f, c(lo, hi), tol = 1e-14, maxiter = 1000)$root)
}
tau_logpdf <- function(P, t) {
  if (t == 0) return(cond(0, P$y, P$v, P$m0, P$s0)$ll + P$prior$logpdf(0) - P$log_norm)
  P$lp(log(t)) - log(t) - P$log_norm
}

## mixture quantities over tau for a normal with mean M(t) and sd SD(t)
mix_cdf <- function(P, x, msd) P$full(function(s) { z <- msd(exp(s)); pnorm(x, z$m, z$sd) }) / P$Z
mix_pdf <- function(P, x, msd) P$full(function(s) { z <- msd(exp(s)); dnorm(x, z$m, z$sd) }) / P$Z
mix_quantile <- function(P, p, msd, center, spread) {
  f <- function(x) mix_cdf(P, x, msd) - p
  lo <- center - 3 * spread; while (f(lo) > 0) lo <- lo - 3 * spread
  hi <- center + 3 * spread; while (f(hi) < 0) hi <- hi + 3 * spread
  uniroot(f, c(lo, hi), tol = 1e-13 * max(1, abs(center)), maxiter = 1000)$root
}
mu_msd <- function(P) function(t) { c <- cond(t, P$y, P$v, P$m0, P$s0); list(m = c$mh, sd = sqrt(c$V)) }
pred_msd <- function(P) function(t) { c <- cond(t, P$y, P$v, P$m0, P$s0); list(m = c$mh, sd = sqrt(c$V + t^2)) }
theta_msd <- function(P, i) function(t) {
  c <- cond(t, P$y, P$v, P$m0, P$s0)
  # theta_i | mu, tau, y ~ N((y_i/v_i + mu/t^2) / (1/v_i + 1/t^2), 1 / (1/v_i + 1/t^2)),
  # written with both sides multiplied by v_i t^2 so that t = 0 is finite
  vi <- P$v[i]
  a <- vi / (vi + t^2)                       # coefficient of mu
  list(m = P$y[i] * t^2 / (vi + t^2) + a * c$mh, sd = sqrt(vi * t^2 / (vi + t^2) + a^2 * c$V))
}

## shortest interval: f(q(p)) = f(q(p + level)); boundary: [0, q(level)] if density is higher at 0
## the shortest of: [boundary, q(level)] (if a boundary is given) and the interior solution
hpd <- function(qf, logf, boundary = NULL) {
  cands <- list()
  if (!is.null(boundary)) cands[[1]] <- c(boundary, qf(LEVEL))
  h <- function(p) logf(qf(p)) - logf(qf(p + LEVEL))
  span <- 1 - LEVEL
  ends <- c(span * 1e-4, span * (1 - 1e-4))
  if (h(ends[1]) < 0 && h(ends[2]) > 0) {
    r <- uniroot(h, ends, tol = 1e-15, maxiter = 1000)$root
    cands[[length(cands) + 1]] <- c(qf(r), qf(r + LEVEL))
  }
  if (length(cands) == 0) stop("no shortest interval found")
  cands[[which.min(sapply(cands, diff))]]
}

summ_mix <- function(P, msd) {
  mean <- P$full(function(s) msd(exp(s))$m) / P$Z
  m2 <- P$full(function(s) { z <- msd(exp(s)); z$sd^2 + z$m^2 }) / P$Z
  sd <- sqrt(m2 - mean^2)
  q <- function(p) mix_quantile(P, p, msd, mean, sd)
  a <- (1 - LEVEL) / 2
  list(mean = mean, sd = sd, median = q(0.5), ci = c(q(a), q(1 - a)),
       hpd = hpd(q, function(x) log(mix_pdf(P, x, msd))))
}

run_case <- function(id, dataset, y, v, prior, mu_prior) {
  m0 <- if (is.null(mu_prior)) 0 else mu_prior[1]
  s0 <- if (is.null(mu_prior)) Inf else mu_prior[2]
  P <- posterior(y, v, prior, m0, s0)
  a <- (1 - LEVEL) / 2
  tq <- function(p) tau_quantile(P, p)
  e1 <- P$full(function(s) exp(s)) / P$Z
  e2 <- P$full(function(s) exp(2 * s)) / P$Z
  tau <- list(mean = e1, sd = sqrt(e2 - e1^2), median = tq(0.5), ci = c(tq(a), tq(1 - a)),
              hpd = hpd(tq, function(t) tau_logpdf(P, t), boundary = 0))
  mu <- summ_mix(P, mu_msd(P))
  pred <- summ_mix(P, pred_msd(P))
  th <- lapply(seq_along(y), function(i) {
    msd <- theta_msd(P, i)
    mean <- P$full(function(s) msd(exp(s))$m) / P$Z
    m2 <- P$full(function(s) { z <- msd(exp(s)); z$sd^2 + z$m^2 }) / P$Z
    sd <- sqrt(m2 - mean^2)
    q <- function(p) mix_quantile(P, p, msd, mean, sd)
    list(mean = mean, sd = sd, median = q(0.5), ci = c(q(a), q(1 - a)))
  })
  tau_pts <- as.numeric(tau$median * c(0.5, 1, 2))
  mu_pts <- mu$mean + mu$sd * c(-1, 0, 1.5)
  case <- list(
    id = id, dataset = dataset, k = length(y),
    tau_prior = list(name = prior$name, params = prior$params),
    mu_prior = if (is.null(mu_prior)) list(name = "flat") else
      list(name = "normal", mean = mu_prior[1], sd = mu_prior[2]),
    level = LEVEL,
    tau = tau, mu = mu, predictive = pred,
    theta = list(mean = sapply(th, `[[`, "mean"), sd = sapply(th, `[[`, "sd"),
                 median = sapply(th, `[[`, "median"),
                 ci_low = sapply(th, function(z) z$ci[1]), ci_high = sapply(th, function(z) z$ci[2])),
    tau_points = tau_pts,
    tau_pdf = sapply(tau_pts, function(t) exp(tau_logpdf(P, t))),
    tau_cdf = sapply(tau_pts, function(t) P$cdf_s(log(t))),
    mu_points = mu_pts,
    mu_pdf = sapply(mu_pts, function(x) mix_pdf(P, x, mu_msd(P))),
    mu_cdf = sapply(mu_pts, function(x) mix_cdf(P, x, mu_msd(P))),
    prob_mu_below_0 = mix_cdf(P, 0, mu_msd(P))
  )
  proper_tau <- !(prior$name == "uniform" && is.null(prior$params$upper))
  if (!is.null(mu_prior) && proper_tau) {
    # marginal likelihood p(y) and p(y | mu = 0), both integrated over the tau prior
    ml <- P$log_norm
    l0 <- function(s) {
      t <- exp(s)
      S2 <- outer(t^2, v, "+")
      val <- -0.5 * length(y) * log(2 * pi) - 0.5 * rowSums(log(S2)) -
        0.5 * as.vector((1 / S2) %*% (y^2)) + prior$logpdf(t) + s
      val[is.nan(val) | t == 0] <- -Inf
      val
    }
    grid <- seq(P$smode - 30, min(P$smode + 30, P$su - 1e-9), length.out = 2001)
    c0 <- max(l0(grid))
    f0 <- function(s) exp(l0(s) - c0)
    su <- P$su
    m <- grid[which.max(l0(grid))]
    I0 <- integ(f0, -Inf, m) + integ(f0, m, su)
    case$log_marginal_likelihood <- ml
    case$bayes_factor_mu0 <- exp(c0 + log(I0) - ml)
  }
  case
}

## -------------------------------------------------------------------------- datasets
dat <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg <- list(y = as.numeric(dat$yi), v = as.numeric(dat$vi), labels = paste(dat$author, dat$year))
rub_raw <- read.csv(file.path(data_dir, "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv"))
d <- escalc("MD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = rub_raw)
rub_md <- list(y = as.numeric(d$yi), v = as.numeric(d$vi), labels = paste0(d$study, " (", d$id, ")"))
d <- escalc("SMD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = rub_raw)
rub_smd <- list(y = as.numeric(d$yi), v = as.numeric(d$vi), labels = paste0(d$study, " (", d$id, ")"))
h_raw <- read.csv(file.path(data_dir, "haeuser2009_fms_antidepressants_all_outcomes.csv"))
h_raw <- h_raw[h_raw$outcome == "pain", ]
d <- escalc("SMD", m1i = mti, sd1i = sdti, n1i = nti, m2i = mci, sd2i = sdci, n2i = nci, data = h_raw)
haeuser <- list(y = as.numeric(d$yi), v = as.numeric(d$vi),
                labels = paste0(d$study, " ", d$year, " (", d$tgrp, ")"))
law <- read.csv(file.path(data_dir, "lawlor2001_exercise_depression.csv"))
sub <- function(ds, idx) list(y = ds$y[idx], v = ds$v[idx], labels = ds$labels[idx])
datasets <- list(
  bcg = bcg, rubinstein2019_md = rub_md, rubinstein2019_smd = rub_smd, haeuser2009_pain = haeuser,
  bcg_k2 = sub(bcg, 1:2),
  lawlor2001_k3 = list(y = law$smd[1:3], v = law$varsmd[1:3], labels = law$study[1:3]),
  bcg_k1 = sub(bcg, 4),
  # Rubin (1981) eight schools, as in Gelman et al. BDA p. 143 and the bayesmeta vignette
  rubin1981 = list(y = c(28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16),
                   v = c(14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6)^2,
                   labels = c("A", "B", "C", "D", "E", "F", "G", "H"))
)

## -------------------------------------------------------------------------- cases
rhodes_pain <- log_t_tau2(-3.02, 2.27, 5)
turner_general <- lognormal_tau2(-2.56, 1.74)
ratio_priors <- list(half_normal(0.5), half_cauchy(0.5), half_t(0.5, 3), unif(2),
                     turner_general, log_t_tau2(-3.44, 2.59, 5))
cases <- list()
add <- function(ds, prior, mu_prior) {
  id <- sprintf("%s|%s|%s|%s", ds, prior$name, paste(unlist(prior$params), collapse = ","),
                if (is.null(mu_prior)) "flat" else paste(mu_prior, collapse = ","))
  message(id)
  t0 <- Sys.time()
  cases[[length(cases) + 1L]] <<- run_case(id, ds, datasets[[ds]]$y, datasets[[ds]]$v, prior, mu_prior)
  message(sprintf("  %.1f s", as.numeric(Sys.time() - t0, units = "secs")))
}
QUICK <- nzchar(Sys.getenv("BAYES_QUICK"))
if (QUICK) { add("bcg", half_normal(0.5), c(0, 4)); add("bcg_k2", turner_general, NULL)
  add("rubinstein2019_smd", rhodes_pain, NULL) } else {
for (p in ratio_priors) add("bcg", p, NULL)
add("bcg", half_normal(0.5), c(0, 4))
add("bcg", improper_unif(), NULL)
add("bcg", lognormal_tau2(-2.56, 1.74), c(0, 1))
add("rubinstein2019_md", half_normal(20), NULL)
add("rubinstein2019_md", half_cauchy(10), c(0, 50))
add("rubinstein2019_md", unif(60), NULL)
add("rubinstein2019_smd", rhodes_pain, NULL)
add("rubinstein2019_smd", rhodes_pain, c(0, 2))
add("rubinstein2019_smd", half_normal(0.5), NULL)
add("haeuser2009_pain", rhodes_pain, NULL)
add("haeuser2009_pain", half_t(0.5, 3), c(0, 1))
add("haeuser2009_pain", improper_unif(), c(0, 4))
add("bcg_k2", half_normal(0.5), NULL)
add("bcg_k2", half_cauchy(0.5), c(0, 4))
add("bcg_k2", turner_general, NULL)
add("lawlor2001_k3", half_normal(0.5), NULL)
add("lawlor2001_k3", rhodes_pain, c(0, 2))
add("lawlor2001_k3", half_cauchy(0.5), NULL)
add("bcg_k1", half_normal(0.5), NULL)
add("bcg_k1", half_normal(0.5), c(0, 4))
add("rubin1981", half_cauchy(25), c(0, 50))
add("rubin1981", improper_unif(), NULL)
}

out <- list(
  description = paste("Exact posterior of the Bayesian normal-normal random-effects model by",
                      "brute-force integrate()/uniroot() in base R (validation/bayes/exact_rema.R)"),
  r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
  level = LEVEL, integrate_rel_tol = REL,
  datasets = lapply(datasets, function(d) list(yi = d$y, vi = d$v, labels = d$labels)),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), out_path)
message("wrote ", out_path, " (", length(cases), " cases)")
