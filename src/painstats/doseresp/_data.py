"""Input checks and contrasts for dose-response fits: arm-level or contrast-level data.

Arm-level data (one row per arm: study, dose(s), mean, sd or se, n) become contrasts of every
active arm against the study's control arm (all doses 0). The contrasts of one study share the
control arm, so their covariance is exactly the variance of the control-arm mean
(sd^2 / n or se^2): ``V = diag(v_active) + v_control`` (Crippa & Orsini 2016, eq. 3).

Contrast-level data (one row per active arm: study, dose(s), yi, vi) take the control-arm
variance from a column (``control_var``), or ``control_var=0`` for independent contrasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from painstats._validation import _MAX_LISTED
from painstats.errors import InputTypeError, ValidationError

__all__ = ["DoseData", "read_arm_level", "read_contrast_level"]


@dataclass(frozen=True, slots=True)
class DoseData:
    """Contrasts against each study's control arm, grouped by study."""

    form: str  #: "arm" or "contrast"
    dose_names: tuple[str, ...]
    labels: tuple[str, ...]  #: study labels (S)
    study: np.ndarray  #: (n,) study index of each contrast
    doses: np.ndarray  #: (n, D) dose(s) of the active arm
    yi: np.ndarray  #: (n,) active minus control
    vi: np.ndarray  #: (n,) variance of the contrast
    vc: np.ndarray  #: (n,) covariance with the other contrasts of the study (control variance)
    group: np.ndarray  #: (n,) group index (0 when there is no grouping column)
    group_names: tuple[str, ...]
    outcome_sd: float  #: outcome scale for the default priors

    @property
    def n_studies(self) -> int:
        return len(self.labels)

    def blocks(self) -> list[np.ndarray]:
        """Row indices of each study's contrasts."""
        return [np.flatnonzero(self.study == s) for s in range(self.n_studies)]

    def covariance(self, s: int) -> np.ndarray:
        """Sampling covariance matrix of study ``s``'s contrasts."""
        idx = np.flatnonzero(self.study == s)
        vc = self.vc[idx]
        cov = np.full((idx.size, idx.size), vc[0])
        cov[np.diag_indices(idx.size)] = self.vi[idx]
        return cov


def _frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if len(data) == 0:
        raise ValidationError("data has no rows")
    return data


def _column(data: pd.DataFrame, arg: str, name: Any) -> pd.Series:
    if not isinstance(name, str):
        raise InputTypeError(f"{arg} must be a column name (str); got {type(name).__name__} {name!r}")
    if name not in data.columns:
        raise ValidationError(f"{arg}={name!r} is not a column of data; columns are {list(data.columns)}")
    return data[name]


def _numeric(data: pd.DataFrame, arg: str, name: str, labels: np.ndarray) -> np.ndarray:
    col = _column(data, arg, name)
    if col.dtype == bool or not (pd.api.types.is_numeric_dtype(col) or col.dtype == object):
        raise InputTypeError(f"column {name!r} ({arg}) must be numeric; got dtype {col.dtype}")
    values = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad_text = np.isnan(values) & col.notna().to_numpy()
    if bad_text.any():
        i = int(np.flatnonzero(bad_text)[0])
        raise InputTypeError(f"column {name!r} ({arg}) must be numeric; study '{labels[i]}' "
                             f"(row {i + 1}) holds {col.iloc[i]!r}")
    _raise_rows(np.isnan(values), values, name, arg, labels, "present (no NaN)")
    return values


def _raise_rows(bad: np.ndarray, values: np.ndarray, name: str, arg: str, labels: np.ndarray,
                what: str) -> None:
    if not np.any(bad):
        return
    idx = np.flatnonzero(bad)
    parts = [f"study '{labels[i]}' (row {i + 1}) has {name}={_show(values[i])}" for i in idx[:_MAX_LISTED]]
    more = "" if idx.size <= _MAX_LISTED else f"; and {idx.size - _MAX_LISTED} more"
    raise ValidationError(f"column {name!r} ({arg}) must be {what}; " + "; ".join(parts) + more)


