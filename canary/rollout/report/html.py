"""The rollout's report as one self-contained HTML page (`canary rollout --report FILE.html`).

The page is drawn from the rollout's typed report, the one `--json` prints: a header with the
outcome and its reason; the charts (`charts`); then the steps, the holds, the waits and every
poll of the analysis in tables. Inline CSS (`report.css`, shipped in the package) and inline SVG
only: no script, font, stylesheet or image from anywhere, so the file can be mailed, attached to
a ticket or opened years later as it was.

Every text that comes from the report is escaped; every number is formatted here, and one from
the report's free-form records that is malformed shows as "-" instead of breaking the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from canary.rollout.report.charts import TEST_CSS, charts
from canary.rollout.report.figures import at, clock_or_dash, count, listed, number, records, significant, text
from canary.rollout.report.text import escape
from canary.rollout.report.waits import waits_section
from canary.rollout.run_report import RolloutReport, StepReport
from canary.rollout.watch import Poll

_GOOD = frozenset({"completed", "promoted", "retired"})
_BAD = frozenset({"rolled back", "update failed"})
_POLLS_SHOWN = 30
"""Up to this many polls the table is open on the page; more, and it is folded."""


@cache
def stylesheet() -> str:
    """The page's style: report.css, read from the installed package, then each test's colour."""
    css = files("canary.rollout.report").joinpath("report.css").read_text(encoding="utf-8")
    return f"\n{css}{TEST_CSS}"


def render_html(report: RolloutReport) -> str:
    """The whole page for one rollout report."""
    stack, canary, stable = report.stack, report.canary, report.stable
    outcome = report.outcome or "unknown"
    title = f"{canary} against {stable} on {stack}: {outcome}"
    body = [
        _header(report, outcome),
        '<section class="charts">',
        *charts(report, outcome, _tone(outcome)),
        "</section>",
        _steps_table(report.steps),
        _holds_table([h for h in report.holds if isinstance(h, Mapping)]),
        waits_section(report.waits, report.waiting),
        _polls_table(report.polls, canary, stable),
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
            f"<style>{stylesheet()}</style>",
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


def _header(report: RolloutReport, outcome: str) -> str:
    stack, canary, stable, polls = report.stack, report.canary, report.stable, report.polls
    reason = report.reason or ("every step passed" if outcome in _GOOD else "")
    verdict = report.verdict_seconds
    facts = [
        ("time to verdict", _duration(at(verdict)) if verdict is not None else "no verdict"),
        ("alpha (false rollback, whole rollout)", f"{report.alpha:g}"),
        ("started", report.started_at or "-"),
        ("steps", str(len(report.steps))),
        ("polls", str(len(polls))),
    ]
    compared = [text(t.get("detail")) for t in (records(polls[-1].tests) if polls else []) if t.get("detail")]
    facts += [("tested", detail) for detail in compared]
    if polls and polls[-1].unattributed_errors:
        facts.append(("5xx naming no version", str(polls[-1].unattributed_errors)))
    # The note says what a resumed analysis did: continued the evidence kept, or started anew.
    note = "".join(f'<p class="note">{escape(line)}</p>' for line in (report.note, report.calibration) if line)
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


def _steps_table(steps: list[StepReport]) -> str:
    if not steps:
        return '<section><h2>Steps</h2><p class="empty">No step began.</p></section>'
    rows = []
    for index, step in enumerate(steps, 1):
        end = None if step.ended_seconds is None else at(step.ended_seconds)
        result = "passed" if step.ok else "failed"
        if step.extended:
            result += ", extended"
        gates = []
        for gate in step.gates:
            mark = "ok" if gate.ok else "failed"
            problems = "; ".join(gate.problems)
            line = f"{gate.gate} {mark}" + (f": {problems}" if problems else "")
            gates.append(f'<li class="{mark}">{escape(line)}</li>')
        rows.append(
            f'<tr class="{"passed" if step.ok else "failed"}"><td>{index}</td>'
            f"<td>{escape(f'{step.weight:,}')} %</td>"
            f"<td>{clock_or_dash(at(step.started_seconds))}</td><td>{clock_or_dash(end)}</td>"
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
        rate, p99 = number(stable.get("error_rate")), number(stable.get("p99_ms"))
        doing = (
            f"{count(stable.get('requests'))} requests, {count(stable.get('errors'))} 5xx; "
            f"now {'-' if rate is None else f'{rate:g} %'} 5xx, p99 {'-' if p99 is None else f'{p99:g} ms'}"
            if stable
            else "-"
        )
        why = "; ".join(text(reason) for reason in listed(hold.get("reasons")))
        rows.append(
            f"<tr><td>{clock_or_dash(number(hold.get('seconds')))}</td>"
            f"<td>{escape(count(hold.get('weight')))} %</td><td>{escape(why)}</td><td>{escape(doing)}</td></tr>"
        )
    return (
        f"<section><h2>Holds ({len(holds)})</h2>"
        '<p class="hint">A held poll neither passes nor fails the canary: both versions failed alike (a shared '
        "incident), a threshold metric was out of bounds short of its failureLimit, or too few canary requests "
        "had been seen. The step was extended, its weight not raised.</p>"
        "<table><thead><tr><th>time</th><th>weight</th><th>why</th><th>stable</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _polls_table(polls: list[Poll], canary: str, stable: str) -> str:
    if not polls:
        return ""
    names: list[str] = []
    for poll in polls:
        for test in records(poll.tests):
            name = text(test.get("test"))
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
        cells = [clock_or_dash(at(poll.seconds)), f"{escape(f'{poll.weight:,}')} %"]
        for version in (canary, stable):
            figures = poll.versions.get(version)
            requests, errors = (None, None) if figures is None else (figures.requests, figures.errors)
            cells += [escape(count(requests)), escape(count(errors))]
        cells.append(escape(f"{poll.unattributed_errors:,}"))
        by_name = {text(t.get("test")): t for t in records(poll.tests)}
        tests_html = []
        for name in names:
            tests_html += _test_cells(by_name.get(name))
        decision = "rollback" if poll.rollback else "hold" if poll.hold else ""
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
    e_value, threshold = number(test.get("e_value")), number(test.get("threshold"))
    p_value, alpha = number(test.get("p_value")), number(test.get("alpha"))
    crossed = e_value is not None and threshold is not None and e_value >= threshold
    css = "test crossed" if crossed else "test"
    return [
        f'<td class="{css}"><span class="e">{significant(e_value, 3)} / {significant(threshold, 3)}</span>'
        f'<span class="p">p {significant(p_value, 2)} / {significant(alpha, 2)}</span></td>'
    ]


def _duration(seconds: float) -> str:
    """42 s, 2 min 05 s, 1 h 02 min: the time to verdict as a person says it."""
    whole = round(seconds)
    if whole < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
