#!/usr/bin/env Rscript
## Reference values for painstats.meta.effect_size (R metafor's escalc) and for
## painstats.meta.conversions (metafor's conv.fivenum, plus the Cochrane Handbook
## formulas for SDs from SEs/CIs and for change-from-baseline SDs).
##
## Writes tests/data/metafor_escalc.json: for every case the inputs (under painstats'
## argument names), the options and R's results at full double precision, so the
## Python tests never need R.
##
## Usage (from anywhere):
##   Rscript validation/metafor/escalc.R [output.json] [datasets_dir]
## datasets_dir holds the dataset CSVs (rubinstein2019_..., normand1999_...,
## haeuser2009_..., morris2008_...). Default: the repository's data/ if it has them,
## else $PAINSTATS_DATASETS, else /work/shared/datasets.
##
## conv.fivenum() arrived in metafor 4.0-0. With an older metafor installed (e.g.
## Debian's 3.8-1), set METAFOR4_R_DIR to the R/ folder of a metafor >= 4.0-0 source
## tree (for instance from `git archive v4.0-0 R` of the metafor repository): the script
## then loads misc.func.hidden.r, replmiss.r and conv.fivenum.r from there into a private
## environment whose parent is the installed metafor namespace. The formulas of the
## default method ("luo/wan/shi") are the same from 4.0-0 to 5.x. The source used is
## recorded in the JSON.

suppressPackageStartupMessages(library(metafor))

script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/escalc.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

source(file.path(dirname(script_path), "script_args.R"))
paths <- script_paths(repo_root, "metafor_escalc.json", "morris2008_pretest_posttest_control.csv")
out_path <- paths$out_path
datasets_dir <- paths$datasets_dir
read_data <- function(name) {
  read.csv(file.path(datasets_dir, name), fileEncoding = "UTF-8", stringsAsFactors = FALSE)
}

## ---------------------------------------------------------------------------------------
## conv.fivenum: installed, or loaded from a metafor >= 4.0 source tree

fivenum_source <- NULL
conv_fivenum <- if (exists("conv.fivenum", envir = asNamespace("metafor"))) {
  fivenum_source <- paste("installed metafor", packageVersion("metafor"))
  get("conv.fivenum", envir = asNamespace("metafor"))
} else {
  r_dir <- Sys.getenv("METAFOR4_R_DIR")
  if (!nzchar(r_dir)) stop("metafor < 4.0 has no conv.fivenum(); set METAFOR4_R_DIR (see header)")
  env <- new.env(parent = asNamespace("metafor"))
  for (f in c("misc.func.hidden.r", "replmiss.r", "conv.fivenum.r"))
    sys.source(file.path(r_dir, f), envir = env)
  fivenum_source <- paste("metafor source", Sys.getenv("METAFOR4_R_VERSION", "(version not given)"),
                          "R/conv.fivenum.r loaded over installed metafor", packageVersion("metafor"))
  env$conv.fivenum
}

## ---------------------------------------------------------------------------------------
## escalc cases

## painstats argument name -> escalc argument name, by family of measures
R_NAMES <- list(
  two_group = c(mean1 = "m1i", sd1 = "sd1i", n1 = "n1i", mean2 = "m2i", sd2 = "sd2i", n2 = "n2i"),
  binary = c(events1 = "ai", n1 = "n1i", events2 = "ci", n2 = "n2i"),
  change = c(mean1 = "m1i", mean2 = "m2i", sd1 = "sd1i", sd2 = "sd2i", n1 = "ni", ri = "ri")
)
FAMILY <- c(MD = "two_group", SMD = "two_group", ROM = "two_group", OR = "binary",
            RR = "binary", RD = "binary", MC = "change", SMCC = "change", SMCR = "change")

escalc_cases <- list()

add_escalc <- function(source, measure, inputs, vtype = "LS", add = 0.5, to = "only0") {
  map <- R_NAMES[[FAMILY[[measure]]]]
  r_args <- setNames(lapply(names(inputs), function(nm) inputs[[nm]]), map[names(inputs)])
  res <- withCallingHandlers(
    do.call(escalc, c(list(measure = measure, vtype = vtype, add = add, to = to), r_args)),
    warning = function(w) stop("escalc warned for ", source, "/", measure, ": ", conditionMessage(w))
  )
  yi <- as.numeric(res$yi)
  vi <- as.numeric(res$vi)
  if (any(!is.finite(yi)) || any(!is.finite(vi))) stop("non-finite result in ", source, "/", measure)
  options <- list(vtype = vtype)
  if (FAMILY[[measure]] == "binary") options <- c(options, list(add = add, to = to))
  id <- paste(c(source, measure, unlist(options)), collapse = "/")
  escalc_cases[[length(escalc_cases) + 1L]] <<- list(
    id = id, source = source, measure = measure, options = options,
    inputs = lapply(inputs, function(x) as_array(as.numeric(x))),
    yi = as_array(yi), vi = as_array(vi)
  )
}

