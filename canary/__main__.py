"""`canary <command>` (or `python -m canary <command>`): render manifests, verify the split, roll out."""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from canary import __version__
from canary.support import exit_status
from canary.support.visible_text import say

USAGE = """usage: {prog} {{render,verify,traffic,rollout}} [options]
       {prog} --version

  render   write the manifests a stack declares (no cluster or Pulumi CLI needed)
  verify   send requests shaped like each route and test the observed split
  traffic  keep sending the route shapes, so dashboards have traffic to show
  rollout  walk the canary through its weights, judge each step, promote or roll back

Run `{prog} <command> --help` for a command's options and examples.

Examples:
  # The dev stack's manifests, without a cluster
  {prog} render --stack dev --out manifests/

  # The plan of the dev stack's rollout; nothing changes
  {prog} rollout --stack dev --dry-run"""

# What `verify`, `traffic` and `rollout` import beyond the package's own dependencies: the extra `verify`.
VERIFY_EXTRA = ("apprise", "numpy", "rich", "scipy")
HELP = ("-h", "--help")


def extra_requirement(direct_url: dict[str, Any] | None) -> str:
    """The package with its extra `verify`, from where pip installed it (PEP 610's direct_url.json).

    The package is not on an index: it was installed from a Git URL, an archive or a folder, and
    the same source, pinned to the same commit, is where the extra's version comes from.
    """
    url = (direct_url or {}).get("url")
    if not isinstance(url, str):
        return "istio-canary[verify]"
    vcs = (direct_url or {}).get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    return f"istio-canary[verify] @ {url}"


def install_extra_command() -> str:
    """The command that installs the extra `verify` for this very interpreter.

    From a checkout (pyproject.toml beside the package) that is the checkout itself, editable
    so that the code run stays the checkout's; once installed, the source it was installed from.
    """
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        return f"{pip} -e {shlex.quote(f'{root}[verify]')}"
    try:
        recorded = metadata.distribution("istio-canary").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        recorded = None
    try:
        direct_url = json.loads(recorded) if recorded else None
    except json.JSONDecodeError:
        direct_url = None
    return f"{pip} {shlex.quote(extra_requirement(direct_url))}"


def _needs_extra(command: str, module: str) -> int:
    say(
        f"canary {command}: error: needs the extra 'verify' ({module} is missing): {install_extra_command()}",
        to=sys.stderr,
    )
    return exit_status.USAGE


def _run_extra_command(command: str, rest: list[str]) -> int:
    """`verify`, `traffic` or `rollout`; without the extra, one line saying what to install, and exit 2.

    The commands import numpy, scipy and rich only once they run, so the extra is looked up
    first, without importing it, so that nothing starts that could not finish; `--help` needs
    none of it and is always shown. A module of it still missing when the command imports it
    (an installed package that lacks one of its own modules) ends the same way.
    """
    missing = next((module for module in VERIFY_EXTRA if find_spec(module) is None), None)
    if missing is not None and not any(arg in HELP for arg in rest):
        return _needs_extra(command, missing)
    from canary.cli.rollout import main as rollout_main
    from canary.cli.traffic import traffic_main, verify_main

    commands = {"verify": verify_main, "traffic": traffic_main, "rollout": rollout_main}
    try:
        return commands[command](rest)
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if module not in VERIFY_EXTRA:
            raise
        return _needs_extra(command, module)


def main(argv: list[str], prog: str = "python -m canary") -> int:
    """Run `argv`'s command; `prog` is how the usage line names the program."""
    usage = USAGE.format(prog=prog)
    if not argv or argv[0] in HELP:
        say(usage)
        return exit_status.OK if argv else exit_status.USAGE
    if argv[0] == "--version":
        say(f"istio-canary {__version__}")
        return exit_status.OK
    command, rest = argv[0], argv[1:]
    # Each command imports only what it needs: rendering does not pay for the HTTP stack.
    if command == "render":
        from canary.cli.render import main as render_main

        return render_main(rest)
    if command in ("verify", "traffic", "rollout"):
        return _run_extra_command(command, rest)
    say(f"error: unknown command {command!r}\n{usage}", to=sys.stderr)
    return exit_status.USAGE


def run() -> None:
    """The `canary` console script."""
    sys.exit(main(sys.argv[1:], prog="canary"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
