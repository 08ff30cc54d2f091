"""The waits of a rollout in its HTML report: what it waited for, since when, how each wait ended.

Kept apart from `html_report` (which draws the charts and the analysis' tables) because a wait is
about people and gates, not evidence; every text is escaped here as there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.rollout.page_text import escape


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def waits_section(report: Mapping[str, Any]) -> str:
    """A section with one row per wait, the one still open (if any) named first; "" without waits."""
    waits = [w for w in report.get("waits") or [] if isinstance(w, Mapping)]
    if not waits:
        return ""
    current = report.get("waiting")
    lead = ""
    if isinstance(current, Mapping):
        lead = (
            f'<p class="waiting">Waiting at {escape(_text(current.get("weight")))} % for '
            f"{escape(_text(current.get('what')))} since {escape(_text(current.get('since')))}.</p>"
        )
    rows = []
    for wait in waits:
        ended = _text(wait.get("ended")) or "still waiting"
        how = _text(wait.get("outcome")) + (f" by {_text(wait.get('by'))}" if wait.get("by") else "")
        rows.append(
            f"<tr><td>{escape(_text(wait.get('step')))}</td><td>{escape(_text(wait.get('weight')))} %</td>"
            f"<td>{escape(_text(wait.get('what')))}</td><td>{escape(_text(wait.get('since')))}</td>"
            f"<td>{escape(ended)}</td><td>{escape(how)}</td></tr>"
        )
    return (
        f"<section><h2>Waits</h2>{lead}<table><thead><tr><th>after step</th><th>weight</th><th>waiting for</th>"
        f"<th>since (UTC)</th><th>ended (UTC)</th><th>how it ended</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )
