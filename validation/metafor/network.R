#!/usr/bin/env Rscript
## Reference values for painstats.meta.network (network and component network
## meta-analysis), computed with R metafor's multivariate model rma.mv.
##
## Writes tests/data/metafor_network.json: the arm-level input of every case, the
## contrasts and their block-diagonal covariance matrix V as built here, and metafor's
## results at full double precision, so the Python tests never need R.
##
## Usage (from the repository root):
##   Rscript validation/metafor/network.R [output.json] [datasets_dir]
## datasets_dir holds the shared CSVs (tsd2_parkinsons_offtime_armlevel.csv,
## schwingshackl2014_training_modality_t2d_hba1c_wide.csv). Default: the repository's data/,
## else $PAINSTATS_DATASETS, else /work/shared/datasets.
##
## The model (Lu & Ades 2004; the metafor website's network meta-analysis examples):
##   rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2)
## with X the treatment (or, for component NMA, component) design of each study's contrasts
## against its baseline arm (its first treatment in sorted order), V their within-study
## covariance (the baseline arm's variance between contrasts of a multi-arm study; for SMD
## (v_0j + v_0k - v_jk)/2 from the pairwise escalc variances, as netmeta), and one tau^2 with
## correlation 1/2 between the random effects of a multi-arm study.
##
## Methods: "FE" (rma.mv without random effects), "ML" and "REML" (rma.mv), and "DL", the
## generalised DerSimonian-Laird estimator tau^2 = max(0, (Q - df) / tr(P0 R)) of netmeta /
## Jackson, White & Riley (2012), computed here with dense matrix algebra and then passed to
## rma.mv(..., tau2 = <value>) for the effects.
##
## Convergence: rma.mv's optimisers (nlminb by default) stop within ~1e-8 of the maximum of
## the (restricted) likelihood; different optimisers disagree at that level. Each ML/REML
## tau^2 is therefore polished: the root of the analytic (restricted) likelihood score is found
## with uniroot(tol = 1e-15) (dense algebra, an implementation independent of painstats'), the
## script checks that metafor's own logLik at the polished value is not below its value at
## rma.mv's optimum, and the effects are then taken from rma.mv with tau2 fixed at the
## polished value. The raw rma.mv estimate is stored next to it (tau2_rma_mv).

options(warn = 2)  # any warning from metafor is an error: the reference must be clean
suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # sort() in code-point order, as Python sorts

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/network.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_network.json", "tsd2_parkinsons_offtime_armlevel.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir
read_shared <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE,
                                       encoding = "UTF-8")

METHODS <- c("FE", "DL", "ML", "REML")

## ---------------------------------------------------------------------------------------
## contrasts from arm-level data

## arm-level quantity and its variance (MD, ROM, OR, RR, RD); a zero cell in any arm of a
## study adds 1/2 to the two cells of every arm of the study
arm_values <- function(measure, a) {
  if (measure == "MD") {
    v <- if (!is.null(a$se)) a$se^2 else a$sd^2 / a$n
    return(list(y = a$mean, v = v))
  }
  if (measure == "ROM") {
    v <- if (!is.null(a$se)) a$se^2 else a$sd^2 / a$n
    return(list(y = log(a$mean), v = v / a$mean^2))
  }
  e <- a$events; n <- a$n
  if (any(e == 0 | e == n)) { e <- e + 0.5; n <- n + 1 }
  p <- e / n
  switch(measure,
    OR = list(y = log(e / (n - e)), v = 1 / e + 1 / (n - e)),
    RR = list(y = log(p), v = 1 / e - 1 / n),
    RD = list(y = p, v = p * (1 - p) / n))
}

