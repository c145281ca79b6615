#!/usr/bin/env Rscript
## Reference grid for painstats' random-effects core (painstats.meta.random_effects,
## meta_regression, subgroup_analysis), computed with R metafor.
##
## Writes tests/data/metafor_rma.json: the data (yi, vi, moderators) of every case,
## the settings, and metafor's results at full double precision, so the Python
## tests never need R.
##
## Usage (from the repository root):
##   Rscript validation/metafor/rma_grid.R [output.json] [datasets_dir]
## datasets_dir holds the CSVs of the shared datasets (rubinstein2019_..., normand1999_...,
## haeuser2009_..., lawlor2001_...). Default: the repository's data/ if it has them,
## else $PAINSTATS_DATASETS, else /work/shared/datasets.
##
## Convergence: metafor's default controls stop Fisher scoring when tau2 changes by
## less than 1e-5 and run uniroot() at tol = eps^0.25, which leaves errors up to ~3e-5
## (see /work/shared/metafor-conventions.md, item 14). This script fits every model with
## RMA_CONTROL and computes every Q-profile interval with CONFINT_CONTROL, so that the
## stored values are the exact solutions to ~1e-12, and checks that no Q-profile bound
## hit the search limit (metafor's ">" sign).

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # factor levels in code-point order, as Python sorts

## ---------------------------------------------------------------------------------------
## paths and settings

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/rma_grid.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_rma.json", "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir

TAU2_MAX <- 1e7
RMA_CONTROL <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000L, tau2.max = TAU2_MAX)
CONFINT_CONTROL <- list(tol = 1e-13, maxiter = 10000L, tau2.min = 0, tau2.max = TAU2_MAX)

METHODS <- c("DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM", "FE")
RE_TESTS <- c("z", "t", "knha")
REG_TESTS <- c("z", "t", "knha")
SUB_METHODS <- c("FE", "DL", "REML", "ML", "PM", "SJ")

## datasets refitted at level 0.90 (all methods x all tests)
LEVEL90_RE <- c("bcg", "normand1999", "rubinstein2019", "sim_k2", "sim_k10", "sim_tau2_zero")
## (dataset, formula) pairs refitted at level 0.90
LEVEL90_REG <- c("bcg|yi ~ ablat", "bcg|yi ~ ablat + C(alloc)")

## ---------------------------------------------------------------------------------------
## small helpers

## run expr, collecting (and muffling) warnings so they can be stored with the case
with_warnings <- function(expr) {
  msgs <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = unique(msgs))
}

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)

## rma() with RMA_CONTROL. At the boundary Fisher scoring (ML, REML, EB) approaches tau2 = 0
## geometrically and stops at tau2 ~ 1e-13 once the change is below `threshold`; the exact
## solution is 0. A fit that ends below BOUNDARY_TAU2 is therefore repeated with
## threshold = 0, which runs the same iteration until tau2 stops changing (exactly 0 at the
## boundary). Away from the boundary that refit can cycle between neighbouring doubles and
## fail; the first fit is then kept (it is not a boundary case).
BOUNDARY_TAU2 <- 1e-8
rma_tight <- function(args) {
  res <- do.call(rma, c(args, list(control = RMA_CONTROL)))
  res$boundary_refit <- FALSE
  if (is.element(res$method, c("ML", "REML", "EB")) && res$tau2 > 0 && res$tau2 < BOUNDARY_TAU2) {
    ctrl0 <- modifyList(RMA_CONTROL, list(threshold = 0, maxiter = 100000L))
    res0 <- try(suppressWarnings(do.call(rma, c(args, list(control = ctrl0)))), silent = TRUE)
    if (!inherits(res0, "try-error")) {
      res <- res0
      res$boundary_refit <- TRUE
    }
  }
  res
}

