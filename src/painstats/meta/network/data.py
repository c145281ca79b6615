"""Network data: arm-level or contrast-level input, multi-arm studies, connectivity.

Everything is validated here, once, and turned into :class:`NetworkData`: per study the
contrasts of every arm against the study's baseline arm, with their exact within-study
covariance matrix (padded to the largest number of arms, batch-first as the kernels expect).

Multi-arm studies are never treated as independent comparisons:

* arm-level data: for MD, ROM, OR, RR and RD the contrast of arm j against the baseline arm 0
  is the difference of two arm-level quantities, so two contrasts sharing arm 0 have
  covariance equal to arm 0's variance (sd^2/n for MD, sd^2/(n m^2) for ROM,
  1/a + 1/b for the log odds, 1/a - 1/n for the log risk, p(1-p)/n for the risk). For SMD each
  pair is standardised by its own pooled SD (as ``escalc``), which is not additive, and the
  covariance is derived from the three pairwise variances, (v_0j + v_0k - v_jk)/2, as
  netmeta does (Krahn, Binder & König 2013).
* contrast-level data: a multi-arm study gives either all a(a-1)/2 pairwise contrasts, whose
  effects must be consistent (y_jk = y_j0 - y_k0 within ``multiarm_tol``) and whose variances
  determine the covariances as above, or the a - 1 contrasts against one shared arm together
  with ``cov``, their covariance (the variance of the shared arm's estimate). Variances
  that imply a covariance matrix that is not positive definite raise, naming the study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import (
    as_float_column,
    check_finite,
    check_integer,
    check_le,
    check_min,
    check_nonnegative,
    check_positive,
    get_column,
    resolve_option,
)
from painstats.errors import InputTypeError, ValidationError
from painstats.meta.effect_sizes import MEASURE_ALIASES, effect_size
from painstats.meta.network.options import NETWORK_MEASURES

__all__ = ["MULTIARM_TOL", "NetworkData", "arms_from_wide", "read_network"]

#: Default tolerance on the consistency of the treatment effects of a multi-arm study given
#: as contrasts (y_jk = y_j0 - y_k0), on the scale of yi; netmeta's ``tol.multiarm``.
MULTIARM_TOL = 0.001

_MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class NetworkData:
    """Validated network: per study, the contrasts of every arm against its baseline arm.

    Arrays are padded to the largest study: ``A + 1`` arms, ``A`` contrasts. Column 0 of
    ``arms`` is the study's baseline arm; contrast ``a`` is arm ``a + 1`` minus arm 0.
    """

    studies: tuple[str, ...]  #: study labels (S), in input order
    treatments: tuple[str, ...]  #: treatment names, sorted
    arms: np.ndarray  #: (S, A + 1) treatment index of each arm; -1 pads
    arm_n: np.ndarray  #: (S, A + 1) participants per arm; NaN when unknown or padding
    y: np.ndarray  #: (S, A) contrasts against the baseline arm; 0 pads
    cov: np.ndarray  #: (S, A, A) their within-study covariance; 0 pads
    mask: np.ndarray  #: (S, A) True for real contrasts
    measure: str | None  #: effect measure of arm-level input; None for contrasts
    form: str  #: "arm" or "contrast"
    n_dropped: int = 0  #: input rows dropped for missing values (``missing="drop"``)

    # -- sizes ------------------------------------------------------------------------
    @property
    def n_studies(self) -> int:
        return len(self.studies)

    @property
    def n_treatments(self) -> int:
        return len(self.treatments)

    @property
    def n_arms(self) -> np.ndarray:
        """Number of arms of each study."""
        return (self.arms >= 0).sum(axis=1)

    @property
    def n_contrasts(self) -> int:
        """Number of independent contrasts, sum over studies of (arms - 1)."""
        return int(self.mask.sum())

    def designs(self) -> tuple[str, ...]:
        """Design of each study: its treatments in treatment order, joined by ':'."""
        out = []
        for row in self.arms:
            idx = sorted(int(t) for t in row if t >= 0)
            out.append(":".join(self.treatments[t] for t in idx))
        return tuple(out)

    def participants(self) -> np.ndarray:
        """Participants per treatment, summed over arms (NaN if any arm's n is unknown)."""
        out = np.zeros(self.n_treatments)
        real = self.arms >= 0
        np.add.at(out, self.arms[real], self.arm_n[real])
        return out

    def comparison_counts(self) -> np.ndarray:
        """(n, n) number of studies comparing each pair of treatments directly."""
        n = self.n_treatments
        counts = np.zeros((n, n), dtype=int)
        for row in self.arms:
            t = row[row >= 0]
            for i in range(t.size):
                for j in range(i + 1, t.size):
                    counts[t[i], t[j]] += 1
                    counts[t[j], t[i]] += 1
        return counts

    # -- contrasts between any two arms ----------------------------------------------------
    def arm_covariance(self, s: int) -> np.ndarray:
        """(A + 1, A + 1) covariance of the arms of study s relative to its baseline arm."""
        a = self.cov.shape[1]
        out = np.zeros((a + 1, a + 1))
        out[1:, 1:] = self.cov[s]
        return out

    def pair_contrasts(self) -> pd.DataFrame:
        """Every pair of arms of every study: study, treat1, treat2, yi = treat1 - treat2, vi.

        treat1 comes later in treatment order than treat2. A multi-arm study contributes
        several (correlated) rows; each row is one study's direct evidence on one pair.
        """
        rows = []
        for s, row in enumerate(self.arms):
            u = np.concatenate([[0.0], self.y[s]])
            c = self.arm_covariance(s)
            arm_idx = [a for a in range(row.size) if row[a] >= 0]
            for i in arm_idx:
                for j in arm_idx:
                    if row[i] > row[j]:
                        rows.append((s, self.studies[s], self.treatments[row[i]],
                                     self.treatments[row[j]], int(row[i]), int(row[j]),
                                     u[i] - u[j], c[i, i] + c[j, j] - 2 * c[i, j]))
        cols = ["study_index", "study", "treat1", "treat2", "t1", "t2", "yi", "vi"]
        return pd.DataFrame(rows, columns=cols)

    def contrast_frame(self) -> pd.DataFrame:
        """The contrasts used by the model: study, treat1 (arm), treat2 (baseline), yi, vi."""
        rows = []
        for s, row in enumerate(self.arms):
            for a in range(self.y.shape[1]):
                if self.mask[s, a]:
                    rows.append((self.studies[s], self.treatments[row[a + 1]],
                                 self.treatments[row[0]], self.y[s, a], self.cov[s, a, a]))
        return pd.DataFrame(rows, columns=["study", "treat1", "treat2", "yi", "vi"])

    # -- structure ---------------------------------------------------------------------
    def subnetworks(self) -> list[tuple[str, ...]]:
        """Connected sub-networks, each as a sorted tuple of treatments; largest first."""
        parent = list(range(self.n_treatments))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for row in self.arms:
            t = row[row >= 0]
            for other in t[1:]:
                parent[find(int(other))] = find(int(t[0]))
        groups: dict[int, list[str]] = {}
        for i, name in enumerate(self.treatments):
            groups.setdefault(find(i), []).append(name)
        return sorted((tuple(g) for g in groups.values()), key=lambda g: (-len(g), g))

    def subset(self, keep: np.ndarray) -> NetworkData:
        """The network of the studies with ``keep`` True (treatments re-indexed)."""
        keep = np.asarray(keep, dtype=bool)
        arms = self.arms[keep]
        used = sorted({int(t) for t in arms.ravel() if t >= 0})
        remap = np.full(self.n_treatments + 1, -1)
        remap[used] = np.arange(len(used))
        return NetworkData(
            studies=tuple(s for s, k in zip(self.studies, keep) if k),
            treatments=tuple(self.treatments[t] for t in used),
            arms=_ro(remap[arms]),
            arm_n=_ro(self.arm_n[keep]),
            y=_ro(self.y[keep]),
            cov=_ro(self.cov[keep]),
            mask=_ro(self.mask[keep]),
            measure=self.measure,
            form=self.form,
            n_dropped=self.n_dropped,
        )


# ---------------------------------------------------------------------------------------
# public readers


def read_network(
    data: pd.DataFrame | None,
    *,
    study: Any,
    treatment: Any = None,
    mean: Any = None,
    sd: Any = None,
    se: Any = None,
    n: Any = None,
    events: Any = None,
    measure: str | None = None,
    treat1: Any = None,
    treat2: Any = None,
    yi: Any = None,
    vi: Any = None,
    cov: Any = None,
    n1: Any = None,
    n2: Any = None,
    missing: str = "raise",
    multiarm_tol: float = MULTIARM_TOL,
) -> NetworkData:
    """Validate arm-level or contrast-level input (see :func:`network_meta_analysis`)."""
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame or None; got {type(data).__name__}")
    if missing not in ("raise", "drop"):
        raise ValidationError(f"missing must be 'raise' or 'drop'; got {missing!r}")
    arm_args = {"treatment": treatment, "mean": mean, "sd": sd, "se": se, "n": n,
                "events": events}
    con_args = {"treat1": treat1, "treat2": treat2, "yi": yi, "vi": vi, "cov": cov,
                "n1": n1, "n2": n2}
    arm_given = [k for k, v in arm_args.items() if v is not None]
    con_given = [k for k, v in con_args.items() if v is not None]
    if arm_given and con_given:
        raise ValidationError(
            "give either arm-level columns (treatment, mean/sd/n or events/n) or contrast-level "
            f"columns (treat1, treat2, yi, vi), not both; got {arm_given} and {con_given}"
        )
    if treatment is not None:
        if measure is not None and not isinstance(measure, str):
            raise InputTypeError(f"measure must be a string such as 'MD'; got {measure!r}")
        return _read_arms(data, study=study, treatment=treatment, mean=mean, sd=sd, se=se, n=n,
                          events=events, measure=measure, missing=missing)
    if treat1 is not None or treat2 is not None:
        if measure is not None:
            raise ValidationError(
                "measure applies to arm-level data only; contrast-level yi are used as given"
            )
        tol = _check_tol(multiarm_tol)
        return _read_contrasts(data, study=study, treat1=treat1, treat2=treat2, yi=yi, vi=vi,
                               cov=cov, n1=n1, n2=n2, missing=missing, tol=tol)
    raise ValidationError(
        "no treatments given: pass treatment= (arm-level data) or treat1= and treat2= "
        "(contrast-level data)"
    )


def arms_from_wide(
    data: pd.DataFrame,
    *,
    study: str,
    columns: Mapping[str, str],
) -> pd.DataFrame:
    """Turn a wide table (one row per study, columns ``stub1, stub2, ...``) into arm rows.

    Parameters
    ----------
    data : DataFrame
        One row per study; arm ``i`` of a study is in the columns ``f"{stub}{i}"``.
    study : str
        Column holding the study label.
    columns : mapping
        Long column name -> stub, e.g. ``{"treatment": "t", "mean": "y", "sd": "sd",
        "n": "n"}``. Must include ``"treatment"``; arms whose treatment is missing or empty
        are left out.

    Returns
    -------
    DataFrame
        One row per arm: ``study``, ``arm`` (1, 2, ...) and the long columns, in input order.

    Examples
    --------
    >>> from painstats import datasets
    >>> from painstats.meta.network import arms_from_wide
    >>> wide = datasets.load("franchini2012")
    >>> arms = arms_from_wide(wide, study="Study", columns={"treatment": "Treatment",
    ...                       "mean": "y", "sd": "sd", "n": "n"})
    >>> arms.shape
    (15, 6)
    """
    if not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if study not in data.columns:
        raise ValidationError(f"study={study!r} is not a column of data; columns are "
                              f"{list(data.columns)}")
    if "treatment" not in columns:
        raise ValidationError("columns must map 'treatment' to the stub of the treatment columns")
    stub = columns["treatment"]
    numbers = sorted(int(c[len(stub):]) for c in data.columns
                     if isinstance(c, str) and c.startswith(stub) and c[len(stub):].isdigit())
    if not numbers:
        raise ValidationError(f"no columns {stub}1, {stub}2, ... in data; columns are "
                              f"{list(data.columns)}")
    parts = []
    for i in numbers:
        block = {"study": data[study].to_numpy(), "arm": i}
        for name, st in columns.items():
            col = f"{st}{i}"
            if col not in data.columns:
                raise ValidationError(f"column {col!r} (stub {st!r} of {name!r}, arm {i}) is "
                                      "missing from data")
            block[name] = data[col].to_numpy()
        part = pd.DataFrame(block)
        part["_row"] = np.arange(len(data))
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    trt = long["treatment"]
    present = ~(pd.isna(trt) | (trt.astype(str).str.strip() == ""))
    long = long[present].sort_values(["_row", "arm"], kind="stable")
    return long.drop(columns="_row").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# arm-level input

_ARM_FAMILY = {"MD": "means", "SMD": "means", "ROM": "means", "OR": "binary", "RR": "binary",
               "RD": "binary"}


def _resolve_measure(measure: str | None, has_means: bool, has_events: bool) -> str:
    if has_means and has_events:
        raise ValidationError("give either mean (with sd or se) or events, not both")
    if not has_means and not has_events:
        raise ValidationError("arm-level data need mean with sd (or se) and n, or events and n")
    if measure is None:
        if has_events:
            raise ValidationError(
                "measure is required for events: one of ['OR', 'RR', 'RD']"
            )
        return "MD"
    code = resolve_option("measure", measure, MEASURE_ALIASES)
    if code not in NETWORK_MEASURES:
        raise ValidationError(f"measure must be one of {list(NETWORK_MEASURES)} for a network; "
                              f"got {measure!r}")
    family = _ARM_FAMILY[code]
    if (family == "binary") != has_events:
        need = "events and n" if family == "binary" else "mean, sd (or se) and n"
        raise ValidationError(f"measure {code} needs {need}")
    return code


def _labels_column(name: str, value: Any, data: pd.DataFrame | None, k: int | None) -> np.ndarray:
    raw = get_column(name, value, data)
    if raw is None:
        raise ValidationError(f"{name} is required")
    arr = np.asarray(raw, dtype=object).ravel()
    if k is not None and arr.size != k:
        raise ValidationError(f"{name} has {arr.size} values but there are {k} rows")
    bad = pd.isna(pd.Series(arr)).to_numpy()
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad)[:_MAX_LISTED])
        raise ValidationError(f"{name} is missing in row(s) {rows}")
    return np.array([_label(x) for x in arr], dtype=object)