## Contrasts of every study against its baseline arm (first treatment in sorted order).
## arms: data.frame with study, treatment and the measure's columns.
build_contrasts <- function(arms, measure) {
  rows <- list(); blocks <- list()
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, , drop = FALSE]
    a <- a[order(a$treatment), , drop = FALSE]
    k <- nrow(a)
    if (measure == "SMD") {
      es <- function(j, i) escalc("SMD", m1i = a$mean[j], sd1i = a$sd[j], n1i = a$n[j],
                                  m2i = a$mean[i], sd2i = a$sd[i], n2i = a$n[i])
      e0 <- lapply(2:k, function(j) es(j, 1))
      y <- sapply(e0, function(e) e$yi); v0 <- sapply(e0, function(e) e$vi)
      C <- diag(v0, nrow = k - 1)
      if (k > 2) for (j in 2:(k - 1)) for (l in (j + 1):k) {
        vjl <- es(l, j)$vi
        C[j - 1, l - 1] <- C[l - 1, j - 1] <- (v0[j - 1] + v0[l - 1] - vjl) / 2
      }
    } else {
      av <- arm_values(measure, a)
      y <- av$y[-1] - av$y[1]
      C <- matrix(av$v[1], k - 1, k - 1) + diag(av$v[-1], nrow = k - 1)
    }
    rows[[length(rows) + 1]] <- data.frame(study = s, treat1 = a$treatment[-1],
      treat2 = a$treatment[1], yi = as.numeric(y), stringsAsFactors = FALSE)
    blocks[[length(blocks) + 1]] <- C
  }
  cd <- do.call(rbind, rows)
  cd$comp <- paste(cd$treat1, cd$treat2, sep = " vs ")
  cd$vi <- unlist(lapply(blocks, diag))
  list(contrasts = cd, V = as.matrix(bldiag(blocks)), blocks = blocks,
       treatments = sort(unique(arms$treatment)))
}

## check the conventions of two-arm studies against escalc itself
check_escalc <- function(arms, measure, cd) {
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, ]
    if (nrow(a) != 2 || measure == "SMD") next
    a <- a[order(a$treatment), ]
    if (measure %in% c("MD", "ROM") && !is.null(a$sd)) {
      e <- escalc(measure, m1i = a$mean[2], sd1i = a$sd[2], n1i = a$n[2], m2i = a$mean[1],
                  sd2i = a$sd[1], n2i = a$n[1])
    } else if (measure %in% c("OR", "RR", "RD")) {
      e <- escalc(measure, ai = a$events[2], n1i = a$n[2], ci = a$events[1], n2i = a$n[1])
    } else next
    r <- cd[cd$study == s, ]
    stopifnot(isTRUE(all.equal(c(e$yi, e$vi), c(r$yi, r$vi), tolerance = 1e-13)))
  }
}

## design of contrasts from a treatment -> parameter map Cm (rows named by treatment)
design_from <- function(cd, Cm) {
  X <- Cm[cd$treat1, , drop = FALSE] - Cm[cd$treat2, , drop = FALSE]
  rownames(X) <- NULL
  X
}
treatment_map <- function(treatments, ref = treatments[1]) {
  r <- match(ref, treatments)
  Cm <- diag(length(treatments))[, -r, drop = FALSE]
  dimnames(Cm) <- list(treatments, treatments[-r])
  Cm
}
## rma.mv turns a constant column of X into an intercept (and reorders the coefficients);
## never let that happen silently
no_intercept <- function(fit) {
  if (isTRUE(fit$int.incl)) stop("rma.mv treated a constant column of X as an intercept")
  fit
}

## R: correlation of the random effects, 1 on the diagonal and 1/2 within a study
corr_R <- function(cd) {
  R <- outer(cd$study, cd$study, "==") * 0.5
  diag(R) <- 1
  R
}

## ---------------------------------------------------------------------------------------
## tau2: generalised DL, polished ML/REML

dense_terms <- function(y, V, X, R, tau2) {
  W <- solve(V + tau2 * R)
  XtWX <- crossprod(X, W %*% X)
  P <- W - W %*% X %*% solve(XtWX, crossprod(X, W))
  list(W = W, P = P, r = y - X %*% solve(XtWX, crossprod(X, W %*% y)))
}
tau2_dl <- function(y, V, X, R) {
  df <- length(y) - ncol(X)
  if (df <= 0) return(0)
  t <- dense_terms(y, V, X, R, 0)
  Q <- drop(crossprod(y, t$P %*% y))
  max(0, (Q - df) / sum(diag(t$P %*% R)))
}
score <- function(tau2, y, V, X, R, method) {
  t <- dense_terms(y, V, X, R, tau2)
  if (method == "REML") {
    Py <- t$P %*% y
    return(drop(crossprod(Py, R %*% Py)) - sum(diag(t$P %*% R)))
  }
  Wr <- t$W %*% t$r
  drop(crossprod(Wr, R %*% Wr)) - sum(diag(t$W %*% R))
}
polish_tau2 <- function(start, y, V, X, R, method) {
  if (length(y) - ncol(X) <= 0) return(0)
  f <- function(t) score(t, y, V, X, R, method)
  if (f(0) <= 0) return(0)
  hi <- max(2 * start, 1e-4)
  while (f(hi) > 0) hi <- hi * 4
  uniroot(f, c(0, hi), tol = 1e-15, maxiter = 10000)$root
}

