"""How fast `render` is: the whole command as a user runs it, and the plan alone as it grows.

1. `python -m canary render --stack dev`, the whole process (interpreter start, imports, config
   read and validated, plan, files written), printed beside two floors:
   - `python -c 'import yaml, pydantic'`, the floor the target was set against;
   - a process that imports yaml and validates one pydantic model: what any tool that checks its
     config with pydantic pays, since pydantic loads its schema machinery on the first model.
   Each is timed as the median of 7 wall-clock runs and, when valgrind is installed, counted in
   instructions by callgrind: seconds on a shared machine drift from run to run and from day to
   day, an instruction count does not. Target: under 0.3 s, set when the first floor took
   0.09 s, so render may cost 0.3 / 0.09 = 3.3 times that floor.
   The processes run with Python's bytecode cache, as Python does by default and as `pip install`
   leaves an installed package, even where the environment sets PYTHONDONTWRITEBYTECODE.
2. The plan alone (after imports) for the dev stack and for 2 to 100 versions, median of 7.
   Targets: the dev stack under 10 ms, growth linear in the number of versions.

    venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from canary.config import parse_settings  # noqa: E402
from canary.config.files import as_config_strings, stack_config  # noqa: E402
from canary.config.to_args import RELEASE_NAME, release_args  # noqa: E402
from canary.plan.backend import Collector  # noqa: E402
from canary.plan.release import plan_canary_release  # noqa: E402

REPEATS = 7
TARGET_SECONDS = 0.3
TARGET_FLOOR_SECONDS = 0.09
ONE_MODEL = """
import yaml
from pydantic import BaseModel

class Settings(BaseModel):
    replicas: int = 1

Settings.model_validate(yaml.safe_load("replicas: 2"))
"""
# Python's default: each module's bytecode is written on first import and read from then on.
CACHED_BYTECODE_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT_DIR, env=CACHED_BYTECODE_ENV, check=True, capture_output=True, text=True)


def median_seconds(command: list[str]) -> float:
    _run(command)  # warm the file and bytecode caches
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        _run(command)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def instructions(command: list[str]) -> int | None:
    """Instructions the process executes, counted by callgrind; None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    done = _run([valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command])
    collected = re.search(r"Collected\s*:\s*([0-9]+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind printed no instruction count:\n{done.stderr}")
    return int(collected.group(1))


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
        commands = {
            "render --stack dev": [python, "-m", "canary", "render", "--stack", "dev", "--out", out],
            "floor: import yaml, pydantic": [python, "-c", "import yaml, pydantic"],
            "yaml + one pydantic model": [python, "-c", ONE_MODEL],
        }
        seconds = {name: median_seconds(command) for name, command in commands.items()}
        counts = {name: instructions(command) for name, command in commands.items()}
    print("whole process                  median s   M instructions")
    for name in commands:
        count = counts[name]
        shown = f"{count / 1e6:14.0f}" if count is not None else "  (no valgrind)"
        print(f"{name:<30} {seconds[name]:8.3f}   {shown}")
    render, floor = "render --stack dev", "floor: import yaml, pydantic"
    allowed = TARGET_SECONDS / TARGET_FLOOR_SECONDS
    render_count, floor_count = counts[render], counts[floor]
    by_count = f", {render_count / floor_count:.2f} in instructions" if render_count and floor_count else ""
    print(
        f"render / floor: {seconds[render] / seconds[floor]:.2f} in seconds{by_count} "
        f"(target: {TARGET_SECONDS} s when the floor took {TARGET_FLOOR_SECONDS} s, a ratio of {allowed:.2f})"
    )

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