def _label(x: Any) -> str:
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x).strip()


def _read_arms(data, *, study, treatment, mean, sd, se, n, events, measure, missing):
    trt = _labels_column("treatment", treatment, data, None)
    k = trt.size
    stud = _labels_column("study", study, data, k)
    code = _resolve_measure(measure, mean is not None, events is not None)
    cols: dict[str, np.ndarray] = {}
    if _ARM_FAMILY[code] == "means":
        if sd is None and se is None:
            raise ValidationError(f"measure {code} needs sd (or se) for every arm")
        if sd is not None and se is not None:
            raise ValidationError("give either sd or se, not both")
        if se is not None and code == "SMD":
            raise ValidationError("measure SMD needs sd and n (the pooled SD), not se")
        cols["mean"] = as_float_column("mean", get_column("mean", mean, data), k=k)
        spread = "sd" if sd is not None else "se"
        cols[spread] = as_float_column(spread, get_column(spread, sd if sd is not None else se,
                                                          data), k=k)
        if n is not None:
            cols["n"] = as_float_column("n", get_column("n", n, data), k=k)
        elif spread == "sd":
            raise ValidationError(f"measure {code} with sd needs n for every arm")
    else:
        if n is None:
            raise ValidationError(f"measure {code} needs events and n for every arm")
        cols["events"] = as_float_column("events", get_column("events", events, data), k=k)
        cols["n"] = as_float_column("n", get_column("n", n, data), k=k)
    labels = [str(s) for s in stud]
    drop = _missing_rows(cols, labels, missing)
    filled = {c: np.where(drop, _FILL[c], a) for c, a in cols.items()}
    _check_arm_values(code, filled, labels)
    groups, extra = _group_arms(stud, trt, drop, labels)
    treatments = tuple(sorted({t for s in groups for t in s[1]}))
    return _arm_network(code, groups, treatments, cols, int(drop.sum()) + extra)


