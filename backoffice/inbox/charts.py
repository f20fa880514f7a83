"""Server-side SVG charts: geometry computed here, drawn by ``templates/_charts.html`` (escaped)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "Chart", "Column", "SeriesChart", "bar_chart", "column_chart"]


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


@dataclass
class Column:
    label: str  # the day
    value: float | None
    text: str
    x: float
    y: float
    width: float
    height: float
    zero: bool = False  # a value of 0 (drawn as a thin mark, so it differs from "no data")


@dataclass
class SeriesChart:
    """Columns over time (one per day): the plot's box, its columns, and the x-axis labels."""

    title: str
    width: int
    height: int
    columns: list[Column]
    ticks: list[tuple[float, str, str]]  # (x, label, text-anchor) under the axis
    top_text: str  # the value at the top of the plot
    plot_x: float
    plot_y: float
    plot_width: float
    plot_height: float
    tone: str
    empty: bool


def column_chart(
    title: str,
    data: list[tuple[str, float | None, str]],
    *,
    maximum: float | None = None,
    unit: str = "",
    tone: str = "",
    width: int = 460,
    height: int = 190,
) -> SeriesChart:
    """Vertical columns, one per ``(label, value, value_text)`` in order (days); ``None`` draws
    no column (no data that day). The first, middle and last labels go under the axis."""
    plot_x, plot_y, right, bottom = 44.0, 30.0, 10.0, 26.0
    plot_w, plot_h = width - plot_x - right, height - plot_y - bottom
    values = [v for _, v, _ in data if v is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    n = max(1, len(data))
    step = plot_w / n
    gap = min(2.0, step * 0.2)
    columns = []
    for i, (label, value, text) in enumerate(data):
        zero = value is not None and not value
        h = 2.0 if zero else 0.0 if not value or not top else max(1.0, plot_h * float(value) / float(top))
        columns.append(
            Column(
                label=label,
                value=None if value is None else float(value),
                text=text,
                x=round(plot_x + i * step + gap / 2, 2),
                y=round(plot_y + plot_h - h, 2),
                width=round(max(0.5, step - gap), 2),
                height=round(h, 2),
                zero=zero,
            )
        )
    marks = sorted({0, len(data) // 2, len(data) - 1}) if data else []
    ticks = []
    for i in marks:
        anchor = "start" if i == 0 and len(data) > 1 else "end" if i == len(data) - 1 and i else "middle"
        x = plot_x if anchor == "start" else plot_x + plot_w if anchor == "end" else plot_x + (i + 0.5) * step
        ticks.append((round(x, 2), data[i][0], anchor))
    top_value = f"{top:g}" if top == int(top) else f"{top:.1f}"
    return SeriesChart(
        title=title,
        width=width,
        height=height,
        columns=columns,
        ticks=ticks,
        top_text=f"{top_value}{unit}",
        plot_x=plot_x,
        plot_y=plot_y,
        plot_width=round(plot_w, 2),
        plot_height=round(plot_h, 2),
        tone=tone,
        empty=not values,
    )
