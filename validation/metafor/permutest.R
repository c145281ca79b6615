#!/usr/bin/env Rscript
## Reference values for painstats.meta.permutation_test, computed with R metafor permutest().
##
## Writes tests/data/metafor_permutest.json: the data (yi, vi, moderator) of every case,
## the settings and metafor's results at full double precision, so the Python tests never
## need R.
##
## * Exact tests (exact = TRUE) are deterministic: the p-values are counts over all 2^k sign
##   flips (intercept-only models) or all distinct orders of the moderator rows
##   (meta-regression), so painstats must reproduce them exactly. The sorted permutation
##   distributions are stored too (up to 5040 permutations) and compared value by value.
## * Random tests (exact = FALSE, iter = 1000, fixed seed) use R's generator; painstats uses
##   NumPy's, so their p-values agree only within Monte Carlo error. Their permutation
##   distributions are stored for a two-sample comparison.
##
## Usage (from the repository root):
##   Rscript validation/metafor/permutest.R [output.json] [datasets_dir]
## Takes ~4 min (the exact meta-regression test with k = 8 refits 40320 models).
##
## Models are fitted with control = list(threshold = 1e-12, tol = 1e-13), which permutest()
## reuses for every permuted fit, so the permuted tau2 (REML, ML) are converged too.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/permutest.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_permutest.json", "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir

RMA_CONTROL <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000L)
MAX_STORED <- 5040L  # store full sorted permutation distributions up to this size

## ---------------------------------------------------------------------------------------
## datasets (subsets of real data sets for k = 5..8, plus synthetic)

make_dataset <- function(name, yi, vi, slab, x = NULL, description, source) {
  stopifnot(length(yi) == length(vi), all(is.finite(yi)), all(vi > 0))
  out <- list(name = name, description = description, source = source, k = length(yi),
              slab = as_array(as.character(slab)), yi = as_array(as.numeric(yi)),
              vi = as_array(as.numeric(vi)))
  if (!is.null(x)) out$x <- as_array(as.numeric(x))
  out
}
read_shared <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE,
                                       encoding = "UTF-8")

datasets <- list()
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets$bcg_k5 <- make_dataset("bcg_k5", bcg$yi[1:5], bcg$vi[1:5], paste(bcg$author, bcg$year)[1:5],
  bcg$ablat[1:5], "BCG trials 1-5, log risk ratio; x = absolute latitude (distinct)", "metadat dat.bcg")
datasets$bcg_k6 <- make_dataset("bcg_k6", bcg$yi[1:6], bcg$vi[1:6], paste(bcg$author, bcg$year)[1:6],
  bcg$ablat[1:6], "BCG trials 1-6, log risk ratio; x = absolute latitude (44 twice: 360 distinct orders)",
  "metadat dat.bcg")
datasets$bcg <- make_dataset("bcg", bcg$yi, bcg$vi, paste(bcg$author, bcg$year), bcg$ablat,
  "BCG trials, log risk ratio; x = absolute latitude", "metadat dat.bcg")
raw <- read_shared("haeuser2009_fms_antidepressants_all_outcomes.csv")
raw <- raw[raw$outcome == "pain", ]
d <- escalc("SMD", m1i = mti, sd1i = sdti, n1i = nti, m2i = mci, sd2i = sdci, n2i = nci, data = raw)
datasets$haeuser2009_pain_k6 <- make_dataset("haeuser2009_pain_k6", d$yi[1:6], d$vi[1:6],
  paste0(d$study, " ", d$year, " (", d$tgrp, ")")[1:6], d$year[1:6],
  "fibromyalgia pain SMD (escalc), first 6 comparisons; x = publication year",
  "haeuser2009_fms_antidepressants_all_outcomes.csv, outcome == 'pain'")
d <- dat.hackshaw1998
datasets$hackshaw1998_k7 <- make_dataset("hackshaw1998_k7", d$yi[1:7], d$vi[1:7],
  paste(d$author, d$year)[1:7], d$year[1:7], "passive smoking log OR, first 7 studies; x = year",
  "metadat dat.hackshaw1998")