_FILL = {"mean": 1.0, "sd": 1.0, "se": 1.0, "n": 10.0, "events": 1.0}


def _missing_rows(cols: Mapping[str, np.ndarray], labels: Sequence[str], missing: str) -> np.ndarray:
    nan = np.zeros(len(labels), dtype=bool)
    for name, arr in cols.items():
        isn = np.isnan(arr)
        if isn.any() and missing == "raise":
            i = int(np.flatnonzero(isn)[0])
            raise ValidationError(
                f"missing values: study '{labels[i]}' (row {i + 1}) has {name}=NaN "
                "(pass missing='drop' to drop such rows)"
            )
        nan |= isn
    return nan


def _check_arm_values(code: str, cols: Mapping[str, np.ndarray], labels: list[str]) -> None:
    if "mean" in cols:
        (check_positive if code == "ROM" else check_finite)("mean", cols["mean"], labels)
    for spread in ("sd", "se"):
        if spread in cols:
            check_positive(spread, cols[spread], labels)
    if "n" in cols:
        check_finite("n", cols["n"], labels)
        check_min("n", cols["n"], labels, 2 if code == "SMD" else 1)
        check_integer("n", cols["n"], labels)
    if "events" in cols:
        check_nonnegative("events", cols["events"], labels)
        check_integer("events", cols["events"], labels)
        check_le("events", cols["events"], "n", cols["n"], labels)


