#!/usr/bin/env Rscript
## Reference grid for painstats' publication-bias tools (painstats.meta.egger_test,
## rank_correlation_test, fail_safe_n, pet_peese, trim_and_fill), computed with R metafor
## (regtest, ranktest, fsn, trimfill) and stats::lm.
##
## Writes tests/data/metafor_bias.json: the data (yi, vi, ni) of every dataset, the
## settings of every case and R's results at full double precision, so the Python tests
## never need R.
##
## Usage (from the repository root or anywhere):
##   Rscript validation/metafor/bias.R [output.json] [datasets_dir]
## datasets_dir holds the CSVs of the shared datasets (rubinstein2019_..., haeuser2009_...,
## lawlor2001_...). Default: the repository's data/ if it has them, else
## $PAINSTATS_DATASETS, else /work/shared/datasets.
##
## Convergence: every model is fitted with control = RMA_CONTROL (threshold 1e-12,
## tol 1e-13); regtest() reuses the model's control, and trimfill() passes its `...`
## (here control = RMA_CONTROL) to the side regression, to every trimmed fit and to the
## refit with the filled studies. See /work/shared/metafor-conventions.md, item 14.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})

## ---------------------------------------------------------------------------------------
## paths and settings

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/bias.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_bias.json", "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir

RMA_CONTROL <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000L)

METHODS <- c("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
## regtest(model = "rma"): every method x these tests with predictors sei and vi ...
EGGER_TESTS <- c("z", "knha", "t")
EGGER_VAR_PREDICTORS <- c("sei", "vi")
## ... and the sample-size predictors for these methods and tests (datasets with ni)
EGGER_N_PREDICTORS <- c("ni", "ninv", "sqrtni", "sqrtninv")
EGGER_N_METHODS <- c("FE", "DL", "REML")
EGGER_N_TESTS <- c("z", "knha")
## regtest(model = "lm") at these levels (the limit estimate's CI uses the model's level)
LM_LEVELS <- c(0.95, 0.90)
## trimfill: every method x estimator with the side chosen by metafor (test z), every
## method with L0 after a knha fit, and both forced sides for these methods
TF_ESTIMATORS <- c("L0", "R0", "Q0")
TF_SIDE_METHODS <- c("FE", "DL", "REML")
## real datasets with repeated vi: the rank test falls back to the normal approximation
RANK_TIES_EXPECTED <- c("molloy2014", "rubinstein2019", "lawlor2001", "sim_tau2_zero", "sim_k3_fill")
FSN_CASES <- list(
  list(method = "Rosenthal", alpha = 0.05),
  list(method = "Rosenthal", alpha = 0.01),
  list(method = "Orwin"),
  list(method = "Orwin", target = 0.05),      # sign flipped by fsn() when the mean is negative
  list(method = "Orwin", weighted = TRUE),
  list(method = "Rosenberg", alpha = 0.05),
  list(method = "Rosenberg", alpha = 0.10)
)

## ---------------------------------------------------------------------------------------
## helpers

with_warnings <- function(expr) {
  msgs <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = unique(msgs))
}

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)
df_of <- function(test, ddf) if (test == "z" || is.na(ddf)) Inf else as.numeric(ddf)

read_shared <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE,
                                       encoding = "UTF-8")

make_dataset <- function(name, yi, vi, slab, ni = NULL, description, source) {
  stopifnot(length(yi) == length(vi), length(yi) == length(slab), all(is.finite(yi)), all(vi > 0))
  if (!is.null(ni)) stopifnot(length(ni) == length(yi), all(ni > 0))
  list(
    name = name, description = description, source = source, k = length(yi),
    slab = as_array(as.character(slab)), yi = as_array(as.numeric(yi)), vi = as_array(as.numeric(vi)),
    ni = if (is.null(ni)) NULL else as_array(as.numeric(ni))
  )
}

## ---------------------------------------------------------------------------------------
## datasets: real

datasets <- list()

