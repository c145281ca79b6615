# Time metafor::rma() inside R, so that R's start-up and package loading are not counted.
#
# Called by bench_random_effects.py on the same data it gives the Python tools:
#
#   Rscript metafor_timing.R single <data.csv> <method> <out.json> [budget_s] [min_block_s] [repeats]
#   Rscript metafor_timing.R batch  <data.csv> <method> <out.json> [budget_s] [min_block_s] [repeats]
#
# single: data.csv has columns yi, vi (one meta-analysis); times rma(yi, vi, method = method).
# batch:  data.csv has columns id, yi, vi (long format); times a loop of rma() over the analyses,
#         in order of first appearance of id, and reports analyses per second.
#
# Protocol: one warm-up fit (it also gives the numbers), then `repeats` timed blocks of n_inner
# calls each, n_inner chosen so that a block lasts at least min_block_s; fewer blocks when they
# would not fit in budget_s, and none when one fit takes more than budget_s / 2 (the warm-up call
# is then the only measurement). The median per-call time over the blocks is reported. One fit
# that takes longer than the caller's time-out cannot be interrupted from inside R (metafor spends
# it inside one BLAS call); bench_random_effects.py then kills the process and records "timeout".
# An error (e.g. "cannot allocate vector of size 74.5 Gb" for k >= 1e5: metafor builds k x k
# matrices) is recorded as status "failed".
#
# The numbers are also refitted untimed with control = list(threshold = 1e-12, maxiter = 10000)
# ("tight", skipped when it would overrun budget_s): metafor's default threshold (1e-5) leaves
# tau2 errors near 1e-5, which would hide how closely the implementations agree.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) {
  stop("usage: Rscript metafor_timing.R single|batch <data.csv> <method> <out.json> ",
       "[budget_s] [min_block_s] [repeats]")
}
mode <- args[[1]]
data_file <- args[[2]]
method <- args[[3]]
out_file <- args[[4]]
budget <- if (length(args) >= 5) as.numeric(args[[5]]) else 60
min_block <- if (length(args) >= 6) as.numeric(args[[6]]) else 0.2
repeats <- if (length(args) >= 7) as.integer(args[[7]]) else 5L

dat <- read.csv(data_file)

# A fit that fails with the default control (e.g. "Fisher scoring algorithm did not converge")
# is refitted with step halving, metafor's documented remedy, as a user's loop would; the
# warm-up call counts how often that happened ("n_refit"), and the timings include the refits.
n_refit <- 0L
fit_one <- function(yi, vi, control) {
  tryCatch(rma(yi, vi, method = method, control = control), error = function(e) {
    n_refit <<- n_refit + 1L
    rma(yi, vi, method = method,
        control = modifyList(control, list(stepadj = 0.5, maxiter = 10000)))
  })
}

if (mode == "single") {
  fit_all <- function(control = list()) {
    fit <- fit_one(dat$yi, dat$vi, control)
    list(tau2 = fit$tau2, estimate = as.numeric(fit$beta))
  }
  n_units <- 1
} else if (mode == "batch") {
  groups <- split(dat[, c("yi", "vi")], factor(dat$id, levels = unique(dat$id)))
  fit_all <- function(control = list()) {
    tau2 <- numeric(length(groups))
    estimate <- numeric(length(groups))
    for (i in seq_along(groups)) {
      g <- groups[[i]]
      fit <- fit_one(g$yi, g$vi, control)
      tau2[i] <- fit$tau2
      estimate[i] <- as.numeric(fit$beta)
    }
    list(tau2 = tau2, estimate = estimate)
  }
  n_units <- length(groups)
} else {
  stop("mode must be 'single' or 'batch', got '", mode, "'")
}

elapsed <- function(n) {
  system.time(for (i in seq_len(n)) fit_all())[["elapsed"]]
}

out <- list(
  tool = "metafor",
  metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  blas = tryCatch(extSoftVersion()[["BLAS"]], error = function(e) NA_character_),
  lapack = tryCatch(La_library(), error = function(e) NA_character_),
  mode = mode,
  method = method,
  n_units = n_units,
  budget_s = budget
)

t_first <- system.time(res <- tryCatch(fit_all(), error = function(e) e))[["elapsed"]]
out$n_refit <- n_refit
if (inherits(res, "error")) {
  out$status <- "failed"
  out$error <- conditionMessage(res)
  out$first_call_s <- t_first
} else {
  t_call <- max(t_first, 1e-4)
  if (2 * t_first > budget) {
    # too slow to repeat within the budget: the warm-up call is the only measurement
    n_inner <- 1L
    per_call <- t_first
  } else {
    n_inner <- max(1L, as.integer(ceiling(min_block / t_call)))
    n_rep <- max(1L, min(repeats, as.integer(floor((budget - t_first) / (n_inner * t_call)))))
    per_call <- vapply(seq_len(n_rep), function(r) elapsed(n_inner) / n_inner, numeric(1))
  }
  spent <- t_first + sum(per_call) * n_inner
  tight <- list(tau2 = NA_real_, estimate = NA_real_)
  if (spent + t_first < budget) {
    tight <- tryCatch(fit_all(control = list(threshold = 1e-12, maxiter = 10000)),
                      error = function(e) tight)
  }
  out$status <- "ok"
  out$first_call_s <- t_first
  out$n_inner <- n_inner
  out$repeats <- length(per_call)
  out$per_call_s <- per_call
  out$median_s <- median(per_call)
  out$units_per_s <- n_units / median(per_call)
  out$tau2 <- res$tau2
  out$estimate <- res$estimate
  out$tau2_tight <- tight$tau2
  out$estimate_tight <- tight$estimate
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null"), out_file)