def _group_arms(stud, trt, drop, labels) -> tuple[list[tuple[str, list[str], list[int]]], int]:
    """Rows per study in input order; duplicate treatments and single arms raise.

    A study left with a single arm only because rows with missing values were dropped is
    dropped too; the second value returned counts such rows.
    """
    order: dict[str, list[int]] = {}
    lost: dict[str, int] = {}
    for i, s in enumerate(stud):
        if drop[i]:
            lost[s] = lost.get(s, 0) + 1
        else:
            order.setdefault(s, []).append(i)
    groups = []
    extra = 0
    for s, rows in order.items():
        seen: dict[str, int] = {}
        for i in rows:
            if trt[i] in seen:
                raise ValidationError(
                    f"study '{s}' has two arms of treatment '{trt[i]}' (rows {seen[trt[i]] + 1} "
                    f"and {i + 1}); merge them or give them different treatment names"
                )
            seen[trt[i]] = i
        if len(rows) < 2:
            if lost.get(s, 0):
                extra += len(rows)
                continue
            raise ValidationError(
                f"study '{s}' has a single arm (treatment '{trt[rows[0]]}', row {rows[0] + 1}); "
                "every study needs at least two arms"
            )
        pairs = sorted((trt[i], i) for i in rows)
        groups.append((s, [p[0] for p in pairs], [p[1] for p in pairs]))
    if not groups:
        raise ValidationError("no studies with at least two arms left to analyse")
    return groups, extra