VTYPES <- list(MD = c("LS", "HO"), SMD = c("LS", "UB", "LS2", "AV"),
               ROM = c("LS", "HO", "AV", "AVHO"), MC = "LS", SMCC = c("LS", "LS2"),
               SMCR = c("LS", "LS2"), RD = c("LS", "UB", "AV"))

add_two_group <- function(source, inputs, measures = c("MD", "SMD", "ROM")) {
  for (m in measures) for (vt in VTYPES[[m]]) add_escalc(source, m, inputs, vtype = vt)
}

## real datasets -------------------------------------------------------------------------

rub <- read_data("rubinstein2019_smt_vs_recommended_clbp_pain1m.csv")
add_two_group("rubinstein2019", list(mean1 = rub$mean_smt, sd1 = rub$sd_smt, n1 = rub$n_smt,
                                     mean2 = rub$mean_ctrl, sd2 = rub$sd_ctrl, n2 = rub$n_ctrl))

nor <- read_data("normand1999_stroke_los.csv")
add_two_group("normand1999", list(mean1 = nor$m1i, sd1 = nor$sd1i, n1 = nor$n1i,
                                  mean2 = nor$m2i, sd2 = nor$sd2i, n2 = nor$n2i))

hau <- read_data("haeuser2009_fms_antidepressants_all_outcomes.csv")
hau <- hau[hau$outcome == "pain", ]
hau_inputs <- function(d) list(mean1 = d$mti, sd1 = d$sdti, n1 = d$nti,
                               mean2 = d$mci, sd2 = d$sdci, n2 = d$nci)
add_two_group("haeuser2009_pain", hau_inputs(hau), measures = c("MD", "SMD"))
add_two_group("haeuser2009_pain_raw", hau_inputs(hau[hau$type == "raw", ]), measures = "ROM")

mor <- read_data("morris2008_pretest_posttest_control.csv")
for (grp in c("treatment", "control")) {
  d <- mor[mor$group == grp, ]
  ## metafor's own Morris (2008) example: post minus pre, standardised by the pre-test SD
  post_pre <- list(mean1 = d$m_post, mean2 = d$m_pre, sd1 = d$sd_pre, sd2 = d$sd_post,
                   n1 = d$ni, ri = d$ri)
  ## pain orientation: pre minus post (a reduction is positive), sd1 = baseline SD
  pre_post <- list(mean1 = d$m_pre, mean2 = d$m_post, sd1 = d$sd_pre, sd2 = d$sd_post,
                   n1 = d$ni, ri = d$ri)
  for (m in c("MC", "SMCC", "SMCR")) for (vt in VTYPES[[m]]) {
    add_escalc(paste0("morris2008_", grp, "_post_minus_pre"), m, post_pre, vtype = vt)
    add_escalc(paste0("morris2008_", grp, "_pre_minus_post"), m, pre_post, vtype = vt)
  }
}

## synthetic edge cases ------------------------------------------------------------------

## smallest samples (n = 2: exact J differs most from 1 - 3/(4m - 1)), unequal n,
## negative and equal means, and two large trials
small <- list(mean1 = c(4.5, -1.2, 30, 7.25, 0.3, 51.5, 12),
              sd1   = c(2.1, 0.8, 12, 3.3, 0.05, 20.2, 4),
              n1    = c(2, 2, 3, 5, 2, 1500, 40),
              mean2 = c(6.0, -0.4, 30, 5.0, 0.7, 49.0, 15),
              sd2   = c(1.7, 1.1, 9, 2.9, 0.09, 18.8, 6),
              n2    = c(2, 3, 2, 4, 10, 1480, 2))
add_two_group("synthetic_small_n", small, measures = c("MD", "SMD"))
positive <- small
positive$mean1 <- abs(positive$mean1)
positive$mean2 <- abs(positive$mean2)
add_two_group("synthetic_small_n_positive", positive, measures = "ROM")

## change scores: n = 3 (the smallest with a defined J(n - 1)), negative, zero and unit
## correlations (unequal SDs keep the SD of the change positive)
change <- list(mean1 = c(62, 5.5, -3.0, 40, 7.1, 48, 55),
               mean2 = c(48, 6.0, -1.5, 40, 4.2, 30, 41),
               sd1   = c(15, 1.2, 2.2, 9.5, 2.0, 18, 20),
               sd2   = c(18, 1.9, 2.0, 11.0, 2.6, 25, 22),
               n1    = c(3, 4, 10, 30, 3, 250, 12),
               ri    = c(-0.9, -0.3, 0, 0.5, 1, -1, 0.95))