## rma.mv's own fit: nlminb with more iterations than the default (a tighter rel.tol makes
## nlminb report non-convergence); the polishing step below makes the result exact.
RMA_MV_CONTROL <- list(iter.max = 10000, eval.max = 10000)

## fit one model; returns the rma.mv object with tau2 fixed at the final value (or FE)
fit_model <- function(cd, V, X, method) {
  y <- cd$yi
  R <- corr_R(cd)
  if (method == "FE") {
    return(list(fit = no_intercept(rma.mv(y, V, mods = X, intercept = FALSE)), tau2 = 0,
                tau2_raw = 0))
  }
  if (method == "DL") {
    t2 <- tau2_dl(y, V, X, R)
    return(list(fit = no_intercept(fix_tau2(cd, V, X, t2)), tau2 = t2, tau2_raw = t2))
  }
  if (length(y) - ncol(X) <= 0) {
    return(list(fit = fix_tau2(cd, V, X, 0), tau2 = 0, tau2_raw = 0))
  }
  raw <- rma.mv(y, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2,
                data = cd, method = method, control = RMA_MV_CONTROL)
  t2 <- polish_tau2(raw$tau2, y, V, X, R, method)
  fix <- fix_tau2(cd, V, X, t2, method)
  ll_raw <- as.numeric(logLik(raw)); ll_fix <- as.numeric(logLik(fix))
  if (ll_fix < ll_raw - 1e-9 * abs(ll_raw)) stop("polished tau2 is worse than rma.mv's optimum")
  if (abs(t2 - raw$tau2) > 1e-5 * max(1, t2)) stop("polished tau2 far from rma.mv's: ", t2, " vs ", raw$tau2)
  list(fit = no_intercept(fix), tau2 = t2, tau2_raw = raw$tau2)
}
fix_tau2 <- function(cd, V, X, tau2, method = "REML") {
  rma.mv(cd$yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2,
         tau2 = tau2, data = cd, method = method)
}

## all pairwise predictions (treat1 = later treatment, treat2 = earlier), from rma.mv predict()
pair_predictions <- function(fit, Cm) {
  trts <- rownames(Cm); n <- length(trts)
  out <- list()
  for (i in 1:(n - 1)) for (j in (i + 1):n) {
    L <- Cm[trts[j], , drop = FALSE] - Cm[trts[i], , drop = FALSE]
    p <- predict(fit, newmods = unname(L))
    out[[length(out) + 1]] <- list(treat1 = trts[j], treat2 = trts[i], estimate = p$pred,
      se = p$se, ci_low = p$ci.lb, ci_high = p$ci.ub,
      pi_low = if (is.null(p$pi.lb)) NA else p$pi.lb, pi_high = if (is.null(p$pi.ub)) NA else p$pi.ub)
  }
  out
}

model_entry <- function(m, cd, V, X, Cm) {
  fit <- m$fit
  beta <- as.numeric(fit$beta)
  entry <- list(
    tau2 = m$tau2, tau2_rma_mv = m$tau2_raw,
    terms = as_array(colnames(X)),
    beta = as_array(beta), vcov = lapply(seq_len(nrow(fit$vb)), function(i) as_array(fit$vb[i, ])),
    q = fit$QE, q_df = fit$k - fit$p,
    pairs = if (!is.null(Cm)) pair_predictions(fit, Cm) else NULL
  )
  entry
}

## P-scores from the effects vs the reference and their covariance
p_scores <- function(beta, vb, small = "good") {
  theta <- c(0, beta); n <- length(theta)
  C <- matrix(0, n, n); C[-1, -1] <- vb
  ps <- numeric(n)
  for (i in 1:n) {
    acc <- 0
    for (j in 1:n) if (j != i) {
      se <- sqrt(C[i, i] + C[j, j] - 2 * C[i, j])
      d <- theta[j] - theta[i]
      if (small == "bad") d <- -d
      acc <- acc + pnorm(d / se)
    }
    ps[i] <- acc / (n - 1)
  }
  ps
}

## ---------------------------------------------------------------------------------------
## design-by-treatment decomposition

