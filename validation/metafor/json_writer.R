## Minimal JSON writer for the reference fixtures.
##
## jsonlite writes at most 15 significant digits, which does not round-trip a
## double. The reference values must reach Python bit for bit, so numbers are
## written with the shortest of %.15g / %.16g / %.17g that parses back to the
## same double. Non-finite values are written explicitly:
##   NA  -> null        NaN -> "NaN"        Inf -> "Inf"        -Inf -> "-Inf"
## (tests/meta/_fixtures.py decodes them back to float).
##
## Shapes: a named list is an object, an unnamed list an array. An atomic
## vector of length 1 is a scalar unless wrapped in as_array(); longer vectors
## are arrays.

as_array <- function(x) {
  attr(x, "json_array") <- TRUE
  x
}

.json_num <- function(v) {
  if (is.nan(v)) return("\"NaN\"")
  if (is.na(v)) return("null")
  if (is.infinite(v)) return(if (v > 0) "\"Inf\"" else "\"-Inf\"")
  for (d in 15:17) {
    s <- sprintf(paste0("%.", d, "g"), v)
    if (as.numeric(s) == v) return(s)
  }
  s
}

.json_str <- function(s) {
  if (is.na(s)) return("null")
  s <- enc2utf8(as.character(s))
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  paste0("\"", s, "\"")
}

.json_atomic <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) {
    vals <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else if (is.numeric(x)) {
    vals <- vapply(as.numeric(x), .json_num, "")
  } else {
    vals <- vapply(as.character(x), .json_str, "", USE.NAMES = FALSE)
  }
  if (length(x) == 1L && !isTRUE(attr(x, "json_array"))) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}

to_json <- function(x, indent = 0L, step = 1L) {
  pad <- strrep(" ", indent + step)
  end <- strrep(" ", indent)
  if (is.null(x)) return("null")
  if (is.data.frame(x)) x <- as.list(x)
  if (is.list(x)) {
    if (length(x) == 0L) return(if (is.null(names(x))) "[]" else "{}")
    parts <- vapply(x, to_json, "", indent = indent + step, step = step)
    if (!is.null(names(x))) {
      keys <- vapply(names(x), .json_str, "")
      body <- paste0(pad, keys, ": ", parts)
      return(paste0("{\n", paste(body, collapse = ",\n"), "\n", end, "}"))
    }
    return(paste0("[\n", paste0(pad, parts, collapse = ",\n"), "\n", end, "]"))
  }
  .json_atomic(x)
}

write_json_file <- function(x, path) {
  con <- file(path, open = "w", encoding = "UTF-8")
  on.exit(close(con))
  writeLines(to_json(x), con, useBytes = TRUE)
}