def _arm_value(code: str, cols: Mapping[str, np.ndarray], rows: list[int]):
    """Arm-level quantity and its variance (not for SMD)."""
    r = np.asarray(rows)
    if code in ("MD", "ROM"):
        m = cols["mean"][r]
        var = cols["se"][r] ** 2 if "se" in cols else cols["sd"][r] ** 2 / cols["n"][r]
        if code == "MD":
            return m, var
        return np.log(m), var / m**2
    a = cols["events"][r]
    nn = cols["n"][r]
    if np.any((a == 0) | (a == nn)):  # a zero cell in any arm: correct every arm of the study
        a, nn = a + 0.5, nn + 1.0
    p = a / nn
    if code == "OR":
        return np.log(a / (nn - a)), 1.0 / a + 1.0 / (nn - a)
    if code == "RR":
        return np.log(p), 1.0 / a - 1.0 / nn
    return p, p * (1 - p) / nn


def _arm_network(code, groups, treatments, cols, n_dropped) -> NetworkData:
    index = {t: i for i, t in enumerate(treatments)}
    width = max(len(g[1]) for g in groups)
    S = len(groups)
    arms = np.full((S, width), -1)
    arm_n = np.full((S, width), np.nan)
    y = np.zeros((S, width - 1))
    cov = np.zeros((S, width - 1, width - 1))
    mask = np.zeros((S, width - 1), dtype=bool)
    for s, (_, trts, rows) in enumerate(groups):
        a = len(trts)
        arms[s, :a] = [index[t] for t in trts]
        if "n" in cols:
            arm_n[s, :a] = cols["n"][rows]
        mask[s, : a - 1] = True
        if code == "SMD":
            y[s, : a - 1], cov[s, : a - 1, : a - 1] = _smd_contrasts(cols, rows)
        else:
            val, var = _arm_value(code, cols, rows)
            y[s, : a - 1] = val[1:] - val[0]
            cov[s, : a - 1, : a - 1] = var[0] + np.diag(var[1:])
    studies = tuple(g[0] for g in groups)
    return NetworkData(studies, treatments, _ro(arms), _ro(arm_n), _ro(y), _ro(cov), _ro(mask),
                       code, "arm", n_dropped)


