"""The ``verify`` and ``traffic`` commands: flags, where the routes come from, exit codes.

``canary verify`` and ``canary traffic`` call ``verify_main`` and ``traffic_main`` with the
arguments after the subcommand. Every failure a user can cause (a bad flag, unreadable routes,
an unreachable URL) ends as one line on stderr and exit status 2, never a traceback; the
statuses are `canary.support.exit_status`'s, the same in every command.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from canary.cli.flags import (
    CommandParser,
    UsageError,
    duration,
    examples,
    host_header,
    parse_flags,
    path_flag,
    whole_number,
)
from canary.plan.rules.checks import show
from canary.policy import MAX_SPLIT_REQUESTS, percent_problem
from canary.support import exit_status
from canary.support.redact import redact_text, redact_url
from canary.support.visible_text import say
from canary.traffic.client import Endpoint
from canary.traffic.expected import TOKEN, UNSET, Expectation, ExpectationError, load_file, load_stack
from canary.traffic.versions import DEFAULT_HEADER, VersionReader, compile_pattern

_LOG_EVERY = 5.0
# Percent of a route's requests that may fail, as `canary rollout --max-error-rate` counts it.
DEFAULT_MAX_ERROR_RATE = 1.0
DEFAULT_STICKY_CLIENTS = 100
DEFAULT_STICKY_REQUESTS = 5


def _number(accept: Callable[[float], bool], requirement: str) -> Callable[[str], float]:
    """A flag parser for a number that `accept`s; anything else is refused with `requirement`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        # NaN fails every comparison, so text that is not a number is refused too.
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"{requirement}, got {show(text)}")
        return value

    return parse


def _up_to(most: float) -> Callable[[str], float]:
    return _number(lambda v: 0 < v <= most, f"must be a number above 0 and at most {most:g}")


# Ranges far beyond any use, and short of what would overflow a timer or never end.
_MAX_TIMEOUT = 300
_rate = _up_to(100_000)
_MAX_INTERVAL = 3600
TRAFFIC_MAX_SECONDS = 7 * 24 * 3600
_open_fraction = _number(lambda v: 0 < v < 1, "must be between 0 and 1 (e.g. 0.99)")


