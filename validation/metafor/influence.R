## Reference values for leave-one-out, influence, cumulative, Baujat and GOSH
## (metafor leave1out / influence / cumul / baujat / gosh) on the datasets of metafor_rma.json.
##
## Usage (from the repository root): Rscript validation/metafor/influence.R
## Writes tests/data/metafor_influence.json. Needs metafor (3.8-1 used) and jsonlite (to read
## the datasets from tests/data/metafor_rma.json, so both fixtures use identical inputs).

suppressPackageStartupMessages({ library(metafor); library(jsonlite) })
script_path <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) normalizePath(f) else normalizePath("validation/metafor/influence.R")
})
repo_root <- normalizePath(file.path(dirname(script_path), "..", ".."))
source(file.path(dirname(script_path), "json_writer.R"))

rma_fixture <- fromJSON(file.path(repo_root, "tests", "data", "metafor_rma.json"), simplifyVector = TRUE)
ctrl <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000)

datasets <- c("bcg", "normand1999", "rubinstein2019", "haeuser2009_pain", "lawlor2001",
              "sim_k2", "sim_k3", "sim_k5", "sim_tau2_zero", "sim_outlier", "sim_unequal_vi")
methods <- c("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
tests <- c("z", "knha")
gosh_sets <- c("sim_k5", "lawlor2001", "bcg")  # all 2^k - 1 subsets (k = 5, 10, 13)
gosh_methods <- c("FE", "DL", "REML")

num <- function(x) as_array(as.numeric(x))

cases <- list()
for (ds in datasets) {
  d <- rma_fixture$datasets[[ds]]
  yi <- as.numeric(d$yi); vi <- as.numeric(d$vi)
  for (m in methods) for (tt in tests) {
    if (m == "FE" && tt == "knha") next
    fit <- rma(yi, vi, method = m, test = tt, control = ctrl)
    l1 <- leave1out(fit)
    cu <- cumul(fit)
    entry <- list(id = paste(ds, m, tt, sep = "-"), dataset = ds, method = m, test = tt,
      leave_one_out = list(estimate = num(l1$estimate), se = num(l1$se), statistic = num(if (is.null(l1$zval)) l1$tval else l1$zval),
        pvalue = num(l1$pval), ci_low = num(l1$ci.lb), ci_high = num(l1$ci.ub), q = num(l1$Q),
        q_pvalue = num(l1$Qp), tau2 = num(if (is.null(l1$tau2)) rep(0, length(yi)) else l1$tau2),
        i2 = num(l1$I2), h2 = num(l1$H2)),
      cumulative = list(estimate = num(cu$estimate), se = num(cu$se), statistic = num(if (is.null(cu$zval)) cu$tval else cu$zval),
        pvalue = num(cu$pval), ci_low = num(cu$ci.lb), ci_high = num(cu$ci.ub), q = num(cu$Q),
        q_pvalue = num(cu$Qp), tau2 = num(if (is.null(cu$tau2)) rep(0, length(yi)) else cu$tau2),
        i2 = num(cu$I2), h2 = num(cu$H2)))
    if (length(yi) >= 3) {
      inf <- influence(fit)
      entry$influence <- list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits),
        cooks_d = num(inf$inf$cook.d), cov_ratio = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del),
        qe_del = num(inf$inf$QE.del), hat = num(inf$inf$hat), weight = num(inf$inf$weight),
        dfbetas = num(inf$dfbs[[1]]), influential = as_array(as.logical(inf$is.infl)))
      pdf(NULL); b <- baujat(fit); invisible(dev.off())
      entry$baujat <- list(x = num(b$x), y = num(b$y))
    }
    if (ds %in% gosh_sets && m %in% gosh_methods && tt == "z") {
      g <- gosh(fit, progbar = FALSE)
      key <- apply(g$incl, 1, function(r) sum(2^(which(r) - 1)))
      entry$gosh <- list(subset_code = num(key), estimate = num(g$res$estimate), i2 = num(g$res$I2),
        h2 = num(g$res$H2), tau2 = num(g$res$tau2), q = num(g$res$QE))
    }
    cases[[length(cases) + 1L]] <- entry
  }
}

data_out <- lapply(datasets, function(ds) {
  d <- rma_fixture$datasets[[ds]]; list(yi = num(d$yi), vi = num(d$vi))
})
names(data_out) <- datasets

out <- list(meta = list(generator = "validation/metafor/influence.R", r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")), date = as.character(Sys.Date()),
  control = ctrl, note = "FE fits: leave1out/cumul give no tau2; stored as 0."),
  datasets = data_out, cases = cases)
write_json_file(out, file.path(repo_root, "tests", "data", "metafor_influence.json"))
cat("wrote", length(cases), "cases\n")