## metafor's pseudo-R2 (r2def "1"): max(0, 100 (tau2_RE - tau2) / tau2_RE), 0 if tau2_RE = 0,
## with tau2_RE from the intercept-only model with the same method, fitted inside rma() with
## the same control. When either fit is a boundary case, metafor's inner fit is not exact
## (tau2_RE ~ 1e-13 instead of 0 turns R2 = 0 into garbage) or fails under threshold = 0
## (R2 = NA); R2 is then recomputed with metafor's formula from a rma_tight() fit.
r2_of <- function(res, yi, vi, method) {
  if (method == "FE") return(list(value = res$R2, recomputed = FALSE))
  re <- rma_tight(list(yi = yi, vi = vi, method = method))
  if (!re$boundary_refit && !res$boundary_refit && !is.na(res$R2)) {
    return(list(value = res$R2, recomputed = FALSE))
  }
  value <- if (identical(re$tau2, 0)) 0 else max(0, 100 * (re$tau2 - res$tau2) / re$tau2)
  list(value = value, recomputed = TRUE)
}

read_shared <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE,
                                       encoding = "UTF-8")

## a dataset entry: yi, vi, labels, moderators, provenance
make_dataset <- function(name, yi, vi, slab, moderators = list(), description, source,
                         source_data = NULL) {
  stopifnot(length(yi) == length(vi), length(yi) == length(slab), all(is.finite(yi)), all(vi > 0))
  list(
    name = name, description = description, source = source, k = length(yi),
    slab = as_array(as.character(slab)), yi = as_array(as.numeric(yi)), vi = as_array(as.numeric(vi)),
    moderators = structure(lapply(moderators, as_array), names = as.character(names(moderators))),
    source_data = if (is.null(source_data)) NULL else lapply(as.list(source_data), as_array)
  )
}

## ---------------------------------------------------------------------------------------
## datasets: real

datasets <- list()

d <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets$bcg <- make_dataset("bcg", d$yi, d$vi, paste(d$author, d$year),
  list(ablat = d$ablat, year = d$year, alloc = d$alloc),
  "BCG vaccine trials, log risk ratio (escalc RR)", "metadat 1.2-0 dat.bcg (Colditz et al. 1994)",
  dat.bcg[, c("tpos", "tneg", "cpos", "cneg")])

d <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
            data = dat.normand1999)
datasets$normand1999 <- make_dataset("normand1999", d$yi, d$vi, d$source, list(),
  "stroke length of stay, mean difference (escalc MD, unpooled SDs)",
  "metadat 1.2-0 dat.normand1999 (Normand 1999)",
  dat.normand1999[, c("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")])

sdp <- with(dat.normand1999, sqrt(((n1i - 1) * sd1i^2 + (n2i - 1) * sd2i^2) / (n1i + n2i - 2)))
d <- escalc("MD", m1i = m1i, sd1i = sdp, n1i = n1i, m2i = m2i, sd2i = sdp, n2i = n2i,
            data = dat.normand1999)
datasets$normand1999_pooledsd <- make_dataset("normand1999_pooledsd", d$yi, d$vi, d$source, list(),
  "stroke length of stay, mean difference with the pooled SD in both arms, as in Normand 1999 Table VIII",
  "metadat 1.2-0 dat.normand1999 (Normand 1999, Stat Med 18:321-359)",
  dat.normand1999[, c("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")])

d <- dat.raudenbush1985
datasets$raudenbush1985 <- make_dataset("raudenbush1985", d$yi, d$vi, paste(d$author, d$year),
  list(weeks = d$weeks, weeks_c = pmin(d$weeks, 3), setting = d$setting, tester = d$tester),
  "teacher expectancy, standardized mean difference as given; weeks_c = min(weeks, 3)",
  "metadat 1.2-0 dat.raudenbush1985 (Raudenbush 1984/2009)")

d <- dat.hackshaw1998
datasets$hackshaw1998 <- make_dataset("hackshaw1998", d$yi, d$vi, paste(d$author, d$year),
  list(year = d$year, design = d$design),
  "passive smoking and lung cancer, log odds ratio as given",
  "metadat 1.2-0 dat.hackshaw1998 (Hackshaw et al. 1997)")

