"""Every event of a rollout, to chat and mail: started, step passed, held, waiting, rolled back,
completed, promoted, retired, interrupted.

Sent through Apprise, so one URL scheme per service and the URLs its users already write
(`slack://`, `msteams://`, `discord://`, `mmost://`, `mailto://`, `json://` for a plain POST, ...).
A message is short: what happened, the verdict when there is one, and what a person can do. A
notification that fails is a warning on stderr: it never changes what the rollout does.

URLs often hold a token (a Slack webhook's path): a warning names a URL only as Apprise redacts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canary.rollout.run_report import RolloutReport

SEND_TIMEOUT_SECONDS = 10.0

# Apprise's level for each event: chat services colour a message by it.
_LEVELS = {
    "started": "info",
    "step passed": "info",
    "held": "warning",
    "waiting": "warning",
    "interrupted": "warning",
    "rolled back": "failure",
    "completed": "success",
    "promoted": "success",
    "retired": "success",
}


class NotifyError(ValueError):
    """A URL Apprise cannot send to; the message names the setting and the URL's scheme only."""


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str
    """Apprise's notify type: info, success, warning or failure."""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _weight(report: RolloutReport) -> int:
    return report.steps[-1].weight if report.steps else 0


def message(kind: str, report: RolloutReport, text: str) -> Message:
    """What one event says: a title naming the stack, the canary and the event; a body of a few lines."""
    stack, canary, stable = report.stack, report.canary, report.stable
    title = f"{stack}: canary {canary} {kind}"
    command = f"canary rollout --stack {stack}"
    lines: list[str]
    if kind == "started":
        lines = [f"{canary} against stable {stable}, {text}."]
        if report.resumed:
            lines.append(report.note + ".")
    elif kind == "step passed":
        lines = [f"{text} ({_duration(report.steps[-1].ended_seconds)} in)." if report.steps else f"{text}."]
    elif kind == "held" and report.outcome == "held":
        lines = [
            f"Verdict: held at {_weight(report)}%: {report.reason}.",
            f"The weight stays and the evidence is kept: run `{command}` again to continue.",
        ]
    elif kind == "held":
        lines = [f"Held at {_weight(report)}%: {text}.", "The weight stays; the rollout goes on by itself."]
    elif kind == "waiting":
        wait = report.waiting
        since = f" since {wait.since}" if wait is not None else ""
        lines = [f"Waiting {text}{since}."]
        if wait is not None and wait.kind != "confirm":
            lines.append(f"Approve: {command} --approve    Roll back: {command} --abort")
        else:
            lines.append(f"Roll back: {command} --abort")
        lines.append("The analysis keeps watching: a bad canary is still rolled back.")
    elif kind == "rolled back":
        title = f"{stack}: canary {canary} {kind} to 0%"
        lines = [
            f"Verdict: {kind} after {_duration(report.verdict_seconds)}: {report.reason}.",
            f"Stable {stable} serves all plain traffic; cookie and header testers still reach {canary}.",
        ]
    elif kind == "interrupted":
        lines = [f"Verdict: interrupted: {report.reason}."]
    elif kind in ("completed", "promoted", "retired"):
        walked = ", ".join(f"{step.weight}%" for step in report.steps) or "no step"
        done = {
            "completed": f"every step passed; {canary} stays at {_weight(report)}%",
            "promoted": f"{canary} is the stable version",
            "retired": f"{canary} is the stable version and {stable} is retired",
        }[kind]
        lines = [f"Verdict: {kind}: {done}.", f"Steps {walked}, verdict after {_duration(report.verdict_seconds)}."]
    else:
        lines = [text]
    return Message(title=title, body="\n".join(lines), level=_LEVELS.get(kind, "info"))


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else url[:12]


class Notifier:
    """Sends each event to every URL, one Apprise instance per URL so that one failing is named."""

    def __init__(
        self,
        urls: Sequence[str],
        warn: Callable[[str], None],
        setting: str = "--notify",
        mask: Callable[[str], str] = lambda text: text,
    ) -> None:
        """`mask`: what hides the stack's secrets in a text (a secret webhook URL in a reason, say)."""
        self._warn = warn
        self._mask = mask
        self._targets: list[tuple[Any, str]] = []
        if not urls:
            return
        import apprise

        # Apprise logs each failure itself; the rollout says it once, as a warning, its own way.
        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        for url in urls:
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                raise NotifyError(
                    f"{setting}: Apprise cannot send to this URL (scheme {_scheme(url)!r}); see its URL formats, "
                    "such as slack://, msteams://, mailto:// or json://host/path"
                )
            sender = apprise.Apprise()
            sender.add(plugin)
            self._targets.append((sender, str(plugin.url(privacy=True))))  # type: ignore[no-untyped-call]

    def __call__(self, kind: str, report: RolloutReport, text: str) -> None:
        if not self._targets:
            return
        note = message(kind, report, text)
        note = Message(self._mask(note.title), self._mask(note.body), note.level)
        for sender, shown in self._targets:
            try:
                delivered = bool(
                    sender.notify(
                        body=note.body, title=note.title, notify_type=note.level, timeout=SEND_TIMEOUT_SECONDS
                    )
                )
            except Exception as err:  # a plugin's own bug must not stop a rollout either
                delivered = False
                shown = f"{shown} ({type(err).__name__})"
            if not delivered:
                self._warn(f"warning: the {kind!r} notification to {shown} failed; the rollout goes on")
