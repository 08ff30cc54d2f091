"""Tests for canary/traffic/generate.py and the ``traffic`` command: pacing, counts, Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from canary.traffic.client import Endpoint
from canary.traffic.expected import parse_routes
from canary.traffic.generate import run_traffic
from canary.traffic.load import Settings, Tally
from canary.traffic.versions import VersionReader
from tests.support.fake_mesh import MeshConfig, canary_rules, serve_in_thread
from tests.support.traffic_fixtures import (
    COOKIE_ROUTE,
    LOOPBACK,
    closed_port,
    plain_route,
    traffic,
    write_routes,
)

PROJECT = Path(__file__).resolve().parents[2]
ROUTES = [COOKIE_ROUTE, plain_route({"v1": 100})]


def _traffic_for(url: str, rate: float, duration: float) -> tuple[list[Tally], float]:
    routes = parse_routes(ROUTES, "test")
    tallies = [Tally() for _ in routes]
    reader = VersionReader(header="x-canary-version")
    settings = Settings(rate=rate)

    async def go() -> float:
        return await run_traffic(Endpoint.from_url(url), routes, tallies, reader, settings, asyncio.Event(), duration)

    return tallies, asyncio.run(go())


def test_traffic_alternates_routes_at_the_rate_for_the_duration() -> None:
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}))) as mesh:
        (cookie, plain), seconds = _traffic_for(mesh.url, rate=40, duration=0.49)
        served = mesh.mesh.requests
    # Request i starts i/40 s in: 20 start within 0.49 s, alternating routes. A request
    # still in flight at the end is not counted, hence the room of one.
    finished = cookie.total + plain.total
    assert 0.49 <= seconds < 0.8
    assert 19 <= finished <= 20
    assert abs(cookie.total - plain.total) <= 1
    assert cookie.counts == {"v2": cookie.total} and plain.counts == {"v1": plain.total}
    assert 0 <= served - finished <= 1


def test_stop_event_ends_the_run() -> None:
    routes = parse_routes(ROUTES, "test")
    tallies = [Tally() for _ in routes]
    reader = VersionReader(header="x-canary-version")

    async def go(url: str) -> float:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)  # mid-way between two starts
        target = Endpoint.from_url(url)
        return await run_traffic(target, routes, tallies, reader, Settings(rate=20), stop)

    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}))) as mesh:
        seconds = asyncio.run(go(mesh.url))
    # Stopped at 0.3 s, between the starts of requests 6 (0.25 s) and 7 (0.35 s).
    assert 0.3 <= seconds < 0.6
    assert 5 <= sum(t.total for t in tallies) <= 6


def test_traffic_command_prints_a_summary_after_the_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_routes(tmp_path, ROUTES)
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}))) as mesh:
        # The duration ends between two request starts (0.40 s and 0.45 s).
        argv = ["--routes", path, "--url", mesh.url, "--interval", "0.05", "--duration", "0.425"]
        outcome = traffic(argv, capsys)
        served = mesh.mesh.requests - 1  # less the reachability probe
    assert outcome.code == 0, outcome.err
    summary = re.search(r"(\d+) requests in (\d+\.\d) s", outcome.out)
    assert summary is not None, outcome.out
    assert served - 1 <= int(summary.group(1)) <= served
    assert 8 <= served <= 9
    assert "cookie version=v2" in outcome.out and "plain" in outcome.out


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--interval", "0"], "--interval"),
        (["--duration", "-1"], "--duration"),
        (["--interval", "1", "--rate", "5"], "--rate"),
    ],
)
def test_traffic_bad_flag_is_one_line(
    flags: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--routes", write_routes(tmp_path, ROUTES), "--url", f"http://{LOOPBACK}:1/", *flags]
    outcome = traffic(argv, capsys)
    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1 and named in outcome.err


def test_traffic_to_an_unreachable_target_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://{LOOPBACK}:{closed_port()}/"
    outcome = traffic(["--routes", write_routes(tmp_path, ROUTES), "--url", url], capsys)
    assert outcome.code == 2
    assert outcome.err.strip() == f"canary traffic: error: cannot reach {url}: connection refused"


def test_ctrl_c_ends_traffic_cleanly_with_a_summary(tmp_path: Path) -> None:
    path = write_routes(tmp_path, ROUTES)
    script = "import sys; from canary.cli.traffic import traffic_main; sys.exit(traffic_main(sys.argv[1:]))"
    with serve_in_thread(MeshConfig(rules=canary_rules({"v1": 100}))) as mesh:
        process = subprocess.Popen(
            [sys.executable, "-c", script, "--routes", path, "--url", mesh.url, "--rate", "50"],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
        )
        try:
            # Wait until traffic flows (the probe and a few requests have arrived).
            deadline = time.monotonic() + 20
            while mesh.mesh.requests < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert mesh.mesh.requests >= 5, "traffic never started"
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=10)
        finally:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "requests in" in out and "cookie version=v2" in out