d <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
datasets$molloy2014 <- make_dataset("molloy2014", d$yi, d$vi, paste(d$authors, d$year),
  list(meanage = d$meanage, quality = d$quality, design = d$design),
  "conscientiousness and medication adherence, Fisher z (escalc ZCOR)",
  "metadat 1.2-0 dat.molloy2014 (Molloy et al. 2014)", dat.molloy2014[, c("ri", "ni")])

d <- dat.konstantopoulos2011[dat.konstantopoulos2011$district %in% c(11, 12, 18, 27), ]
datasets$konstantopoulos2011_sub <- make_dataset("konstantopoulos2011_sub", d$yi, d$vi,
  paste0("district ", d$district, " school ", d$school),
  list(year = d$year, district = paste0("d", d$district)),
  "modified school calendars, SMD as given; districts 11, 12, 18, 27 only",
  "metadat 1.2-0 dat.konstantopoulos2011 (Konstantopoulos 2011)")

raw <- read_shared("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
d <- escalc("MD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = raw)
datasets$rubinstein2019 <- make_dataset("rubinstein2019", d$yi, d$vi, paste0(d$study, " (", d$id, ")"),
  list(),
  "chronic low back pain 0-100 at 1 month, spinal manipulation minus recommended therapy (escalc MD)",
  "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv (R pimeta clbp; Rubinstein et al. BMJ 2019)",
  raw[, c("mean_smt", "sd_smt", "n_smt", "mean_ctrl", "sd_ctrl", "n_ctrl")])

raw <- read_shared("haeuser2009_fms_antidepressants_all_outcomes.csv")
raw <- raw[raw$outcome == "pain", ]
d <- escalc("SMD", m1i = mti, sd1i = sdti, n1i = nti, m2i = mci, sd2i = sdci, n2i = nci, data = raw)
datasets$haeuser2009_pain <- make_dataset("haeuser2009_pain", d$yi, d$vi,
  paste0(d$study, " ", d$year, " (", d$tgrp, ")"), list(type = d$type),
  "fibromyalgia pain, antidepressant minus control, Hedges' g (escalc SMD, exact J, vtype LS)",
  "haeuser2009_fms_antidepressants_all_outcomes.csv, outcome == 'pain' (metadat dat.haeuser2009; Haeuser et al. JAMA 2009)",
  raw[, c("nti", "mti", "sdti", "nci", "mci", "sdci")])

raw <- read_shared("lawlor2001_exercise_depression.csv")
datasets$lawlor2001 <- make_dataset("lawlor2001", raw$smd, raw$varsmd, raw$study,
  list(duration = raw$duration, abstract = tolower(raw$abstract), itt = tolower(raw$itt)),
  "exercise for depression, SMD and its variance as published",
  "lawlor2001_exercise_depression.csv (R metaplus exercise; Lawlor & Hopker BMJ 2001)")

## ---------------------------------------------------------------------------------------
## datasets: synthetic (seeded; values rounded to 6 significant digits like published data)

sim <- function(name, k, seed, mu = 0.3, tau2 = 0.05, vmin = 0.01, vmax = 0.2, description) {
  set.seed(seed)
  vi <- signif(runif(k, vmin, vmax), 6)
  x <- round(runif(k, 0, 10), 1)
  grp <- c("a", "b", "c")[(seq_len(k) - 1L) %% 3L + 1L]
  shift <- c(a = 0, b = 0.2, c = -0.15)[grp]
  yi <- signif(mu + 0.03 * x + shift + rnorm(k, 0, sqrt(vi + tau2)), 6)
  make_dataset(name, yi, vi, paste0("study ", seq_len(k)), list(x = x, grp = grp),
               description, paste0("synthetic, set.seed(", seed, ")"))
}

for (k in c(2L, 3L, 5L, 10L, 30L, 100L)) {
  nm <- paste0("sim_k", k)
  datasets[[nm]] <- sim(nm, k, seed = 1000L + k,
                        description = paste0("synthetic, k = ", k, ", true tau2 = 0.05"))
}

## homogeneous: Q(0) is between the lower 2.5% chi2 quantile and k - 1, so every truncated
## estimator gives tau2 = 0 while the Q-profile upper bound is positive
local({
  k <- 12L
  set.seed(2012)
  vi <- signif(runif(k, 0.02, 0.06), 6)
  x <- round(runif(k, 0, 10), 1)
  w <- 1 / vi
  r <- sqrt(vi) * rnorm(k)
  q_of <- function(y) sum(w * (y - sum(w * y) / sum(w))^2)
  target <- 0.55 * (k - 1)
  yi <- signif(0.2 + r * sqrt(target / q_of(r)), 6)
  datasets$sim_tau2_zero <<- make_dataset("sim_tau2_zero", yi, vi, paste0("study ", seq_len(k)),
    list(x = x, grp = c("a", "b", "c")[(seq_len(k) - 1L) %% 3L + 1L]),
    "synthetic homogeneous data: Q = 0.55 (k-1), tau2 estimates 0, Q-profile lower bound 0",
    "synthetic, set.seed(2012), residuals rescaled to a target Q")
})

## Q(0) below the lower 2.5% chi2 quantile: both Q-profile bounds are 0
local({
  k <- 8L
  set.seed(2008)
  vi <- signif(runif(k, 0.02, 0.1), 6)
  w <- 1 / vi
  r <- sqrt(vi) * rnorm(k)
  q_of <- function(y) sum(w * (y - sum(w * y) / sum(w))^2)
  target <- 0.4 * qchisq(0.025, k - 1)
  yi <- signif(-0.1 + r * sqrt(target / q_of(r)), 6)
  datasets$sim_q_below_lower <<- make_dataset("sim_q_below_lower", yi, vi, paste0("study ", seq_len(k)),
    list(), "synthetic: Q(0) = 0.4 x lower 2.5% chi2(k-1) quantile; both Q-profile bounds are 0",
    "synthetic, set.seed(2008), residuals rescaled to a target Q")
})

datasets$sim_huge_het <- sim("sim_huge_het", 15L, seed = 3015L, mu = 1, tau2 = 100, vmin = 0.01, vmax = 1,
                             description = "synthetic, huge heterogeneity: true tau2 = 100, vi in [0.01, 1]")

local({
  k <- 12L
  set.seed(4012)
  vi <- signif(runif(k, 0.02, 0.08), 6)
  yi <- signif(0.1 + rnorm(k, 0, sqrt(vi + 0.01)), 6)
  yi[7] <- 10
  datasets$sim_outlier <<- make_dataset("sim_outlier", yi, vi, paste0("study ", seq_len(k)), list(),
    "synthetic: 11 studies around 0.1 and one extreme outlier (study 7, yi = 10)",
    "synthetic, set.seed(4012)")
})

local({
  k <- 10L
  set.seed(5010)
  vi <- 10^seq(-4, 0, length.out = k)
  yi <- signif(0.5 + rnorm(k, 0, sqrt(vi + 0.02)), 6)
  datasets$sim_unequal_vi <<- make_dataset("sim_unequal_vi", yi, vi, paste0("study ", seq_len(k)), list(),
    "synthetic: vi from 1e-4 to 1 (ratio 1e4), true tau2 = 0.02",
    "synthetic, set.seed(5010)")
})

## 2x2 tables with zero cells; escalc adds 1/2 to all four cells of a study with a zero
## (to = "only0"), including the double-zero study (row 3) and the study where every
## treated subject has the event (row 5)
zero_tables <- data.frame(
  ai = c(0, 2, 0, 5, 20, 1, 0, 3, 7, 4),
  n1i = c(25, 40, 30, 60, 20, 50, 35, 45, 80, 55),
  ci = c(3, 0, 0, 9, 15, 4, 2, 6, 12, 0),
  n2i = c(24, 38, 31, 58, 21, 52, 33, 44, 79, 57)
)
for (measure in c("OR", "RD")) {
  d <- escalc(measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = zero_tables)
  nm <- paste0("sim_zero_cells_", tolower(measure))
  datasets[[nm]] <- make_dataset(nm, d$yi, d$vi, paste0("study ", seq_len(nrow(d))), list(),
    paste0("synthetic 2x2 tables with zero cells (one double-zero, one all-event arm); escalc ", measure,
           ", to = 'only0'"),
    "synthetic, hand-written 2x2 tables", zero_tables)
}

## ---------------------------------------------------------------------------------------
## datasets used only by tests/meta/test_published_examples.py (not part of the grid)

published_only <- list()

## Haeuser 2009 (and Riley 2011) used RevMan's Hedges' g: the approximate correction
## J = 1 - 3/(4m - 1) and vi = 1/n1 + 1/n2 + g^2/(2(n1 + n2 - 3.94)). Kept to show which
## effect-size convention reproduces the printed prediction interval.
local({
  raw <- read_shared("haeuser2009_fms_antidepressants_all_outcomes.csv")
  raw <- raw[raw$outcome == "pain", ]
  m <- raw$nti + raw$nci - 2
  sp <- sqrt(((raw$nti - 1) * raw$sdti^2 + (raw$nci - 1) * raw$sdci^2) / m)
  g <- (raw$mti - raw$mci) / sp * (1 - 3 / (4 * m - 1))
  v <- 1 / raw$nti + 1 / raw$nci + g^2 / (2 * (raw$nti + raw$nci - 3.94))
  published_only$haeuser2009_pain_revman <<- make_dataset("haeuser2009_pain_revman", g, v,
    paste0(raw$study, " ", raw$year, " (", raw$tgrp, ")"), list(),
    "fibromyalgia pain, RevMan-style Hedges' g (approximate J; vi with n1 + n2 - 3.94)",
    "haeuser2009_fms_antidepressants_all_outcomes.csv, outcome == 'pain'",
    raw[, c("nti", "mti", "sdti", "nci", "mci", "sdci")])
})

## ---------------------------------------------------------------------------------------
## fitting

confint_block <- function(res) {
  ci <- confint(res, control = CONFINT_CONTROL)
  if (ci$ub.sign == ">" || ci$lb.sign == ">") stop("Q-profile bound hit tau2.max; raise TAU2_MAX")
  r <- ci$random
  row <- function(i) as_array(unname(r[i, c("estimate", "ci.lb", "ci.ub")]))
  list(tau2 = row(1), tau = row(2), i2 = row(3), h2 = row(4), ci_null = ci$ci.null)
}

fit_re <- function(ds, method, test, level) {
  fit <- with_warnings({
    res <- rma_tight(list(yi = c(ds$yi), vi = c(ds$vi), method = method, test = test, level = 100 * level))
    pred <- predict(res)
    list(res = res, pred = pred, w = weights(res),
         ci = if (method == "FE") NULL else confint_block(res))
  })
  res <- fit$value$res
  pred <- fit$value$pred
  fe <- method == "FE"
  list(
    id = sprintf("%s-%s-%s-%d", ds$name, method, test, round(100 * level)),
    dataset = ds$name, method = method, test = test, level = level,
    metafor_warnings = as_array(fit$warnings),
    boundary_refit = res$boundary_refit,
    expected = list(
      k = res$k,
      estimate = c(res$beta), se = res$se, statistic = res$zval, pvalue = res$pval,
      ci_low = res$ci.lb, ci_high = res$ci.ub,
      pi_low = if (fe) NA_real_ else num(pred$pi.lb), pi_high = if (fe) NA_real_ else num(pred$pi.ub),
      df = if (test == "z") Inf else res$ddf,
      tau2 = res$tau2, tau2_se = num(res$se.tau2), tau = sqrt(res$tau2),
      i2 = res$I2, h2 = res$H2,
      q = res$QE, q_df = res$k - res$p, q_pvalue = res$QEp,
      weights = as_array(unname(fit$value$w)),
      confint = fit$value$ci
    )
  )
}

## Python formula "yi ~ ablat + C(alloc)" -> R mods formula "~ ablat + factor(alloc)"
r_mods <- function(formula_py) {
  rhs <- sub("^\\s*yi\\s*~", "", formula_py)
  as.formula(paste("~", gsub("C\\(", "factor(", rhs)))
}
## metafor coefficient names -> formulaic names
py_terms <- function(r_names) {
  out <- sub("^intrcpt$", "Intercept", r_names)
  sub("^factor\\(([^)]+)\\)(.+)$", "C(\\1)[T.\\2]", out)
}

## new moderator values for predict(): a few rows spanning the data, every factor level
new_data_for <- function(ds, mods_formula) {
  vars <- all.vars(mods_formula)
  mods <- ds$moderators[vars]
  cont <- vars[vapply(mods, is.numeric, TRUE)]
  fact <- setdiff(vars, cont)
  grid_vals <- lapply(mods[cont], function(v) {
    r <- range(v)
    signif(c(r[1] - 0.25 * diff(r), mean(r), r[2] + 0.1 * diff(r)), 6)
  })
  n <- max(3L, vapply(mods[fact], function(v) length(unique(v)), 1L))
  nd <- data.frame(row = seq_len(n))
  for (v in cont) nd[[v]] <- rep_len(grid_vals[[v]], n)
  for (v in fact) nd[[v]] <- rep_len(sort(unique(mods[[v]])), n)
  nd$row <- NULL
  nd
}

fit_reg <- function(ds, formula_py, method, test, level) {
  mf <- r_mods(formula_py)
  dat <- as.data.frame(lapply(ds$moderators, function(v) { attr(v, "json_array") <- NULL; v }),
                       stringsAsFactors = FALSE)
  dat$yi <- c(ds$yi)
  dat$vi <- c(ds$vi)
  fit <- with_warnings({
    res <- rma_tight(list(yi = dat$yi, vi = dat$vi, mods = mf, data = dat, method = method, test = test,
                          level = 100 * level))
    nd <- new_data_for(ds, mf)
    nd_f <- nd
    for (v in names(nd_f)) if (is.character(nd_f[[v]])) nd_f[[v]] <- factor(nd_f[[v]], levels = sort(unique(dat[[v]])))
    X_new <- model.matrix(mf, data = nd_f)[, -1, drop = FALSE]
    pred <- predict(res, newmods = X_new)
    list(res = res, nd = nd, pred = pred)
  })
  res <- fit$value$res
  pred <- fit$value$pred
  fe <- method == "FE"
  r2 <- r2_of(res, dat$yi, dat$vi, method)
  terms <- py_terms(rownames(res$beta))
  coef <- list(
    term = as_array(terms),
    estimate = as_array(c(res$beta)), se = as_array(res$se), statistic = as_array(res$zval),
    pvalue = as_array(res$pval), ci_low = as_array(res$ci.lb), ci_high = as_array(res$ci.ub)
  )
  m <- res$QMdf[1]
  qm_df <- if (test == "z") m else as_array(c(m, res$QMdf[2]))
  nk <- nrow(fit$value$nd)
  list(
    id = sprintf("%s-[%s]-%s-%s-%d", ds$name, formula_py, method, test, round(100 * level)),
    dataset = ds$name, formula = formula_py, method = method, test = test, level = level,
    metafor_warnings = as_array(fit$warnings),
    boundary_refit = res$boundary_refit,
    r2_recomputed = r2$recomputed,
    ## 2-norm condition number of X'X: raw calendar years as moderators make it ~1e11, and
    ## then neither R nor NumPy gets the intercept better than ~1e-9 (tests/tolerances.py)
    design_condition_number = kappa(crossprod(res$X), exact = TRUE),
    expected = list(
      k = res$k, p = res$p,
      coef = coef,
      tau2 = res$tau2, tau2_se = num(res$se.tau2), i2 = res$I2, h2 = res$H2,
      r2 = r2$value,
      qm = res$QM, qm_df = qm_df, qm_pvalue = res$QMp,
      qe = res$QE, qe_df = res$k - res$p, qe_pvalue = res$QEp,
      predict = list(
        new_data = lapply(as.list(fit$value$nd), as_array),
        pred = as_array(c(pred$pred)), se = as_array(c(pred$se)),
        ci_low = as_array(c(pred$ci.lb)), ci_high = as_array(c(pred$ci.ub)),
        pi_low = as_array(if (fe) rep(NA_real_, nk) else c(pred$pi.lb)),
        pi_high = as_array(if (fe) rep(NA_real_, nk) else c(pred$pi.ub))
      )
    )
  )
}

fit_sub <- function(ds, by, method) {
  g <- c(ds$moderators[[by]])
  labels <- sort(unique(g))
  fit <- with_warnings({
    fits <- lapply(labels, function(lab) {
      sel <- g == lab
      rma_tight(list(yi = ds$yi[sel], vi = ds$vi[sel], method = method, test = "z"))
    })
    est <- vapply(fits, function(f) c(f$beta), 0)
    se <- vapply(fits, function(f) f$se, 0)
    between <- rma(est, sei = se, mods = ~ factor(labels), method = "FE")
    list(fits = fits, between = between)
  })
  fits <- fit$value$fits
  b <- fit$value$between
  col <- function(f) as_array(vapply(fits, f, 0))
  list(
    id = sprintf("%s-by-%s-%s", ds$name, by, method),
    dataset = ds$name, by = by, method = method, test = "z", level = 0.95,
    metafor_warnings = as_array(fit$warnings),
    boundary_refit = any(vapply(fits, function(f) f$boundary_refit, TRUE)),
    expected = list(
      groups = list(
        label = as_array(labels),
        k = col(function(f) f$k), estimate = col(function(f) c(f$beta)), se = col(function(f) f$se),
        ci_low = col(function(f) f$ci.lb), ci_high = col(function(f) f$ci.ub),
        tau2 = col(function(f) f$tau2), i2 = col(function(f) f$I2)
      ),
      q_between = b$QM, q_between_df = b$QMdf[1], q_between_pvalue = b$QMp
    )
  )
}

## ---------------------------------------------------------------------------------------
## the grid

re_cases <- list()
for (ds in datasets) {
  levels_here <- if (ds$name %in% LEVEL90_RE) c(0.95, 0.90) else 0.95
  for (level in levels_here) for (method in METHODS) for (test in RE_TESTS) {
    re_cases[[length(re_cases) + 1L]] <- fit_re(ds, method, test, level)
  }
}

REG_SPECS <- list(
  bcg = c("yi ~ ablat", "yi ~ C(alloc)", "yi ~ ablat + year", "yi ~ ablat + C(alloc)"),
  raudenbush1985 = c("yi ~ weeks", "yi ~ weeks_c", "yi ~ weeks + C(setting)"),
  lawlor2001 = c("yi ~ duration"),
  molloy2014 = c("yi ~ meanage", "yi ~ C(design)"),
  hackshaw1998 = c("yi ~ C(design)"),
  konstantopoulos2011_sub = c("yi ~ year"),
  sim_k5 = c("yi ~ x"),
  sim_k10 = c("yi ~ x", "yi ~ x + C(grp)"),
  sim_k30 = c("yi ~ x", "yi ~ C(grp)", "yi ~ x + C(grp)"),
  sim_k100 = c("yi ~ x + C(grp)"),
  sim_huge_het = c("yi ~ x"),
  sim_tau2_zero = c("yi ~ x")
)
reg_cases <- list()
for (nm in names(REG_SPECS)) for (formula_py in REG_SPECS[[nm]]) {
  levels_here <- if (paste0(nm, "|", formula_py) %in% LEVEL90_REG) c(0.95, 0.90) else 0.95
  for (level in levels_here) for (method in METHODS) for (test in REG_TESTS) {
    reg_cases[[length(reg_cases) + 1L]] <- fit_reg(datasets[[nm]], formula_py, method, test, level)
  }
}

SUB_SPECS <- list(
  c("bcg", "alloc"), c("raudenbush1985", "setting"), c("raudenbush1985", "tester"),
  c("lawlor2001", "abstract"), c("hackshaw1998", "design"), c("sim_k30", "grp"),
  c("konstantopoulos2011_sub", "district")
)
sub_cases <- list()
for (spec in SUB_SPECS) for (method in SUB_METHODS) {
  sub_cases[[length(sub_cases) + 1L]] <- fit_sub(datasets[[spec[1]]], spec[2], method)
}

## ---------------------------------------------------------------------------------------
## sanity checks on the grid itself

stopifnot(!anyDuplicated(vapply(re_cases, `[[`, "", "id")))
stopifnot(!anyDuplicated(vapply(reg_cases, `[[`, "", "id")))
local({
  ex <- function(id) Find(function(c) c$id == id, re_cases)$expected
  stopifnot(ex("sim_tau2_zero-REML-z-95")$tau2 == 0, ex("sim_tau2_zero-DL-z-95")$tau2 == 0)
  stopifnot(ex("sim_tau2_zero-REML-z-95")$confint$tau2[2] == 0,
            ex("sim_tau2_zero-REML-z-95")$confint$tau2[3] > 0)
  stopifnot(isTRUE(ex("sim_q_below_lower-REML-z-95")$confint$ci_null))
  stopifnot(all(ex("sim_q_below_lower-REML-z-95")$confint$tau2[2:3] == 0))
  v <- datasets$sim_unequal_vi$vi
  stopifnot(abs(max(v) / min(v) - 1e4) < 1e-6)
})
unexpected <- unique(unlist(lapply(c(re_cases, reg_cases, sub_cases), function(c) {
  w <- c$metafor_warnings
  w[!grepl("Knapp & Hartung method is not meant", w)]
})))
if (length(unexpected)) stop("unexpected metafor warnings:\n", paste(unexpected, collapse = "\n"))

## ---------------------------------------------------------------------------------------
## write

out <- list(
  meta = list(
    description = paste("Reference values for painstats.meta.random_effects / meta_regression /",
                        "subgroup_analysis, from R metafor with tight convergence controls."),
    generated_by = "validation/metafor/rma_grid.R",
    date = format(Sys.time(), "%Y-%m-%d"),
    r_version = R.version.string,
    metafor_version = as.character(packageVersion("metafor")),
    metadat_version = as.character(packageVersion("metadat")),
    platform = R.version$platform,
    rma_control = RMA_CONTROL,
    confint_control = CONFINT_CONTROL,
    methods = as_array(METHODS), re_tests = as_array(RE_TESTS), reg_tests = as_array(REG_TESTS),
    sub_methods = as_array(SUB_METHODS),
    encoding = paste("numbers are shortest round-trip decimals; null = NA in metafor (e.g. no PI",
                     "and no tau2 SE for FE models); \"Inf\" = infinite (df of z tests)"),
    notes = as_array(c(
      "level is a proportion (0.95); metafor was called with level = 100 * level",
      "expected.df is Inf for test = 'z', else k - p",
      "q_df = k - p; weights are percent (weights(res))",
      "confint rows are [estimate, ci_low, ci_high] from confint(res, control = confint_control); absent for FE",
      "meta-regression coefficient names are formulaic's (Intercept, C(var)[T.level]); factor levels sorted in C locale",
      "qm_df is m for test = 'z' and [m, k - p] (F test) for 't' and 'knha'",
      "boundary_refit: ML/REML/EB fit that ended at 0 < tau2 < 1e-8 was repeated with threshold = 0 so tau2 is the exact boundary value 0 (see rma_tight() in the script)",
      "r2_recomputed: R2 recomputed with metafor's formula (r2def 1) from exactly converged fits, because metafor's inner intercept-only fit was a boundary case",
      "design_condition_number: kappa(crossprod(X), exact = TRUE) of the meta-regression design",
      "subgroups: each group fitted with test = 'z'; q_between = QM of rma(est, sei = se, mods = ~ factor(group), method = 'FE')"
    ))
  ),
  datasets = datasets,
  published_only_datasets = published_only,
  random_effects = re_cases,
  meta_regression = reg_cases,
  subgroups = sub_cases
)
dir.create(dirname(out_path), showWarnings = FALSE, recursive = TRUE)
write_json_file(out, out_path)
cat(sprintf("wrote %s: %d datasets, %d random-effects, %d meta-regression, %d subgroup cases\n",
            out_path, length(datasets), length(re_cases), length(reg_cases), length(sub_cases)))
