"""`python -m canary rollout`: flags and stack config in, a rollout (or its plan) out.

Exit status: 0 when every step passed (and the canary was promoted, if asked), 1 when the canary
was rolled back (a failed gate), 2 for bad flags or config or a rollout that cannot start, its
preflight included (nothing changed), 3 when it stopped held (evidence too thin, or both versions
failing alike, past the hold limit: the weight kept), 130 when interrupted (the weight is left
where the stack file says).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from canary import exit_status
from canary import steps as steps_module
from canary.bounded_read import shown
from canary.cli.flags import CommandParser, UsageError, host_header, parse_flags, path_flag, whole_number
from canary.config import ConfigError, RolloutSettings, StackSettings, parse_settings
from canary.config.files import StackFileError, find_project, read_stack
from canary.config.messages import describe
from canary.config.metrics import MetricSettings
from canary.config.prometheus_auth import PrometheusAuthSettings
from canary.file_writes import write_replacing
from canary.from_settings import RELEASE_NAME, release_args
from canary.plan.backend import Collector
from canary.plan.checks import ArgsError
from canary.plan.release import plan_canary_release
from canary.policy import MAX_SPLIT_REQUESTS, Limits, Policy, parse_duration, url_problem
from canary.redact import redact_url
from canary.rollout import control as control_module
from canary.rollout import preflight, release_tags
from canary.rollout.control import TagControl
from canary.rollout.decide import decide, last_record
from canary.rollout.engine import (
    Gates,
    Rollout,
    RolloutRefusedError,
    RolloutReport,
    no_canary,
)
from canary.rollout.gates import (
    EntryPoint,
    GateResult,
    alpha_shares,
    requests_to_see_a_missing_version,
    split_alpha,
    split_gate,
    split_tests,
    webhook_gate,
)
from canary.rollout.git_record import CommittingStack, GitRecorder
from canary.rollout.html_report import render_html
from canary.rollout.lock import LockedError, ReleaseLock, StackLock, describe_holder, unlock
from canary.rollout.notify import Notifier, NotifyError
from canary.rollout.prometheus import PrometheusAccess
from canary.rollout.prometheus_auth import AccessError, SecretReader, prometheus_access
from canary.rollout.pulumi_stack import StackError
from canary.rollout.release_tags import TagStore, TagStoreError, encode
from canary.rollout.stack_secrets import MaskedView, Masker, SecretUnavailableError, reveal, with_secrets
from canary.routes_contract import Route, parse_routes

if TYPE_CHECKING:
    from canary.rollout.watch import HealthWatch

PROG = "canary rollout"
# Stable's history read before the rollout, to calibrate the analysis on how its 5xx vary.
HISTORY_SECONDS = 600.0


def parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog=PROG,
        description="Walk the stack's canary through its weights with `pulumi up`, judge each step, "
        "then promote it, or roll it back to 0% on the first failed gate.",
    )
    p.add_argument("--stack", required=True, help="the stack to roll out (its Pulumi.<stack>.yaml)")
    p.add_argument(
        "--steps",
        help="canary weights, rising, and pauses: 5,10,25,50, 5,pause,25,50 (until --approve) or 5,pause=10m,25 "
        "(default: rollout.steps)",
    )
    p.add_argument("--step-duration", metavar="DURATION", help="how long each step is watched: 90s, 2m, 1h")
    p.add_argument("--prometheus", metavar="URL", help="Prometheus for the health gate (default: rollout.prometheus)")
    p.add_argument("--max-error-rate", type=float, metavar="PERCENT", help="5xx share the canary may have")
    p.add_argument("--max-p99-ms", type=float, metavar="MS", help="p99 latency the canary may have")
    p.add_argument("--max-p99-ratio", type=float, metavar="TIMES", help="times stable's p99 the canary's may be")
    p.add_argument("--webhook", metavar="URL", help="POST each step's figures here; a non-2xx answer fails it")
    p.add_argument(
        "--confirm",
        metavar="URL",
        help="after each step passes, POST here until it answers 2xx; the rollout holds meanwhile (rollout.confirm)",
    )
    p.add_argument(
        "--notify",
        metavar="URL",
        action="append",
        help="an Apprise URL (slack://, msteams://, mailto://, json://...) to send every event to; repeatable "
        "(default: rollout.notify)",
    )
    p.add_argument(
        "--git-commit",
        action="store_true",
        help="commit each change the rollout writes to Pulumi.<stack>.yaml (a weight, promote, retire, rollback)",
    )
    p.add_argument("--git-push", action="store_true", help="push each such commit (implies --git-commit)")
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
    p.add_argument("--promote", action="store_true", help="after the last step: the canary becomes stable")
    p.add_argument("--retire", action="store_true", help="after promoting: remove the old version (implies --promote)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (steps, gates, thresholds); change nothing")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.add_argument("--report", type=path_flag, metavar="FILE.html", help="also write the report as one HTML page")
    p.add_argument("--url", help="where the split gate sends requests (default: the stack's first URL)")
    p.add_argument(
        "--host", type=host_header, help="Host header for the split gate, when --url is a load balancer address"
    )
    p.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    p.add_argument(
        "--requests",
        type=whole_number(1, MAX_SPLIT_REQUESTS),
        help=f"least requests per route the split gate sends (default {Policy().verify_requests})",
    )
    p.add_argument("--analysis-interval", metavar="DURATION", help="how often Prometheus is asked during a step")
    p.add_argument("--min-requests", type=int, metavar="N", help="canary requests a step needs to be promoted")
    p.add_argument(
        "--alpha",
        type=float,
        help="the most the chance may be, over the whole release, that a canary as good as stable is rolled "
        f"back, under the assumptions in docs/rollout.md (default: rollout.alpha, {Limits().alpha:g})",
    )
    p.add_argument(
        "--hold-limit",
        metavar="DURATION",
        help="how long a step may be extended for thin evidence or a shared incident before the rollout stops, "
        "held, its weight kept (default: rollout.holdLimit)",
    )
    p.add_argument(
        "--split-tolerance",
        type=float,
        metavar="POINTS",
        help=f"how far a split may be off (default: rollout.splitTolerance, {Limits().split_tolerance:g})",
    )
    p.add_argument(
        "--forget-evidence",
        action="store_true",
        help="start the health analysis anew: the evidence of this release kept with the stack is discarded "
        "(alpha then holds from this run on, not for the whole release)",
    )
    p.add_argument(
        "--project-dir", "--cwd", "-C", type=path_flag, default=Path("."), help="Pulumi.yaml's folder, or below"
    )
    return p


# Each flag that overrides a `rollout:` key, and the key, as the stack file spells it.
FLAG_KEYS = {
    "steps": "steps",
    "step_duration": "stepDuration",
    "analysis_interval": "analysisInterval",
    "min_requests": "minRequests",
    "alpha": "alpha",
    "split_tolerance": "splitTolerance",
    "max_error_rate": "maxErrorRate",
    "max_p99_ms": "maxP99Ms",
    "max_p99_ratio": "maxP99Ratio",
    "hold_limit": "holdLimit",
    "prometheus": "prometheus",
    "webhook": "webhook",
    "confirm": "confirm",
    "notify": "notify",
}


def rollout_settings(args: argparse.Namespace, settings: StackSettings) -> RolloutSettings:
    """The stack's `rollout` keys with the flags given laid over them, validated once by the same
    model: a flag is held to the key's rules, and refused for the key's reason."""
    given: dict[str, Any] = {}
    for name, key in FLAG_KEYS.items():
        value = getattr(args, name)
        if value is not None:
            given[key] = value
    if args.steps is not None:
        try:
            given["steps"] = steps_module.from_flag(args.steps).items()
        except steps_module.StepsError as err:
            raise UsageError(f"argument --steps: {err}, got {args.steps!r}") from None
    if args.notify is not None:
        # An empty URL (a CI secret left unset) sends nothing, rather than failing the rollout.
        given["notify"] = [url for url in args.notify if url.strip()]
    try:
        return RolloutSettings.model_validate({**settings.rollout.model_dump(by_alias=True), **given})
    except pydantic.ValidationError as err:
        # The stack's own values passed this model already: what fails is a flag.
        error = err.errors()[0]
        key = str(error["loc"][0])
        flag = next((name for name, spelled in FLAG_KEYS.items() if spelled == key), None)
        if flag is None:  # a rule across keys that a flag's value broke
            raise UsageError(f"rollout.{describe(error)}") from None
        reason = describe(error).partition(": ")[2]
        if flag == "steps":
            reason = reason.rpartition(", got ")[0] + f", got {args.steps!r}"
        raise UsageError(f"argument --{flag.replace('_', '-')}: {reason}") from None


def configured_steps(config: RolloutSettings) -> steps_module.Steps:
    """`rollout.steps` (flag laid over), weights and pauses (validated with the model)."""
    return steps_module.from_items([item if isinstance(item, int) else item.model_dump() for item in config.steps])


def resolve_policy(args: argparse.Namespace, settings: StackSettings) -> Policy:
    """The stack's `rollout` config, overridden by the flags given; UsageError for a bad flag."""
    for flag in ("url",):
        value = getattr(args, flag)
        if value is not None and (reason := url_problem(value)) is not None:
            raise UsageError(f"argument --{flag}: {reason}, got {redact_url(value)!r}")
    rollout = rollout_settings(args, settings)
    step_seconds = parse_duration(rollout.step_duration)
    analysis_seconds = parse_duration(rollout.analysis_interval)
    hold_seconds = parse_duration(rollout.hold_limit)
    # The model held each to a duration above zero.
    assert step_seconds is not None and analysis_seconds is not None and hold_seconds is not None
    steps = configured_steps(rollout)
    return Policy(
        steps=steps.weights,
        pauses=steps.pauses,
        step_seconds=step_seconds,
        analysis_seconds=analysis_seconds,
        min_requests=rollout.min_requests,
        hold_seconds=hold_seconds,
        limits=Limits(
            max_error_rate=rollout.max_error_rate,
            max_p99_ms=rollout.max_p99_ms,
            max_p99_ratio=rollout.max_p99_ratio,
            alpha=rollout.alpha,
            split_tolerance=rollout.split_tolerance,
        ),
        prometheus=rollout.prometheus or None,
        webhook=rollout.webhook or None,
        confirm=rollout.confirm or None,
        notify=tuple(url for url in rollout.notify if url.strip()),
        verify_requests=args.requests if args.requests is not None else Policy.verify_requests,
    )