design_labels <- function(cd) {
  sapply(cd$study, function(s) {
    t <- sort(unique(c(cd$treat1[cd$study == s], cd$treat2[cd$study == s])))
    paste(t, collapse = ":")
  })
}
inconsistency_design <- function(cd) {
  des <- design_labels(cd)
  labs <- unique(des)
  cols <- list(); names_ <- character(0)
  for (d in labs) {
    trts <- strsplit(d, ":", fixed = TRUE)[[1]]
    for (t in trts[-1]) {
      cols[[length(cols) + 1]] <- ((cd$treat1 == t) - (cd$treat2 == t)) * (des == d)
      names_ <- c(names_, paste(d, t, sep = "|"))
    }
  }
  X <- do.call(cbind, cols); colnames(X) <- names_
  list(X = X, design = des, labels = labs)
}
decomposition <- function(cd, V, Xc, method) {
  inc <- inconsistency_design(cd)
  fe_c <- rma.mv(cd$yi, V, mods = Xc, intercept = FALSE)
  fe_i <- rma.mv(cd$yi, V, mods = inc$X, intercept = FALSE)
  per <- lapply(inc$labels, function(d) {
    sel <- inc$design == d
    Xd <- inc$X[sel, startsWith(colnames(inc$X), paste0(d, "|")), drop = FALSE]
    df <- sum(sel) - ncol(Xd)
    q <- if (df > 0) rma.mv(cd$yi[sel], V[sel, sel, drop = FALSE], mods = Xd, intercept = FALSE)$QE else 0
    list(design = d, k = length(unique(cd$study[sel])), q = q, df = df)
  })
  tau_method <- if (method == "FE") "DL" else method
  tw <- fit_model(cd, V, inc$X, tau_method)$tau2
  Vt <- V + tw * corr_R(cd)
  qc <- rma.mv(cd$yi, Vt, mods = Xc, intercept = FALSE)$QE
  qi <- rma.mv(cd$yi, Vt, mods = inc$X, intercept = FALSE)$QE
  list(q_total = fe_c$QE, df_total = fe_c$k - fe_c$p, q_within = fe_i$QE,
       df_within = fe_i$k - fe_i$p, q_between = fe_c$QE - fe_i$QE,
       df_between = (fe_c$k - fe_c$p) - (fe_i$k - fe_i$p),
       tau2_within = tw, tau2_within_method = tau_method, q_between_random = qc - qi,
       designs = per)
}

## ---------------------------------------------------------------------------------------
## node-splitting: direct (rma.uni), SIDDE indirect (rma.mv on the rest), back-calculation

## each study's contrast between treatments tj (treat1) and ti (treat2)
study_pair <- function(net, s, tj, ti) {
  cd <- net$contrasts
  idx <- which(cd$study == s)
  base <- cd$treat2[idx[1]]
  arms <- c(base, cd$treat1[idx])
  u <- c(0, cd$yi[idx])
  Ca <- matrix(0, length(arms), length(arms))
  Ca[-1, -1] <- net$V[idx, idx]
  a <- match(tj, arms); b <- match(ti, arms)
  c(y = u[a] - u[b], v = Ca[a, a] + Ca[b, b] - 2 * Ca[a, b])
}
connected_with <- function(cd, t0) {
  seen <- t0
  repeat {
    st <- unique(cd$study[cd$treat1 %in% seen | cd$treat2 %in% seen])
    new <- unique(c(seen, cd$treat1[cd$study %in% st], cd$treat2[cd$study %in% st]))
    if (length(new) == length(seen)) return(sort(seen))
    seen <- new
  }
}
node_split <- function(net, models, method) {
  cd <- net$contrasts; trts <- net$treatments; n <- length(trts)
  studies <- unique(cd$study)
  has <- function(s, t) t %in% c(cd$treat1[cd$study == s], cd$treat2[cd$study == s])
  out <- list()
  for (i in 1:(n - 1)) for (j in (i + 1):n) {
    ti <- trts[i]; tj <- trts[j]
    both <- studies[sapply(studies, function(s) has(s, ti) && has(s, tj))]
    if (length(both) == 0) next
    pr <- t(sapply(both, function(s) study_pair(net, s, tj, ti)))
    entry <- list(treat1 = tj, treat2 = ti, k = length(both))
    for (mod in names(models)) {
      t2 <- models[[mod]]$tau2
      d <- if (mod == "common") rma(pr[, "y"], pr[, "v"], method = "FE") else
        rma(pr[, "y"], pr[, "v"], tau2 = t2, method = "REML")
      ind <- c(NA, NA)
      rest <- cd[!(cd$study %in% both), , drop = FALSE]
      if (nrow(rest) > 0) {
        comp <- connected_with(rest, ti)
        if (tj %in% comp) {
          keep <- rest$treat2 %in% comp
          sub <- rest[keep, , drop = FALSE]
          Vs <- net$V[!(cd$study %in% both), !(cd$study %in% both), drop = FALSE][keep, keep, drop = FALSE]
          ## reference: the treatment in most contrasts, so that no column of X is constant
          hub <- names(which.max(table(c(sub$treat1, sub$treat2))))
          Cs <- treatment_map(sort(unique(c(sub$treat1, sub$treat2))), hub)
          Xs <- design_from(sub, Cs)
          m <- fit_model(sub, Vs, Xs, if (mod == "common") "FE" else method)
          L <- Cs[tj, , drop = FALSE] - Cs[ti, , drop = FALSE]
          p <- predict(m$fit, newmods = unname(L))
          ind <- c(p$pred, p$se)
        }
      }
      entry[[mod]] <- list(direct = as.numeric(d$beta), direct_se = d$se,
                           sidde_indirect = ind[1], sidde_indirect_se = ind[2])
    }
    out[[length(out) + 1]] <- entry
  }
  out
}

