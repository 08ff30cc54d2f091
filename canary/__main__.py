"""`python -m canary <command>`: render manifests, verify the split, generate traffic."""

from __future__ import annotations

import sys

USAGE = """usage: python -m canary {render,verify,traffic} [options]

  render   write the manifests a stack declares (no cluster or Pulumi CLI needed)
  verify   send requests shaped like each route and test the observed split
  traffic  keep sending the route shapes, so dashboards have traffic to show

Run `python -m canary <command> --help` for a command's options."""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    # Each command imports only what it needs: rendering does not pay for the HTTP stack.
    if command == "render":
        from canary.render import main as render_main

        return render_main(rest)
    if command == "verify":
        from canary.traffic.cli import verify_main

        return verify_main(rest)
    if command == "traffic":
        from canary.traffic.cli import traffic_main

        return traffic_main(rest)
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