# What only the health analysis reads: given while it is off (no Prometheus), each is reported.
HEALTH_ONLY = (
    "max_error_rate",
    "max_p99_ms",
    "max_p99_ratio",
    "analysis_interval",
    "min_requests",
    "hold_limit",
    "prometheus_auth",
    "metrics",
)


def unused_health_settings(args: argparse.Namespace, settings: StackSettings, policy: Policy) -> list[str]:
    """The health thresholds given, as flags or `rollout` keys, while the health gate is off. A
    key counts when its value is not the default: the project file declares every key's default,
    so a stack's config always holds them all."""
    if policy.prometheus:
        return []
    rollout = settings.rollout
    unused = []
    for field in HEALTH_ONLY:
        if getattr(args, field, None) is not None:  # the keys without a flag have none
            unused.append(f"--{field.replace('_', '-')}")
        elif getattr(rollout, field) != (model := type(rollout).model_fields[field]).get_default(
            call_default_factory=True
        ):
            unused.append(f"rollout.{model.alias or field}")
    return unused


def routes_at(settings: StackSettings, weight: int) -> tuple[Route, ...]:
    """The routes the stack's outputs will hold with the canary at `weight`: what the split gate
    verifies after that step's update, planned as `render` plans them."""
    assert settings.canary is not None
    at_weight = settings.model_copy(update={"canary": settings.canary.model_copy(update={"weight": weight})})
    release = plan_canary_release(Collector(), RELEASE_NAME, release_args(at_weight))
    return parse_routes(release.outputs["routes"], f"the routes at {weight}%")