## ---------------------------------------------------------------------------------------
## one case

nma_case <- function(name, arms, measure, description, source, split = TRUE) {
  net <- build_contrasts(arms, measure)
  check_escalc(arms, measure, net$contrasts)
  cd <- net$contrasts
  Cm <- treatment_map(net$treatments)
  X <- design_from(cd, Cm)
  models <- list()
  for (method in METHODS) {
    m <- fit_model(cd, net$V, X, method)
    entry <- model_entry(m, cd, net$V, X, Cm)
    beta <- as.numeric(m$fit$beta)
    entry$p_score_good <- as_array(p_scores(beta, m$fit$vb, "good"))
    entry$p_score_bad <- as_array(p_scores(beta, m$fit$vb, "bad"))
    entry$decomposition <- decomposition(cd, net$V, X, method)
    if (split) {
      mods <- list(common = list(tau2 = 0))
      if (method != "FE") mods$random <- list(tau2 = m$tau2)
      entry$node_split <- node_split(net, mods, method)
    }
    models[[method]] <- entry
  }
  list(name = name, kind = "nma", measure = measure, description = description, source = source,
       arms = lapply(as.list(arms), as_array), treatments = as_array(net$treatments),
       contrasts = lapply(as.list(cd[, c("study", "treat1", "treat2", "yi", "vi")]), as_array),
       V = lapply(seq_len(nrow(net$V)), function(i) as_array(net$V[i, ])),
       models = models)
}

## component NMA: C from treatment names split at "+", inactive treatment/component given
component_map <- function(treatments, inactive, interactions = list()) {
  parts <- lapply(strsplit(treatments, "+", fixed = TRUE), trimws)
  comps <- sort(setdiff(unique(unlist(parts)), inactive))
  Cm <- t(sapply(parts, function(p) as.numeric(comps %in% p)))
  if (length(comps) == 1) Cm <- matrix(Cm, ncol = 1)
  colnames(Cm) <- comps
  for (ia in interactions) {
    Cm <- cbind(Cm, sapply(parts, function(p) as.numeric(all(ia %in% p))))
    colnames(Cm)[ncol(Cm)] <- paste(ia, collapse = "*")
  }
  rownames(Cm) <- treatments
  Cm
}
cnma_case <- function(name, arms, measure, inactive, interactions = list(), description, source,
                      connected = TRUE) {
  net <- build_contrasts(arms, measure)
  cd <- net$contrasts
  Cm <- component_map(net$treatments, inactive, interactions)
  X <- design_from(cd, Cm)
  stopifnot(qr(X)$rank == ncol(X))
  models <- list()
  for (method in METHODS) {
    m <- fit_model(cd, net$V, X, method)
    entry <- model_entry(m, cd, net$V, X, NULL)
    entry$pairs <- NULL
    combos <- lapply(rownames(Cm), function(t) {
      if (all(Cm[t, ] == 0)) return(list(treatment = t, estimate = 0, se = 0))
      p <- predict(m$fit, newmods = unname(Cm[t, , drop = FALSE]))
      list(treatment = t, estimate = p$pred, se = p$se)
    })
    entry$combinations <- combos
    models[[method]] <- entry
  }
  std <- NULL
  if (connected) {
    Cs <- treatment_map(net$treatments)
    fs <- rma.mv(cd$yi, net$V, mods = design_from(cd, Cs), intercept = FALSE)
    std <- list(q = fs$QE, q_df = fs$k - fs$p)
  }
  list(name = name, kind = "cnma", measure = measure, inactive = inactive,
       interactions = lapply(interactions, as_array), description = description, source = source,
       arms = lapply(as.list(arms), as_array), treatments = as_array(net$treatments),
       components = as_array(colnames(Cm)),
       contrasts = lapply(as.list(cd[, c("study", "treat1", "treat2", "yi", "vi")]), as_array),
       V = lapply(seq_len(nrow(net$V)), function(i) as_array(net$V[i, ])),
       models = models, standard = std)
}

