#!/usr/bin/env Rscript
## Reference values for painstats.meta.selection_model, computed with R metafor selmodel().
##
## Writes tests/data/metafor_selmodel.json: the data (yi, vi, labels) of every dataset, the
## settings of every case and metafor's results at full double precision, so the Python
## tests never need R. Cases where metafor stops (a p-value interval without studies) are
## stored with the error message.
##
## Usage (from the repository root):
##   Rscript validation/metafor/selmodel.R [output.json] [datasets_dir]
## datasets_dir holds the shared CSVs (rubinstein2019_..., haeuser2009_...); default: the
## repository's data/, else $PAINSTATS_DATASETS, else /work/shared/datasets. Takes ~45 min
## (metafor integrates the continuous weight functions numerically, ~30 s per fit).
##
## Convergence. metafor's defaults are not precise enough for a reference:
##  * optim(BFGS) stops at reltol = 1e-8 with a finite-difference gradient (ndeps = 1e-3);
##    estimates then move by up to ~1e-6 relative. Every fit here uses ndeps = 1e-6 (one per
##    parameter, including fixed deltas) and reltol = 1e-15, maxit = 10000 for the step
##    function (closed-form likelihood); for the continuous weight functions reltol = 1e-12,
##    maxit = 2000, because below that the integration noise keeps BFGS from stopping
##    (estimates agree with reltol = 1e-11 to ~2e-8);
##  * the continuous weight functions are integrated by integrate() at rel.tol = eps^0.25
##    (abs.tol = rel.tol, which metafor does not expose); here rel.tol = 1e-10 with 10000
##    subdivisions, falling back to 1e-9 and 1e-8 when integrate() reports a roundoff
##    problem (the "rel_tol" field of a case says which was used);
##  * the input models are fitted with threshold = 1e-12, tol = 1e-13 (REML inputs are
##    refitted by ML inside selmodel with that control).
## The standard errors come from numDeriv::hessian() of the numerically integrated
## log-likelihood, so for the continuous types integration noise (~rel.tol) is amplified by
## 1/h^2: metafor's own SEs for "power" and "beta" move by up to ~1e-4 relative between
## rel.tol = 1e-8 and 1e-11. tests/meta/test_selection_model.py holds those SEs to a looser
## tolerance, with that reason.
##
## tau2 = 0. When the selection model's tau2 is at the boundary (metafor stops at ~1e-9),
## metafor 3.8 computes the Hessian with tau2 < 0 clamped to 0 -- one-sided, so its SEs there
## depend on the difference step. Such cases are refitted with control tau2.fix = TRUE
## (tau2 held fixed in the Hessian, as metafor >= 4.2 does automatically below
## tau2 = min(vi/10, 1e-4)) and stored under "expected_tau2_fixed_hessian".

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/selmodel.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_selmodel.json", "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir

RMA_CONTROL <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000L)
REL_TOLS <- c(1e-10, 1e-9, 1e-8)
CONT_RELTOL <- 1e-12
TIME_LIMIT <- 300L  # seconds per fit; a fit that takes longer is stored as an error case

## ---------------------------------------------------------------------------------------
## datasets

make_dataset <- function(name, yi, vi, slab, description, source) {
  stopifnot(length(yi) == length(vi), all(is.finite(yi)), all(vi > 0))
  list(name = name, description = description, source = source, k = length(yi),
       slab = as_array(as.character(slab)), yi = as_array(as.numeric(yi)),
       vi = as_array(as.numeric(vi)))
}
read_shared <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE,
                                       encoding = "UTF-8")

datasets <- list()
d <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets$bcg <- make_dataset("bcg", d$yi, d$vi, paste(d$author, d$year),
  "BCG vaccine trials, log risk ratio (escalc RR); benefit is negative",
  "metadat dat.bcg (Colditz et al. 1994)")
d <- dat.hackshaw1998
datasets$hackshaw1998 <- make_dataset("hackshaw1998", d$yi, d$vi, paste(d$author, d$year),
  "passive smoking and lung cancer, log odds ratio as given", "metadat dat.hackshaw1998")