def _show(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "NaN" if np.isnan(v) else f"{v:g}"
    return repr(v)


def _study_labels(data: pd.DataFrame, study: str) -> np.ndarray:
    col = _column(data, "study", study)
    if col.isna().any():
        i = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise ValidationError(f"column {study!r} (study) must not be missing; row {i + 1} has NaN")
    return col.astype(str).to_numpy()


def _doses(data: pd.DataFrame, dose_names: Sequence[str], labels: np.ndarray) -> np.ndarray:
    cols = []
    for name in dose_names:
        d = _numeric(data, "dose", name, labels)
        _raise_rows(~np.isfinite(d) | (d < 0), d, name, "dose", labels, "non-negative and finite")
        cols.append(d)
    return np.column_stack(cols)


def _groups(data: pd.DataFrame, group: str | None, active: np.ndarray, labels: np.ndarray):
    n = len(data)
    if group is None:
        return np.zeros(n, dtype=int), ("all",)
    col = _column(data, "group", group)
    miss = col.isna().to_numpy() & active
    if miss.any():
        i = int(np.flatnonzero(miss)[0])
        raise ValidationError(f"column {group!r} (group) must be given for every active arm; "
                              f"study '{labels[i]}' (row {i + 1}) has {group}=NaN")
    values = col.astype(str).to_numpy()
    names = tuple(sorted(set(values[active])))
    lookup = {g: j for j, g in enumerate(names)}
    return np.array([lookup.get(v, -1) for v in values]), names


def _study_order(labels: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(dict.fromkeys(labels))  # first-appearance order
    lookup = {s: i for i, s in enumerate(names)}
    return names, np.array([lookup[s] for s in labels], dtype=int)


def read_arm_level(data: pd.DataFrame, *, dose_names: Sequence[str], study: str, mean: str,
                   sd: str | None, se: str | None, n: str | None, group: str | None) -> DoseData:
    """Contrasts of each active arm against its study's control arm (all doses 0)."""
    data = _frame(data)
    labels = _study_labels(data, study)
    doses = _doses(data, dose_names, labels)
    y = _numeric(data, "mean", mean, labels)
    _raise_rows(~np.isfinite(y), y, mean, "mean", labels, "finite")
    if se is None and sd is None:
        raise ValidationError("arm-level data need sd= (or se=) naming the column of SDs")
    if se is None and n is None:
        raise ValidationError("arm-level data with sd= need n= naming the column of arm sizes")
    nn = None
    if n is not None and (se is None or n in data.columns):
        nn = _numeric(data, "n", n, labels)
        _raise_rows(~(nn >= 2) | ~np.isfinite(nn), nn, n, "n", labels, "at least 2")
    if se is not None:
        s = _numeric(data, "se", se, labels)
        _raise_rows(~(s > 0) | ~np.isfinite(s), s, se, "se", labels, "positive and finite")
        var = s**2
        arm_sd = s * np.sqrt(nn) if nn is not None else None
    else:
        s = _numeric(data, "sd", sd, labels)
        _raise_rows(~(s > 0) | ~np.isfinite(s), s, sd, "sd", labels, "positive and finite")
        var = s**2 / nn
        arm_sd = s
    control = np.all(doses == 0, axis=1)
    gidx, gnames = _groups(data, group, ~control, labels)
    names, sidx = _study_order(labels)
    rows_y, rows_v, rows_vc, rows_s, rows_d, rows_g = [], [], [], [], [], []
    for s_i, name in enumerate(names):
        rows = np.flatnonzero(sidx == s_i)
        ctrl = rows[control[rows]]
        if ctrl.size == 0:
            raise ValidationError(
                f"study '{name}' (rows {', '.join(str(r + 1) for r in rows)}) has no control arm: "
                f"arm-level data need one arm per study with every dose column "
                f"({', '.join(dose_names)}) equal to 0")
        if ctrl.size > 1:
            raise ValidationError(
                f"study '{name}' has {ctrl.size} control arms (rows "
                f"{', '.join(str(r + 1) for r in ctrl)}, all doses 0); keep one control arm per study")
        act = rows[~control[rows]]
        if act.size == 0:
            raise ValidationError(f"study '{name}' has a control arm but no active arm (dose > 0)")
        c = int(ctrl[0])
        rows_y.append(y[act] - y[c])
        rows_v.append(var[act] + var[c])
        rows_vc.append(np.full(act.size, var[c]))
        rows_s.append(np.full(act.size, s_i))
        rows_d.append(doses[act])
        rows_g.append(gidx[act])
    pooled = float("nan")
    if arm_sd is not None and nn is not None:
        pooled = float(np.sqrt(np.sum((nn - 1) * arm_sd**2) / np.sum(nn - 1)))
    yi = np.concatenate(rows_y)
    vi = np.concatenate(rows_v)
    if not np.isfinite(pooled) or pooled <= 0:
        pooled = _contrast_scale(yi, vi)
    return DoseData(form="arm", dose_names=tuple(dose_names), labels=names,
                    study=np.concatenate(rows_s), doses=np.vstack(rows_d), yi=yi, vi=vi,
                    vc=np.concatenate(rows_vc), group=np.concatenate(rows_g), group_names=gnames,
                    outcome_sd=pooled)


def _contrast_scale(yi: np.ndarray, vi: np.ndarray) -> float:
    """Outcome scale from contrasts: 2 x root-mean-square contrast (incl. sampling variance)."""
    return float(2.0 * np.sqrt(np.mean(yi**2) + np.mean(vi)))


def read_contrast_level(data: pd.DataFrame, *, dose_names: Sequence[str], study: str, yi: str,
                        vi: str, control_var: str | float | None, group: str | None) -> DoseData:
    """Contrasts given directly; covariance within a study from the control-arm variance column."""
    data = _frame(data)
    labels = _study_labels(data, study)
    doses = _doses(data, dose_names, labels)
    y = _numeric(data, "yi", yi, labels)
    _raise_rows(~np.isfinite(y), y, yi, "yi", labels, "finite")
    v = _numeric(data, "vi", vi, labels)
    _raise_rows(~(v > 0) | ~np.isfinite(v), v, vi, "vi", labels, "positive and finite")
    zero = np.all(doses == 0, axis=1)
    _raise_rows(zero, doses[:, 0], dose_names[0], "dose", labels,
                "positive in at least one dose column for a contrast against the control arm")
    names, sidx = _study_order(labels)
    counts = np.bincount(sidx, minlength=len(names))
    if control_var is None:
        multi = [names[i] for i in np.flatnonzero(counts > 1)]
        if multi:
            raise ValidationError(
                f"studies {multi[:_MAX_LISTED]} have several contrasts sharing a control arm; pass "
                "control_var= (column of the control-arm variance, the covariance of those "
                "contrasts) or control_var=0 to treat them as independent")
        vc = np.zeros(len(data))
    elif isinstance(control_var, str):
        vc = _numeric(data, "control_var", control_var, labels)
        _raise_rows(~(vc >= 0) | ~np.isfinite(vc), vc, control_var, "control_var", labels,
                    "non-negative and finite")
        _raise_rows(vc >= v, vc, control_var, "control_var", labels,
                    f"smaller than {vi!r} (the contrast variance includes the control variance)")
        for s_i, name in enumerate(names):
            vals = vc[sidx == s_i]
            if np.ptp(vals) > 1e-12 * max(1.0, float(np.max(vals))):
                raise ValidationError(f"column {control_var!r} (control_var) must be constant within "
                                      f"a study; study '{name}' has {vals.tolist()}")
    elif isinstance(control_var, (int, float)) and not isinstance(control_var, bool) \
            and control_var == 0:
        vc = np.zeros(len(data))
    else:
        raise InputTypeError(f"control_var must be a column name, 0 or None; got {control_var!r}")
    gidx, gnames = _groups(data, group, np.ones(len(data), bool), labels)
    order = np.argsort(sidx, kind="stable")
    return DoseData(form="contrast", dose_names=tuple(dose_names), labels=names,
                    study=sidx[order], doses=doses[order], yi=y[order], vi=v[order],
                    vc=vc[order], group=gidx[order], group_names=gnames,
                    outcome_sd=_contrast_scale(y, v))
