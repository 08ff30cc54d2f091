"""How long the program itself takes to declare a stack, under the SDK's mocks.

Imports are paid before the clock starts; each figure is the median of several runs of the
whole program (config validation, every component and object, outputs resolved). Targets:
the dev stack under 100 ms, 50 versions under 1 s, growth linear in the number of versions.

    venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.simulate import as_config_strings, simulate, stack_config  # noqa: E402

REPEATS = 7


def many_versions(count: int) -> dict[str, str]:
    versions = [{"name": f"v{i}", "image": f"registry.example.com/web:{i}.0"} for i in range(1, count + 1)]
    return as_config_strings(
        {
            "namespace": "bench",
            "app": "web",
            "hosts": ["web.example.com"],
            "versions": versions,
            "canary": {"version": "v2", "cookie": "version=v2", "weight": 10},
        }
    )


def median_ms(config: dict[str, str]) -> tuple[float, int]:
    simulate(config)  # warm-up: first-call caches (schemas of the SDK types, pydantic)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        simulation = simulate(config)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(simulation.manifests())


def main() -> None:
    dev_ms, dev_objects = median_ms(stack_config(PROJECT_DIR, "dev"))
    print(f"dev stack: {dev_objects} objects, {dev_ms:.1f} ms (target < 100 ms)")
    print("versions  objects  median ms  ms per version")
    rows = []
    for count in (2, 10, 25, 50, 100):
        ms, objects = median_ms(many_versions(count))
        rows.append((count, ms))
        print(f"{count:>8}  {objects:>7}  {ms:>9.1f}  {ms / count:>14.2f}")
    fifty = dict(rows)[50]
    print(f"50 versions: {fifty:.1f} ms (target < 1000 ms)")
    # Linear growth: the cost per added version stays flat between 10 -> 50 and 50 -> 100.
    per_version_low = (dict(rows)[50] - dict(rows)[10]) / 40
    per_version_high = (dict(rows)[100] - dict(rows)[50]) / 50
    print(f"marginal cost per version: {per_version_low:.2f} ms (10->50), {per_version_high:.2f} ms (50->100)")


if __name__ == "__main__":
    main()