for (m in c("MC", "SMCC", "SMCR")) for (vt in VTYPES[[m]])
  add_escalc("synthetic_change", m, change, vtype = vt)

## 2x2 tables: a zero cell in either arm, a double zero, every subject with the event in one
## arm and in both arms, n = 2, and ordinary tables
zeros <- list(events1 = c(0, 0, 5, 10, 3, 20, 2, 1, 7, 0),
              n1      = c(10, 20, 5, 50, 30, 20, 2, 40, 60, 2),
              events2 = c(2, 0, 4, 12, 0, 20, 0, 1, 9, 2),
              n2      = c(12, 25, 6, 48, 28, 20, 2, 35, 55, 2))
no_zeros <- list(events1 = c(10, 1, 7, 15, 33),
                 n1      = c(50, 40, 60, 16, 90),
                 events2 = c(12, 1, 9, 2, 40),
                 n2      = c(48, 35, 55, 20, 88))
for (m in c("OR", "RR", "RD")) {
  vts <- if (m == "RD") VTYPES$RD else "LS"
  for (vt in vts) {
    add_escalc("synthetic_zero_cells", m, zeros, vtype = vt, add = 0.5, to = "only0")
    add_escalc("synthetic_no_zero_cells", m, no_zeros, vtype = vt, add = 0.5, to = "only0")
    add_escalc("synthetic_no_zero_cells", m, no_zeros, vtype = vt, add = 0.5, to = "none")
  }
  add_escalc("synthetic_zero_cells", m, zeros, add = 1, to = "only0")
  add_escalc("synthetic_zero_cells", m, zeros, add = 0.5, to = "all")
  add_escalc("synthetic_zero_cells", m, zeros, add = 0.5, to = "if0all")
  add_escalc("synthetic_no_zero_cells", m, no_zeros, add = 0.5, to = "if0all")
  add_escalc("synthetic_no_zero_cells", m, no_zeros, add = 0.25, to = "all")
}
## the risk difference is finite without any correction
add_escalc("synthetic_zero_cells", "RD", zeros, add = 0.5, to = "none")
add_escalc("synthetic_zero_cells", "RD", zeros, vtype = "UB", add = 0.5, to = "none")

## ---------------------------------------------------------------------------------------
## conv.fivenum cases

fivenum_cases <- list()

add_fivenum <- function(id, inputs, method = "default", test = TRUE) {
  k <- length(inputs$n)
  full <- lapply(c(min = "min", q1 = "q1", median = "median", q3 = "q3", max = "max"),
                 function(nm) if (is.null(inputs[[nm]])) rep(NA_real_, k) else inputs[[nm]])
  res <- conv_fivenum(min = full$min, q1 = full$q1, median = full$median, q3 = full$q3,
                      max = full$max, n = inputs$n, method = method, test = test)
  att <- attributes(res$mean)
  fivenum_cases[[length(fivenum_cases) + 1L]] <<- list(
    id = id, method = method, skew_test = test,
    inputs = lapply(inputs, function(x) as_array(as.numeric(x))),
    mean = as_array(as.numeric(res$mean)), sd = as_array(as.numeric(res$sd)),
    skew_statistic = as_array(as.numeric(att$tval)), skew_critical = as_array(as.numeric(att$crit)),
    skewed = as_array(as.logical(att$sig))
  )
}

ns <- c(5, 6, 10, 25, 50, 100, 400, 1000, 5000)
kk <- length(ns)
s1 <- list(n = ns, min = seq(0, 8, length.out = kk), median = 20 + 0.5 * (1:kk),
           max = seq(40, 46, length.out = kk))
s2 <- list(n = ns, q1 = 12 + 0.1 * (1:kk), median = 20 + 0.5 * (1:kk),
           q3 = seq(27, 31, length.out = kk))
s3 <- list(n = ns, min = s1$min, q1 = s2$q1, median = s1$median, q3 = s2$q3, max = s1$max)
## pain change scores (negative values), n from 5 to 60
neg <- list(n = c(5, 12, 30, 60), min = c(-60, -55, -70, -80), q1 = c(-35, -30, -38, -41),
            median = c(-24, -20, -27, -30), q3 = c(-12, -9, -15, -18), max = c(6, 10, 12, 15))
## metafor's documented example (cases 1-3 in one call, n = 20)
doc <- list(n = c(20, 20, 20), min = c(2, NA, 2), q1 = c(NA, 4, 4), median = c(6, 6, 6),
            q3 = c(NA, 10, 10), max = c(14, NA, 14))
