"""Charts for reports, drawn server-side without JavaScript: SVG text, or PNG through Pillow.

Each chart function takes the metrics report (the dict `MetricsService.report` returns) and
returns a `Chart`: a list of shapes in pixel coordinates. `to_svg(chart)` writes it as SVG
(all text escaped); `to_png(chart)` rasterises the same shapes with Pillow. The web UI can
embed `svg(name, report)` directly.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 40, 56
PALETTE = ("#b91c1c", "#ea580c", "#ca8a04", "#2563eb", "#6b7280", "#7c3aed", "#0d9488")
AXIS = "#374151"
GRID = "#e5e7eb"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str = ""


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    r: float
    fill: str
    title: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: int = 11
    anchor: str = "start"  # start / middle / end
    fill: str = AXIS
    bold: bool = False


Shape = Rect | Line | Dot | Text


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    shapes: list[Shape] = field(default_factory=list)


# ---- layout helpers ---------------------------------------------------------------------------


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))  # pragma: no cover


def tick_count(top: float) -> int:
    """Intervals that put the grid on round values: 1 → 0.2 steps, 2 → 0.5, 5 → 1, 10 → 2."""
    if top <= 0:
        return 4
    mantissa = round(top / 10 ** math.floor(math.log10(top)), 6)
    return 4 if mantissa == 2 else 5


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


class _Plot:
    def __init__(self, chart: Chart, y_max: float, y_label: str, percent: bool = False) -> None:
        self.chart = chart
        self.x0, self.x1 = LEFT, chart.width - RIGHT
        self.y0, self.y1 = chart.height - BOTTOM, TOP
        self.top = 1.0 if percent else nice_max(y_max)
        shapes = chart.shapes
        shapes.append(Text(chart.width / 2, 22, chart.title, 14, "middle", bold=True))
        steps = 4 if percent else tick_count(self.top)
        for n in range(steps + 1):
            value = self.top * n / steps
            y = self.y(value)
            shapes.append(Line(((self.x0, y), (self.x1, y)), GRID))
            label = f"{value * 100:.0f}%" if percent else _fmt(value)
            shapes.append(Text(self.x0 - 6, y + 4, label, 10, "end"))
        shapes.append(Line(((self.x0, self.y0), (self.x1, self.y0)), AXIS))
        shapes.append(Line(((self.x0, self.y0), (self.x0, self.y1)), AXIS))
        shapes.append(Text(self.x0 - 6, self.y1 - 12, y_label, 10, "end"))

    def y(self, value: float) -> float:
        return self.y0 - (self.y0 - self.y1) * min(value, self.top) / self.top

    def slots(self, count: int) -> tuple[float, float]:
        width = (self.x1 - self.x0) / max(count, 1)
        return width, self.x0

    def x_labels(self, labels: Sequence[str]) -> None:
        width, start = self.slots(len(labels))
        every = max(1, math.ceil(len(labels) / 12))
        for n, label in enumerate(labels):
            if n % every == 0:
                x = start + width * (n + 0.5)
                self.chart.shapes.append(Text(x, self.y0 + 16, label, 9, "middle"))

    def legend(self, entries: Sequence[tuple[str, str]]) -> None:
        x = self.x1 + 16
        for n, (label, colour) in enumerate(entries):
            y = self.y1 + 18 * n
            self.chart.shapes.append(Rect(x, y, 10, 10, colour))
            self.chart.shapes.append(Text(x + 16, y + 9, label, 10))


def _empty(chart: Chart, plot: _Plot, rows: Sequence[Any]) -> None:
    if not rows:
        chart.shapes.append(
            Text((plot.x0 + plot.x1) / 2, (plot.y0 + plot.y1) / 2, "no incidents", 12, "middle")
        )


# ---- the charts ---------------------------------------------------------------------------------


def mttr_trend(report: Mapping[str, Any]) -> Chart:
    """Median and mean time to resolve per week (hours), weeks by declared time."""
    weeks = list(report.get("weekly", []))
    chart = Chart("Time to resolve per week (hours)")
    series = {
        "median": [_hours(w.get("mttr_median")) for w in weeks],
        "mean": [_hours(w.get("mttr_mean")) for w in weeks],
    }
    peak = max([v for values in series.values() for v in values if v is not None] or [0.0])
    plot = _Plot(chart, peak, "hours")
    plot.x_labels([w["week"][5:] for w in weeks])
    width, start = plot.slots(len(weeks))
    for (name, values), colour in zip(series.items(), ("#2563eb", "#9ca3af"), strict=True):
        run: list[tuple[float, float]] = []
        for n, value in enumerate(values):
            x = start + width * (n + 0.5)
            if value is None:
                if len(run) > 1:
                    chart.shapes.append(Line(tuple(run), colour, 2, dashed=name == "mean"))
                run = []
                continue
            run.append((x, plot.y(value)))
            chart.shapes.append(
                Dot(x, plot.y(value), 3, colour, f"{weeks[n]['week']} {name}: {value:.1f} h")
            )
        if len(run) > 1:
            chart.shapes.append(Line(tuple(run), colour, 2, dashed=name == "mean"))
    plot.legend([("median", "#2563eb"), ("mean", "#9ca3af")])
    _empty(chart, plot, [w for w in weeks if w.get("incidents")])
    return chart


def incidents_by_severity(report: Mapping[str, Any]) -> Chart:
    """Incidents declared per week, stacked by severity."""
    weeks = list(report.get("weekly", []))
    chart = Chart("Incidents per week by severity")
    severities: list[str] = []
    for week in weeks:
        for severity in week.get("by_severity", {}):
            if severity not in severities:
                severities.append(severity)
    colours = {s: PALETTE[n % len(PALETTE)] for n, s in enumerate(severities)}
    peak = max([w.get("incidents", 0) for w in weeks] or [0])
    plot = _Plot(chart, max(peak, 4), "incidents")
    plot.x_labels([w["week"][5:] for w in weeks])
    width, start = plot.slots(len(weeks))
    bar = width * 0.7
    for n, week in enumerate(weeks):
        bottom = 0
        x = start + width * n + (width - bar) / 2
        for severity in severities:
            count = week.get("by_severity", {}).get(severity, 0)
            if not count:
                continue
            y_top, y_bottom = plot.y(bottom + count), plot.y(bottom)
            chart.shapes.append(
                Rect(
                    x,
                    y_top,
                    bar,
                    y_bottom - y_top,
                    colours[severity],
                    f"{week['week']} {severity}: {count}",
                )
            )
            bottom += count
    plot.legend([(s, colours[s]) for s in severities])
    _empty(chart, plot, [w for w in weeks if w.get("incidents")])
    return chart


def sla_compliance(report: Mapping[str, Any]) -> Chart:
    """Share of response and resolution targets met, per group of the report."""
    groups = list(report.get("groups", []))
    chart = Chart(f"SLA compliance by {report.get('by', 'severity')}")
    plot = _Plot(chart, 1.0, "met", percent=True)
    plot.x_labels([str(g["key"]) for g in groups])
    width, start = plot.slots(len(groups))
    bar = width * 0.35
    for n, group in enumerate(groups):
        for k, (kind, colour) in enumerate((("response", "#2563eb"), ("resolution", "#0d9488"))):
            figures = group["sla"][kind]
            share = figures.get("compliance")
            x = start + width * n + width * 0.15 + bar * k
            if share is None:
                chart.shapes.append(Text(x + bar / 2, plot.y0 - 4, "n/a", 8, "middle"))
                continue
            top = plot.y(share)
            title = (
                f"{group['key']} {kind}: {share * 100:.0f}% "
                f"({figures['met']} met, {figures['missed']} missed)"
            )
            chart.shapes.append(Rect(x, top, bar, plot.y0 - top, colour, title))
    plot.legend([("response", "#2563eb"), ("resolution", "#0d9488")])
    _empty(chart, plot, groups)
    return chart


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) / 3600


CHARTS: dict[str, Callable[[Mapping[str, Any]], Chart]] = {
    "mttr-trend": mttr_trend,
    "incidents-by-severity": incidents_by_severity,
    "sla-compliance": sla_compliance,
}


# ---- output ---------------------------------------------------------------------------------


def to_svg(chart: Chart) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart.width}" height="{chart.height}" '
        f'viewBox="0 0 {chart.width} {chart.height}" role="img" '
        f'aria-label={quoteattr(chart.title)} font-family="sans-serif">',
        f"<title>{escape(chart.title)}</title>",
        f'<rect width="{chart.width}" height="{chart.height}" fill="#ffffff"/>',
    ]
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            tip = f"<title>{escape(shape.title)}</title>" if shape.title else ""
            parts.append(
                f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.w:.1f}" '
                f'height="{shape.h:.1f}" fill="{shape.fill}">{tip}</rect>'
            )
        elif isinstance(shape, Line):
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
            dash = ' stroke-dasharray="5,4"' if shape.dashed else ""
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{shape.stroke}" '
                f'stroke-width="{shape.width:g}"{dash}/>'
            )
        elif isinstance(shape, Dot):
            tip = f"<title>{escape(shape.title)}</title>" if shape.title else ""
            parts.append(
                f'<circle cx="{shape.x:.1f}" cy="{shape.y:.1f}" r="{shape.r:g}" '
                f'fill="{shape.fill}">{tip}</circle>'
            )
        else:
            weight = ' font-weight="bold"' if shape.bold else ""
            parts.append(
                f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size}" '
                f'text-anchor="{_ANCHORS[shape.anchor]}" fill="{shape.fill}"{weight}>'
                f"{escape(shape.text)}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


_ANCHORS = {"start": "start", "middle": "middle", "end": "end"}


def to_png(chart: Chart, scale: int = 2) -> bytes:
    """The chart as PNG (Pillow; `scale` 2 for sharp text in documents)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (chart.width * scale, chart.height * scale), "#ffffff")
    draw = ImageDraw.Draw(image)
    fonts: dict[int, Any] = {}

    def font(size: int) -> Any:
        if size not in fonts:
            fonts[size] = ImageFont.load_default(size=size * scale)
        return fonts[size]

    for shape in chart.shapes:
        if isinstance(shape, Rect):
            box = (
                shape.x * scale,
                shape.y * scale,
                (shape.x + shape.w) * scale,
                (shape.y + shape.h) * scale,
            )
            draw.rectangle(box, fill=shape.fill)
        elif isinstance(shape, Line):
            points = [(x * scale, y * scale) for x, y in shape.points]
            draw.line(points, fill=shape.stroke, width=max(1, round(shape.width * scale)))
        elif isinstance(shape, Dot):
            r = shape.r * scale
            cx, cy = shape.x * scale, shape.y * scale
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=shape.fill)
        else:
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
            draw.text(
                (shape.x * scale, shape.y * scale),
                shape.text,
                fill=shape.fill,
                font=font(shape.size),
                anchor=anchor,
            )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def svg(name: str, report: Mapping[str, Any]) -> str:
    """One named chart of a report as SVG text (for the web page and exports)."""
    return to_svg(CHARTS[name](report))


def png(name: str, report: Mapping[str, Any]) -> bytes:
    return to_png(CHARTS[name](report))
