"""Write the reproduction notebooks in notebooks/ from the cell sources below.

Run ``python tools/make_notebooks.py``; CI executes the notebooks (tests/test_notebooks.py).
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parents[1] / "notebooks"


def notebook(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in cells:
        nb.cells.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    return nb


PUBLISHED = [
    ("md", """# Reproducing published random-effects meta-analyses with painstats

Three published analyses, each recomputed from the bundled trial-level data and compared with the
numbers printed in the paper. Every `assert` below fails if painstats stops reproducing them."""),
    ("code", """import numpy as np
from painstats import datasets
from painstats.meta import effect_size, random_effects, subgroup_analysis"""),
    ("md", """## Rubinstein et al. (BMJ 2019): spinal manipulation vs recommended therapies, chronic low back pain

Pain (0-100) at one month; mean difference; DerSimonian-Laird. Published: MD -3.17 (95% CI -7.85 to 1.51)."""),
    ("code", """clbp = datasets.load("rubinstein2019")
es = effect_size("MD", data=clbp, mean1="mean_smt", sd1="sd_smt", n1="n_smt",
                 mean2="mean_ctrl", sd2="sd_ctrl", n2="n_ctrl")
res = random_effects("yi", "vi", data=es, slab="study", method="DL")
print(res.summary())
assert (round(res.estimate, 2), round(res.ci_low, 2), round(res.ci_high, 2)) == (-3.17, -7.85, 1.51)"""),
    ("code", """res.confint_tau2()"""),
    ("md", """## Häuser et al. (JAMA 2009): antidepressants for fibromyalgia, pain

Standardized mean differences (Hedges' g) of final values and change scores pooled together, as the
review did. Published: SMD -0.43 (-0.55 to -0.30); Riley et al. (BMJ 2011) give the 95% prediction
interval -0.83 to -0.02 with t on k - 2 df."""),
    ("code", """fms = datasets.load("haeuser2009")
pain = fms[fms["outcome"] == "pain"].reset_index(drop=True)
es = effect_size("SMD", data=pain, mean1="mti", sd1="sdti", n1="nti",
                 mean2="mci", sd2="sdci", n2="nci")
res = random_effects("yi", "vi", data=es, method="DL")
print(res.summary())
assert (round(res.estimate, 2), round(res.ci_low, 2), round(res.ci_high, 2)) == (-0.43, -0.55, -0.30)"""),
    ("code", """# Riley 2011's prediction interval uses t with k - 2 df (metafor and painstats use the CI's quantile)
from scipy import stats
half = stats.t.isf(0.025, res.k - 2) * np.sqrt(res.se**2 + res.tau2)
print(round(res.estimate - half, 2), round(res.estimate + half, 2))
assert (round(res.estimate - half, 2), round(res.estimate + half, 2)) == (-0.84, -0.02)"""),
    ("code", """by_drug = subgroup_analysis(data=es, by="med", method="DL")
print(by_drug.summary())"""),
    ("md", """## Normand (Stat Med 1999), Table IX: length of hospital stay after stroke

Normand computed each study's variance from an SD pooled over both arms. With that variance,
painstats reproduces Table IX: common effect -3.49 (-5.03, -1.96); DL -14.10 (-24.45, -3.75),
tau2 218.72; REML -15.12 (-32.67, 2.43), tau2 685.20."""),
    ("code", """los = datasets.load("normand1999")
sp2 = ((los.n1i - 1) * los.sd1i**2 + (los.n2i - 1) * los.sd2i**2) / (los.n1i + los.n2i - 2)
los = los.assign(yi=los.m1i - los.m2i, vi=sp2 * (1 / los.n1i + 1 / los.n2i))
table_ix = {m: random_effects("yi", "vi", data=los, slab="source", method=m) for m in ("FE", "DL", "REML")}
for m, r in table_ix.items():
    print(f"{m:5s} {r.estimate:8.2f} ({r.ci_low:.2f}, {r.ci_high:.2f})  tau2 = {r.tau2:.2f}")"""),
    ("code", """fe, dl, reml = table_ix["FE"], table_ix["DL"], table_ix["REML"]
assert (round(fe.estimate, 2), round(fe.ci_low, 2), round(fe.ci_high, 2)) == (-3.49, -5.03, -1.96)
assert (round(dl.estimate, 2), round(dl.ci_low, 2), round(dl.ci_high, 2), round(dl.tau2, 2)) == (-14.10, -24.45, -3.75, 218.72)
assert (round(reml.estimate, 2), round(reml.ci_low, 2), round(reml.ci_high, 2), round(reml.tau2, 2)) == (-15.12, -32.67, 2.43, 685.20)"""),
]

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    nbf.write(notebook(PUBLISHED), HERE / "published_meta_analyses.ipynb")
