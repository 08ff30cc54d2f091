"""What the routing is supposed to do: the routes, read from a stack or a file, checked.

The routes are read in the format of `canary.router.contract`, the contract the program writes them in.
Bad input is reported as one ``ExpectationError`` line naming where the problem is.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canary.router.contract import TOKEN, Route, RoutesError, parse_routes, short_json
from canary.support.bounded_read import MEBIBYTE, UnreadableFileError, read_text, shown
from canary.support.bounded_run import CommandOutputError, run_bounded

__all__ = [
    "TOKEN",
    "UNSET",
    "Expectation",
    "ExpectationError",
    "Route",
    "from_outputs",
    "load_file",
    "load_stack",
    "parse_routes",
]

ExpectationError = RoutesError
"""What reading the routes raises: the contract's own error, under the verifier's name."""

MAX_ROUTES_BYTES = 4 * MEBIBYTE
"""Far more than the routes of any stack (a few hundred bytes each), far less than would hang a reader."""
TOO_MANY_DIGITS_FOR_ROUTES = "holds a number of more digits than any route could use"
"""Past 4,300 decimal digits Python's int() refuses a number, and the JSON parser with it."""

UNSET = "unset"
"""``Expectation.version_header`` when the source does not say (a plain routes list)."""


@dataclass(frozen=True)
class Expectation:
    """The routes to check and what else the source says about the deployment."""

    routes: tuple[Route, ...]
    urls: tuple[str, ...] = ()
    version_header: str | None = UNSET
    """The header naming the version; None when the stack turned it off; UNSET if not said."""
    sticky_cookie: str | None = None
    """The sticky canary's cookie (`canary.sticky.cookie`); None when off or not said."""
    source: str = ""


def from_outputs(outputs: Any, source: str) -> Expectation:
    """An ``Expectation`` from a routes list or a whole ``pulumi stack output --json`` object."""
    if isinstance(outputs, list):
        return Expectation(routes=parse_routes(outputs, source), source=source)
    if not isinstance(outputs, dict) or "routes" not in outputs:
        raise ExpectationError(
            f"{source}: expected a routes list or stack outputs with a 'routes' key, got {short_json(outputs)}"
        )
    urls = outputs.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ExpectationError(f"{source}: urls must be a list of strings, got {short_json(urls)}")
    header = outputs.get("versionHeader", UNSET)
    if header is False or header is None or header == "":
        header = None
    elif header != UNSET and not (isinstance(header, str) and TOKEN.fullmatch(header)):
        raise ExpectationError(f"{source}: versionHeader must be a header name, got {short_json(header)}")
    sticky = outputs.get("stickyCookie") or None
    if sticky is not None and not (isinstance(sticky, str) and TOKEN.fullmatch(sticky)):
        raise ExpectationError(f"{source}: stickyCookie must be a cookie name, got {short_json(sticky)}")
    return Expectation(
        routes=parse_routes(outputs["routes"], source),
        urls=tuple(urls),
        version_header=header,
        sticky_cookie=sticky,
        source=source,
    )


def load_file(path: str) -> Expectation:
    """Read ``--routes FILE``: a regular file of at most `MAX_ROUTES_BYTES`."""
    try:
        text = read_text(path, MAX_ROUTES_BYTES)
    except UnreadableFileError as exc:
        raise ExpectationError(f"{shown(path)}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpectationError(f"{shown(path)} is not JSON: {exc}") from None
    except ValueError:
        raise ExpectationError(f"{shown(path)}: {TOO_MANY_DIGITS_FOR_ROUTES}") from None
    except RecursionError:
        # The JSON parser recurses once per level; a routes file is a few levels deep.
        raise ExpectationError(f"{shown(path)}: nested too deep to be routes") from None
    return from_outputs(data, path)


MAX_OUTPUTS_BYTES = 16 * MEBIBYTE
"""What `pulumi stack output --json` may write: the routes' limit and room for the other outputs."""
OUTPUTS_TIMEOUT = 120


def _outside_project(cwd: Path | None) -> str:
    """`; no Pulumi.yaml in ...` when `cwd` is in no project folder, the likeliest reason pulumi failed."""
    # Imported here: the stack-file reader brings the settings models, which verify needs only now.
    from canary.config.files import StackFileError, find_project

    try:
        find_project(cwd or Path("."))
    except StackFileError as err:
        return f"; {err}"
    return ""


def load_stack(name: str, cwd: Path | None = None) -> Expectation:
    """Read the outputs of stack ``name`` with ``pulumi stack output --json``, run in ``cwd``: at
    most `MAX_OUTPUTS_BYTES` of its output, for at most `OUTPUTS_TIMEOUT` seconds."""
    if shutil.which("pulumi") is None:
        raise ExpectationError("the Pulumi CLI (pulumi) is not on PATH: install it, or pass --routes FILE")
    command = ["pulumi", "stack", "output", "--json", "--stack", name]
    try:
        done = run_bounded(command, limit=MAX_OUTPUTS_BYTES, timeout=OUTPUTS_TIMEOUT, cwd=cwd)
    except CommandOutputError as exc:
        raise ExpectationError(str(exc)) from None
    except OSError as exc:
        raise ExpectationError(f"cannot run pulumi: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise ExpectationError(f"pulumi stack output --stack {name} failed: {reason}{_outside_project(cwd)}")
    try:
        outputs = json.loads(done.stdout)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ExpectationError(f"pulumi stack output --stack {name} is not JSON: {exc}") from None
    except ValueError:
        raise ExpectationError(f"pulumi stack output --stack {name}: {TOO_MANY_DIGITS_FOR_ROUTES}") from None
    return from_outputs(outputs, f"stack {name}")