def split_requests(settings: StackSettings, policy: Policy) -> dict[int, int]:
    """Requests per route the split gate will send at each step left, as the real run sizes them
    (`--requests` is the floor; a low weight needs more to see a canary that gets none)."""
    steps = policy.remaining(settings.weight)
    if settings.canary is None or not steps:
        return {}
    routes = {weight: routes_at(settings, weight) for weight in steps}
    tests = split_tests(len(steps), len(routes[steps[0]]), len(settings.versions))
    alpha = split_alpha(policy, tests)
    tolerance = policy.limits.split_tolerance
    return {
        weight: max(policy.verify_requests, requests_to_see_a_missing_version(found, tolerance, alpha))
        for weight, found in routes.items()
    }


def plan_document(stack: str, settings: StackSettings, policy: Policy, promote: bool, retire: bool) -> dict[str, Any]:
    """What a rollout would do, as data: the dry run prints it."""
    canary = settings.canary
    limits = policy.limits
    requests = split_requests(settings, policy)
    return {
        "stack": stack,
        "canary": canary.version if canary else None,
        "stable": settings.stable_version,
        "weight": settings.weight,
        "steps": list(policy.remaining(settings.weight)) if canary else [],
        "sequence": steps_module.describe(steps_module.Steps(policy.steps, policy.pauses), settings.weight)
        if canary
        else [],
        "step_seconds": policy.step_seconds,
        "gates": {
            "split": {
                "requests_per_route": {str(weight): n for weight, n in requests.items()},
                "tolerance_points": limits.split_tolerance,
            },
            "health": {
                "prometheus": redact_url(policy.prometheus),
                "prometheus_auth": auth_summary(settings.rollout.prometheus_auth),
                "metrics": [metric_summary(metric) for metric in settings.rollout.metrics],
                "max_error_rate": limits.max_error_rate,
                "max_p99_ms": limits.max_p99_ms,
                "max_p99_ratio": limits.max_p99_ratio,
                "alpha": limits.alpha,
                "analysis_seconds": policy.analysis_seconds,
                "min_requests": policy.min_requests,
                "hold_seconds": policy.hold_seconds,
            }
            if policy.prometheus
            else None,
            "webhook": redact_url(policy.webhook) if policy.webhook else None,
            "confirm": redact_url(policy.confirm) if policy.confirm else None,
        },
        "notify": len(policy.notify),
        "then": (["promote"] if promote or retire else []) + (["retire " + settings.stable_version] if retire else []),
    }


