"""Line charts over time as inline SVG text: scales, ticks, series, shaded bands and one marker.

Plain string building with the standard library, so that the rollout's HTML report needs no
script, font or image from anywhere. Every text drawn comes in already as data and is escaped
here; numbers are formatted here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from canary.rollout.report.text import escape

WIDTH = 1100
"""The charts' width in SVG units; the page scales them to the window."""
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 24, 40, 46
_LEGEND_ROW = 18
_DAY = 86400
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, _DAY)


@dataclass(frozen=True)
class Scale:
    """A linear map from data values [lo, hi] to pixels [start, end]."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False
    """Logarithmic: equal ratios take equal distances; values beyond the ends sit at the ends."""

    def __call__(self, value: float) -> float:
        if self.log:
            value = min(max(value, self.lo), self.hi)
            value, lo, hi = math.log10(value), math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        return self.start + (value - lo) / (hi - lo) * (self.end - self.start)


@dataclass(frozen=True)
class Series:
    """One line: (x, y) points in data units; a None y is a gap (no data in that interval)."""

    label: str
    css_class: str
    points: Sequence[tuple[float, float | None]]
    step: bool = False
    """Hold each value until the next point (a weight), instead of joining points straight."""


@dataclass(frozen=True)
class Band:
    """A shaded span of the time axis, labelled at its top (a rollout step and its weight)."""

    start: float
    end: float
    label: str
    css_class: str = "band"


@dataclass(frozen=True)
class Marker:
    """A vertical line at one moment, with a short label and a longer text shown on hover."""

    at: float
    label: str
    note: str = ""
    """A second line under the label, cut to the room beside the line."""
    detail: str = ""
    """The whole text, shown on hover (the note may be cut)."""
    css_class: str = "marker"


@dataclass(frozen=True)
class Chart:
    title: str
    y_title: str
    x_hi: float
    """The end of the time axis, in seconds; it starts at 0."""
    series: Sequence[Series]
    bands: Sequence[Band] = ()
    marker: Marker | None = None
    height: int = 260
    y_ticks: Sequence[float] = field(default=())
    """Fixed ticks of the value axis; by default from 0 to just above the highest value."""
    y_log: bool = False
    """A logarithmic value axis, ticks at powers of ten (for e-values, which grow by factors)."""
    rule: tuple[float, str] | None = None
    """A horizontal line at this value, with its label (a threshold)."""
    legend: bool | None = None
    """Name the series beside the title; by default when there is more than one."""


def nice_ticks(top: float, most: int = 6) -> list[float]:
    """Ticks from 0 in steps of 1, 2 or 5 times a power of ten, the last at or above `top`."""
    top = top if top > 0 and math.isfinite(top) else 1.0
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [_round(i * step) for i in range(count + 1)]


def decade_ticks(values: Sequence[float], lowest: int = -4, highest: int = 6) -> list[float]:
    """Powers of ten around the positive values: at least 0.1 to 10, at most 10**lowest to
    10**highest (an e-value a million times its threshold needs no more room to read as a rollback)."""
    positive = [v for v in values if v > 0 and math.isfinite(v)] or [1.0]
    lo = max(min(math.floor(math.log10(min(positive))), -1), lowest)
    hi = min(max(math.ceil(math.log10(1.05 * max(positive))), 1), highest)
    return [float(f"{10.0**k:.12g}") for k in range(lo, hi + 1)]


def time_ticks(top: float, most: int = 8) -> list[float]:
    """Ticks in seconds from 0, at steps a clock reads easily (10 s, 30 s, 1 min, 5 min ...)."""
    top = top if top > 0 and math.isfinite(top) else 1.0
    # Past the longest step, whole days: however long the span, at most `most` ticks.
    step = next((s for s in _TIME_STEPS if top / s <= most), None) or _DAY * math.ceil(top / most / _DAY)
    count = math.ceil(top / step - 1e-9)
    return [float(i * step) for i in range(count + 1)]


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour): how the time axis and the tables write a moment."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _round(value: float) -> float:
    # 0.1 * 3 is 0.30000000000000004; ticks are labels, keep them as a person writes them.
    return float(f"{value:.12g}")


def _number(value: float) -> str:
    return f"{value:.6g}"


def _label(value: float) -> str:
    return f"{value:g}"


def render_chart(chart: Chart, css_id: str) -> str:
    """The chart as one <svg> element."""
    height = chart.height
    # The time axis ends just past the last moment drawn, not at the next round tick: a rollout
    # that ended at 8:12 would otherwise leave a fifth of the chart empty up to 10:00.
    x_hi = max(chart.x_hi, 1.0) * 1.02
    x_ticks = [tick for tick in time_ticks(x_hi) if tick <= x_hi]
    x = Scale(0.0, x_hi, _LEFT, WIDTH - _RIGHT)
    values = [y for s in chart.series for _, y in s.points if y is not None]
    wanted = chart.legend if chart.legend is not None else len(chart.series) > 1
    # The legend keeps clear of the title (bold 15 px: about 8.6 px a letter).
    legend = _legend(chart.series, _LEFT + 8.6 * len(chart.title) + 24) if wanted else []
    top = _TOP + _LEGEND_ROW * (len(legend) - 1 if legend else 0)
    if chart.y_log:
        y_ticks = decade_ticks([v for v in values if v > 0] + ([chart.rule[0]] if chart.rule else []))
        y = Scale(y_ticks[0], y_ticks[-1], height - _BOTTOM, top, log=True)
    else:
        # By default a little headroom above the highest value, so that no line runs along the frame.
        y_ticks = list(chart.y_ticks) if chart.y_ticks else nice_ticks(1.05 * max(values, default=0.0), most=5)
        y = Scale(0.0, y_ticks[-1], height - _BOTTOM, top)
    title_id = f"{css_id}-title"
    out = [
        f'<svg id="{escape(css_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{escape(title_id)}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(title_id)}">{escape(chart.title)}</title>',
        f'<text class="chart-title" x="{_LEFT}" y="22">{escape(chart.title)}</text>',
    ]
    out += _bands(chart.bands, x, y)
    out += _grid(x_ticks, y_ticks, x, y, chart.y_title, height)
    for series in chart.series:
        out += _series(series, x, y)
    if chart.rule is not None:
        out += _rule(*chart.rule, x, y)
    if chart.marker is not None:
        out += _marker(chart.marker, x, y)
    out += [line for row in legend for line in row]
    out.append("</svg>")
    return "\n".join(out)


def _bands(bands: Sequence[Band], x: Scale, y: Scale) -> list[str]:
    out = []
    for band in bands:
        left, right = x(band.start), x(max(band.end, band.start))
        out.append(
            f'<g class="{escape(band.css_class)}"><rect x="{_number(left)}" y="{_number(y.end)}" '
            f'width="{_number(right - left)}" height="{_number(y.start - y.end)}"/>'
            f'<text class="band-label" x="{_number(left + 6)}" y="{_number(y.end + 14)}">'
            f"{escape(band.label)}</text></g>"
        )
    return out


def _grid(x_ticks: list[float], y_ticks: list[float], x: Scale, y: Scale, y_title: str, height: int) -> list[str]:
    out = ['<g class="axis x-axis">']
    for tick in x_ticks:
        px = _number(x(tick))
        out.append(
            f'<g class="tick"><line class="grid" x1="{px}" x2="{px}" y1="{_number(y.end)}" y2="{_number(y.start)}"/>'
            f'<text x="{px}" y="{_number(y.start + 18)}" text-anchor="middle">{clock(tick)}</text></g>'
        )
    out.append(
        f'<text class="axis-title" x="{_number((x.start + x.end) / 2)}" y="{height - 6}" '
        f'text-anchor="middle">time since the rollout began (m:ss)</text></g>'
    )
    out.append('<g class="axis y-axis">')
    for tick in y_ticks:
        py = _number(y(tick))
        out.append(
            f'<g class="tick"><line class="grid" x1="{_number(x.start)}" x2="{_number(x.end)}" y1="{py}" y2="{py}"/>'
            f'<text x="{_number(x.start - 8)}" y="{py}" dy="0.32em" text-anchor="end">{_label(tick)}</text></g>'
        )
    middle = _number((y.start + y.end) / 2)
    out.append(
        f'<text class="axis-title" transform="translate(16 {middle}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_title)}</text></g>'
    )
    out.append(
        f'<line class="baseline" x1="{_number(x.start)}" x2="{_number(x.end)}" '
        f'y1="{_number(y.start)}" y2="{_number(y.start)}"/>'
    )
    return out


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of points with data; a gap (None) ends a run, so no line is drawn across it."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, py in points:
        if py is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((px, py))
    return [run for run in runs if run]


def _series(series: Series, x: Scale, y: Scale) -> list[str]:
    css = escape(series.css_class)
    out = [f'<g class="series {css}" data-label="{escape(series.label)}">']
    for run in _segments(series.points):
        corners = run
        if series.step:
            corners = [run[0]]
            for (_, previous), (px, py) in itertools.pairwise(run):
                corners += [(px, previous)] if py == previous else [(px, previous), (px, py)]
        coords = " ".join(f"{_number(x(px))},{_number(y(py))}" for px, py in corners)
        out.append(f'<polyline points="{coords}" data-points="{len(run)}"/>')
    if not series.step:
        for run in _segments(series.points):
            out += [f'<circle cx="{_number(x(px))}" cy="{_number(y(py))}" r="3.2"/>' for px, py in run]
    out.append("</g>")
    return out


def _marker(marker: Marker, x: Scale, y: Scale) -> list[str]:
    px = x(marker.at)
    # The label goes on the side with room: right of the line in the left part, else left of it.
    right = px < x.start + 0.6 * (x.end - x.start)
    anchor, dx = ("start", 6) if right else ("end", -6)
    room = (x.end - px if right else px - x.start) - 10
    detail = f"<title>{escape(marker.detail)}</title>" if marker.detail else ""
    out = [
        f'<g class="{escape(marker.css_class)}">{detail}'
        f'<line x1="{_number(px)}" x2="{_number(px)}" y1="{_number(y.end - 8)}" y2="{_number(y.start)}"/>'
        f'<text class="marker-label" x="{_number(px + dx)}" y="{_number(y.end + 30)}" '
        f'text-anchor="{anchor}">{escape(marker.label)}</text>'
    ]
    if marker.note:
        out.append(
            f'<text class="marker-note" x="{_number(px + dx)}" y="{_number(y.end + 46)}" '
            f'text-anchor="{anchor}">{escape(_cut(marker.note, room))}</text>'
        )
    out.append("</g>")
    return out


def _cut(text: str, room: float) -> str:
    """The text, ending in an ellipsis where it would run past `room` pixels (about 6.6 a letter)."""
    fits = max(int(room / 6.6), 8)
    return text if len(text) <= fits else text[: fits - 1].rstrip() + "\u2026"


def _legend(series: Sequence[Series], left: float) -> list[list[str]]:
    """Legend rows, right-aligned beside the title, wrapping to more rows when they do not fit.

    The series drawn last (on top) comes first. Widths come from the labels' lengths: there are
    no font metrics without a browser, and close is enough."""
    rows: list[list[str]] = []
    right, row_y = float(WIDTH - _RIGHT), 17.0
    for item in reversed(series):
        width = 28 + 7.2 * len(item.label)
        if right - width < left and rows and rows[-1]:
            right, row_y = float(WIDTH - _RIGHT), row_y + _LEGEND_ROW
            rows.append([])
        if not rows:
            rows.append([])
        right -= width
        rows[-1].append(
            f'<g class="legend-item {escape(item.css_class)}"><line x1="{_number(right)}" x2="{_number(right + 18)}" '
            f'y1="{_number(row_y)}" y2="{_number(row_y)}"/>'
            f'<text x="{_number(right + 24)}" y="{_number(row_y + 4)}">{escape(item.label)}</text></g>'
        )
        right -= 12
    return rows


def _rule(value: float, label: str, x: Scale, y: Scale) -> list[str]:
    py = _number(y(value))
    return [
        f'<g class="rule"><line x1="{_number(x.start)}" x2="{_number(x.end)}" y1="{py}" y2="{py}"/>'
        f'<text x="{_number(x.start + 6)}" y="{py}" dy="-0.4em">{escape(label)}</text></g>'
    ]