d <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets$bcg <- make_dataset("bcg", d$yi, d$vi, paste(d$author, d$year),
  ni = with(dat.bcg, tpos + tneg + cpos + cneg),
  description = "BCG vaccine trials, log risk ratio (escalc RR); ni = total sample size",
  source = "metadat 1.2-0 dat.bcg (Colditz et al. 1994)")

d <- dat.hackshaw1998
datasets$hackshaw1998 <- make_dataset("hackshaw1998", d$yi, d$vi, paste(d$author, d$year),
  description = "passive smoking and lung cancer, log odds ratio as given (no sample sizes)",
  source = "metadat 1.2-0 dat.hackshaw1998 (Hackshaw et al. 1997)")

d <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
datasets$molloy2014 <- make_dataset("molloy2014", d$yi, d$vi, paste(d$authors, d$year), ni = d$ni,
  description = "conscientiousness and medication adherence, Fisher z (escalc ZCOR)",
  source = "metadat 1.2-0 dat.molloy2014 (Molloy et al. 2014)")

d <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
            data = dat.normand1999)
datasets$normand1999 <- make_dataset("normand1999", d$yi, d$vi, d$source, ni = d$n1i + d$n2i,
  description = "stroke length of stay, mean difference (escalc MD)",
  source = "metadat 1.2-0 dat.normand1999 (Normand 1999)")