def auth_summary(auth: PrometheusAuthSettings) -> str:
    """Where the credentials come from, never what they are."""
    parts = []
    if auth.bearer_token_env:
        parts.append(f"bearer token from ${auth.bearer_token_env}")
    if auth.bearer_token_file:
        parts.append(f"bearer token from {auth.bearer_token_file}")
    if auth.basic_auth is not None:
        basic = auth.basic_auth
        where = f"${basic.password_env}" if basic.password_env else f"secret {basic.password_secret}"
        parts.append(f"basic auth as {basic.username}, password from {where}")
    if auth.headers:
        parts.append("headers " + ", ".join(sorted(auth.headers)))
    if auth.ca_file:
        parts.append(f"CA bundle {auth.ca_file}")
    return "; ".join(parts) or "none"


def metric_summary(metric: MetricSettings) -> dict[str, Any]:
    """One of `rollout.metrics` as the plan shows it."""
    if metric.kind == "ratio":
        rule = f"canary's ({metric.bad}) / ({metric.total}) not above stable's, anytime-valid"
    else:
        bounds = " and ".join(
            text
            for text in (
                f"at least {metric.min:g}" if metric.min is not None else "",
                f"at most {metric.max:g}" if metric.max is not None else "",
            )
            if text
        )
        rule = (
            f"{metric.query} {bounds}; fails after {metric.consecutive_failures} consecutive bad polls "
            "(not alpha-bounded)"
        )
    return {"name": metric.name, "kind": metric.kind, "rule": rule}


def requests_per_step(per_step: Mapping[str, int]) -> str:
    """`318 requests per route at 5%, 200 at 10%, 25%`: each number once, for the steps in a row that share it."""
    parts: list[str] = []
    previous = None
    for weight, n in per_step.items():
        if n == previous:
            parts.append(f"{weight}%")
        else:
            parts.append(f"{n} at {weight}%" if parts else f"{n} requests per route at {weight}%")
        previous = n
    return ", ".join(parts) or "no step left"


