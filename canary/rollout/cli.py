"""`python -m canary rollout`: flags and stack config in, a rollout (or its plan) out.

Exit status: 0 when every step passed (and the canary was promoted, if asked), 1 when the canary
was rolled back (a failed gate), 2 for bad flags or config or a rollout that cannot start, its
preflight included (nothing changed), 3 when it stopped held (evidence too thin, or both versions
failing alike, past the hold limit: the weight kept), 130 when interrupted (the weight is left
where the stack file says).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from canary.config import ConfigError, StackSettings, parse_settings
from canary.config.files import StackFileError, stack_config
from canary.config.metrics import MetricSettings
from canary.config.prometheus_auth import PrometheusAuthSettings
from canary.policy import (
    Limits,
    Policy,
    alpha_problem,
    parse_duration,
    percent_problem,
    steps_problem,
    tolerance_problem,
    url_problem,
)
from canary.redact import redact_url
from canary.rollout import preflight
from canary.rollout.engine import EXIT_DONE, EXIT_INTERRUPTED, EXIT_REFUSED, Gates, Rollout, RolloutRefusedError
from canary.rollout.gates import EntryPoint, alpha_shares, split_alpha, split_gate, split_tests, webhook_gate
from canary.rollout.html_report import render_html
from canary.rollout.lock import LockedError, StackLock
from canary.rollout.prometheus import PrometheusAccess
from canary.rollout.prometheus_auth import AccessError, SecretReader, prometheus_access
from canary.rollout.release_tags import TagStore, TagStoreError

if TYPE_CHECKING:
    from canary.rollout.watch import HealthWatch

PROG = "canary rollout"
# Stable's history read before the rollout, to calibrate the analysis on how its 5xx vary.
HISTORY_SECONDS = 600.0


class UsageError(Exception):
    """Bad flags or config; the message is one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Walk the stack's canary through its weights with `pulumi up`, judge each step, "
        "then promote it, or roll it back to 0% on the first failed gate.",
    )
    p.add_argument("--stack", required=True, help="the stack to roll out (its Pulumi.<stack>.yaml)")
    p.add_argument("--steps", help="canary weights, rising, e.g. 5,10,25,50 (default: rollout.steps)")
    p.add_argument("--step-duration", metavar="DURATION", help="how long each step is watched: 90s, 2m, 1h")
    p.add_argument("--prometheus", metavar="URL", help="Prometheus for the health gate (default: rollout.prometheus)")
    p.add_argument("--max-error-rate", type=float, metavar="PERCENT", help="5xx share the canary may have")
    p.add_argument("--max-p99-ms", type=float, metavar="MS", help="p99 latency the canary may have")
    p.add_argument("--max-p99-ratio", type=float, metavar="TIMES", help="times stable's p99 the canary's may be")
    p.add_argument("--webhook", metavar="URL", help="POST each step's figures here; a non-2xx answer fails it")
    p.add_argument("--promote", action="store_true", help="after the last step: the canary becomes stable")
    p.add_argument("--retire", action="store_true", help="after promoting: remove the old version (implies --promote)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (steps, gates, thresholds); change nothing")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.add_argument("--report", type=Path, metavar="FILE.html", help="also write the report as one HTML page")
    p.add_argument("--url", help="where the split gate sends requests (default: the stack's first URL)")
    p.add_argument("--host", help="Host header for the split gate, when --url is a load balancer address")
    p.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    p.add_argument(
        "--requests", type=int, help=f"requests per route the split gate sends (default {Policy().verify_requests})"
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
    p.add_argument("--project-dir", "--cwd", "-C", type=Path, default=Path("."), help="Pulumi.yaml's folder, or below")
    return p


def resolve_policy(args: argparse.Namespace, settings: StackSettings) -> Policy:
    """The stack's `rollout` config, overridden by the flags given; UsageError for a bad flag."""
    config = settings.rollout
    steps_text = args.steps
    if steps_text is not None:
        try:
            steps = [int(part) for part in steps_text.split(",")]
        except ValueError:
            raise UsageError(f"argument --steps: must be weights such as 5,10,25,50, got {steps_text!r}") from None
        if (reason := steps_problem(steps)) is not None:
            raise UsageError(f"argument --steps: {reason}, got {steps_text!r}")
    else:
        steps = list(config.steps)
    durations = {}
    for flag, configured in (
        ("step_duration", config.step_duration),
        ("analysis_interval", config.analysis_interval),
        ("hold_limit", config.hold_limit),
    ):
        text = getattr(args, flag) if getattr(args, flag) is not None else configured
        if (seconds := parse_duration(text)) is None:
            name = flag.replace("_", "-")
            raise UsageError(f"argument --{name}: must be a duration such as 90s, 2m or 1h, got {text!r}")
        durations[flag] = seconds
    for flag in ("prometheus", "webhook", "url"):
        value = getattr(args, flag)
        if value is not None and (reason := url_problem(value)) is not None:
            raise UsageError(f"argument --{flag}: {reason}, got {redact_url(value)!r}")
    for flag in ("max_error_rate", "max_p99_ms", "max_p99_ratio"):
        value = getattr(args, flag)
        if value is not None and not value > 0:
            raise UsageError(f"argument --{flag.replace('_', '-')}: must be more than zero, got {value:g}")
    if args.max_error_rate is not None and (reason := percent_problem(args.max_error_rate)) is not None:
        raise UsageError(f"argument --max-error-rate: {reason}, got {args.max_error_rate:g}")
    if args.alpha is not None and (reason := alpha_problem(args.alpha)) is not None:
        raise UsageError(f"argument --alpha: {reason}, got {args.alpha:g}")
    if args.split_tolerance is not None and (reason := tolerance_problem(args.split_tolerance)) is not None:
        raise UsageError(f"argument --split-tolerance: {reason}, got {args.split_tolerance:g}")
    for flag in ("requests", "min_requests"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"argument --{flag.replace('_', '-')}: must be at least 1, got {value}")

    def chosen(flag: Any, configured: Any) -> Any:
        return flag if flag is not None else configured

    return Policy(
        steps=tuple(steps),
        step_seconds=durations["step_duration"],
        analysis_seconds=durations["analysis_interval"],
        min_requests=chosen(args.min_requests, config.min_requests),
        hold_seconds=durations["hold_limit"],
        limits=Limits(
            max_error_rate=chosen(args.max_error_rate, config.max_error_rate),
            max_p99_ms=chosen(args.max_p99_ms, config.max_p99_ms),
            max_p99_ratio=chosen(args.max_p99_ratio, config.max_p99_ratio),
            alpha=chosen(args.alpha, config.alpha),
            split_tolerance=chosen(args.split_tolerance, config.split_tolerance),
        ),
        prometheus=chosen(args.prometheus, config.prometheus) or None,
        webhook=chosen(args.webhook, config.webhook) or None,
        verify_requests=chosen(args.requests, Policy.verify_requests),
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


def plan_document(stack: str, settings: StackSettings, policy: Policy, promote: bool, retire: bool) -> dict[str, Any]:
    """What a rollout would do, as data: the dry run prints it."""
    canary = settings.canary
    limits = policy.limits
    return {
        "stack": stack,
        "canary": canary.version if canary else None,
        "stable": settings.stable_version,
        "weight": settings.weight,
        "steps": list(policy.remaining(settings.weight)) if canary else [],
        "step_seconds": policy.step_seconds,
        "gates": {
            "split": {"requests_per_route": policy.verify_requests, "tolerance_points": limits.split_tolerance},
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
        },
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


def print_plan(document: dict[str, Any]) -> None:
    lines = [
        f"stack {document['stack']}: canary {document['canary']} at {document['weight']}%, stable {document['stable']}"
    ]
    steps = document["steps"]
    lines.append(
        f"steps: {', '.join(f'{s}%' for s in steps) or 'none left'}, each watched {document['step_seconds']:g}s"
    )
    gates = document["gates"]
    split = gates["split"]
    lines.append(
        f"gate split: verify, {split['requests_per_route']} requests per route, "
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
        return f"argument --report: {path} is a folder; name a file such as rollout.html"
    if not folder.is_dir():
        return f"argument --report: folder {folder} does not exist, got {str(path)!r}"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"argument --report: {path} is not writable"
    return None


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """The page, or one line on stderr when it cannot be written after all (the rollout's exit
    status stays its verdict's: what happened to the traffic matters more than the page)."""
    try:
        path.write_text(render_html(report), encoding="utf-8")
    except OSError as err:
        print(f"{PROG}: warning: could not write the report to {path}: {err.strerror or err}", file=sys.stderr)
    else:
        print(f"report: {path}", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_REFUSED


def main(argv: Sequence[str]) -> int:
    try:
        args = parser().parse_args(list(argv))
    except UsageError as err:
        return _fail(str(err))
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else EXIT_DONE
    if args.report is not None and (problem := report_path_problem(args.report)) is not None:
        return _fail(problem)
    try:
        settings = parse_settings(stack_config(args.project_dir, args.stack))
        policy = resolve_policy(args, settings)
    except (StackFileError, UsageError) as err:
        return _fail(str(err))
    except ConfigError as err:
        return _fail(f"stack {args.stack}: {err}")
    if unused := unused_health_settings(args, settings, policy):
        print(
            f"{PROG}: warning: {', '.join(unused)} ignored: "
            "the health gate is off (no --prometheus or rollout.prometheus)",
            file=sys.stderr,
        )
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
        if settings.canary is not None:
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
                return _fail(problem)
        document = plan_document(args.stack, settings, policy, promote, args.retire)
        if args.json:
            print(json.dumps(document, indent=2))
        else:
            print_plan(document)
        return EXIT_DONE
    if shutil.which("pulumi") is None:
        return _fail("the Pulumi CLI (pulumi) is not on PATH")
    return _run(args, settings, policy, promote, access)


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
        raise RolloutRefusedError(f"{err}: nothing changed") from None
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
    args: argparse.Namespace, settings: StackSettings, policy: Policy, promote: bool, access: PrometheusAccess | None
) -> int:
    from canary.rollout.pulumi_stack import AutomationStack
    from canary.rollout.view import ConsoleView

    target = EntryPoint(url=args.url, host=args.host, insecure=args.insecure)
    view = ConsoleView(live=None if not args.json else False)
    # A CI runner's TERM stops the rollout as Ctrl-C does: the weight stays where the file says.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with StackLock(args.project_dir, args.stack):
            stack = AutomationStack(args.project_dir, args.stack)
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
                webhook=lambda payload: webhook_gate(policy.webhook, payload),
                health=health_watch(policy, settings, stack.tags(), forget=args.forget_evidence, access=access),
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
            report = Rollout(stack=stack, policy=policy, gates=gates, view=view, preflight=checks).run(
                promote=promote, retire=args.retire
            )
    except (LockedError, RolloutRefusedError) as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        # Interrupted before the first step (the engine reports any later interruption itself).
        print(f"{PROG}: interrupted before any step; nothing changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    document = report.to_json()
    if args.report is not None:
        write_report(args.report, document)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        summary = {"completed": "every step passed", "promoted": "promoted", "retired": "promoted and retired"}
        if report.verdict_seconds is not None:
            print(f"verdict after {report.verdict_seconds:.0f}s", file=sys.stderr)
        print(f"{report.outcome}: {summary.get(report.outcome, report.reason)}")
    return report.exit_code
