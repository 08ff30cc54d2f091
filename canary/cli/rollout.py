"""`python -m canary rollout`: flags and stack config in, a rollout (or its plan) out.

Exit status: 0 when every step passed (and the canary was promoted, if asked), 1 when the canary
was rolled back (a failed gate), 2 for bad flags or config or a rollout that cannot start, its
preflight included (nothing changed), 3 when it stopped held (evidence too thin, both versions
failing alike, or a threshold metric out of bounds, past the hold limit: the weight kept), 130
when interrupted (the weight is left where the stack file says).
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from canary.cli.file_writes import write_replacing
from canary.cli.flags import UsageError, parse_flags
from canary.cli.rollout_flags import PROG, parser
from canary.config import ConfigError, StackSettings, parse_settings
from canary.config.files import StackFileError, find_project, read_stack
from canary.plan.rules.checks import ArgsError, show
from canary.policy import Policy
from canary.rollout import control as control_module
from canary.rollout import preflight, release_tags
from canary.rollout.control import TagControl
from canary.rollout.decide import decide, last_record
from canary.rollout.dry_run import plan_document, print_plan
from canary.rollout.engine import Rollout, RolloutRefusedError, no_canary
from canary.rollout.gates import (
    EntryPoint,
    GateResult,
    alpha_shares,
    split_alpha,
    split_gate,
    split_tests,
    webhook_gate,
)
from canary.rollout.git_record import CommittingStack, GitRecorder
from canary.rollout.health_setup import health_watch, ratio_metrics
from canary.rollout.interfaces import Gates
from canary.rollout.lock import LockedError, ReleaseLock, StackLock, describe_holder, unlock
from canary.rollout.notify import Notifier, NotifyError
from canary.rollout.overrides import FlagError, resolve_policy, unused_health_settings
from canary.rollout.prometheus import PrometheusAccess
from canary.rollout.prometheus_auth import AccessError, prometheus_access
from canary.rollout.pulumi_stack import StackError
from canary.rollout.release_tags import TagStore, TagStoreError, encode
from canary.rollout.report.html import render_html
from canary.rollout.run_report import RolloutReport
from canary.rollout.stack_access import StackUnavailableError, automation_stack, dry_run_outputs, secret_reader
from canary.rollout.stack_secrets import MaskedView, Masker, SecretUnavailableError, reveal, with_secrets
from canary.support import exit_status
from canary.support.bounded_read import shown
from canary.support.visible_text import say


def report_path_problem(path: Path) -> str | None:
    """Why the HTML report could not be written to `path`, checked before anything changes, so a
    rollout never runs for an hour to lose its report to a typo."""
    folder = path.parent
    if path.is_dir():
        return f"argument --report: {shown(path)} is a folder; name a file such as rollout.html"
    if not folder.is_dir():
        return f"argument --report: folder {shown(folder)} does not exist, got {show(str(path))}"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"argument --report: {shown(path)} is not writable"
    return None


def write_report(path: Path, report: RolloutReport) -> None:
    """The page, or one line on stderr when it cannot be written after all (the rollout's exit
    status stays its verdict's: what happened to the traffic matters more than the page)."""
    try:
        write_replacing(path, render_html(report))
    except OSError as err:
        say(f"{PROG}: warning: could not write the report to {shown(path)}: {err.strerror or err}", to=sys.stderr)
    else:
        say(f"report: {shown(path)}", to=sys.stderr)


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
    say(f"{PROG}: {message}", to=sys.stderr)


def operate(args: argparse.Namespace) -> int:
    """--approve, --abort, --unlock, --status: the stack's running rollout, through its tags."""
    try:
        stack = automation_stack(args.project_dir, args.stack)
    except StackUnavailableError as err:
        return _fail(str(err))
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
    say(line)
    return exit_status.OK


def decide_command(args: argparse.Namespace, settings: StackSettings) -> int:
    """--decide: what CI should do on this push, as a line (or --json) and an exit status."""
    try:
        stack = automation_stack(args.project_dir, args.stack)
    except StackUnavailableError as err:
        return _fail(str(err))
    tags = stack.tags()
    try:
        decision = decide(settings, tags.read(), ReleaseLock(tags, args.stack, holder="").stale)
    except TagStoreError as err:
        return _fail(str(err))
    if args.json:
        say(json.dumps({"stack": args.stack, **decision.to_json()}, indent=2))
    else:
        say(f"{decision.action}: {decision.reason}")
    return decision.exit_code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str) -> int:
    say(f"{PROG}: error: {message}", to=sys.stderr)
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
            say(f"warning: {warning}", to=sys.stderr)
        project = find_project(args.project_dir)
        revealed = {path: reveal(project, args.stack, path) for path in read.secrets}
        masker = Masker(tuple(secret for secret in revealed.values() if secret))
        settings = parse_settings(with_secrets(read.values, revealed))
        policy = resolve_policy(args, settings)
    except (StackFileError, UsageError, FlagError, SecretUnavailableError, ArgsError) as err:
        return _fail(masker.text(str(err)))
    except ConfigError as err:
        return _fail(masker.text(f"stack {args.stack}: {err}"))
    if unused := unused_health_settings(args, settings, policy):
        say(
            f"{PROG}: warning: {', '.join(unused)} ignored: "
            "the health gate is off (no --prometheus or rollout.prometheus)",
            to=sys.stderr,
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
                read_secret=secret_reader(args.project_dir, args.stack),
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
        outputs=lambda: dry_run_outputs(args.project_dir, args.stack),
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
        say(json.dumps(document, indent=2))
    else:
        print_plan(document)
    return exit_status.OK


def release(settings: StackSettings) -> preflight.Release:
    canary = settings.canary.version if settings.canary else settings.stable_version
    versions = tuple(dict.fromkeys((settings.stable_version, canary)))
    return preflight.Release(settings.namespace, settings.app, settings.stable_version, versions)


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
        say(f"{PROG}: interrupted before any step; nothing changed", to=sys.stderr)
        return exit_status.INTERRUPTED
    document = masker.document(report.to_json())
    if args.report is not None:
        write_report(args.report, masker.value(report))
    if args.json:
        say(json.dumps(document, indent=2))
    else:
        summary = {"completed": "every step passed", "promoted": "promoted", "retired": "promoted and retired"}
        if report.verdict_seconds is not None:
            say(f"verdict after {report.verdict_seconds:.0f}s", to=sys.stderr)
        say(masker.text(f"{report.outcome}: {summary.get(report.outcome, report.reason)}"))
    return report.exit_code