raw <- read_shared("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
d <- escalc("MD", m1i = mean_smt, sd1i = sd_smt, n1i = n_smt, m2i = mean_ctrl, sd2i = sd_ctrl,
            n2i = n_ctrl, data = raw)
datasets$rubinstein2019_k8 <- make_dataset("rubinstein2019_k8", d$yi[1:8], d$vi[1:8],
  paste0(d$study, " (", d$id, ")")[1:8], c(0, 0, 1, 1, 1, 2, 2, 2),
  "low back pain MD, first 8 comparisons; x = a 3-level dose code (0,0,1,1,1,2,2,2): 560 distinct orders",
  "rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
local({
  set.seed(808)
  k <- 8
  vi <- signif(runif(k, 0.02, 0.12), 6)
  x <- round(runif(k, 0, 10), 2)
  yi <- signif(0.1 + 0.05 * x + rnorm(k, 0, sqrt(vi + 0.03)), 6)
  datasets$sim_k8 <<- make_dataset("sim_k8", yi, vi, paste0("study ", seq_len(k)), x,
    "synthetic, k = 8, distinct x: 40320 orders", "synthetic, set.seed(808)")
  set.seed(707)
  k <- 7
  vi <- signif(runif(k, 0.02, 0.12), 6)
  x <- round(runif(k, 0, 10), 2)
  yi <- signif(0.1 + 0.05 * x + rnorm(k, 0, sqrt(vi + 0.03)), 6)
  datasets$sim_k7 <<- make_dataset("sim_k7", yi, vi, paste0("study ", seq_len(k)), x,
    "synthetic, k = 7, distinct x: 5040 orders", "synthetic, set.seed(707)")
})

## ---------------------------------------------------------------------------------------
## tests

fit_model <- function(ds, method, test, mods) {
  if (mods) {
    rma(c(ds$yi), c(ds$vi), mods = ~ c(ds$x), method = method, test = test, control = RMA_CONTROL)
  } else {
    rma(c(ds$yi), c(ds$vi), method = method, test = test, control = RMA_CONTROL)
  }
}

case_of <- function(ds, method, test, mods, exact, seed = NULL) {
  id <- sprintf("%s-%s-%s-%s-%s", ds$name, if (mods) "x" else "intercept", method, test,
                if (exact) "exact" else "random")
  cat(id, "\n")
  res <- fit_model(ds, method, test, mods)
  if (!exact) set.seed(seed)
  t0 <- proc.time()[3]
  pt <- permutest(res, exact = exact, iter = 1000, progbar = FALSE)
  elapsed <- proc.time()[3] - t0
  n <- length(pt$QM.perm)
  store <- !exact || n <= MAX_STORED
  zperm <- as.matrix(pt$zval.perm)
  bperm <- as.matrix(pt$beta.perm)
  list(
    id = id, dataset = ds$name, moderator = mods, method = method, test = test, exact = exact,
    seed = seed, r_seconds = unname(elapsed),
    expected = list(
      k = res$k, n_permutations = n, exact_iter = pt$exact.iter,
      estimate = as_array(c(res$beta)), statistic = as_array(c(res$zval)),
      pvalue = as_array(pt$pval), qm = pt$QM,
      qm_df = if (test == "z") pt$QMdf[1] else as_array(pt$QMdf),
      qm_pvalue = pt$QMp,
      n_failed = sum(is.na(pt$QM.perm)),
      null_statistics_sorted = if (store) lapply(seq_len(ncol(zperm)), function(j) as_array(sort(zperm[, j]))) else NULL,
      null_estimates_sorted = if (store) lapply(seq_len(ncol(bperm)), function(j) as_array(sort(bperm[, j]))) else NULL,
      null_qm_sorted = if (store) as_array(sort(pt$QM.perm)) else NULL
    )
  )
}

cases <- list()
add <- function(...) cases[[length(cases) + 1L]] <<- case_of(...)

## exact, intercept-only: k = 5..8
for (nm in c("bcg_k5", "haeuser2009_pain_k6", "hackshaw1998_k7", "rubinstein2019_k8")) {
  for (method in c("REML", "DL", "FE")) for (test in c("z", "knha")) {
    add(datasets[[nm]], method, test, FALSE, TRUE)
  }
}
## exact, one moderator: k = 5..8 (ties in bcg_k6 and rubinstein2019_k8)
for (nm in c("bcg_k5", "bcg_k6", "haeuser2009_pain_k6", "hackshaw1998_k7", "rubinstein2019_k8")) {
  for (method in c("REML", "DL")) for (test in c("z", "knha")) {
    add(datasets[[nm]], method, test, TRUE, TRUE)
  }
}
for (test in c("z", "knha")) add(datasets$sim_k7, "REML", test, TRUE, TRUE)
add(datasets$sim_k8, "REML", "z", TRUE, TRUE)
## random permutations (1000, the observed data first)
add(datasets$bcg, "REML", "z", FALSE, FALSE, seed = 1234)
add(datasets$bcg, "REML", "knha", FALSE, FALSE, seed = 1234)
add(datasets$bcg, "REML", "z", TRUE, FALSE, seed = 1234)
add(datasets$bcg, "DL", "knha", TRUE, FALSE, seed = 1234)

out <- list(
  generated_by = "validation/metafor/permutest.R",
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  controls = list(rma = RMA_CONTROL, comptol = sqrt(.Machine$double.eps)),
  datasets = datasets,
  cases = cases
)
write_json_file(out, out_path)
cat("wrote", length(cases), "cases to", out_path, "\n")