raw <- read_shared("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
d <- escalc("MD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = raw)
datasets$rubinstein2019 <- make_dataset("rubinstein2019", d$yi, d$vi,
  paste0(d$study, " (", d$id, ")"), ni = d$n_smt + d$n_ctrl,
  description = "chronic low back pain 0-100 at 1 month, SMT minus recommended therapy (escalc MD)",
  source = "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv (Rubinstein et al. BMJ 2019)")

raw <- read_shared("haeuser2009_fms_antidepressants_all_outcomes.csv")
raw <- raw[raw$outcome == "pain", ]
d <- escalc("SMD", m1i = mti, sd1i = sdti, n1i = nti, m2i = mci, sd2i = sdci, n2i = nci, data = raw)
datasets$haeuser2009_pain <- make_dataset("haeuser2009_pain", d$yi, d$vi,
  paste0(d$study, " ", d$year, " (", d$tgrp, ")"), ni = d$nti + d$nci,
  description = "fibromyalgia pain, antidepressant minus control, Hedges' g (escalc SMD)",
  source = "haeuser2009_fms_antidepressants_all_outcomes.csv, outcome == 'pain' (Haeuser et al. JAMA 2009)")

raw <- read_shared("lawlor2001_exercise_depression.csv")
datasets$lawlor2001 <- make_dataset("lawlor2001", raw$smd, raw$varsmd, raw$study,
  description = "exercise for depression, SMD and its variance as published (no sample sizes)",
  source = "lawlor2001_exercise_depression.csv (Lawlor & Hopker BMJ 2001)")

## ---------------------------------------------------------------------------------------
## datasets: synthetic (seeded; values rounded to 6 significant digits like published data)

## ni total sample sizes, vi ~ 4/ni (an SMD-like variance), yi = mu + bias * sqrt(vi) + error
sim <- function(name, k, seed, mu = 0.3, tau2 = 0.05, bias = 0, description) {
  set.seed(seed)
  ni <- round(runif(k, 20, 400))
  vi <- signif(4 / ni * runif(k, 0.9, 1.1), 6)
  yi <- signif(mu + bias * sqrt(vi) + rnorm(k, 0, sqrt(vi + tau2)), 6)
  make_dataset(name, yi, vi, paste0("study ", seq_len(k)), ni = ni, description = description,
               source = paste0("synthetic, set.seed(", seed, ")"))
}

for (k in c(3L, 5L, 10L, 30L, 100L)) {
  nm <- paste0("sim_k", k)
  datasets[[nm]] <- sim(nm, k, seed = 7000L + k,
                        description = paste0("synthetic, k = ", k, ", true tau2 = 0.05, no bias"))
}

datasets$sim_asym_left <- sim("sim_asym_left", 25L, seed = 7103L, mu = 0.2, tau2 = 0.01, bias = 2.5,
  description = "synthetic funnel asymmetry: small studies larger (slope > 0), studies missing on the left")
datasets$sim_asym_right <- sim("sim_asym_right", 20L, seed = 7102L, mu = -0.3, tau2 = 0.01, bias = -2.5,
  description = "synthetic funnel asymmetry: small studies smaller (slope < 0), studies missing on the right")

local({
  k <- 15L
  set.seed(7103)
  ni <- sample(c(50, 100, 200), k, replace = TRUE)
  vi <- 4 / ni
  yi <- signif(0.25 + rnorm(k, 0, sqrt(vi + 0.02)), 6)
  datasets$sim_ties_vi <<- make_dataset("sim_ties_vi", yi, vi, paste0("study ", seq_len(k)), ni = ni,
    description = "synthetic: only three distinct vi (ties in the rank correlation test)",
    source = "synthetic, set.seed(7103)")
})

## k = 3 with studies filled: for FE (and ML, whose maximum is at tau2 = 0) L0 trims two
## studies, so a trimmed fit has k = 1, and k0 = 2 of the 3 studies are filled
datasets$sim_k3_fill <- make_dataset("sim_k3_fill", c(0.30, 0.32, 0.9), c(0.001, 0.05, 0.05),
  paste0("study ", 1:3),
  description = "hand-written k = 3: L0 fills 2 studies (FE, ML) after a trimmed fit with one study",
  source = "synthetic, hand-written")

## homogeneous: Q = 0.5 (k - 1), so every truncated tau2 estimator gives 0
local({
  k <- 10L
  set.seed(7104)
  ni <- round(runif(k, 30, 300))
  vi <- signif(4 / ni, 6)
  w <- 1 / vi
  r <- sqrt(vi) * rnorm(k)
  q_of <- function(y) sum(w * (y - sum(w * y) / sum(w))^2)
  yi <- signif(0.15 + r * sqrt(0.5 * (k - 1) / q_of(r)), 6)
  datasets$sim_tau2_zero <<- make_dataset("sim_tau2_zero", yi, vi, paste0("study ", seq_len(k)), ni = ni,
    description = "synthetic homogeneous data: Q = 0.5 (k - 1), tau2 estimates 0",
    source = "synthetic, set.seed(7104), residuals rescaled to a target Q")
})

## k0 = 0: the first seed from 7200 whose REML trim-and-fill (L0, R0 and Q0) finds no study
local({
  for (seed in 7200:7400) {
    ds <- sim("sim_k0_zero", 12L, seed = seed, mu = 0.4, tau2 = 0.02,
              description = "synthetic: trim-and-fill finds no missing study (k0 = 0) for L0, R0 and Q0 (REML)")
    res <- rma(c(ds$yi), c(ds$vi), method = "REML", control = RMA_CONTROL)
    k0 <- vapply(TF_ESTIMATORS, function(e) trimfill(res, estimator = e, control = RMA_CONTROL)$k0, 0)
    if (all(k0 == 0)) {
      datasets$sim_k0_zero <<- ds
      return(invisible())
    }
  }
  stop("no seed gave k0 = 0")
})

## ---------------------------------------------------------------------------------------
## fitting

fit_rma <- function(ds, method, test = "z", level = 0.95) {
  args <- list(yi = c(ds$yi), vi = c(ds$vi), method = method, test = test, level = 100 * level,
               control = RMA_CONTROL)
  if (!is.null(ds$ni)) args$ni <- c(ds$ni)
  do.call(rma, args)
}

rma_fit_block <- function(fit) {
  list(
    coef = list(estimate = as_array(c(fit$beta)), se = as_array(fit$se), statistic = as_array(fit$zval),
                pvalue = as_array(fit$pval), ci_low = as_array(fit$ci.lb), ci_high = as_array(fit$ci.ub)),
    tau2 = fit$tau2, tau2_se = num(fit$se.tau2), i2 = fit$I2, h2 = fit$H2,
    qe = fit$QE, qe_pvalue = fit$QEp, qm = fit$QM, qm_pvalue = fit$QMp
  )
}

lm_fit_block <- function(fit, level) {
  s <- coef(summary(fit))
  ci <- confint(fit, level = level)
  list(
    coef = list(estimate = as_array(unname(s[, 1])), se = as_array(unname(s[, 2])),
                statistic = as_array(unname(s[, 3])), pvalue = as_array(unname(s[, 4])),
                ci_low = as_array(unname(ci[, 1])), ci_high = as_array(unname(ci[, 2]))),
    df = fit$df.residual, sigma = summary(fit)$sigma
  )
}

egger_case <- function(ds, model, predictor, method, test, level) {
  out <- with_warnings({
    res <- fit_rma(ds, method, test, level)
    rt <- regtest(res, model = model, predictor = predictor)
    list(res = res, rt = rt)
  })
  rt <- out$value$rt
  fit_block <- if (model == "rma") rma_fit_block(rt$fit) else lm_fit_block(rt$fit, level)
  limit_se <- if (is.null(rt$est)) NA_real_ else if (model == "rma") rt$fit$se[1] else
    coef(summary(rt$fit))[1, 2]
  list(
    id = sprintf("%s-%s-%s-%s-%s-%d", ds$name, model, predictor, method, test, round(100 * level)),
    dataset = ds$name, model = model, predictor = predictor, method = method, test = test, level = level,
    metafor_warnings = as_array(out$warnings),
    expected = list(
      statistic = unname(rt$zval), pvalue = unname(rt$pval),
      df = if (model == "rma") df_of(test, rt$ddf) else as.numeric(rt$ddf),
      limit_estimate = num(rt$est), limit_se = limit_se,
      limit_ci_low = num(rt$ci.lb), limit_ci_high = num(rt$ci.ub),
      slope = unname(coef(rt$fit)[2]),
      fit = fit_block
    )
  )
}

rank_case <- function(ds) {
  out <- with_warnings({
    res <- fit_rma(ds, "REML")
    ranktest(res)
  })
  x <- c(ds$yi)
  v <- c(ds$vi)
  w <- 1 / v
  ystar <- (x - sum(w * x) / sum(w)) / sqrt(v - 1 / sum(w))
  ties <- min(length(unique(ystar)), length(unique(v))) < length(v)
  list(
    id = ds$name, dataset = ds$name,
    metafor_warnings = as_array(out$warnings),
    expected = list(statistic = unname(out$value$tau), pvalue = out$value$pval, exact = !ties)
  )
}

fsn_case <- function(ds, spec) {
  dat <- data.frame(yi = c(ds$yi), vi = c(ds$vi))
  fargs <- list(yi = quote(yi), vi = quote(vi), data = dat, type = spec$method)
  if (!is.null(spec$alpha)) fargs$alpha <- spec$alpha
  if (!is.null(spec$target)) fargs$target <- spec$target
  if (!is.null(spec$weighted)) fargs$weighted <- spec$weighted
  out <- with_warnings(do.call(fsn, fargs))
  f <- out$value
  list(
    id = sprintf("%s-%s-alpha%s-target%s-weighted%s", ds$name, spec$method, num(spec$alpha),
                 num(spec$target), isTRUE(spec$weighted)),
    dataset = ds$name, method = spec$method,
    alpha = if (is.null(spec$alpha)) 0.05 else spec$alpha,
    target = num(spec$target), weighted = isTRUE(spec$weighted),
    metafor_warnings = as_array(out$warnings),
    expected = list(n = f$fsnum, pvalue = num(f$pval), mean_effect = num(f$meanes),
                    target = num(f$target), alpha = f$alpha)
  )
}

petpeese_case <- function(ds, level) {
  yi <- c(ds$yi)
  vi <- c(ds$vi)
  pet <- lm(yi ~ sqrt(vi), weights = 1 / vi)
  peese <- lm(yi ~ vi, weights = 1 / vi)
  list(
    id = sprintf("%s-%d", ds$name, round(100 * level)), dataset = ds$name, level = level,
    expected = list(pet = lm_fit_block(pet, level), peese = lm_fit_block(peese, level))
  )
}

## A trimfill() that stops with an error (the Q0 iteration can leave the domain of its
## square root, 2k^2 - 4 Sr + 1/4 < 0, so k0 is NaN) is stored with `error` and no values.
trimfill_case <- function(ds, method, test, estimator, side, level = 0.95) {
  out <- tryCatch(with_warnings({
    res <- fit_rma(ds, method, test, level)
    targs <- list(res, estimator = estimator, control = RMA_CONTROL)
    if (!is.null(side)) targs$side <- side
    tf <- do.call(trimfill, targs)
    pred <- if (method == "FE") NULL else predict(tf)
    list(tf = tf, pred = pred)
  }), error = function(e) e)
  case <- list(
    id = sprintf("%s-%s-%s-%s-%s-%d", ds$name, method, test, estimator,
                 if (is.null(side)) "auto" else side, round(100 * level)),
    dataset = ds$name, method = method, test = test, level = level, estimator = estimator,
    side = if (is.null(side)) NA_character_ else side
  )
  if (inherits(out, "error")) {
    return(c(case, list(metafor_warnings = as_array(character(0)), error = conditionMessage(out),
                        expected = NULL)))
  }
  tf <- out$value$tf
  pred <- out$value$pred
  c(case, list(
    metafor_warnings = as_array(out$warnings),
    error = NULL,
    expected = list(
      k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side, p_k0 = num(tf$p.k0),
      k = tf$k, test = tf$test, level = 1 - tf$level,
      estimate = c(tf$beta), se = tf$se, statistic = tf$zval, pvalue = tf$pval,
      ci_low = tf$ci.lb, ci_high = tf$ci.ub,
      pi_low = if (is.null(pred)) NA_real_ else num(pred$pi.lb),
      pi_high = if (is.null(pred)) NA_real_ else num(pred$pi.ub),
      tau2 = tf$tau2, tau2_se = num(tf$se.tau2), i2 = tf$I2, h2 = tf$H2,
      q = tf$QE, q_pvalue = tf$QEp,
      filled_yi = as_array(c(tf$yi)[tf$fill]), filled_vi = as_array(c(tf$vi)[tf$fill])
    )
  ))
}

## ---------------------------------------------------------------------------------------
## the grid

egger_cases <- list()
add_egger <- function(...) egger_cases[[length(egger_cases) + 1L]] <<- egger_case(...)
for (ds in datasets) {
  for (method in METHODS) for (test in EGGER_TESTS) for (pred in EGGER_VAR_PREDICTORS) {
    add_egger(ds, "rma", pred, method, test, 0.95)
  }
  if (!is.null(ds$ni)) {
    for (method in EGGER_N_METHODS) for (test in EGGER_N_TESTS) for (pred in EGGER_N_PREDICTORS) {
      add_egger(ds, "rma", pred, method, test, 0.95)
    }
  }
  preds <- c(EGGER_VAR_PREDICTORS, if (is.null(ds$ni)) character(0) else EGGER_N_PREDICTORS)
  for (level in LM_LEVELS) for (pred in preds) add_egger(ds, "lm", pred, "REML", "z", level)
}
## the level of a model = "rma" fit is the model's level
for (nm in c("bcg", "sim_k10")) for (test in c("z", "knha")) {
  add_egger(datasets[[nm]], "rma", "sei", "REML", test, 0.90)
}

rank_cases <- lapply(datasets, rank_case)
names(rank_cases) <- NULL

fsn_cases <- list()
for (ds in datasets) for (spec in FSN_CASES) fsn_cases[[length(fsn_cases) + 1L]] <- fsn_case(ds, spec)

petpeese_cases <- lapply(datasets, petpeese_case, level = 0.95)
names(petpeese_cases) <- NULL
petpeese_cases <- c(petpeese_cases, list(petpeese_case(datasets$bcg, 0.90)))

tf_cases <- list()
add_tf <- function(...) tf_cases[[length(tf_cases) + 1L]] <<- trimfill_case(...)
for (ds in datasets) {
  for (method in METHODS) {
    for (estimator in TF_ESTIMATORS) add_tf(ds, method, "z", estimator, NULL)
    add_tf(ds, method, "knha", "L0", NULL)
  }
  for (method in TF_SIDE_METHODS) for (side in c("left", "right")) add_tf(ds, method, "z", "L0", side)
  for (estimator in c("R0", "Q0")) for (side in c("left", "right")) add_tf(ds, "REML", "z", estimator, side)
}
## a 90% knha fit: refitted with z and level 95 when k0 > 0, returned as is when k0 = 0
for (nm in c("sim_asym_left", "sim_k0_zero")) add_tf(datasets[[nm]], "REML", "knha", "L0", NULL, level = 0.90)

## ---------------------------------------------------------------------------------------
## sanity checks on the grid itself

ids <- function(cases) vapply(cases, `[[`, "", "id")
stopifnot(!anyDuplicated(ids(egger_cases)), !anyDuplicated(ids(tf_cases)), !anyDuplicated(ids(fsn_cases)))
local({
  tf <- function(id) Find(function(c) c$id == id, tf_cases)$expected
  ## the boundary cases the Python tests rely on
  stopifnot(tf("sim_asym_left-REML-z-L0-auto-95")$side == "left", tf("sim_asym_left-REML-z-L0-auto-95")$k0 > 0)
  stopifnot(tf("sim_asym_right-REML-z-L0-auto-95")$side == "right", tf("sim_asym_right-REML-z-L0-auto-95")$k0 > 0)
  stopifnot(tf("sim_k0_zero-REML-z-L0-auto-95")$k0 == 0, tf("sim_k0_zero-REML-knha-L0-auto-90")$test == "knha")
  stopifnot(tf("sim_asym_left-REML-knha-L0-auto-90")$test == "z", tf("sim_asym_left-REML-knha-L0-auto-90")$level == 0.95)
  stopifnot(fit_rma(datasets$sim_tau2_zero, "REML")$tau2 < 1e-10, fit_rma(datasets$sim_tau2_zero, "DL")$tau2 == 0)
  rk <- Find(function(c) c$id == "sim_ties_vi", rank_cases)
  stopifnot(!rk$expected$exact, any(grepl("ties", rk$metafor_warnings)))
  ## ties (normal approximation) only where expected: the synthetic ties and real data with repeated vi
  tied <- vapply(Filter(function(c) !c$expected$exact, rank_cases), `[[`, "", "id")
  cat("rank test with ties (normal approximation):", tied, "\n")
  stopifnot(all(tied %in% c("sim_ties_vi", RANK_TIES_EXPECTED)))
  ## the only trimfill() errors: Q0 diverging on sim_ties_vi and sim_k3_fill
  errs <- Filter(function(c) !is.null(c$error), tf_cases)
  stopifnot(length(errs) > 0L, all(vapply(errs, function(c)
    c$dataset %in% c("sim_ties_vi", "sim_k3_fill") && c$estimator == "Q0", TRUE)))
  stopifnot(tf("sim_k3_fill-FE-z-L0-auto-95")$k0 == 2, tf("sim_k3_fill-ML-z-L0-auto-95")$k0 == 2)
})
## "NaNs produced" is expected only where trimfill's se.k0 is NaN (its variance formula went
## negative: the L0/Q0 variance of Sr at the final k0 can be < 0 when k0 is far from the truth)
unexpected <- unique(unlist(lapply(c(egger_cases, tf_cases, rank_cases, fsn_cases), function(c) {
  w <- c$metafor_warnings
  if (!is.null(c$expected$se_k0) && is.na(c$expected$se_k0)) w <- w[w != "NaNs produced"]
  ## metafor's ML check that sets tau2 = 0 when the likelihood is maximal there (sim_k3_fill)
  w[!grepl(paste("Knapp & Hartung method is not meant|Cannot compute exact p-value with ties",
                 "Fisher scoring algorithm may have gotten stuck", sep = "|"), w)]
})))
if (length(unexpected)) {
  for (c in c(egger_cases, tf_cases, rank_cases, fsn_cases)) if (length(c$metafor_warnings)) cat(c$id, ":", c$metafor_warnings, "\n")
  stop("unexpected metafor warnings:\n", paste(unexpected, collapse = "\n"))
}

## ---------------------------------------------------------------------------------------
## write

out <- list(
  meta = list(
    description = paste("Reference values for painstats.meta.egger_test / rank_correlation_test /",
                        "fail_safe_n / pet_peese / trim_and_fill, from R metafor with tight controls."),
    generated_by = "validation/metafor/bias.R",
    date = format(Sys.time(), "%Y-%m-%d"),
    r_version = R.version.string,
    metafor_version = as.character(packageVersion("metafor")),
    metadat_version = as.character(packageVersion("metadat")),
    platform = R.version$platform,
    rma_control = RMA_CONTROL,
    methods = as_array(METHODS), egger_tests = as_array(EGGER_TESTS),
    egger_var_predictors = as_array(EGGER_VAR_PREDICTORS), egger_n_predictors = as_array(EGGER_N_PREDICTORS),
    egger_n_methods = as_array(EGGER_N_METHODS), egger_n_tests = as_array(EGGER_N_TESTS),
    lm_levels = as_array(LM_LEVELS), tf_estimators = as_array(TF_ESTIMATORS),
    tf_side_methods = as_array(TF_SIDE_METHODS),
    encoding = paste("numbers are shortest round-trip decimals; null = NA in metafor;",
                     "\"Inf\" = infinite (df of z tests)"),
    notes = as_array(c(
      "level is a proportion; metafor was called with level = 100 * level",
      "egger: regtest(rma(yi, vi, ni = ni, method, test, level, control), model, predictor); df is Inf for z",
      "egger: limit_* are regtest's est/ci.lb/ci.ub (NA for predictors ni and sqrtni); limit_se is the intercept's SE",
      "egger model = 'lm' does not depend on the method (stored with method REML, test z)",
      "egger fit: the regtest fit (rma: coefficients, tau2, I2, H2, QE, QM; lm: coefficients, confint at the level)",
      "rank: ranktest(rma(yi, vi)); exact = no ties in y* and vi (R's cor.test criterion)",
      "fsn: fsn(yi, vi, type = method, alpha, target, weighted); null target = default",
      "petpeese: lm(yi ~ sqrt(vi), weights = 1/vi) and lm(yi ~ vi, weights = 1/vi), confint at the level",
      "trimfill: trimfill(rma(...), estimator, side, control = rma_control); side null = chosen by metafor",
      "trimfill expected.test/level: of the returned model (the refit is z and 95% when k0 > 0)",
      "trimfill error: metafor stopped (Q0 diverged: k0 = NaN); expected is null"
    ))
  ),
  datasets = datasets,
  egger = egger_cases,
  rank = rank_cases,
  fail_safe_n = fsn_cases,
  pet_peese = petpeese_cases,
  trim_and_fill = tf_cases
)
dir.create(dirname(out_path), showWarnings = FALSE, recursive = TRUE)
write_json_file(out, out_path)
cat(sprintf("wrote %s: %d datasets, %d egger, %d rank, %d fsn, %d pet-peese, %d trim-and-fill cases\n",
            out_path, length(datasets), length(egger_cases), length(rank_cases), length(fsn_cases),
            length(petpeese_cases), length(tf_cases)))
