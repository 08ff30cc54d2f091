"""Request rate of ``canary verify`` against ``hey``, on the same local server, in one run.

Starts the fake mesh (tests/support/fake_mesh.py) on 127.0.0.1 in its own process, then takes turns
running ``hey`` and ``canary verify --json`` against it with the same concurrency and request
count, and prints the median rate of each, their ratio, and how busy the server was (a
server near 100% of its cores is the limit for both tools, and the ratio then understates
the gap). ``--libraries`` also times plain request loops of httpx and aiohttp, the clients
the engine was measured against before its own was chosen.

    python benchmarks/bench_verify_vs_hey.py [--requests 50000] [--concurrency 32] [--workers 1]

Exits 0 when both targets hold (at least half of hey's rate, at least 1,000 requests a
second), 1 when one does not, 2 when hey is missing (``apt-get install hey``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
TARGET_RPS = 1000.0
_TICKS = os.sysconf("SC_CLK_TCK")

# The same loop for each library: ``concurrency`` workers share one request counter, each
# on a client that keeps connections alive, reading every body.
_LIBRARY_LOOPS = {
    "httpx": """
import asyncio, sys, time, httpx
url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    left = iter(range(n))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=c)) as client:
        async def worker():
            for _ in left:
                (await client.get(url)).read()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        print(n / (time.perf_counter() - start))
asyncio.run(main())
""",
    "aiohttp": """
import asyncio, sys, time, aiohttp
url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    left = iter(range(n))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c)) as session:
        async def worker():
            for _ in left:
                async with session.get(url) as answer:
                    await answer.read()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        print(n / (time.perf_counter() - start))
asyncio.run(main())
""",
}


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str

    def cpu_seconds(self) -> float:
        """CPU time of the server and its forked workers so far."""
        total = 0.0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def start_server(workers: int) -> Server:
    command = [sys.executable, str(PROJECT / "tests" / "fake_mesh.py"), "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    port = int(process.stdout.readline())  # type: ignore[union-attr]
    return Server(process=process, url=f"http://127.0.0.1:{port}/")


def run_hey(url: str, requests: int, concurrency: int) -> float:
    done = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(concurrency), url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if not match:
        raise RuntimeError(f"no rate in hey's output:\n{done.stdout}")
    errors = re.search(r"Error distribution:", done.stdout)
    if errors:
        raise RuntimeError(f"hey saw errors:\n{done.stdout}")
    return float(match.group(1))


def run_verify(url: str, requests: int, concurrency: int, routes_file: str) -> float:
    script = "import sys; from canary.cli.traffic import verify_main; sys.exit(verify_main(sys.argv[1:]))"
    command = [sys.executable, "-c", script, "--routes", routes_file, "--url", url]
    command += ["--requests", str(requests), "--concurrency", str(concurrency), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"verify exited {done.returncode}: {done.stderr or done.stdout}")
    document = json.loads(done.stdout)
    route = document["routes"][0]
    if route["errors"]:
        raise RuntimeError(f"verify saw errors: {route['errors']}")
    return float(document["rps"])


def run_library(python: str, name: str, url: str, requests: int, concurrency: int) -> float | None:
    done = subprocess.run(
        [python, "-c", _LIBRARY_LOOPS[name], url, str(requests), str(concurrency)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        print(f"  {name}: not measured ({last})")
        return None
    return float(done.stdout)


@dataclass
class Figures:
    rates: list[float]
    server_busy: list[float]
    """Server CPU seconds per second of load, per run (1.0 = one core fully busy)."""

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def timed(server: Server, run: Callable[[], float | None], requests: int, figures: Figures) -> None:
    cpu = server.cpu_seconds()
    rate = run()
    cpu = server.cpu_seconds() - cpu
    if rate is not None:
        figures.rates.append(rate)
        # Over the tool's own timed span (requests / rate), not the wall time of its process,
        # which for a Python client includes a second of start-up while the server idles.
        figures.server_busy.append(cpu * rate / requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each tool; medians are shown")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--libraries", action="store_true", help="also time httpx and aiohttp loops")
    parser.add_argument(
        "--library-python",
        default=sys.executable,
        help="interpreter with httpx/aiohttp installed, for --libraries (default: this one)",
    )
    args = parser.parse_args(argv)
    if shutil.which("hey") is None:
        print("hey is not installed (Debian: apt-get install hey)", file=sys.stderr)
        return 2
    # hey gives each of its -c workers n / c requests; keep the counts equal.
    requests = args.requests - args.requests % args.concurrency

    from canary.traffic.stats import requests_needed

    server = start_server(args.workers)
    figures = {"hey": Figures([], []), "canary verify": Figures([], [])}
    libraries = ("httpx", "aiohttp") if args.libraries else ()
    figures.update({name: Figures([], []) for name in libraries})
    with tempfile.TemporaryDirectory() as scratch:
        routes_file = str(Path(scratch) / "routes.json")
        Path(routes_file).write_text(json.dumps([{"when": {}, "split": {"v1": 90, "v2": 10}}]))
        try:
            for _ in range(2):  # warm-up: page cache, the server's first connections
                run_hey(server.url, 2 * args.concurrency, args.concurrency)
            for _ in range(args.repeat):
                timed(server, lambda: run_hey(server.url, requests, args.concurrency), requests, figures["hey"])
                timed(
                    server,
                    lambda: run_verify(server.url, requests, args.concurrency, routes_file),
                    requests,
                    figures["canary verify"],
                )
                for name in libraries:
                    timed(
                        server,
                        lambda name=name: run_library(
                            args.library_python, name, server.url, requests, args.concurrency
                        ),
                        requests,
                        figures[name],
                    )
        finally:
            server.process.terminate()
            server.process.wait(10)

    cores = os.cpu_count()
    print(
        f"{requests:,} requests, concurrency {args.concurrency}, {args.repeat} runs each,"
        f" server: {args.workers} process(es), machine: {cores} cores"
    )
    print(f"{'client':<15} {'median req/s':>13} {'runs':>28} {'server busy':>12}")
    for name, figure in figures.items():
        if not figure.rates:
            continue
        runs = ", ".join(f"{rate:,.0f}" for rate in figure.rates)
        busy = statistics.median(figure.server_busy)
        print(f"{name:<15} {figure.median:>13,.0f} {runs:>28} {busy:>11.0%}")
    ours, theirs = figures["canary verify"].median, figures["hey"].median
    ratio = ours / theirs
    print(f"ratio canary verify / hey: {ratio:.2f} (target at least {TARGET_RATIO})")
    print(f"canary verify rate: {ours:,.0f}/s (target at least {TARGET_RPS:,.0f}/s)")
    # Telling a 10% canary from 12% (or 8%) at 99% confidence with 80% power.
    needed = requests_needed(0.02**2 / 0.1 + 0.02**2 / 0.9, 1, 0.01)
    print(f"a 10% canary to within 2 points at 99%: {needed:,} requests, {needed / ours:.1f} s at this rate")
    return 0 if ratio >= TARGET_RATIO and ours >= TARGET_RPS else 1


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
