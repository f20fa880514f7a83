"""Server-side SVG charts: geometry computed here, drawn by ``templates/_charts.html`` (escaped)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "Chart", "bar_chart"]


@dataclass
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float
    tone: str = ""


@dataclass
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    label_width: int
    empty: bool


def bar_chart(
    title: str,
    data: list[tuple[str, float | None, str]],
    *,
    maximum: float | None = None,
    tones: dict[str, str] | None = None,
    width: int = 460,
    row: int = 26,
    label_width: int = 130,
) -> Chart:
    """Horizontal bars: ``data`` is ``[(label, value, value_text)]``; ``None`` values draw no bar."""
    values = [v for _, v, _ in data if v is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    span = width - label_width - 70
    bars = []
    for i, (label, value, text) in enumerate(data):
        w = 0.0 if not value or not top else max(1.0, span * float(value) / float(top))
        bars.append(
            Bar(
                label=label,
                value=float(value or 0),
                text=text,
                x=label_width,
                y=34 + i * row,
                width=round(w, 1),
                height=row - 8,
                tone=(tones or {}).get(label, ""),
            )
        )
    height = 34 + max(1, len(data)) * row + 8
    return Chart(title=title, width=width, height=height, bars=bars, label_width=label_width, empty=not data)