## ---------------------------------------------------------------------------------------
## data

cases <- list()

park <- read_shared("tsd2_parkinsons_offtime_armlevel.csv")
cases$tsd2_parkinsons <- nma_case("tsd2_parkinsons",
  data.frame(study = as.character(park$studyn), treatment = park$treatment, mean = park$y,
             se = park$se, n = park$n, stringsAsFactors = FALSE), "MD",
  "Parkinson's off-time, arm means with their standard errors (MD); one 3-arm trial",
  "tsd2_parkinsons_offtime_armlevel.csv (multinma parkinsons; Dias et al. NICE DSU TSD2)")

wide_to_long <- function(w, study, trt, cols, nmax) {
  out <- list()
  for (i in 1:nmax) {
    tcol <- paste0(trt, i)
    if (!tcol %in% names(w)) next
    part <- data.frame(study = w[[study]], treatment = as.character(w[[tcol]]), stringsAsFactors = FALSE)
    for (nm in names(cols)) part[[nm]] <- w[[paste0(cols[[nm]], i)]]
    part$.row <- seq_len(nrow(w)); part$.arm <- i
    out[[length(out) + 1]] <- part
  }
  long <- do.call(rbind, out)
  long <- long[!is.na(long$treatment) & long$treatment != "", ]
  long <- long[order(long$.row, long$.arm), ]
  long$.row <- NULL; long$.arm <- NULL
  rownames(long) <- NULL
  long
}

cases$franchini2012 <- nma_case("franchini2012",
  wide_to_long(dat.franchini2012, "Study", "Treatment", list(mean = "y", sd = "sd", n = "n"), 3), "MD",
  "Parkinson's off-time, the TSD2 trials with SDs (MD)", "metadat 1.2-0 dat.franchini2012")

cases$stowe2010 <- nma_case("stowe2010",
  wide_to_long(dat.stowe2010, "study", "t", list(mean = "y", sd = "sd", n = "n"), 3), "MD",
  "Parkinson's adjuvant therapy, star-shaped network with one 3-arm trial (MD)",
  "metadat 1.2-0 dat.stowe2010")

sw <- read_shared("schwingshackl2014_training_modality_t2d_hba1c_wide.csv")
sw_long <- wide_to_long(sw, "study", "t", list(mean = "y", sd = "sd", n = "n"), 3)
sw_long$treatment <- c("1" = "Aerobic", "2" = "Resistance", "3" = "Combined")[sw_long$treatment]
cases$schwingshackl2014 <- nma_case("schwingshackl2014", sw_long, "MD",
  "HbA1c, aerobic vs resistance vs combined training, 5 three-arm trials (MD)",
  "schwingshackl2014_training_modality_t2d_hba1c_wide.csv (rnmamod nma.schwingshackl2014)")

sn <- dat.senn2013
senn <- data.frame(study = sn$study, treatment = sn$treatment, mean = sn$mi, sd = sn$sdi,
                   n = sn$ni, stringsAsFactors = FALSE)
cases$senn2013_md <- nma_case("senn2013_md", senn, "MD",
  "glucose-lowering drugs, HbA1c change (MD); one 3-arm trial", "metadat 1.2-0 dat.senn2013")
cases$senn2013_smd <- nma_case("senn2013_smd", senn, "SMD",
  "glucose-lowering drugs, Hedges' g; multi-arm covariance from the pairwise variances",
  "metadat 1.2-0 dat.senn2013")

hb <- dat.hasselblad1998
cases$hasselblad1998_or <- nma_case("hasselblad1998_or",
  data.frame(study = as.character(hb$study), treatment = hb$trt, events = hb$xi, n = hb$ni,
             stringsAsFactors = FALSE), "OR",
  "smoking cessation, log OR; two 3-arm trials and zero cells", "metadat 1.2-0 dat.hasselblad1998")