def _smd_contrasts(cols, rows) -> tuple[np.ndarray, np.ndarray]:
    """Hedges' g of every arm against arm 0, covariance (v_0j + v_0k - v_jk)/2 (Krahn 2013)."""
    r = np.asarray(rows)
    m, sd, nn = cols["mean"][r], cols["sd"][r], cols["n"][r]
    a = r.size
    i1, i2 = np.triu_indices(a, 1)  # pairs (i1 < i2): g of arm i2 vs arm i1
    es = effect_size("SMD", mean1=m[i2], sd1=sd[i2], n1=nn[i2], mean2=m[i1], sd2=sd[i1],
                     n2=nn[i1])
    v = np.zeros((a, a))
    v[i1, i2] = v[i2, i1] = es["vi"].to_numpy()
    g = es["yi"].to_numpy()[i1 == 0]
    base = v[0, 1:]
    c = (base[:, None] + base[None, :] - v[1:, 1:]) / 2
    np.fill_diagonal(c, base)
    return g, c


# ---------------------------------------------------------------------------------------
# contrast-level input


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"multiarm_tol must be a non-negative number; got {tol!r}")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValidationError(f"multiarm_tol must be a non-negative number; got {tol!r}")
    return float(tol)


def _read_contrasts(data, *, study, treat1, treat2, yi, vi, cov, n1, n2, missing, tol):
    if treat1 is None or treat2 is None:
        raise ValidationError("contrast-level data need both treat1 and treat2")
    if yi is None or vi is None:
        raise ValidationError("contrast-level data need yi and vi (treat1 minus treat2)")
    t1 = _labels_column("treat1", treat1, data, None)
    k = t1.size
    t2 = _labels_column("treat2", treat2, data, k)
    stud = _labels_column("study", study, data, k)
    labels = [str(s) for s in stud]
    cols = {"yi": as_float_column("yi", get_column("yi", yi, data), k=k),
            "vi": as_float_column("vi", get_column("vi", vi, data), k=k)}
    drop = _missing_rows(cols, labels, missing)
    extra = {name: as_float_column(name, get_column(name, val, data), k=k)
             for name, val in (("cov", cov), ("n1", n1), ("n2", n2)) if val is not None}
    keep = ~drop
    check_finite("yi", np.where(keep, cols["yi"], 0.0), labels)
    check_positive("vi", np.where(keep, cols["vi"], 1.0), labels)
    same = (t1 == t2) & keep
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise ValidationError(f"treat1 and treat2 must differ; study '{labels[i]}' (row {i + 1}) "
                              f"compares '{t1[i]}' with itself")
    per_study: dict[str, list[int]] = {}
    for i in np.flatnonzero(keep):
        per_study.setdefault(stud[i], []).append(int(i))
    if not per_study:
        raise ValidationError("no contrasts left to analyse")
    treatments = tuple(sorted({t for i in np.flatnonzero(keep) for t in (t1[i], t2[i])}))
    built = [_study_contrasts(s, rows, t1, t2, cols, extra, tol)
             for s, rows in per_study.items()]
    return _contrast_network(list(per_study), built, treatments, int(drop.sum()))


