"""Layout presets of the forest plot ("metafor", "revman", "jama") and measure metadata.

Plain data only: nothing here imports matplotlib. A :class:`Layout` holds every visual
choice of a preset (fonts, sizes, colours, labels, number formats); the drawing code reads
it and never hard-codes a look. ``dataclasses.replace(LAYOUTS["jama"], fontsize=10)`` gives
a variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from painstats.errors import InputTypeError, ValidationError

__all__ = [
    "Layout",
    "LAYOUTS",
    "MEASURE_NAMES",
    "RATIO_MEASURES",
    "FONT_FAMILIES",
    "resolve_layout",
    "measure_name",
]

#: Sans-serif families in order of preference; the first one installed is used.
FONT_FAMILIES = ("Arial", "Helvetica", "Liberation Sans", "Nimbus Sans", "DejaVu Sans")

#: Readable names of metafor's measures (the y axis / column header of the plots).
MEASURE_NAMES = {
    "MD": "Mean Difference",
    "SMD": "Std. Mean Difference",
    "ROM": "Ratio of Means",
    "OR": "Odds Ratio",
    "RR": "Risk Ratio",
    "RD": "Risk Difference",
    "MC": "Mean Change",
    "SMCC": "Std. Mean Change",
    "SMCR": "Std. Mean Change",
}

#: Measures analysed on the log scale and shown back-transformed (exp) on a log axis.
RATIO_MEASURES = frozenset({"OR", "RR", "ROM"})


@dataclass(frozen=True, slots=True)
class Layout:
    """Every visual choice of a forest-plot preset.

    Sizes are in points unless the name says inches. Colours are matplotlib colour specs.
    """

    name: str
    fonts: tuple[str, ...] = FONT_FAMILIES
    fontsize: float = 9.0
    row_pitch: float = 1.55  #: row height as a multiple of ``fontsize``
    panel_width: float = 2.6  #: inches
    max_label_width: float = 2.6  #: inches; longer study labels wrap
    column_gap: float = 10.0  #: points between columns
    margin: float = 8.0  #: points around the figure
    box_color: str = "black"
    box_color_binary: str | None = None  #: if set, used for events/total arm data (RevMan)
    line_color: str = "black"
    diamond_color: str = "black"
    diamond_edge: str = "black"
    refline_color: str = "black"
    refline_style: str = "-"
    pi_style: str = ":"
    max_box: float = 0.62  #: largest box side, as a fraction of the row height
    min_box: float = 2.5  #: smallest box side in points (tiny weights stay visible)
    prediction: str = "line"  #: "line" (dotted through the diamond), "row" or "none"
    footer_beside_axis: bool = False  #: heterogeneity lines left of the axis (RevMan), or below
    header_rule: bool = True
    total_rule: bool = False  #: a rule above the pooled (total) row
    symmetric_axis: bool = False
    label_header: str = "Study"
    weight_header: str = "Weight"
    weight_format: str = "{:.1f}%"
    weight_total: str = "100%"
    ci_open: str = "["
    ci_sep: str = ","
    ci_close: str = "]"
    ci_header: str = "{measure} [{level}% CI]"
    ci_header_lines: int = 1
    ci_left: bool = False  #: estimate and CI columns left of the plot (RevMan)
    ci_hi_align: str = "right"  #: alignment of the upper bound column
    minus: str = "\u2212"
    favours_word: str = "Favours"
    overall_label: str = "RE Model"
    overall_label_fe: str = "FE Model"
    subtotal_label: str = "RE Model for Subgroup"
    subtotal_label_fe: str = "FE Model for Subgroup"
    pi_label: str = "Prediction interval"
    p_style: str = "plain"  #: "plain" (p = 0.013), "jama" (P = .01) or "revman" (P = 0.01)
    p_letter: str = "p"
    i2_decimals: int = 1
    tau2_name: str = "\u03c4\u00b2"
    q_name: str = "Q"
    show_xlabel: bool = True
    panel_header: bool = False  #: repeat the estimate header over the plot panel (RevMan)
    arm_labels: tuple[str, str] = ("Treatment", "Control")
    bold_summary: bool = True
    extra: dict = field(default_factory=dict)

    def ci_parts(self, est: str, lo: str, hi: str) -> tuple[str, str, str]:
        """The three aligned pieces of an estimate-and-interval cell."""
        return est, f"{self.ci_open}{lo}{self.ci_sep}", f"{hi}{self.ci_close}"


LAYOUTS: dict[str, Layout] = {
    "metafor": Layout(name="metafor", bold_summary=False, total_rule=True),
    "revman": Layout(
        name="revman",
        fontsize=8.0,
        row_pitch=1.45,
        panel_width=2.0,
        max_label_width=2.0,
        box_color="#00A651",
        box_color_binary="#0070C0",
        refline_color="black",
        prediction="row",
        footer_beside_axis=True,
        symmetric_axis=True,
        label_header="Study or Subgroup",
        ci_header="{measure}\nIV, {model}, {level}% CI",
        ci_header_lines=2,
        ci_left=True,
        overall_label="Total ({level}% CI)",
        overall_label_fe="Total ({level}% CI)",
        subtotal_label="Subtotal ({level}% CI)",
        subtotal_label_fe="Subtotal ({level}% CI)",
        p_style="revman",
        p_letter="P",
        i2_decimals=0,
        tau2_name="Tau\u00b2",
        q_name="Chi\u00b2",
        show_xlabel=False,
        panel_header=True,
        arm_labels=("Experimental", "Control"),
        total_rule=False,
    ),
    "jama": Layout(
        name="jama",
        fontsize=8.5,
        row_pitch=1.7,
        panel_width=2.3,
        max_label_width=2.2,
        box_color="#1F4E79",
        line_color="#1F4E79",
        diamond_color="#A6192E",
        diamond_edge="#A6192E",
        refline_color="#7F7F7F",
        refline_style="--",
        prediction="row",
        label_header="Source",
        weight_header="Weight, %",
        weight_format="{:.1f}",
        weight_total="100",
        ci_open="(",
        ci_sep=" to",
        ci_close=")",
        ci_hi_align="left",
        ci_header="{measure}\n({level}% CI)",
        ci_header_lines=2,
        ci_left=True,
        favours_word="Favors",
        overall_label="Overall (random effects)",
        overall_label_fe="Overall (fixed effect)",
        subtotal_label="Subtotal",
        subtotal_label_fe="Subtotal",
        p_style="jama",
        p_letter="P",
        i2_decimals=0,
        total_rule=True,
    ),
}


def resolve_layout(layout: str | Layout) -> Layout:
    """A preset by name ("metafor", "revman", "jama") or a :class:`Layout` as is."""
    if isinstance(layout, Layout):
        return layout
    if not isinstance(layout, str):
        raise InputTypeError(
            f"layout must be one of {sorted(LAYOUTS)} or a Layout; got {type(layout).__name__}"
        )
    key = layout.strip().lower()
    if key not in LAYOUTS:
        raise ValidationError(f"layout must be one of {sorted(LAYOUTS)}; got {layout!r}")
    return LAYOUTS[key]


def measure_name(measure: str | None, layout: Layout) -> str:
    """Readable measure name for headers and axis labels ("Estimate" if unknown).

    JAMA style uses sentence case ("Mean difference").
    """
    if measure is None:
        return "Estimate"
    name = MEASURE_NAMES.get(str(measure).upper(), str(measure))
    if layout.name == "jama":
        head, *rest = name.split(" ")
        name = " ".join([head] + [w.lower() for w in rest])
    return name
