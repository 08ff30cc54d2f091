"""How fast `render` is: the whole command as a user runs it, and the plan alone as it grows.

1. `python -m canary render --stack dev`, the whole process (interpreter start, imports, config
   read and validated, plan, files written), median of 7, printed beside the floor any Python
   tool of this kind pays: `python -c 'import yaml, pydantic'`. Target: under 0.3 s.
2. The plan alone (after imports) for the dev stack and for 2 to 100 versions, median of 7.
   Targets: the dev stack under 10 ms, growth linear in the number of versions.

    venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from canary.plan.backend import Collector  # noqa: E402
from canary.plan.release import plan_canary_release  # noqa: E402
from canary.settings import parse_settings  # noqa: E402
from canary.stack import RELEASE_NAME, release_args  # noqa: E402
from canary.stack_file import as_config_strings, stack_config  # noqa: E402

REPEATS = 7


def median_seconds(command: list[str]) -> float:
    subprocess.run(command, cwd=PROJECT_DIR, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, cwd=PROJECT_DIR, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def many_versions(count: int) -> dict[str, str]:
    versions = [{"name": f"v{i}", "image": f"registry.example.com/web:{i}.0"} for i in range(1, count + 1)]
    config: dict[str, Any] = {
        "namespace": "bench",
        "app": "web",
        "hosts": ["web.example.com"],
        "versions": versions,
        "canary": {"version": "v2", "cookie": "version=v2", "weight": 10},
    }
    return as_config_strings(config)


def plan_ms(config: dict[str, str]) -> tuple[float, int]:
    """Median time to validate the config and plan every object."""

    def once() -> int:
        collector = Collector()
        plan_canary_release(collector, RELEASE_NAME, release_args(parse_settings(config)))
        return len(collector.manifests)

    once()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        objects = once()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), objects


def main() -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as out:
        whole = median_seconds([python, "-m", "canary", "render", "--stack", "dev", "--out", out])
    floor = median_seconds([python, "-c", "import yaml, pydantic"])
    print(f"render --stack dev, whole process: {whole:.3f} s (target < 0.3 s)")
    print(f"floor, python -c 'import yaml, pydantic': {floor:.3f} s; render costs {whole - floor:.3f} s more")

    dev_ms, dev_objects = plan_ms(stack_config(PROJECT_DIR, "dev"))
    print(f"plan, dev stack: {dev_objects} objects, {dev_ms:.1f} ms (target < 10 ms)")
    print("versions  objects  median ms  ms per version")
    rows = {}
    for count in (2, 10, 25, 50, 100):
        ms, objects = plan_ms(many_versions(count))
        rows[count] = ms
        print(f"{count:>8}  {objects:>7}  {ms:>9.1f}  {ms / count:>14.2f}")
    # Linear growth: the cost per added version stays flat between 10 -> 50 and 50 -> 100.
    low, high = (rows[50] - rows[10]) / 40, (rows[100] - rows[50]) / 50
    print(f"marginal cost per version: {low:.2f} ms (10->50), {high:.2f} ms (50->100)")


if __name__ == "__main__":
    main()