def print_plan(document: dict[str, Any]) -> None:
    lines = [
        f"stack {document['stack']}: canary {document['canary']} at {document['weight']}%, stable {document['stable']}"
    ]
    lines.append(f"steps: {', '.join(document['sequence']) or 'none left'}, each watched {document['step_seconds']:g}s")
    gates = document["gates"]
    split = gates["split"]
    lines.append(
        f"gate split: verify, {requests_per_step(split['requests_per_route'])}, "
        f"within {split['tolerance_points']:g} points"
    )
    health = gates["health"]
    if health:
        lines.append(
            f"gate health: {health['prometheus']}, polled every {health['analysis_seconds']:g}s: canary 5xx at most "
            f"{health['max_error_rate']:g}% and not above stable's; p99 at most {health['max_p99_ms']:g} ms and "
            f"{health['max_p99_ratio']:g} times stable's; false-rollback chance {health['alpha']:g} for the whole "
            f"release; at least {health['min_requests']} canary requests per step; a step held (thin evidence, "
            f"both versions failing alike) at most {health['hold_seconds']:g}s longer, then the rollout stops, held"
        )
        lines.append(f"  Prometheus auth: {health['prometheus_auth']}")
        for metric in health["metrics"]:
            lines.append(f"  metric {metric['name']} ({metric['kind']}): {metric['rule']}")
    else:
        lines.append("gate health: off (no --prometheus or rollout.prometheus)")
    lines.append(f"gate webhook: {gates['webhook'] or 'off'}")
    lines.append(f"confirm: {gates['confirm'] + ' (holds until 2xx)' if gates['confirm'] else 'off'}")
    if document["notify"]:
        lines.append(f"notify: every event to {document['notify']} Apprise URL(s)")
    lines.append("then: " + (", ".join(document["then"]) or "stop at the last step"))
    lines.append(
        "on a failed gate: canary.weight 0 in one update (cookie and header testers keep the canary); "
        "held past the hold limit: the weight stays, exit 3"
    )
    print("\n".join(lines))


def report_path_problem(path: Path) -> str | None:
    """Why the HTML report could not be written to `path`, checked before anything changes, so a
    rollout never runs for an hour to lose its report to a typo."""
    folder = path.parent
    if path.is_dir():
        return f"argument --report: {shown(path)} is a folder; name a file such as rollout.html"
    if not folder.is_dir():
        return f"argument --report: folder {shown(folder)} does not exist, got {str(path)!r}"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"argument --report: {shown(path)} is not writable"
    return None


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """The page, or one line on stderr when it cannot be written after all (the rollout's exit
    status stays its verdict's: what happened to the traffic matters more than the page)."""
    try:
        write_replacing(path, render_html(report))
    except OSError as err:
        print(f"{PROG}: warning: could not write the report to {shown(path)}: {err.strerror or err}", file=sys.stderr)
    else:
        print(f"report: {shown(path)}", file=sys.stderr)


def confirm_gate(url: str, payload: Mapping[str, Any]) -> GateResult:
    """The confirm webhook: the webhook gate's POST, whose failure holds the rollout instead."""
    return dataclasses.replace(webhook_gate(url, payload), gate="confirm")


def record_outcome(tags: TagStore, settings: StackSettings, report: RolloutReport) -> None:
    """The release's last rollout, for `canary rollout --decide`: which canary, how it ended."""
    try:
        tags.write(release_tags.LAST, encode(last_record(settings, report.outcome, report.started_at)))
    except TagStoreError as err:
        _warn(f"warning: {err}")


def _release(control: TagControl, lock: ReleaseLock) -> None:
    try:
        control.close()
        lock.release()
    except TagStoreError as err:
        _warn(f"warning: {err}; `canary rollout --stack STACK --unlock` removes the lock")