def _study_contrasts(s, rows, t1, t2, cols, extra, tol):
    """Baseline-arm contrasts of one study: (treatments with baseline first, y, cov, n)."""
    pairs: dict[frozenset, int] = {}
    for i in rows:
        key = frozenset((t1[i], t2[i]))
        if key in pairs:
            raise ValidationError(
                f"study '{s}' compares '{t1[i]}' and '{t2[i]}' twice (rows {pairs[key] + 1} "
                f"and {i + 1})"
            )
        pairs[key] = i
    trts = sorted({t for i in rows for t in (t1[i], t2[i])})
    a, r = len(trts), len(rows)
    arm_n = _contrast_arm_n(s, rows, t1, t2, extra)

    def oriented(x: str, base: str) -> tuple[float, float]:
        i = pairs[frozenset((x, base))]
        sign = 1.0 if t1[i] == x else -1.0
        return sign * cols["yi"][i], cols["vi"][i]

    if r == a * (a - 1) // 2:
        base, others = trts[0], trts[1:]
        yv = [oriented(x, base) for x in others]
        u = np.array([p[0] for p in yv])
        vb = np.array([p[1] for p in yv])
        c = np.diag(vb)
        for j in range(len(others)):
            for k in range(j + 1, len(others)):
                yjk, vjk = oriented(others[j], others[k])
                if abs(yjk - (u[j] - u[k])) > tol:
                    raise ValidationError(
                        f"treatment effects of multi-arm study '{s}' are inconsistent: "
                        f"{others[j]} vs {others[k]} is {yjk:g}, but {others[j]} vs {base} "
                        f"minus {others[k]} vs {base} is {u[j] - u[k]:g} (multiarm_tol={tol:g})"
                    )
                c[j, k] = c[k, j] = (vb[j] + vb[k] - vjk) / 2
    elif a > 2 and r == a - 1 and (shared := _shared_arm(rows, t1, t2)) is not None:
        cv = extra.get("cov")
        vals = None if cv is None else cv[np.asarray(rows)]
        if vals is None or np.isnan(vals).any():
            raise ValidationError(
                f"multi-arm study '{s}' gives only the {r} contrasts against '{shared}' of its "
                f"{a} arms; their covariance is needed: pass cov= (the variance of the shared "
                f"arm '{shared}') or give all {a * (a - 1) // 2} pairwise contrasts"
            )
        if not np.allclose(vals, vals[0], rtol=1e-8, atol=0):
            raise ValidationError(f"cov must be the same for every contrast of multi-arm study "
                                  f"'{s}' (the variance of arm '{shared}'); got {vals.tolist()}")
        base, others = shared, [t for t in trts if t != shared]
        yv = [oriented(x, base) for x in others]
        u = np.array([p[0] for p in yv])
        c = np.full((a - 1, a - 1), float(vals[0]))
        np.fill_diagonal(c, [p[1] for p in yv])
    else:
        raise ValidationError(
            f"study '{s}' has {r} contrasts among {a} treatments ({', '.join(trts)}); a "
            f"multi-arm study needs all {a * (a - 1) // 2} pairwise contrasts, or the {a - 1} "
            "contrasts against one shared arm together with cov="
        )
    if a > 2 and np.linalg.eigvalsh(c).min() <= 0:
        raise ValidationError(
            f"variances of multi-arm study '{s}' are inconsistent: they imply a covariance matrix "
            f"of its contrasts against '{base}' that is not positive definite (covariances "
            f"{np.round(c[np.triu_indices(a - 1, 1)], 6).tolist()} with variances "
            f"{np.round(np.diag(c), 6).tolist()})"
        )
    order = [base, *others]
    return order, u, c, [arm_n.get(t, np.nan) for t in order]


def _shared_arm(rows, t1, t2) -> str | None:
    common = set.intersection(*({t1[i], t2[i]} for i in rows))
    return next(iter(common)) if len(common) == 1 else None


def _contrast_arm_n(s, rows, t1, t2, extra) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, trt in (("n1", t1), ("n2", t2)):
        if name not in extra:
            continue
        for i in rows:
            val = extra[name][i]
            if np.isnan(val):
                continue
            if trt[i] in out and out[trt[i]] != val:
                raise ValidationError(
                    f"study '{s}' gives two sample sizes for arm '{trt[i]}' ({out[trt[i]]:g} and "
                    f"{val:g}, row {i + 1})"
                )
            out[trt[i]] = float(val)
    return out


def _contrast_network(studies, built, treatments, n_dropped) -> NetworkData:
    index = {t: i for i, t in enumerate(treatments)}
    width = max(len(b[0]) for b in built)
    S = len(built)
    arms = np.full((S, width), -1)
    arm_n = np.full((S, width), np.nan)
    y = np.zeros((S, width - 1))
    cov = np.zeros((S, width - 1, width - 1))
    mask = np.zeros((S, width - 1), dtype=bool)
    for s, (order, u, c, nn) in enumerate(built):
        a = len(order)
        arms[s, :a] = [index[t] for t in order]
        arm_n[s, :a] = nn
        y[s, : a - 1] = u
        cov[s, : a - 1, : a - 1] = c
        mask[s, : a - 1] = True
    return NetworkData(tuple(studies), treatments, _ro(arms), _ro(arm_n), _ro(y), _ro(cov),
                       _ro(mask), None, "contrast", n_dropped)


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a