dg <- dat.dogliotti2014
dg_arms <- data.frame(study = dg$study, treatment = dg$treatment, events = dg$stroke,
                      n = dg$total, stringsAsFactors = FALSE)
cases$dogliotti2014_or <- nma_case("dogliotti2014_or", dg_arms, "OR",
  "atrial fibrillation, stroke, log OR; multi-arm trials", "metadat 1.2-0 dat.dogliotti2014")
cases$dogliotti2014_rr <- nma_case("dogliotti2014_rr", dg_arms, "RR",
  "atrial fibrillation, stroke, log RR", "metadat 1.2-0 dat.dogliotti2014", split = FALSE)

pg <- dat.pagliaro1992
cases$pagliaro1992_rd <- nma_case("pagliaro1992_rd",
  data.frame(study = as.character(pg$study), treatment = pg$trt, events = pg$xi, n = pg$ni,
             stringsAsFactors = FALSE), "RD",
  "variceal bleeding, risk difference; 3-arm trials", "metadat 1.2-0 dat.pagliaro1992",
  split = FALSE)

## ---------------------------------------------------------------------------------------
## simulated networks (seeded; generating parameters stored with the case)

sim_arms <- function(seed, designs, effects, tau, measure, n_range = c(20, 120)) {
  force(designs)  # draw the designs (their own seed) before seeding the data
  set.seed(seed)
  rows <- list()
  for (s in seq_along(designs)) {
    trts <- designs[[s]]
    mu <- rnorm(1, 0, 0.5)
    for (t in trts) {
      n <- sample(n_range[1]:n_range[2], 1)
      eff <- effects[[t]] + rnorm(1, 0, tau / sqrt(2))
      if (measure %in% c("MD", "SMD")) {
        sd <- runif(1, 1, 2)
        rows[[length(rows) + 1]] <- data.frame(study = sprintf("S%02d", s), treatment = t,
          mean = round(mu + eff + rnorm(1, 0, sd / sqrt(n)), 4), sd = round(sd, 4), n = n)
      } else if (measure == "ROM") {
        sd <- runif(1, 1, 2)
        m <- 10 * exp(mu / 5 + eff)
        rows[[length(rows) + 1]] <- data.frame(study = sprintf("S%02d", s), treatment = t,
          mean = round(m * exp(rnorm(1, 0, sd / (10 * sqrt(n)))), 4), sd = round(sd, 4), n = n)
      } else {
        p <- plogis(-1.5 + mu + eff)
        rows[[length(rows) + 1]] <- data.frame(study = sprintf("S%02d", s), treatment = t,
          events = rbinom(1, n, p), n = n)
      }
    }
  }
  do.call(rbind, rows)
}
random_designs <- function(seed, trts, k2, k3, k4 = 0) {
  set.seed(seed)
  c(lapply(seq_len(k2), function(i) sample(trts, 2)), lapply(seq_len(k3), function(i) sample(trts, 3)),
    lapply(seq_len(k4), function(i) sample(trts, 4)))
}
eff6 <- list(A = 0, B = -0.5, C = -0.3, D = -0.8, E = 0.2, F = -0.6)

d_multi <- random_designs(11, names(eff6), 18, 6, 3)
cases$sim_multiarm <- nma_case("sim_multiarm", sim_arms(101, d_multi, eff6, 0.3, "MD"), "MD",
  "simulated: 6 treatments, 27 studies incl. six 3-arm and three 4-arm trials, tau = 0.3 (MD)",
  "seed 11 (designs), 101 (data); effects A 0, B -0.5, C -0.3, D -0.8, E 0.2, F -0.6")
cases$sim_smd <- nma_case("sim_smd", sim_arms(102, d_multi, eff6, 0.2, "SMD"), "SMD",
  "simulated: as sim_multiarm, Hedges' g incl. 4-arm trials", "seed 11, 102")