def _warn(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def operate(args: argparse.Namespace) -> int:
    """--approve, --abort, --unlock, --status: the stack's running rollout, through its tags."""
    if shutil.which("pulumi") is None:
        return _fail("the Pulumi CLI (pulumi) is not on PATH")
    from canary.rollout.pulumi_stack import AutomationStack

    try:
        stack = AutomationStack(args.project_dir, args.stack)
    except Exception as err:  # the Automation API raises its own types for a stack it cannot select
        return _fail(f"cannot select stack {args.stack}: {first_line(err)}")
    tags = stack.tags()
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        if args.approve:
            line = control_module.approve(tags, args.stack, stack.who(), now, full=args.full)
        elif args.abort:
            line = control_module.abort(tags, args.stack, stack.who(), now)
        elif args.status:
            line, document = control_module.status(tags, args.stack)
            if args.json:
                line = json.dumps(document, indent=2)
        else:
            line = unlock(tags, args.stack)
    except (control_module.ControlError, LockedError, TagStoreError) as err:
        return _fail(str(err))
    print(line)
    return exit_status.OK


def decide_command(args: argparse.Namespace, settings: StackSettings) -> int:
    """--decide: what CI should do on this push, as a line (or --json) and an exit status."""
    if shutil.which("pulumi") is None:
        return _fail("the Pulumi CLI (pulumi) is not on PATH")
    from canary.rollout.pulumi_stack import AutomationStack

    try:
        stack = AutomationStack(args.project_dir, args.stack)
    except Exception as err:  # the Automation API raises its own types for a stack it cannot select
        return _fail(f"cannot select stack {args.stack}: {first_line(err)}")
    tags = stack.tags()
    try:
        decision = decide(settings, tags.read(), ReleaseLock(tags, args.stack, holder="").stale)
    except TagStoreError as err:
        return _fail(str(err))
    if args.json:
        print(json.dumps({"stack": args.stack, **decision.to_json()}, indent=2))
    else:
        print(f"{decision.action}: {decision.reason}")
    return decision.exit_code


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return exit_status.USAGE


def main(argv: Sequence[str]) -> int:
    try:
        args = parse_flags(parser(), argv)
    except UsageError as err:
        return _fail(str(err))
    if isinstance(args, int):
        return args
    if args.full and not args.approve:
        return _fail("argument --full: only with --approve")
    if args.approve or args.abort or args.unlock or args.status:
        return operate(args)
    if args.report is not None and (problem := report_path_problem(args.report)) is not None:
        return _fail(problem)
    masker = Masker()
    try:
        read = read_stack(args.project_dir, args.stack)
        for warning in read.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        project = find_project(args.project_dir)
        revealed = {path: reveal(project, args.stack, path) for path in read.secrets}
        masker = Masker(tuple(secret for secret in revealed.values() if secret))
        settings = parse_settings(with_secrets(read.values, revealed))
        policy = resolve_policy(args, settings)
    except (StackFileError, UsageError, SecretUnavailableError, ArgsError) as err:
        return _fail(masker.text(str(err)))
    except ConfigError as err:
        return _fail(masker.text(f"stack {args.stack}: {err}"))
    if unused := unused_health_settings(args, settings, policy):
        print(
            f"{PROG}: warning: {', '.join(unused)} ignored: "
            "the health gate is off (no --prometheus or rollout.prometheus)",
            file=sys.stderr,
        )
    if args.decide:
        return decide_command(args, settings)
    recorder = None
    if args.git_commit or args.git_push:
        recorder = GitRecorder(args.project_dir, args.stack, push=args.git_push, warn=_warn)
        if shutil.which("git") is None:
            return _fail("--git-commit: git is not on PATH")
        if (problem := recorder.problem()) is not None:
            return _fail(problem)
    try:
        # Apprise reads the URLs now, so that one it cannot send to is refused before anything changes.
        notifier = Notifier(
            policy.notify,
            warn=_warn,
            setting="argument --notify" if args.notify else "rollout.notify",
            mask=masker.text,
        )
    except NotifyError as err:
        return _fail(str(err))
    promote = args.promote or args.retire
    try:
        access = (
            prometheus_access(
                policy.prometheus,
                settings.rollout.prometheus_auth,
                read_secret=_secret_reader(args.project_dir, args.stack),
            )
            if policy.prometheus
            else None
        )
    except AccessError as err:
        return _fail(str(err))
    if args.dry_run:
        return _dry_run(args, settings, policy, promote, masker, access)
    if shutil.which("pulumi") is None:
        return _fail("the Pulumi CLI (pulumi) is not on PATH")
    return _run(args, settings, policy, promote, masker, notifier, recorder, access)


def _dry_run(
    args: argparse.Namespace,
    settings: StackSettings,
    policy: Policy,
    promote: bool,
    masker: Masker,
    access: PrometheusAccess | None,
) -> int:
    """Check what must work, and print the plan; change nothing."""
    if settings.canary is None:
        return _fail(no_canary(args.stack))
    problem = preflight.problem(
        policy,
        release(settings),
        url=args.url,
        outputs=lambda: _outputs_for_dry_run(args.project_dir, args.stack),
        stack=args.stack,
        prometheus=access,
        metrics=settings.rollout.metrics,
    )
    if problem is not None:
        return _fail(masker.text(problem))
    try:
        document = masker.document(plan_document(args.stack, settings, policy, promote, args.retire))
    except ArgsError as err:
        return _fail(masker.text(f"stack {args.stack}: {err}"))
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print_plan(document)
    return exit_status.OK


def _secret_reader(project_dir: Path, stack: str) -> SecretReader:
    """Reads a secret of the stack through the Automation API, only when a key asks for one."""

    def read(key: str) -> tuple[str, bool] | None:
        if shutil.which("pulumi") is None:
            raise AccessError(
                f"rollout.prometheusAuth.basicAuth.passwordSecret: reading {key} needs the Pulumi CLI (pulumi) on PATH"
            )
        from canary.rollout.pulumi_stack import AutomationStack

        try:
            return AutomationStack(project_dir, stack).config_value(key)
        except Exception as err:  # the Automation API raises its own types
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise AccessError(
                f"rollout.prometheusAuth.basicAuth.passwordSecret: cannot read {key} of stack {stack}: {first_line}"
            ) from None

    return read


def release(settings: StackSettings) -> preflight.Release:
    canary = settings.canary.version if settings.canary else settings.stable_version
    versions = tuple(dict.fromkeys((settings.stable_version, canary)))
    return preflight.Release(settings.namespace, settings.app, settings.stable_version, versions)


def _outputs_for_dry_run(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's outputs, for the split gate's URL; a dry run reads them only without --url."""
    if shutil.which("pulumi") is None:
        raise preflight.OutputsUnavailableError(
            "the split gate's URL comes from the stack's outputs, which need the Pulumi CLI (pulumi) on PATH: "
            "pass --url"
        )
    from canary.rollout.pulumi_stack import AutomationStack

    try:
        return AutomationStack(project_dir, stack).outputs()
    except Exception as err:  # the Automation API raises its own types for a stack it cannot select
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise preflight.OutputsUnavailableError(f"cannot read the outputs of stack {stack}: {first_line}") from None


def health_watch(
    policy: Policy,
    settings: StackSettings,
    tags: TagStore | None = None,
    *,
    forget: bool = False,
    access: PrometheusAccess | None = None,
) -> HealthWatch | None:
    """The analysis of this invocation, reading the mesh's counters and the team's own metrics,
    continuing the evidence of the release kept in the stack's `tags`; None without Prometheus.
    RolloutRefusedError when the kept evidence cannot be read or continued."""
    if not policy.prometheus or settings.canary is None:
        return None
    from canary.rollout.analysis import SequentialAnalysis
    from canary.rollout.custom_metrics import MetricsWatch
    from canary.rollout.kept_analysis import KeptAnalysis
    from canary.rollout.prometheus import MeshReader
    from canary.rollout.watch import HealthWatch

    canary, stable = settings.canary.version, settings.stable_version
    prometheus = access or PrometheusAccess.of(policy.prometheus)
    reader = MeshReader(prometheus, settings.namespace, settings.app, [stable, canary])
    shares = alpha_shares(ratio_metrics(settings))
    # The baseline is read at the weight the stack stands at: counting begins there.
    analysis = SequentialAnalysis(limits=policy.limits, alpha_shares=shares, weight=settings.weight)
    metrics = (
        MetricsWatch.reading(
            prometheus,
            settings.rollout.metrics,
            namespace=settings.namespace,
            app=settings.app,
            stable=stable,
            canary=canary,
            alpha_each=policy.limits.alpha / shares,
            weight=settings.weight,
            step=policy.analysis_seconds,
        )
        if settings.rollout.metrics
        else None
    )
    kept = KeptAnalysis(tags, stable, canary) if tags is not None else None
    note = ""
    try:
        found = None
        if kept is not None and forget:
            kept.forget()
        elif kept is not None:
            found = kept.load()
        if found is not None:
            analysis = SequentialAnalysis.resumed(found.state, policy.limits, alpha_shares=shares)
            if metrics is not None:
                metrics.restore(found.state.get("metrics") or {})
            e_values = ", ".join(f"{r.test} {r.e_value:.3g}" for r in analysis.results())
            note = (
                f"continuing the evidence of {kept.release if kept else ''} kept with the stack "
                f"(saved {found.saved_at} at {found.weight}%): e-values {e_values}"
            )
    except TagStoreError as err:
        # A backend without tags (a DIY backend before Pulumi CLI v3.211) still rolls out: the
        # evidence then lives as long as the run, and alpha holds per run.
        print(f"{PROG}: warning: {err}: the analysis' evidence is not kept between runs", file=sys.stderr)
        kept, note = None, ""
    except ValueError as err:
        raise RolloutRefusedError(
            f"{err}: an e-process cannot change its alpha, its limits or its metrics midway; rerun with the same "
            "settings, or with --forget-evidence to start the analysis anew (nothing changed)"
        ) from None
    seconds, step = HISTORY_SECONDS, policy.analysis_seconds
    return HealthWatch(
        read=reader.read,
        analysis=analysis,
        stable=stable,
        canary=canary,
        metrics=metrics,
        kept=kept,
        resumed_note=note,
        history=lambda: reader.history(stable, seconds, step, time.time()),
    )


def ratio_metrics(settings: StackSettings) -> int:
    return sum(metric.kind == "ratio" for metric in settings.rollout.metrics)


def _run(
    args: argparse.Namespace,
    settings: StackSettings,
    policy: Policy,
    promote: bool,
    masker: Masker,
    notifier: Notifier,
    recorder: GitRecorder | None,
    access: PrometheusAccess | None,
) -> int:
    from canary.rollout.pulumi_stack import AutomationStack
    from canary.rollout.view import ConsoleView

    target = EntryPoint(url=args.url, host=args.host, insecure=args.insecure)
    view = MaskedView(ConsoleView(live=None if not args.json else False), masker)
    confirm_url = policy.confirm
    # A CI runner's TERM stops the rollout as Ctrl-C does: the weight stays where the file says.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with StackLock(args.project_dir, args.stack):
            stack = AutomationStack(args.project_dir, args.stack)
            tags = stack.tags()
            lock = ReleaseLock(tags, args.stack, holder=f"{stack.who()} pid {os.getpid()}").acquire()
            if lock.took_over is not None:
                _warn(f"warning: took over the stale rollout lock of {describe_holder(lock.took_over)}")
            control = TagControl(tags, lock.run, lease=lock, warn=_warn)
            try:
                outputs = stack.outputs()
                routes = outputs.get("routes")
                tests = split_tests(
                    len(policy.remaining(settings.weight)),
                    len(routes) if isinstance(routes, list) else 1,
                    len(settings.versions),
                )
                alpha = split_alpha(policy, tests, alpha_shares(ratio_metrics(settings)))
                gates = Gates(
                    split=lambda outputs: split_gate(outputs, target, policy, alpha),
                    webhook=lambda payload: masker.gate(webhook_gate(policy.webhook, payload)),
                    health=health_watch(policy, settings, tags, forget=args.forget_evidence, access=access),
                    confirm=None
                    if not confirm_url
                    else lambda payload: masker.gate(confirm_gate(confirm_url, payload)),
                )
                checks = lambda: preflight.problem(  # noqa: E731
                    policy,
                    release(settings),
                    url=args.url,
                    outputs=lambda: outputs,
                    stack=args.stack,
                    prometheus=access,
                    metrics=settings.rollout.metrics,
                )
                report = Rollout(
                    stack=stack if recorder is None else CommittingStack(stack, recorder),
                    policy=policy,
                    gates=gates,
                    view=view,
                    preflight=checks,
                    control=control,
                    notify=notifier,
                    run_id=lock.run,
                ).run(promote=promote, retire=args.retire)
                record_outcome(tags, settings, report)
            finally:
                _release(control, lock)
    except (LockedError, RolloutRefusedError, TagStoreError, StackError) as err:
        return _fail(masker.text(str(err)))
    except KeyboardInterrupt:
        # Interrupted before the first step (the engine reports any later interruption itself).
        print(f"{PROG}: interrupted before any step; nothing changed", file=sys.stderr)
        return exit_status.INTERRUPTED
    document = masker.document(report.to_json())
    if args.report is not None:
        write_report(args.report, document)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        summary = {"completed": "every step passed", "promoted": "promoted", "retired": "promoted and retired"}
        if report.verdict_seconds is not None:
            print(f"verdict after {report.verdict_seconds:.0f}s", file=sys.stderr)
        print(masker.text(f"{report.outcome}: {summary.get(report.outcome, report.reason)}"))
    return report.exit_code
