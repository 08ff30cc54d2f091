"""`python -m canary <command>`: render manifests, verify the split, generate traffic."""

from __future__ import annotations

import sys
from importlib.util import find_spec

USAGE = """usage: python -m canary {render,verify,traffic,rollout} [options]

  render   write the manifests a stack declares (no cluster or Pulumi CLI needed)
  verify   send requests shaped like each route and test the observed split
  traffic  keep sending the route shapes, so dashboards have traffic to show
  rollout  walk the canary through its weights, judge each step, promote or roll back

Run `python -m canary <command> --help` for a command's options."""

# What `verify`, `traffic` and `rollout` import beyond the package's own dependencies: the extra `verify`.
VERIFY_EXTRA = ("numpy", "rich", "scipy")


def _needs_extra(command: str, module: str) -> int:
    print(
        f"canary {command}: error: needs the extra 'verify' ({module} is missing): pip install 'istio-canary[verify]'",
        file=sys.stderr,
    )
    return 2


def _run_extra_command(command: str, rest: list[str]) -> int:
    """`verify` or `traffic`; without the extra, one line saying what to install, and exit 2.

    The commands import numpy, scipy and rich only once they run, so the extra is looked up
    first, without importing it (`--help` stays fast). A module of it still missing when the
    command imports it (an installed package that lacks one of its own modules) ends the same way.
    """
    missing = next((module for module in VERIFY_EXTRA if find_spec(module) is None), None)
    if missing is not None:
        return _needs_extra(command, missing)
    from canary.rollout.cli import main as rollout_main
    from canary.traffic.cli import traffic_main, verify_main

    commands = {"verify": verify_main, "traffic": traffic_main, "rollout": rollout_main}
    try:
        return commands[command](rest)
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if module not in VERIFY_EXTRA:
            raise
        return _needs_extra(command, module)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    # Each command imports only what it needs: rendering does not pay for the HTTP stack.
    if command == "render":
        from canary.render import main as render_main

        return render_main(rest)
    if command in ("verify", "traffic", "rollout"):
        return _run_extra_command(command, rest)
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


def run() -> None:
    """The `canary` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