## homogeneous network whose REML tau2 is exactly 0 (the first seed from 200 that gives it)
for (seed in 200:300) {
  a0 <- sim_arms(seed, random_designs(12, names(eff6), 14, 3), eff6, 0, "MD")
  n0 <- build_contrasts(a0, "MD")
  X0 <- design_from(n0$contrasts, treatment_map(n0$treatments))
  if (polish_tau2(0.01, n0$contrasts$yi, n0$V, X0, corr_R(n0$contrasts), "REML") == 0 &&
      polish_tau2(0.01, n0$contrasts$yi, n0$V, X0, corr_R(n0$contrasts), "ML") == 0) break
}
cases$sim_tau2_zero <- nma_case("sim_tau2_zero", a0, "MD",
  "simulated: tau = 0, ML and REML tau2 at the boundary (exactly 0)",
  paste0("seed 12 (designs), ", seed, " (data)"))

eff10 <- setNames(as.list(c(0, -0.2, -0.4, -0.1, -0.6, 0.1, -0.3, -0.5, -0.7, -0.25)),
                  paste0("T", 0:9))
cases$sim_large <- nma_case("sim_large",
  sim_arms(103, random_designs(13, names(eff10), 60, 12, 3), eff10, 0.25, "MD"), "MD",
  "simulated: 10 treatments, 75 studies, tau = 0.25 (MD)", "seed 13, 103", split = FALSE)

star <- c(lapply(1:10, function(i) c("Control", c("X1", "X2", "X3")[1 + i %% 3])),
          list(c("Control", "X1", "X2"), c("Control", "X2", "X3"), c("Control", "X1", "X2", "X3")))
cases$sim_star_rom <- nma_case("sim_star_rom",
  sim_arms(104, star, list(Control = 0, X1 = -0.1, X2 = -0.2, X3 = 0.05), 0.1, "ROM"), "ROM",
  "simulated: star network around Control with 3- and 4-arm trials, log ratio of means",
  "seed 104")

cases$sim_binary_or <- nma_case("sim_binary_or",
  sim_arms(105, random_designs(14, names(eff6), 16, 5, 2), eff6, 0.4, "OR", c(15, 60)), "OR",
  "simulated: events with small arms (some zero cells), multi-arm trials, log OR",
  "seed 14, 105")

## component networks
ceff <- c(A = -0.4, B = -0.3, C = -0.2, D = 0.1)
cnma_effects <- function(trts, inter = 0) setNames(lapply(trts, function(t) {
  p <- setdiff(trimws(strsplit(t, "+", fixed = TRUE)[[1]]), "Control")
  sum(ceff[p]) + if (all(c("A", "B") %in% p)) inter else 0
}), trts)
ctrts <- c("Control", "A", "B", "C", "A+B", "A+C", "B+C+D", "A+D")
cases$cnma_additive <- cnma_case("cnma_additive",
  sim_arms(106, random_designs(15, ctrts, 30, 6, 2), cnma_effects(ctrts), 0.2, "MD"), "MD",
  "Control", description = "simulated additive component network, tau = 0.2 (MD)",
  source = "seed 15, 106; component effects A -0.4, B -0.3, C -0.2, D 0.1")
dis <- c(lapply(1:6, function(i) list(c("Control", "A"), c("Control", "A+B"), c("A", "A+B"))[[1 + i %% 3]]),
         lapply(1:6, function(i) list(c("B+C", "C"), c("C", "C+D"), c("D", "C+D", "B+C"))[[1 + i %% 3]]))
dtrts <- c("Control", "A", "A+B", "B+C", "C", "C+D", "D")
cases$cnma_disconnected <- cnma_case("cnma_disconnected",
  sim_arms(107, dis, cnma_effects(dtrts), 0.15, "MD"), "MD", "Control",
  description = "simulated disconnected network ({Control, A, A+B} and {B+C, C, C+D, D}) connected by components",
  source = "seed 107", connected = FALSE)
itrts <- c("Control", "A", "B", "A+B", "C", "A+C")
cases$cnma_interaction <- cnma_case("cnma_interaction",
  sim_arms(108, random_designs(16, itrts, 26, 4), cnma_effects(itrts, inter = 0.25), 0.1, "MD"),
  "MD", "Control", interactions = list(c("A", "B")),
  description = "simulated component network with an A*B interaction of 0.25 (MD)",
  source = "seed 16, 108")

out <- list(
  generated_by = "validation/metafor/network.R",
  versions = list(r_version = R.version.string,
                  metafor_version = as.character(packageVersion("metafor")),
                  metadat_version = as.character(packageVersion("metadat")),
                  platform = R.version$platform),
  methods = as_array(METHODS),
  model = "rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2)",
  cases = cases
)
write_json_file(out, out_path)
cat("wrote", out_path, "with", length(cases), "cases\n")