## right-skewed rows (some significant, some not), all three scenarios
skew <- list(n = c(20, 20, 20, 200, 8, 40), min = c(2, NA, 2, 1, NA, 0),
             q1 = c(NA, 4, 4, NA, 3, 2), median = c(6, 6, 6, 6, 4, 3),
             q3 = c(NA, 14, 14, NA, 9, 5), max = c(30, NA, 20, 12, NA, 60))
## no median (the SD needs none; the mean is then not estimable); zero IQR
nomed <- list(n = c(15, 40, 22), min = c(1, NA, 0), q1 = c(NA, 3, 5), median = c(NA, NA, NA),
              q3 = c(NA, 9, 5), max = c(21, NA, 10))
zero_iqr <- list(n = c(30, 30), min = c(0, 4), q1 = c(5, 4), median = c(5, 4), q3 = c(5, 4),
                 max = c(10, 4))

for (method in c("default", "luo/wan/shi", "wan2014")) {
  for (test in c(TRUE, FALSE)) {
    tag <- paste0(method, if (test) "" else "/no_skew_test")
    add_fivenum(paste0("S1_grid/", tag), s1, method, test)
    add_fivenum(paste0("S2_grid/", tag), s2, method, test)
    add_fivenum(paste0("S3_grid/", tag), s3, method, test)
    add_fivenum(paste0("S3_negative/", tag), neg, method, test)
    add_fivenum(paste0("metafor_example/", tag), doc, method, test)
    add_fivenum(paste0("skewed/", tag), skew, method, test)
  }
}
add_fivenum("no_median/default", nomed)
add_fivenum("zero_iqr/default", zero_iqr)

## ---------------------------------------------------------------------------------------
## other converters: plain Cochrane Handbook arithmetic in R (not metafor functions)

se_n <- list(se = c(0.5, 1.25, 3.1, 0.02), n = c(10, 25, 160, 2))
ci <- list(ci_low = c(1.2, -10.5, 30, 0.1), ci_high = c(3.4, -2.5, 41.5, 0.2),
           n = c(8, 25, 60, 400))
sds <- list(sd_baseline = c(15, 2.2, 18, 9.5, 3, 20), sd_final = c(18, 2.0, 25, 11, 3, 22),
            r = c(-0.9, 0, 0.5, 0.75, 1, 0.3))
crit <- function(level, n, dist) {
  p <- 1 - (1 - level) / 2
  if (dist == "t") qt(p, df = n - 1) else qnorm(p)
}
ci_cases <- list()
for (level in c(0.95, 0.90, 0.99)) for (dist in c("t", "z")) {
  ci_cases[[length(ci_cases) + 1L]] <- list(
    level = level, dist = dist,
    sd = as_array(sqrt(ci$n) * (ci$ci_high - ci$ci_low) / (2 * crit(level, ci$n, dist))))
}
sd_change <- sqrt(sds$sd_baseline^2 + sds$sd_final^2 - 2 * sds$r * sds$sd_baseline * sds$sd_final)
conversions <- list(
  se_to_sd = list(inputs = lapply(se_n, as_array), sd = as_array(se_n$se * sqrt(se_n$n))),
  ci_to_sd = list(inputs = lapply(ci, as_array), cases = ci_cases),
  change_sd = list(inputs = lapply(sds, as_array), sd_change = as_array(sd_change)),
  correlation_from_sds = list(
    inputs = list(sd_baseline = as_array(sds$sd_baseline), sd_final = as_array(sds$sd_final),
                  sd_change = as_array(sd_change)),
    r = as_array((sds$sd_baseline^2 + sds$sd_final^2 - sd_change^2) /
                   (2 * sds$sd_baseline * sds$sd_final)))
)

## ---------------------------------------------------------------------------------------

measures <- vapply(escalc_cases, function(x) x$measure, "")
out <- list(
  meta = list(
    description = paste("Reference values for painstats.meta.effect_size (metafor escalc) and",
                        "painstats.meta.conversions (metafor conv.fivenum; Cochrane Handbook",
                        "6.5.2.2 and 6.5.2.8 arithmetic)."),
    generated_by = "validation/metafor/escalc.R",
    date = format(Sys.Date()),
    r_version = R.version.string,
    metafor_version = as.character(packageVersion("metafor")),
    conv_fivenum_source = fivenum_source,
    platform = R.version$platform,
    n_escalc_cases = length(escalc_cases),
    n_escalc_cases_by_measure = as.list(table(measures)),
    n_fivenum_cases = length(fivenum_cases)
  ),
  escalc = escalc_cases,
  fivenum = fivenum_cases,
  conversions = conversions
)
write_json_file(out, out_path)
cat("wrote", out_path, ":", length(escalc_cases), "escalc cases,", length(fivenum_cases),
    "conv.fivenum cases\n")
