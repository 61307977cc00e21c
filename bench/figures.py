"""One figure of the suite: a value, the baseline measured beside it in the same run, and
the target it is held to. Every bench returns a list of these; bench/suite.py tabulates them.

A target applies to the ratio when there is a baseline (value / baseline: machine noise
cancels out of a ratio measured side by side) and to the value itself otherwise.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # short, unique in the suite: "request overhead: full app / strawberry"
    what: str  # what was measured, in a few words
    command: str  # the command that measures it alone
    value: float
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    target: float | None = None
    # Whether the target is a floor (throughput, ratio of a speed-up) or a ceiling.
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        held = self.ratio if self.baseline is not None else self.value
        if held is None:
            return None
        return held >= self.target if self.higher_is_better else held <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        on = "ratio" if self.baseline is not None else "value"
        return f"{on} {'>=' if self.higher_is_better else '<='} {self.target:g}"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 100:
        text = f"{value:.0f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()
