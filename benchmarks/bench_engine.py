"""`pulumi up` wall time on the real engine, against the local cluster, and what the toolchain costs.

    eval "$(e2e/up)" && venv/bin/python benchmarks/bench_engine.py [--runs 5]

Prints, on the same warm engine (plugins and toolchain built, cluster running):
- the dev stack's first `pulumi up` (seven objects, Deployments awaited until Ready);
- one canary step (a weight change: one VirtualService updated in place);
- a stack of one ConfigMap: the engine's floor for any update;
with the ratios to the floor, then each toolchain piece's cold build time and the cache's size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stack import Workspace

CACHE = Path(os.environ.get("ISTIO_CANARY_CACHE", Path.home() / ".cache" / "istio-canary"))

FLOOR_PROJECT = """name: bench-floor
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
"""
FLOOR_PROGRAM = """import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("floor", metadata={"name": "bench-floor", "namespace": "default"}, data={"n": "{n}"})
"""


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def floor_workspace(root: Path) -> Workspace:
    """A project with one ConfigMap whose data changes on every update, in the same virtualenv."""
    workspace = Workspace(root, f"floor-{os.getpid()}")
    (root / "Pulumi.yaml").write_text(FLOOR_PROJECT)
    (root / "__main__.py").write_text(FLOOR_PROGRAM.replace("{n}", "0"))
    workspace.init()
    return workspace


def measure(runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"dev stack, first up": [], "one canary step": [], "one ConfigMap (floor)": []}
    with tempfile.TemporaryDirectory() as tmp:
        floor = floor_workspace(Path(tmp) / "floor")
        floor.up().check()  # warm: plugins loaded once, the object exists
        for i in range(runs):
            dev = Workspace(Path(tmp) / f"dev{i}", f"bench-dev-{os.getpid()}-{i}")
            dev.init()
            config = dev.use_shipped("dev", namespace=f"bench-{i}")
            figures["dev stack, first up"].append(timed(lambda d=dev: d.up().check()))
            config["canary"] = {**config["canary"], "weight": 10}
            dev.write_config(config)
            figures["one canary step"].append(timed(lambda d=dev: d.up().check()))
            (floor.root / "__main__.py").write_text(FLOOR_PROGRAM.replace("{n}", str(i + 1)))
            figures["one ConfigMap (floor)"].append(timed(lambda: floor.up().check()))
            dev.destroy().check()
            dev.remove()
        floor.destroy()
        floor.remove()
    return figures


def cache_report() -> None:
    stamps = CACHE / "stamps"
    print("\ntoolchain, cold build on this machine (seconds, as e2e/toolchain recorded them):")
    total = 0
    for path in sorted(stamps.glob("*.seconds")):
        seconds = int(path.read_text())
        total += seconds
        print(f"  {path.stem:<22} {seconds:>6}")
    print(f"  {'total':<22} {total:>6}")
    for label, folder in (
        ("binaries", CACHE / "bin"),
        ("provider plugin", CACHE / "plugins"),
        ("Go modules and build cache", CACHE / "go"),
    ):
        if not folder.exists():
            print(f"  {label:<22} {'-':>6}  removed after the build (ISTIO_CANARY_KEEP_GO_CACHES=1 keeps it)")
            continue
        size = subprocess.run(["du", "-sh", str(folder)], capture_output=True, text=True, check=False).stdout.split()
        print(f"  {label:<22} {size[0] if size else '?':>6}  {folder}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("KUBECONFIG"):
        print('error: no local cluster: eval "$(e2e/up)" first', file=sys.stderr)
        return 2
    figures = measure(args.runs)
    floor = statistics.median(figures["one ConfigMap (floor)"])
    print(f"pulumi up wall time, median of {args.runs} (seconds):")
    for label, values in figures.items():
        median = statistics.median(values)
        print(
            f"  {label:<24} {median:6.2f}   x{median / floor:4.2f} of the floor   runs: {[round(v, 2) for v in values]}"
        )
    cache_report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
