"""`istioctl analyze` on every rendered stack: no error and no warning, offline.

istioctl is the largest piece of the toolchain; `e2e/toolchain istioctl` builds it, and the test
runs where the cache has it (see the README). Messages that remain at Info level are explained
in the README.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_STACKS
from tests.e2e.stack import PROJECT_DIR, run

ISTIOCTL = shutil.which("istioctl")
# Levels istioctl prints as the second column of each message line.
FAILING_LEVELS = ("Error", "Warning")


@pytest.mark.skipif(ISTIOCTL is None, reason="istioctl is not built: run e2e/toolchain istioctl (see README)")
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_istioctl_analyze_reports_no_error_or_warning(stack, tmp_path: Path):
    out = tmp_path / "manifests"
    run(
        [str(PROJECT_DIR / "venv/bin/python"), "-m", "canary", "render", "--stack", stack, "--out", str(out)],
        cwd=PROJECT_DIR,
    ).check()
    files = sorted(str(path) for path in out.glob("*.yaml"))
    result = run([ISTIOCTL, "analyze", "--use-kube=false", "--failure-threshold", "Warning", *files])
    messages = [line for line in result.output.splitlines() if line.startswith(FAILING_LEVELS)]
    assert messages == [], result.output
    assert result.returncode == 0, result.output