def _percent(text: str) -> float:
    """A percentage above 0 and at most 100, worded as `canary rollout` words it."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a percentage such as 1 or 0.5, got {show(text)}") from None
    # NaN and infinity fail its comparison too.
    if (reason := percent_problem(value)) is not None:
        raise argparse.ArgumentTypeError(f"{reason}, got {value:g}")
    return value


def _header_name(text: str) -> str:
    if not TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a header name, got {show(text)}")
    return text


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return compile_pattern(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {show(text)}") from None


def _common_parser(prog: str, description: str, shown: str) -> CommandParser:
    parser = CommandParser(prog=prog, description=description, examples=shown)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", metavar="NAME", help="read routes and URLs from this stack")
    source.add_argument("--routes", metavar="FILE", help="read routes from this JSON file (list or stack outputs)")
    parser.add_argument("--url", help="where to send requests (default: the stack's first URL)")
    parser.add_argument("--host", type=host_header, help="Host header to send, when --url is a load balancer address")
    version = parser.add_mutually_exclusive_group()
    version.add_argument(
        "--version-header",
        type=_header_name,
        metavar="NAME",
        help=f"answer header naming the version (default: the stack's, else {DEFAULT_HEADER})",
    )
    version.add_argument(
        "--version-pattern",
        type=_pattern,
        metavar="REGEX",
        help="read the version from the body instead: the first group, or the whole match",
    )
    parser.add_argument(
        "--concurrency", type=whole_number(1, 1000), default=32, metavar="N", help="requests in flight (default 32)"
    )
    parser.add_argument(
        "--timeout",
        type=duration(_MAX_TIMEOUT),
        default=5.0,
        metavar="DURATION",
        help="time for one request: 5s, 1m; a bare number is seconds (default 5s)",
    )
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument(
        "--cwd",
        "-C",
        type=path_flag,
        metavar="DIR",
        help="with --stack: run `pulumi stack output` in DIR, as `pulumi --cwd DIR` (default: .)",
    )
    return parser


def verify_parser() -> CommandParser:
    parser = _common_parser(
        "canary verify",
        "Send each route's kind of request and test whether the versions that answered match the expected split.",
        examples(
            ("Test the split of every route of the dev stack, sent to its first URL", "canary verify --stack dev"),
            (
                "Routes from the file render wrote, through a load balancer; one JSON object for CI",
                "canary verify --routes outputs.json --url http://203.0.113.10/ --host app.example.com --json",
            ),
        ),
    )
    parser.add_argument(
        "--requests",
        type=whole_number(1, MAX_SPLIT_REQUESTS),
        default=1000,
        metavar="N",
        help="requests per route (default 1000)",
    )
    parser.add_argument("--rate", type=_rate, metavar="RPS", help="cap on requests per second, all routes")
    parser.add_argument(
        "--confidence",
        type=_open_fraction,
        metavar="C",
        default=0.99,
        help="confidence of the test (default 0.99)",
    )
    parser.add_argument(
        "--max-error-rate",
        type=_percent,
        metavar="PERCENT",
        default=DEFAULT_MAX_ERROR_RATE,
        help=f"percent of a route's requests that may fail (default {DEFAULT_MAX_ERROR_RATE:g})",
    )
    # No argparse defaults: a value given while the stack has no sticky cookie is reported.
    parser.add_argument(
        "--sticky-clients",
        type=whole_number(1, 10_000),
        metavar="N",
        help="with the stack's sticky cookie: clients that keep it and must stay on one version "
        f"(default {DEFAULT_STICKY_CLIENTS})",
    )
    parser.add_argument(
        "--sticky-requests",
        type=whole_number(2, 100),
        metavar="N",
        help=f"requests each of those clients sends in a row (default {DEFAULT_STICKY_REQUESTS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object, for CI")
    return parser


def traffic_parser() -> CommandParser:
    parser = _common_parser(
        "canary traffic",
        "Send each route's kind of request in turn, steadily, and count the versions that "
        "answer, until the duration ends or Ctrl-C.",
        examples(
            ("Two requests a second to the dev stack's routes, until Ctrl-C", "canary traffic --stack dev"),
            ("Twenty a second for ten minutes", "canary traffic --stack dev --rate 20 --duration 10m"),
        ),
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--interval",
        type=duration(_MAX_INTERVAL),
        default=0.5,
        metavar="DURATION",
        help="time between requests: 0.5, 2s, 1m; a bare number is seconds (default 0.5s)",
    )
    pace.add_argument("--rate", type=_rate, metavar="RPS", help="requests per second instead of --interval")
    parser.add_argument(
        "--duration",
        type=duration(TRAFFIC_MAX_SECONDS),
        metavar="DURATION",
        help="how long to run: 90s, 10m, 1h; a bare number is seconds (default: until Ctrl-C)",
    )
    return parser


@dataclass(frozen=True)
class _Plan:
    url: str
    expectation: Expectation
    target: Endpoint
    reader: VersionReader


def _plan(args: argparse.Namespace) -> _Plan:
    """Routes, target and version reader from the flags; UsageError or ExpectationError."""
    if args.cwd is not None and not args.stack:
        raise UsageError("argument --cwd: only with --stack (the folder `pulumi stack output` runs in)")
    expectation = load_stack(args.stack, cwd=args.cwd) if args.stack else load_file(args.routes)
    url = args.url
    if url is None:
        if not expectation.urls:
            raise UsageError(f"{expectation.source} names no URL to send to; pass --url")
        url = expectation.urls[0]
    try:
        target = Endpoint.from_url(url, host=args.host, insecure=args.insecure)
    except ValueError as exc:
        flag = "--url" if args.url else "the URL"
        raise UsageError(f"argument {flag}: {exc}") from None
    if args.version_pattern is not None:
        reader = VersionReader(pattern=args.version_pattern)
    elif args.version_header is not None:
        reader = VersionReader(header=args.version_header)
    elif expectation.version_header is None:
        raise UsageError(
            f"{expectation.source} has the version header turned off (routing.versionHeader);"
            " pass --version-pattern REGEX or --version-header NAME"
        )
    elif expectation.version_header == UNSET:
        reader = VersionReader(header=DEFAULT_HEADER)
    else:
        reader = VersionReader(header=expectation.version_header)
    return _Plan(url=url, expectation=expectation, target=target, reader=reader)


def _fail(prog: str, message: str) -> int:
    say(f"{prog}: error: {message}", to=sys.stderr)
    return exit_status.USAGE


async def _reachable(plan: _Plan, timeout: float) -> str | None:
    from canary.traffic.load import probe
    from canary.traffic.verify import request_bytes

    request = request_bytes(plan.target, plan.expectation.routes[:1], "canary-probe")[0][0]
    problem = await probe(plan.target, request, timeout)
    if problem is None:
        return None
    return f"cannot reach {redact_url(plan.url)}: {redact_text(problem)}"


def _run_command(
    parser: CommandParser,
    argv: Sequence[str],
    command: Callable[[str, argparse.Namespace, _Plan], Awaitable[int]],
) -> int:
    """Parse and check the flags, check the target answers, then run `command(prog, args, plan)`.

    Every error is one line and exit status 2.
    """
    try:
        args = parse_flags(parser, argv)
        if isinstance(args, int):
            return args
        plan = _plan(args)
    except (UsageError, ExpectationError) as exc:
        return _fail(parser.prog, str(exc))

    async def reach_then_run() -> int:
        problem = await _reachable(plan, args.timeout)
        if problem:
            return _fail(parser.prog, problem)
        return await command(parser.prog, args, plan)

    try:
        return asyncio.run(reach_then_run())
    except KeyboardInterrupt:  # e.g. a second Ctrl-C while `traffic` is stopping
        say(f"{parser.prog}: interrupted", to=sys.stderr)
        return exit_status.INTERRUPTED


def verify_main(argv: Sequence[str]) -> int:
    """``python -m canary verify``: 0 when every route holds, 1 when one does not, 2 else."""
    return _run_command(verify_parser(), argv, _verify)


async def _verify(prog: str, args: argparse.Namespace, plan: _Plan) -> int:
    from canary.traffic import report
    from canary.traffic.load import Settings, Tally
    from canary.traffic.verify import Criteria, Stickiness, run_verify

    routes = plan.expectation.routes
    tallies = [Tally() for _ in routes]
    settings = Settings(concurrency=args.concurrency, rate=args.rate, timeout=args.timeout)
    criteria = Criteria(confidence=args.confidence, max_error_rate=args.max_error_rate / 100)
    cookie = plan.expectation.sticky_cookie
    clients = DEFAULT_STICKY_CLIENTS if args.sticky_clients is None else args.sticky_clients
    requests = DEFAULT_STICKY_REQUESTS if args.sticky_requests is None else args.sticky_requests
    stickiness = Stickiness(cookie, clients, requests) if cookie else None
    if cookie is None and (ignored := unused_sticky_flags(args)):
        say(
            f"{prog}: warning: {' and '.join(ignored)} ignored: {plan.expectation.source} names no sticky cookie"
            " (canary.sticky), so there is no stickiness to check",
            to=sys.stderr,
        )
    show = report.stderr_is_terminal()
    async with report.progress(routes, tallies, args.requests, show):
        verification = await run_verify(
            plan.target, routes, tallies, plan.reader, settings, args.requests, criteria, stickiness
        )
    if args.json:
        report.print_json(verification.to_json())
    else:
        report.print_verdict(verification)
    if not any(tally.reached for tally in tallies):
        return _fail(prog, f"no request got an HTTP answer from {redact_url(plan.url)}")
    return exit_status.OK if verification.ok else exit_status.FAILED


def unused_sticky_flags(args: argparse.Namespace) -> list[str]:
    """The sticky check's flags given: they mean nothing without a sticky cookie to check."""
    given = {"--sticky-clients": args.sticky_clients, "--sticky-requests": args.sticky_requests}
    return [flag for flag, value in given.items() if value is not None]


def traffic_main(argv: Sequence[str]) -> int:
    """``python -m canary traffic``: 0 after a clean stop (duration or Ctrl-C), 2 on errors."""
    return _run_command(traffic_parser(), argv, _traffic)


async def _traffic(prog: str, args: argparse.Namespace, plan: _Plan) -> int:
    from canary.traffic import report
    from canary.traffic.generate import run_traffic
    from canary.traffic.load import Settings, Tally

    routes = plan.expectation.routes
    tallies = [Tally() for _ in routes]
    rate = args.rate or 1 / args.interval
    settings = Settings(concurrency=args.concurrency, rate=rate, timeout=args.timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C (or a TERM from a CI runner) ends the run like --duration does: the summary
    # still prints and the exit status is 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with report.live_counts(routes, tallies, _LOG_EVERY):
            seconds = await run_traffic(plan.target, routes, tallies, plan.reader, settings, stop, args.duration)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    console = report.stdout_console()
    console.print(report.counts_table(routes, tallies, seconds))
    sent = sum(t.total for t in tallies)
    console.print(
        f"{sent:,} requests in {seconds:.1f} s ({sent / seconds if seconds else 0:,.1f}/s)",
        highlight=False,
    )
    return exit_status.OK
