"""The waits of a rollout in its HTML report: what it waited for, since when, how each wait ended.

Kept apart from the page's charts and the analysis' tables because a wait is about people and
gates, not evidence; every text is escaped here as there.
"""

from __future__ import annotations

from canary.rollout.control import Wait
from canary.rollout.report.text import escape


def waits_section(waits: list[Wait], current: Wait | None) -> str:
    """A section with one row per wait, the one still open (if any) named first; "" without waits."""
    if not waits:
        return ""
    lead = ""
    if current is not None:
        lead = (
            f'<p class="waiting">Waiting at {escape(str(current.weight))} % for '
            f"{escape(current.what)} since {escape(current.since)}.</p>"
        )
    rows = []
    for wait in waits:
        ended = wait.ended or "still waiting"
        how = wait.outcome + (f" by {wait.by}" if wait.by else "")
        rows.append(
            f"<tr><td>{escape(str(wait.step))}</td><td>{escape(str(wait.weight))} %</td>"
            f"<td>{escape(wait.what)}</td><td>{escape(wait.since)}</td>"
            f"<td>{escape(ended)}</td><td>{escape(how)}</td></tr>"
        )
    return (
        f"<section><h2>Waits</h2>{lead}<table><thead><tr><th>after step</th><th>weight</th><th>waiting for</th>"
        f"<th>since (UTC)</th><th>ended (UTC)</th><th>how it ended</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )
