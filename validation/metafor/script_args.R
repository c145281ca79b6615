## Shared by the reference scripts: where to write the fixture and where the dataset CSVs are.
##
## Usage (after `repo_root` is known):  paths <- script_paths(repo_root, "metafor_x.json", "a.csv")
##   out_path: the first command-line argument, else tests/data/<fixture>
##   datasets_dir: the second argument, else the first of the repository's data/,
##     $PAINSTATS_DATASETS and /work/shared/datasets that holds `probe` (a CSV the script reads)

script_paths <- function(repo_root, fixture, probe) {
  args <- commandArgs(trailingOnly = TRUE)
  out_path <- if (length(args) >= 1L) args[1] else file.path(repo_root, "tests", "data", fixture)
  datasets_dir <- if (length(args) >= 2L) args[2] else {
    candidates <- c(file.path(repo_root, "data"), Sys.getenv("PAINSTATS_DATASETS"),
                    "/work/shared/datasets")
    hit <- candidates[nzchar(candidates) & file.exists(file.path(candidates, probe))]
    if (length(hit) == 0L) stop("cannot find the dataset CSVs (", probe, "); pass datasets_dir")
    hit[1]
  }
  list(out_path = out_path, datasets_dir = datasets_dir)
}
