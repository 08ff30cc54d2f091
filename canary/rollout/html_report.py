"""The rollout's report as one self-contained HTML page (`canary rollout --report FILE.html`).

The page is drawn from the same dict `--json` prints: a header with the outcome and its reason;
charts over time of the canary's weight, of both versions' error rate and p99, and of each test's
evidence, the verdict marked on each; then the steps and every poll of the analysis in tables.
Inline CSS and inline SVG only: no script, font, stylesheet or image from anywhere, so the file
can be mailed, attached to a ticket or opened years later as it was.

The error-rate and p99 charts each hold both versions as two series on one scale: the analysis
judges the canary against stable over the same intervals, and two series on one chart show
exactly that comparison, where a chart per version (with a scale each) would hide it. The
evidence chart puts each test's e-value over its threshold on a log scale, so the climb to a
rollback (or its absence) is seen at once.

Every text that comes from the report is escaped; every number is checked and formatted here, so
a malformed field shows as "-" instead of breaking the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from canary.rollout.html_waits import waits_section
from canary.rollout.page_text import escape
from canary.rollout.svg_chart import Band, Chart, Marker, Series, clock, nice_ticks, render_chart

_GOOD = frozenset({"completed", "promoted", "retired"})
_BAD = frozenset({"rolled back", "update failed"})
_POLLS_SHOWN = 30
"""Up to this many polls the table is open on the page; more, and it is folded."""
_MIN_SPAN_SECONDS = 10.0
"""The shortest time axis, so that a single poll at 0 s still has an axis to sit on."""


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for one rollout report."""
    stack, canary, stable = (_text(report.get(key)) for key in ("stack", "canary", "stable"))
    outcome = _text(report.get("outcome")) or "unknown"
    polls = [p for p in _list(report.get("polls")) if isinstance(p, Mapping)]
    steps = [s for s in _list(report.get("steps")) if isinstance(s, Mapping)]
    title = f"{canary} against {stable} on {stack}: {outcome}"
    body = [
        _header(report, stack, canary, stable, outcome, polls),
        '<section class="charts">',
        *_charts(report, canary, stable, outcome, polls, steps),
        "</section>",
        _steps_table(steps),
        _holds_table([h for h in _list(report.get("holds")) if isinstance(h, Mapping)]),
        waits_section(report),
        _polls_table(polls, canary, stable),
        "<footer>Drawn from the rollout's JSON report (<code>canary rollout --json</code>); "
        "times are seconds since the rollout began.</footer>",
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{_CSS}{_TEST_CSS}</style>",
            "</head>",
            f'<body class="{_tone(outcome)}">',
            '<main class="page">',
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _tone(outcome: str) -> str:
    """How the outcome reads at a glance: good (green), bad (red), or neither (amber, grey)."""
    if outcome in _GOOD:
        return "good"
    if outcome in _BAD:
        return "bad"
    return "warn" if outcome == "held" else "neutral"


def _header(
    report: Mapping[str, Any], stack: str, canary: str, stable: str, outcome: str, polls: list[Mapping[str, Any]]
) -> str:
    reason = _text(report.get("reason")) or ("every step passed" if outcome in _GOOD else "")
    verdict = _float(report.get("verdict_seconds"))
    alpha = _float(report.get("alpha"))
    facts = [
        ("time to verdict", _duration(verdict) if verdict is not None else "no verdict"),
        ("alpha (false rollback, whole rollout)", f"{alpha:g}" if alpha is not None else "-"),
        ("started", _text(report.get("started_at")) or "-"),
        ("steps", str(len(_list(report.get("steps"))))),
        ("polls", str(len(polls))),
    ]
    compared = [_text(t.get("detail")) for t in (_tests(polls[-1]) if polls else []) if t.get("detail")]
    facts += [("tested", detail) for detail in compared]
    unattributed = _int(polls[-1].get("unattributed_errors")) if polls else None
    if unattributed:
        facts.append(("5xx naming no version", str(unattributed)))
    analysis = report.get("analysis")
    note = ""
    if isinstance(analysis, Mapping):
        # The note says what a resumed analysis did: continued the evidence kept, or started anew.
        lines = [_text(analysis.get(key)) for key in ("note", "calibration") if analysis.get(key)]
        note = "".join(f'<p class="note">{escape(line)}</p>' for line in lines)
    facts_html = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return (
        '<header class="summary">'
        f'<p class="eyebrow">canary rollout · stack <span class="stack">{escape(stack)}</span></p>'
        f'<h1><span class="version canary">{escape(canary)}</span> <span class="against">against</span> '
        f'<span class="version stable">{escape(stable)}</span></h1>'
        f'<p class="outcome"><span class="badge">{escape(outcome)}</span>'
        f'<span class="reason">{escape(reason)}</span></p>'
        f'<dl class="facts">{facts_html}</dl>{note}</header>'
    )


def _charts(
    report: Mapping[str, Any],
    canary: str,
    stable: str,
    outcome: str,
    polls: list[Mapping[str, Any]],
    steps: list[Mapping[str, Any]],
) -> list[str]:
    verdict = _float(report.get("verdict_seconds"))
    # The last moment the report knows of: where a step still open when it was made ends.
    known = max([verdict or 0.0] + [_float(p.get("seconds")) or 0.0 for p in polls])
    bands = _bands(steps, known)
    span = max([_MIN_SPAN_SECONDS, known] + [b.end for b in bands])
    reason = _text(report.get("reason"))

    def marker(with_reason: bool) -> Marker | None:
        if verdict is None:
            return None
        label = f"{outcome} at {clock(verdict)}"
        return Marker(
            at=verdict,
            label=label,
            note=reason if with_reason else "",
            detail=f"{label}: {reason}" if reason else label,
            css_class=f"marker verdict {_tone(outcome)}",
        )

    out: list[str] = []
    weight_line = _weight_points(steps, known)
    if weight_line:
        weight = Series(f"{canary} weight (%)", "weight", weight_line, step=True)
        # Headroom above the highest step, where the verdict's reason is written.
        top = min(100.0, 2 * max(y for _, y in weight_line if y is not None))
        chart = Chart(
            "Canary weight by step", "weight (%)", span, [weight], bands, marker(True), 200, y_ticks=nice_ticks(top, 4)
        )
        out.append(render_chart(chart, "chart-weight"))
    if not polls:
        if steps:
            out.append(
                '<p class="empty">No polls: the health analysis was off (no Prometheus) or the rollout ended '
                "before its first poll, so there is no error rate or latency to draw.</p>"
            )
        else:
            out.append('<p class="empty">Nothing to chart: no step began and no poll was taken.</p>')
        return out
    for metric, title, y_title, css_id in (
        ("error_rate", "Error rate (5xx) per interval", "error rate (%)", "chart-error-rate"),
        ("p99_ms", "p99 latency per interval", "p99 (ms)", "chart-p99"),
    ):
        # Stable first, so that the canary, the version on trial, is drawn over it where they meet.
        series = [
            Series(f"{stable} (stable)", "stable", _metric_points(polls, stable, metric)),
            Series(f"{canary} (canary)", "canary", _metric_points(polls, canary, metric)),
        ]
        out.append(render_chart(Chart(title, y_title, span, series, bands, marker(False)), css_id))
    out += _metric_charts(polls, canary, stable, span, bands, marker(False))
    evidence = _evidence_series(polls)
    if evidence:
        chart = Chart(
            "Evidence against the canary, per test (log scale)",
            "e-value / threshold",
            span,
            evidence,
            bands,
            marker(False),
            y_log=True,
            rule=(1.0, "threshold: roll back"),
            legend=True,
        )
        out.append(render_chart(chart, "chart-evidence"))
    return out


def _metric_charts(
    polls: list[Mapping[str, Any]],
    canary: str,
    stable: str,
    span: float,
    bands: list[Band],
    marker: Marker | None,
) -> list[str]:
    """A chart per metric of `rollout.metrics`, beside the mesh's: a ratio's bad share per
    interval for both versions (as the error rate's), a threshold's value with its bounds."""
    kinds: dict[str, str] = {}
    for poll in polls:
        for entry in _entries(poll):
            kinds.setdefault(_text(entry.get("name")), _text(entry.get("kind")))
    out = []
    for index, (name, kind) in enumerate(kinds.items()):
        css_id = f"chart-metric-{index}"
        if kind == "ratio":
            series = [
                Series(f"{stable} (stable)", "stable", _entry_points(polls, name, ("versions", stable, "ratio"))),
                Series(f"{canary} (canary)", "canary", _entry_points(polls, name, ("versions", canary, "ratio"))),
            ]
            title = f"{name}: bad share per interval (ratio metric)"
            out.append(render_chart(Chart(title, "bad / total (%)", span, series, bands, marker), css_id))
        elif kind == "threshold":
            values = _entry_points(polls, name, ("value",))
            bounds = _bounds(polls, name)
            series = [Series(f"{canary} (canary)", "canary", values)]
            highest = max([y for _, y in values if y is not None] + [b for b in bounds.values() if b is not None])
            rule: tuple[float, str] | None = None
            low, high = bounds.get("min"), bounds.get("max")
            if high is not None:
                rule = (high, f"max {high:g}")
            if low is not None:
                if rule is None:
                    rule = (low, f"min {low:g}")
                else:  # one rule a chart: the lower bound as a flat line
                    series.append(Series(f"min {low:g}", "stable", [(0.0, low), (span, low)]))
            chart = Chart(
                f"{name}: value per poll (threshold metric)",
                "value",
                span,
                series,
                bands,
                marker,
                y_ticks=nice_ticks(1.05 * highest if highest > 0 else 1.0, 5),
                rule=rule,
            )
            out.append(render_chart(chart, css_id))
    return out


def _entries(poll: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in _list(poll.get("metrics")) if isinstance(e, Mapping)]


def _entry_points(polls: list[Mapping[str, Any]], name: str, path: tuple[str, ...]) -> list[tuple[float, float | None]]:
    points: list[tuple[float, float | None]] = []
    for poll in polls:
        seconds = _float(poll.get("seconds"))
        entry = next((e for e in _entries(poll) if _text(e.get("name")) == name), None)
        if seconds is None or entry is None:
            continue
        value: Any = entry
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        number = _float(value)
        points.append((seconds, number if number is None or number >= 0 else None))
    return points


def _bounds(polls: list[Mapping[str, Any]], name: str) -> dict[str, float | None]:
    for poll in polls:
        for entry in _entries(poll):
            if _text(entry.get("name")) == name:
                return {"min": _float(entry.get("min")), "max": _float(entry.get("max"))}
    return {}


def _evidence_series(polls: list[Mapping[str, Any]]) -> list[Series]:
    """Each test's e-value as a share of its threshold: all tests on one scale, rollback at 1."""
    points: dict[str, list[tuple[float, float | None]]] = {}
    for poll in polls:
        seconds = _float(poll.get("seconds"))
        if seconds is None:
            continue
        for test in _tests(poll):
            e_value, threshold = _float(test.get("e_value")), _float(test.get("threshold"))
            share = e_value / threshold if e_value is not None and threshold and threshold > 0 else None
            points.setdefault(_text(test.get("test")), []).append((seconds, share))
    return [Series(name, f"test test-{i % len(_TEST_COLOURS)}", line) for i, (name, line) in enumerate(points.items())]


def _step_end(step: Mapping[str, Any], start: float, known: float) -> float:
    """A step's end; one still open when the report was made (interrupted) runs to the last
    moment the report knows of."""
    end = _float(step.get("ended_seconds"))
    return max(start, known) if end is None else end


def _bands(steps: list[Mapping[str, Any]], known: float) -> list[Band]:
    """A band per step that began, from its start to its end."""
    bands = []
    for index, step in enumerate(steps):
        start = _float(step.get("started_seconds"))
        if start is None:
            continue
        end = _step_end(step, start, known)
        weight = _int(step.get("weight"))
        label = f"{weight} %" if weight is not None else "step"
        if step.get("extended"):
            label += " (extended)"
        parity = "odd" if index % 2 else "even"
        result = "failed" if step.get("ok") is False else "passed"
        bands.append(Band(start, end, label, f"band {parity} {result}"))
    return bands


def _weight_points(steps: list[Mapping[str, Any]], known: float) -> list[tuple[float, float | None]]:
    """The canary's weight as a step line: each step's weight from its start to the next step's
    start, the last held to its end. What the weight became after the verdict (0 on a rollback,
    100 on promotion) the report does not time, so the line stops there."""
    points: list[tuple[float, float | None]] = []
    last_end = 0.0
    for step in steps:
        start, weight = _float(step.get("started_seconds")), _float(step.get("weight"))
        if start is None or weight is None:
            continue
        points.append((start, weight))
        last_end = _step_end(step, start, known)
    if points and last_end > points[-1][0]:
        points.append((last_end, points[-1][1]))
    return points


def _metric_points(polls: list[Mapping[str, Any]], version: str, metric: str) -> list[tuple[float, float | None]]:
    points: list[tuple[float, float | None]] = []
    for poll in polls:
        seconds = _float(poll.get("seconds"))
        if seconds is None:
            continue
        figures = _versions(poll).get(version)
        value = _float(figures.get(metric)) if isinstance(figures, Mapping) else None
        # A negative rate or latency is no measurement: a gap, not a line below the axis.
        points.append((seconds, value if value is None or value >= 0 else None))
    return points


def _steps_table(steps: list[Mapping[str, Any]]) -> str:
    if not steps:
        return '<section><h2>Steps</h2><p class="empty">No step began.</p></section>'
    rows = []
    for number, step in enumerate(steps, 1):
        start, end = _float(step.get("started_seconds")), _float(step.get("ended_seconds"))
        ok = step.get("ok")
        result = "passed" if ok is True else "failed" if ok is False else "-"
        if step.get("extended"):
            result += ", extended"
        gates = []
        for gate in _list(step.get("gates")):
            if not isinstance(gate, Mapping):
                continue
            mark = "ok" if gate.get("ok") else "failed"
            problems = "; ".join(_text(p) for p in _list(gate.get("problems")))
            text = f"{_text(gate.get('gate'))} {mark}" + (f": {problems}" if problems else "")
            gates.append(f'<li class="{mark}">{escape(text)}</li>')
        rows.append(
            f'<tr class="{"failed" if ok is False else "passed"}"><td>{number}</td>'
            f"<td>{escape(_fmt_int(step.get('weight')))} %</td>"
            f"<td>{_clock_or_dash(start)}</td><td>{_clock_or_dash(end)}</td>"
            f'<td>{escape(result)}</td><td><ul class="gates">{"".join(gates)}</ul></td></tr>'
        )
    return (
        "<section><h2>Steps</h2><table><thead><tr><th>#</th><th>weight</th><th>began</th><th>ended</th>"
        f"<th>result</th><th>gates</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _holds_table(holds: list[Mapping[str, Any]]) -> str:
    """When the rollout held a step, why, and what stable was doing then."""
    if not holds:
        return ""
    rows = []
    for hold in holds:
        stable = hold.get("stable")
        stable = stable if isinstance(stable, Mapping) else {}
        rate, p99 = _float(stable.get("error_rate")), _float(stable.get("p99_ms"))
        doing = (
            f"{_fmt_int(stable.get('requests'))} requests, {_fmt_int(stable.get('errors'))} 5xx; "
            f"now {'-' if rate is None else f'{rate:g} %'} 5xx, p99 {'-' if p99 is None else f'{p99:g} ms'}"
            if stable
            else "-"
        )
        why = "; ".join(_text(reason) for reason in _list(hold.get("reasons")))
        rows.append(
            f"<tr><td>{_clock_or_dash(_float(hold.get('seconds')))}</td>"
            f"<td>{escape(_fmt_int(hold.get('weight')))} %</td><td>{escape(why)}</td><td>{escape(doing)}</td></tr>"
        )
    return (
        f"<section><h2>Holds ({len(holds)})</h2>"
        '<p class="hint">A held poll neither passes nor fails the canary: both versions failed alike (a shared '
        "incident), a threshold metric was out of bounds short of its failureLimit, or too few canary requests "
        "had been seen. The step was extended, its weight not raised.</p>"
        "<table><thead><tr><th>time</th><th>weight</th><th>why</th><th>stable</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _polls_table(polls: list[Mapping[str, Any]], canary: str, stable: str) -> str:
    if not polls:
        return ""
    names: list[str] = []
    for poll in polls:
        for test in _tests(poll):
            name = _text(test.get("test"))
            if name not in names:
                names.append(name)
    head = (
        '<tr><th rowspan="2">time</th><th rowspan="2">weight</th>'
        f'<th colspan="2" class="canary">{escape(canary)} (canary)</th>'
        f'<th colspan="2" class="stable">{escape(stable)} (stable)</th>'
        '<th rowspan="2">5xx naming no version</th>'
        + "".join(f'<th class="test">{escape(name)}</th>' for name in names)
        + '<th rowspan="2">decision</th></tr><tr>'
        + "<th>requests</th><th>errors</th>" * 2
        + '<th class="test">e-value / threshold<br>p-value / alpha</th>' * len(names)
        + "</tr>"
    )
    rows = []
    for poll in polls:
        versions = _versions(poll)
        cells = [_clock_or_dash(_float(poll.get("seconds"))), f"{escape(_fmt_int(poll.get('weight')))} %"]
        for version in (canary, stable):
            figures = versions.get(version)
            figures = figures if isinstance(figures, Mapping) else {}
            cells += [escape(_fmt_int(figures.get("requests"))), escape(_fmt_int(figures.get("errors")))]
        cells.append(escape(_fmt_int(poll.get("unattributed_errors"))))
        by_name = {_text(t.get("test")): t for t in _tests(poll)}
        tests_html = []
        for name in names:
            tests_html += _test_cells(by_name.get(name))
        rollback, held = poll.get("rollback") is True, poll.get("hold") is True
        decision = "rollback" if rollback else "hold" if held else ""
        row = "".join(f"<td>{c}</td>" for c in cells) + "".join(tests_html)
        rows.append(f'<tr class="{decision or "poll"}">{row}<td>{decision}</td></tr>')
    # A long rollout's table is folded (the browser's own <details>, no script): the charts tell
    # its story, the table is there to look a figure up.
    state = " open" if len(polls) <= _POLLS_SHOWN else ""
    return (
        f'<section><details class="polls"{state}><summary><h2>Polls of the analysis ({len(polls)})</h2></summary>'
        '<p class="hint">Counts are cumulative since the analysis began; a test calls for a rollback when its '
        "e-value reaches its threshold (its always-valid p-value falls to its alpha).</p>"
        '<div class="scroll"><table class="polls">'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div></details></section>"
    )


def _test_cells(test: Mapping[str, Any] | None) -> list[str]:
    if test is None:
        return ['<td class="test">-</td>']
    e_value, threshold = _float(test.get("e_value")), _float(test.get("threshold"))
    p_value, alpha = _float(test.get("p_value")), _float(test.get("alpha"))
    crossed = e_value is not None and threshold is not None and e_value >= threshold
    css = "test crossed" if crossed else "test"
    return [
        f'<td class="{css}"><span class="e">{_sig(e_value, 3)} / {_sig(threshold, 3)}</span>'
        f'<span class="p">p {_sig(p_value, 2)} / {_sig(alpha, 2)}</span></td>'
    ]


def _versions(poll: Mapping[str, Any]) -> Mapping[str, Any]:
    versions = poll.get("versions")
    return versions if isinstance(versions, Mapping) else {}


def _tests(poll: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in _list(poll.get("tests")) if isinstance(t, Mapping)]


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _float(value: Any) -> float | None:
    """A finite number, or None for null, a bool, a string or an infinity."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else round(number)


def _fmt_int(value: Any) -> str:
    number = _int(value)
    return "-" if number is None else f"{number:,}"


def _sig(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _clock_or_dash(seconds: float | None) -> str:
    return "-" if seconds is None else clock(seconds)


def _duration(seconds: float) -> str:
    """42 s, 2 min 05 s, 1 h 02 min: the time to verdict as a person says it."""
    whole = round(seconds)
    if whole < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


_CSS = """
:root { --canary: #e8710a; --stable: #1a66d2; --good: #188038; --bad: #c5221f; --warn: #b06000;
  --neutral: #5f6368; --ink: #202124; --muted: #5f6368; --rule: #dadce0; --paper: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f3f4; color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
.page { max-width: 1160px; margin: 0 auto; padding: 24px 20px 40px; }
.summary { background: var(--paper); border-radius: 10px; padding: 20px 24px; border-top: 8px solid var(--tone);
  box-shadow: 0 1px 3px rgba(0,0,0,.12); }
body.good { --tone: var(--good); } body.bad { --tone: var(--bad); }
body.warn { --tone: var(--warn); } body.neutral { --tone: var(--neutral); }
.eyebrow .stack { font-weight: 700; color: var(--ink); }
.eyebrow { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .06em; font-size: 12px; }
h1 { margin: 4px 0 10px; font-size: 30px; }
h1 .against { color: var(--muted); font-weight: 400; font-size: 20px; }
h1 .canary { color: var(--canary); } h1 .stable { color: var(--stable); }
.outcome { margin: 0 0 14px; display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.badge { background: var(--tone); color: #fff; font-weight: 700; padding: 3px 12px; border-radius: 999px;
  text-transform: uppercase; letter-spacing: .04em; font-size: 14px; }
.reason { font-size: 16px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 0; }
.facts dt { color: var(--muted); font-size: 12px; } .facts dd { margin: 0; font-weight: 600; }
.note { margin: 12px 0 0; padding: 8px 12px; background: #fef7e0; border-radius: 6px; }
.charts { margin-top: 18px; }
.chart { display: block; width: 100%; height: auto; background: var(--paper); border-radius: 10px;
  margin-bottom: 14px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
.chart text { font-size: 12px; fill: var(--muted); }
.chart .chart-title { font-size: 15px; font-weight: 700; fill: var(--ink); }
.chart .axis-title { font-size: 12px; fill: var(--ink); }
.chart .grid { stroke: #e8eaed; } .chart .baseline { stroke: #9aa0a6; }
.chart .band rect { fill: #f8f9fa; } .chart .band.odd rect { fill: #eef1f5; }
.chart .band.failed rect { fill: #fce8e6; }
.chart .band-label { font-weight: 600; fill: #3c4043; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.chart .series polyline { fill: none; stroke-width: 2.4; stroke-linejoin: round; }
.chart .series.canary polyline, .legend-item.canary line { stroke: var(--canary); }
.chart .series.canary circle { fill: var(--canary); }
.chart .series.stable polyline, .legend-item.stable line { stroke: var(--stable); stroke-dasharray: 7 4; }
.chart .series.stable circle { fill: var(--stable); }
.chart .series.weight polyline, .legend-item.weight line { stroke: var(--ink); stroke-width: 2.6; }
.chart .rule line { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 2 3; }
.chart .rule text { fill: var(--bad); font-weight: 600; }
.legend-item line { stroke-width: 3; } .legend-item text { fill: var(--ink); }
.chart .marker line { stroke: var(--tone-marker, var(--neutral)); stroke-width: 2; stroke-dasharray: 5 3; }
.chart .marker.good { --tone-marker: var(--good); } .chart .marker.bad { --tone-marker: var(--bad); }
.chart .marker.warn { --tone-marker: var(--warn); }
.chart .marker text { fill: var(--tone-marker, var(--neutral)); font-weight: 700;
  paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.chart .marker .marker-note { font-weight: 400; fill: var(--ink); }
.empty { background: var(--paper); border-radius: 10px; padding: 14px 18px; color: var(--muted); }
section h2 { font-size: 18px; margin: 24px 0 8px; }
summary { cursor: pointer; } summary h2 { display: inline-block; }
.hint { color: var(--muted); margin: 0 0 8px; font-size: 13px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: var(--paper); width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: #f8f9fa; font-weight: 600; } th.canary { color: var(--canary); } th.stable { color: var(--stable); }
.polls td { text-align: right; white-space: nowrap; }
tr.failed td, tr.rollback td { background: #fce8e6; }
tr.hold td { background: #fef7e0; }
td.test .e, td.test .p { display: block; } td.test .p { color: var(--muted); font-size: 12px; }
td.crossed .e, td.crossed .p { color: var(--bad); font-weight: 700; }
th.test { text-align: right; }
.gates { margin: 0; padding-left: 16px; } .gates .failed { color: var(--bad); }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
"""

_TEST_COLOURS = ("#8e24aa", "#00897b", "#6d4c41", "#d81b60", "#546e7a")
"""The tests' lines on the evidence chart: apart from each other and from the versions' colours."""
_TEST_CSS = "".join(
    f".chart .series.test-{i} polyline, .legend-item.test-{i} line {{ stroke: {colour}; }}\n"
    f".chart .series.test-{i} circle {{ fill: {colour}; }}\n"
    for i, colour in enumerate(_TEST_COLOURS)
)
