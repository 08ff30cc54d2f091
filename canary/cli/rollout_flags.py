"""The flags of `canary rollout`: what each overrides of the stack's `rollout` keys, and the operations."""

from __future__ import annotations

import argparse
from pathlib import Path

from canary.cli.flags import CommandParser, examples, host_header, path_flag, whole_number
from canary.config import RolloutSettings
from canary.policy import MAX_SPLIT_REQUESTS, Policy
from canary.support import exit_status

PROG = "canary rollout"


def key_default(field: str) -> str:
    """`(default: rollout.stepDuration, 2m)`: the `rollout` key a flag overrides, and the value the
    project gives it when the stack does not, read from the key's model (the one source of both)."""
    model = RolloutSettings.model_fields[field]
    value = model.get_default(call_default_factory=True)
    if isinstance(value, list):
        shown = ",".join(str(item) for item in value) or "none"
    elif isinstance(value, float):
        shown = f"{value:g}"
    else:
        shown = str(value) or "off"
    return f"(default: rollout.{model.alias or field}, {shown})"


def parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog=PROG,
        description="Walk the stack's canary through its weights with `pulumi up`, judge each step, "
        "then promote it, or roll it back to 0% on the first failed gate.",
        examples=examples(
            ("The plan: steps, gates, thresholds; nothing changes", "canary rollout --stack dev --dry-run"),
            (
                "With the health gate; promote, retire the old version, keep the report as a page",
                "canary rollout --stack prod --prometheus http://prometheus:9090 --retire --report rollout.html",
            ),
            ("Approve what the running rollout of the stack waits for", "canary rollout --stack prod --approve"),
        ),
    )
    p.add_argument("--stack", required=True, help="the stack to roll out (its Pulumi.<stack>.yaml)")
    p.add_argument(
        "--steps",
        help="canary weights, rising, and pauses: 5,10,25,50, 5,pause,25,50 (until --approve) or 5,pause=10m,25 "
        + key_default("steps"),
    )
    p.add_argument(
        "--step-duration",
        metavar="DURATION",
        help="how long each step is watched: 90s, 2m, 1h; a bare number is seconds " + key_default("step_duration"),
    )
    p.add_argument("--prometheus", metavar="URL", help="Prometheus for the health gate " + key_default("prometheus"))
    p.add_argument(
        "--max-error-rate",
        type=float,
        metavar="PERCENT",
        help="5xx share the canary may have " + key_default("max_error_rate"),
    )
    p.add_argument(
        "--max-p99-ms", type=float, metavar="MS", help="p99 latency the canary may have " + key_default("max_p99_ms")
    )
    p.add_argument(
        "--max-p99-ratio",
        type=float,
        metavar="TIMES",
        help="times stable's p99 the canary's may be " + key_default("max_p99_ratio"),
    )
    p.add_argument(
        "--webhook",
        metavar="URL",
        help="POST each step's figures here; a non-2xx answer fails it " + key_default("webhook"),
    )
    p.add_argument(
        "--confirm",
        metavar="URL",
        help="after each step passes, POST here until it answers 2xx; the rollout holds meanwhile "
        + key_default("confirm"),
    )
    p.add_argument(
        "--notify",
        metavar="URL",
        action="append",
        help="an Apprise URL (slack://, msteams://, mailto://, json://...) to send every event to; repeatable "
        + key_default("notify"),
    )
    p.add_argument(
        "--git-commit",
        action="store_true",
        help="commit each change the rollout writes to Pulumi.<stack>.yaml (a weight, promote, retire, rollback) "
        "(default: off)",
    )
    p.add_argument(
        "--git-push", action="store_true", help="push each such commit (implies --git-commit) (default: off)"
    )
    operate = p.add_mutually_exclusive_group()
    operate.add_argument(
        "--approve", action="store_true", help="approve what the running rollout of the stack waits for, and exit"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="with --approve: also skip the steps left, straight to the end (and the promotion, if asked)",
    )
    operate.add_argument(
        "--abort", action="store_true", help="make the running rollout of the stack roll back now, and exit"
    )
    operate.add_argument(
        "--decide",
        action="store_true",
        help="for CI on every push: print whether to start, resume or do nothing; exit 0 nothing, "
        f"{exit_status.START} start, {exit_status.RESUME} resume, {exit_status.LOCKED} a rollout is running",
    )
    operate.add_argument(
        "--status",
        action="store_true",
        help="print who runs a rollout of the stack and what it waits for since when (--json: the records), and exit",
    )
    operate.add_argument(
        "--unlock", action="store_true", help="remove the rollout lock of a rollout that died, and exit"
    )
    p.add_argument(
        "--promote", action="store_true", help="after the last step: the canary becomes stable (default: off)"
    )
    p.add_argument(
        "--retire",
        action="store_true",
        help="after promoting: remove the old version (implies --promote) (default: off)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan (steps, gates, thresholds); change nothing")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.add_argument(
        "--report", type=path_flag, metavar="FILE.html", help="also write the report as one HTML page (default: none)"
    )
    p.add_argument("--url", help="where the split gate sends requests (default: the stack's first URL)")
    p.add_argument(
        "--host",
        type=host_header,
        help="Host header for the split gate, when --url is a load balancer address (default: the URL's host)",
    )
    p.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    p.add_argument(
        "--requests",
        type=whole_number(1, MAX_SPLIT_REQUESTS),
        metavar="N",
        help=f"least requests per route the split gate sends (default: {Policy().verify_requests})",
    )
    p.add_argument(
        "--analysis-interval",
        metavar="DURATION",
        help="how often Prometheus is asked during a step " + key_default("analysis_interval"),
    )
    p.add_argument(
        "--min-requests",
        type=int,
        metavar="N",
        help="canary requests a step needs to be promoted " + key_default("min_requests"),
    )
    p.add_argument(
        "--alpha",
        type=float,
        help="the most the chance may be, over the whole release, that a canary as good as stable is rolled "
        "back, under the assumptions in docs/rollout.md " + key_default("alpha"),
    )
    p.add_argument(
        "--hold-limit",
        metavar="DURATION",
        help="how long a step may be extended for thin evidence or a shared incident before the rollout stops, "
        "held, its weight kept " + key_default("hold_limit"),
    )
    p.add_argument(
        "--split-tolerance",
        type=float,
        metavar="POINTS",
        help="how far a split may be off, in points " + key_default("split_tolerance"),
    )
    p.add_argument(
        "--forget-evidence",
        action="store_true",
        help="start the health analysis anew: the evidence of this release kept with the stack is discarded "
        "(alpha then holds from this run on, not for the whole release)",
    )
    p.add_argument(
        "--project-dir",
        "--cwd",
        "-C",
        type=path_flag,
        default=Path("."),
        metavar="DIR",
        help="Pulumi.yaml's folder, or below (default: .)",
    )
    return p