d <- dat.raudenbush1985
datasets$raudenbush1985 <- make_dataset("raudenbush1985", d$yi, d$vi, paste(d$author, d$year),
  "teacher expectancy, standardized mean difference as given", "metadat dat.raudenbush1985")
raw <- read_shared("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
d <- escalc("MD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = raw)
datasets$rubinstein2019 <- make_dataset("rubinstein2019", d$yi, d$vi, paste0(d$study, " (", d$id, ")"),
  "low back pain 0-100 at 1 month, SMT minus recommended therapy (escalc MD); benefit is negative",
  "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv (Rubinstein et al. BMJ 2019)")
raw <- read_shared("haeuser2009_fms_antidepressants_all_outcomes.csv")
raw <- raw[raw$outcome == "pain", ]
d <- escalc("SMD", m1i = mti, sd1i = sdti, n1i = nti, m2i = mci, sd2i = sdci, n2i = nci, data = raw)
datasets$haeuser2009_pain <- make_dataset("haeuser2009_pain", d$yi, d$vi,
  paste0(d$study, " ", d$year, " (", d$tgrp, ")"),
  "fibromyalgia pain, antidepressant minus control, Hedges' g (escalc SMD); benefit is negative",
  "haeuser2009_fms_antidepressants_all_outcomes.csv, outcome == 'pain' (Haeuser et al. JAMA 2009)")

## seeded synthetic data with publication selection: 80 candidate studies (mu = 0.15,
## tau2 = 0.04); every study with one-sided p <= .025 is published, the others with
## probability 0.3
local({
  set.seed(2024)
  k0 <- 80
  vi <- signif(runif(k0, 0.01, 0.15), 6)
  yi <- signif(0.15 + rnorm(k0, 0, sqrt(vi + 0.04)), 6)
  p <- pnorm(yi / sqrt(vi), lower.tail = FALSE)
  keep <- p <= 0.025 | runif(k0) < 0.3
  datasets$sim_selection <<- make_dataset("sim_selection", yi[keep], vi[keep],
    paste0("study ", which(keep)),
    "synthetic: 80 candidate studies (mu 0.15, tau2 0.04), p <= .025 always published, others w.p. 0.3",
    "synthetic, set.seed(2024)")
})

## homogeneous synthetic data (Q = (k - 1)/2): the selection model's tau2 is at the boundary
local({
  set.seed(77)
  k <- 25
  vi <- signif(runif(k, 0.005, 0.05), 6)
  r <- sqrt(vi) * rnorm(k)
  w <- 1 / vi
  q_of <- function(y) sum(w * (y - sum(w * y) / sum(w))^2)
  yi <- signif(0.25 + r * sqrt(0.5 * (k - 1) / q_of(r)), 6)
  datasets$sim_tau2_zero <<- make_dataset("sim_tau2_zero", yi, vi, paste0("study ", seq_len(k)),
    "synthetic homogeneous data, Q = (k - 1)/2: tau2 = 0 with and without selection",
    "synthetic, set.seed(77), residuals rescaled to a target Q")
})

## ---------------------------------------------------------------------------------------
## fitting

with_warnings <- function(expr) {
  msgs <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = unique(msgs))
}

## run fun() in a forked R process; a try-error if it fails or takes longer than `seconds`
## (when log(tau2) runs off towards -Inf, BFGS can creep on for hours without meeting reltol;
## setTimeLimit() does not help because metafor catches the error it signals)
with_timeout <- function(fun, seconds) {
  job <- parallel::mcparallel(fun(), silent = TRUE)
  res <- parallel::mccollect(job, wait = FALSE, timeout = seconds)
  if (is.null(res)) {
    tools::pskill(job$pid)
    parallel::mccollect(job, wait = FALSE)
    msg <- sprintf("painstats reference script: metafor did not finish within %d s (time limit)", seconds)
    return(structure(msg, class = "try-error", condition = simpleError(msg)))
  }
  res[[1]]
}

## Second stage: BFGS restarted at the first-stage optimum with reltol = 1e-15 (300
## iterations). From there it needs few iterations, and it moves metafor's estimates by up to
## ~1e-5 relative towards the exact maximum in flat directions. Skipped at a bound (tau2 ~ 0
## or a delta at its limit, where the logistic/log maps cannot be started); if it fails, the
## first stage is kept. "polished" in the JSON says which.
polish <- function(args, ctrl, first) {
  s <- first$value
  at_bound <- s$tau2 < 1e-6 && !is.element(s$method, c("FE", "EE", "CE")) ||
    any(s$delta <= s$delta.min + 1e-4 | s$delta >= s$delta.max - 1e-4)
  if (at_bound) return(c(first, list(polished = FALSE)))
  ctrl2 <- modifyList(ctrl, list(reltol = 1e-15, maxit = 300L, beta.init = c(s$beta),
                                 delta.init = c(s$delta)))
  if (!is.element(s$method, c("FE", "EE", "CE"))) ctrl2$tau2.init <- s$tau2
  second <- with_timeout(function() with_warnings(do.call(selmodel, c(args, list(control = ctrl2)))),
                         TIME_LIMIT)
  if (inherits(second, "try-error") || second$value$ll < s$ll) return(c(first, list(polished = FALSE)))
  c(second, list(polished = TRUE))
}

n_par <- function(type, steps) {
  deltas <- switch(type, stepfun = length(steps) + 1L, beta = 2L, 1L)
  2L + deltas
}

fit_sel <- function(ds, method, type, steps, alternative, extra = list()) {
  res <- rma(c(ds$yi), c(ds$vi), method = method, control = RMA_CONTROL)
  args <- list(x = res, type = type, alternative = alternative)
  if (!is.null(steps)) args$steps <- steps
  tols <- if (type == "stepfun") NA_real_ else REL_TOLS
  last_error <- NULL
  for (rt in tols) {
    ctrl <- list(reltol = 1e-15, maxit = 10000L, ndeps = rep(1e-6, n_par(type, steps)))
    if (!is.na(rt)) {
      ## below reltol ~1e-12 the integration noise keeps BFGS from stopping
      ctrl$reltol <- CONT_RELTOL
      ctrl$maxit <- 2000L
      ctrl$intCtrl <- list(rel.tol = rt, subdivisions = 10000L)
    }
    ctrl <- c(ctrl, extra)
    out <- with_timeout(function() with_warnings(do.call(selmodel, c(args, list(control = ctrl)))),
                        TIME_LIMIT)
    if (!inherits(out, "try-error")) return(c(polish(args, ctrl, out), list(rel_tol = rt)))
    last_error <- conditionMessage(attr(out, "condition"))
    if (grepl("time limit", last_error)) break
    if (!grepl("integrate|optimization", last_error)) break
  }
  list(error = last_error)
}

case_of <- function(ds, method, type, steps, alternative) {
  id <- sprintf("%s-%s-%s-%s-%s", ds$name, method, type,
                if (is.null(steps)) "none" else paste(steps, collapse = "_"), alternative)
  cat(id, "\n")
  fit <- fit_sel(ds, method, type, steps, alternative)
  base <- list(id = id, dataset = ds$name, method = method, type = type,
               steps = if (is.null(steps)) NULL else as_array(steps), alternative = alternative)
  if (!is.null(fit$error)) return(c(base, list(error = fit$error)))
  s <- fit$value
  fixed <- s$delta.fix
  ## tau2 at the boundary: metafor 3.8's Hessian is one-sided there (it clamps tau2 < 0 to 0).
  ## metafor >= 4.2 holds tau2 fixed in the Hessian when tau2 < min(vi/10, 1e-4), as
  ## painstats does at tau2 = 0; 3.8 does the same with control tau2.fix = TRUE.
  boundary <- NULL
  if (method != "FE" && s$tau2 < 1e-6) {
    fit0 <- fit_sel(ds, method, type, steps, alternative, extra = list(tau2.fix = TRUE))
    s0 <- fit0$value
    boundary <- list(tau2 = s0$tau2, estimate = c(s0$beta), se = s0$se, tau2_se = s0$se.tau2,
                     delta = as_array(c(s0$delta)), delta_se = as_array(s0$se.delta))
  }
  c(base, list(
    rel_tol = fit$rel_tol,
    polished = fit$polished,
    metafor_warnings = as_array(fit$warnings),
    expected = list(
      k = s$k,
      estimate = c(s$beta), se = s$se, statistic = s$zval, pvalue = s$pval,
      ci_low = s$ci.lb, ci_high = s$ci.ub,
      tau2 = s$tau2, tau2_se = s$se.tau2,
      delta = as_array(c(s$delta)), delta_se = as_array(s$se.delta),
      delta_statistic = as_array(s$zval.delta), delta_pvalue = as_array(s$pval.delta),
      delta_ci_low = as_array(s$ci.lb.delta), delta_ci_high = as_array(s$ci.ub.delta),
      delta_fixed = as_array(fixed),
      lrt = s$LRT, lrt_df = s$LRTdf, lrt_pvalue = s$LRTp,
      lrt_tau2 = s$LRT.tau2, lrt_tau2_pvalue = s$LRTp.tau2,
      loglik = s$ll, loglik_null = s$ll0,
      n_per_interval = if (type == "stepfun") as_array(s$ptable$k) else as_array(integer(0)),
      pvals = as_array(s$pvals)
    ),
    expected_tau2_fixed_hessian = boundary
  ))
}

STEP_SETS <- list(c(0.025), c(0.025, 0.5), c(0.05, 0.10, 0.50))
CONT_TYPES <- c("beta", "halfnorm", "negexp", "logistic", "power")
ALT <- c(bcg = "less", hackshaw1998 = "greater", raudenbush1985 = "greater",
         rubinstein2019 = "less", haeuser2009_pain = "less", sim_selection = "greater",
         sim_tau2_zero = "greater")

cases <- list()
add <- function(...) cases[[length(cases) + 1L]] <<- case_of(...)

for (nm in names(ALT)) {
  ds <- datasets[[nm]]
  alt <- ALT[[nm]]
  for (steps in STEP_SETS) for (method in c("ML", "REML")) add(ds, method, "stepfun", steps, alt)
  if (nm != "sim_tau2_zero") for (type in CONT_TYPES) add(ds, "ML", type, NULL, alt)
}
## REML inputs of the continuous types (metafor refits by ML: identical to the ML cases)
for (type in CONT_TYPES) add(datasets$hackshaw1998, "REML", type, NULL, "greater")
## common-effect inputs (tau2 fixed at 0)
add(datasets$hackshaw1998, "FE", "stepfun", c(0.025), "greater")
add(datasets$bcg, "FE", "stepfun", c(0.025, 0.5), "less")
add(datasets$hackshaw1998, "FE", "halfnorm", NULL, "greater")
## a threshold alpha for the continuous types
add(datasets$hackshaw1998, "ML", "halfnorm", c(0.05), "greater")
add(datasets$sim_selection, "ML", "negexp", c(0.025), "greater")
add(datasets$haeuser2009_pain, "ML", "power", c(0.025), "less")
## two-sided p-values
add(datasets$hackshaw1998, "ML", "stepfun", c(0.05), "two.sided")
add(datasets$sim_selection, "ML", "stepfun", c(0.05, 0.5), "two.sided")
add(datasets$hackshaw1998, "ML", "halfnorm", NULL, "two.sided")
## tau2 = 0 under the continuous types
add(datasets$sim_tau2_zero, "ML", "halfnorm", NULL, "greater")

out <- list(
  generated_by = "validation/metafor/selmodel.R",
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  numderiv_version = as.character(packageVersion("numDeriv")),
  controls = list(rma = RMA_CONTROL,
                  optim_stepfun = list(reltol = 1e-15, maxit = 10000L, ndeps = 1e-6),
                  optim_continuous = list(reltol = CONT_RELTOL, maxit = 2000L, ndeps = 1e-6),
                  integrate_rel_tol = as_array(REL_TOLS), integrate_subdivisions = 10000L),
  datasets = datasets,
  cases = cases
)
write_json_file(out, out_path)
cat("wrote", length(cases), "cases to", out_path, "\n")
