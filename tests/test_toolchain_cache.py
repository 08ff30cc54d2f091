"""e2e/toolchain and its cache: a call that finds every piece cached touches nothing, and builds
take turns, so no call deletes the Go module cache under a running build.

The script runs for real, with a stand-in `go` first on PATH that only records how it was called
(and makes the file a `go build -o FILE` names), in a cache folder of the test's own.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
TOOLCHAIN = PROJECT_DIR / "e2e" / "toolchain"
VERSIONS = dict(
    line.split("=", 1)
    for line in (PROJECT_DIR / "e2e" / "versions.env").read_text().splitlines()
    if "=" in line and not line.startswith("#")
)
ETCD_VERSION, KWOK_VERSION = VERSIONS["ETCD_VERSION"], VERSIONS["KWOK_VERSION"]

FAKE_GO = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$GO_CALLS"
if [[ "$1 $2 $3" == "mod edit -json" ]]; then printf '%s' "$FAKE_GO_MOD_JSON"; fi
if [[ "$1" == build ]]; then
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == -o ]]; then touch "$2"; fi
    shift
  done
fi
"""


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    # What a build leaves while it runs: the module cache and a wrapper module.
    (cache / "go" / "mod").mkdir(parents=True)
    (cache / "go" / "mod" / "module.zip").write_text("in use")
    return cache


def environment(tmp_path: Path, cache: Path) -> dict[str, str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    go = stubs / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "ISTIO_CANARY_CACHE": str(cache),
        "GO_CALLS": str(tmp_path / "go-calls"),
    }


def go_calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "go-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_a_call_that_finds_its_pieces_cached_cleans_nothing_and_runs_no_go(tmp_path: Path, cache: Path) -> None:
    (cache / "stamps").mkdir()
    (cache / "stamps" / f"etcd-{ETCD_VERSION}").touch()
    done = subprocess.run(
        [str(TOOLCHAIN), "etcd"], env=environment(tmp_path, cache), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{cache}/bin\n"
    assert go_calls(tmp_path) == []
    assert (cache / "go" / "mod" / "module.zip").read_text() == "in use"


def test_a_build_waits_for_the_build_holding_the_lock_then_builds_and_cleans(tmp_path: Path, cache: Path) -> None:
    cache.mkdir(exist_ok=True)
    with (cache / "toolchain.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = subprocess.Popen(
            [str(TOOLCHAIN), "etcd"],
            env=environment(tmp_path, cache),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr is not None
        line = waiting.stderr.readline()  # blocks until the script says it waits (or exits)
        assert "waiting for it to finish" in line, line
        time.sleep(0.5)
        # While the other build holds the lock: no go command ran, the module cache is intact.
        assert waiting.poll() is None
        assert go_calls(tmp_path) == []
        assert (cache / "go" / "mod" / "module.zip").exists()
        fcntl.flock(held, fcntl.LOCK_UN)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert out == f"{cache}/bin\n"
    calls = go_calls(tmp_path)
    assert [call.split()[0] for call in calls] == ["get", "build", "clean"], calls
    assert calls[-1] == "clean -modcache"
    assert not (cache / "go").exists()
    assert (cache / "stamps" / f"etcd-{ETCD_VERSION}").exists()


def test_cached_says_whether_every_piece_is_there_and_builds_nothing(tmp_path: Path, cache: Path) -> None:
    (cache / "stamps").mkdir()
    (cache / "stamps" / f"etcd-{ETCD_VERSION}").touch()
    env = environment(tmp_path, cache)
    there = subprocess.run([str(TOOLCHAIN), "--cached", "etcd"], env=env, capture_output=True, text=True, timeout=60)
    assert (there.returncode, there.stdout, there.stderr) == (0, "", "")
    missing = subprocess.run(
        [str(TOOLCHAIN), "--cached", "etcd", "kwok"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "")
    assert go_calls(tmp_path) == []
    assert not (cache / "stamps" / "kwok.seconds").exists()
    assert (cache / "go" / "mod" / "module.zip").exists()


def test_kwok_and_kwokctl_are_one_build(tmp_path: Path, cache: Path) -> None:
    env = environment(tmp_path, cache)
    done = subprocess.run([str(TOOLCHAIN), "kwokctl", "kwok"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = go_calls(tmp_path)
    builds = [call for call in calls if call.startswith("build ")]
    assert len(builds) == 1 and builds[0].endswith("sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl"), calls
    assert {path.name for path in (cache / "stamps").iterdir()} >= {f"kwok-{KWOK_VERSION}", f"kwokctl-{KWOK_VERSION}"}
    assert done.stderr.count("built in") == 1


def test_the_oracle_is_rebuilt_for_a_source_whose_binary_another_source_replaced(tmp_path: Path, cache: Path) -> None:
    # A copy of e2e/ whose oracle source the test changes, as checking out another branch would.
    e2e = tmp_path / "e2e"
    e2e.mkdir()
    for name in ("toolchain", "versions.env"):
        shutil.copy2(PROJECT_DIR / "e2e" / name, e2e / name)
    shutil.copytree(PROJECT_DIR / "e2e" / "istio-route-src", e2e / "istio-route-src")
    main = e2e / "istio-route-src" / "main.go"
    first = main.read_text()
    requires = {"Require": [{"Path": "istio.io/istio", "Version": VERSIONS["ISTIO_MODULE"]}]}
    env = {**environment(tmp_path, cache), "FAKE_GO_MOD_JSON": json.dumps(requires)}

    def toolchain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(e2e / "toolchain"), *args], env=env, capture_output=True, text=True, timeout=60)

    def builds() -> int:
        return len([call for call in go_calls(tmp_path) if call.startswith("build ")])

    assert toolchain("istio-route").returncode == 0 and builds() == 1
    assert toolchain("--cached", "istio-route").returncode == 0
    main.write_text(first + "\n// another branch's oracle\n")
    assert toolchain("--cached", "istio-route").returncode == 1
    assert toolchain("istio-route").returncode == 0 and builds() == 2
    # Back to the first source: its stamp is still there, but bin/ holds the other one's binary.
    main.write_text(first)
    assert toolchain("--cached", "istio-route").returncode == 1
    rebuilt = toolchain("istio-route")
    assert rebuilt.returncode == 0 and builds() == 3, rebuilt.stderr
    assert "istio built in" in rebuilt.stderr
    assert toolchain("--cached", "istioctl", "istio-route").returncode == 0
    assert toolchain("istioctl").returncode == 0 and builds() == 3
    # A cache from before istio.current named the binaries' source keeps what it has.
    (cache / "stamps" / "istio.current").unlink()
    assert toolchain("--cached", "istio-route").returncode == 0
