"""`istioctl analyze` on every rendered stack: no error and no warning, offline.

istioctl is the largest piece of the toolchain; `e2e/toolchain istioctl` builds it, and the test
runs where the cache has it (see docs/e2e.md). Messages that remain at Info level are explained
in docs/e2e.md (none remain today).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.project import SHIPPED_STACKS
from tests.support.stack import PROJECT_DIR, run

ISTIOCTL = shutil.which("istioctl")
# Levels istioctl prints as the second column of each message line.
FAILING_LEVELS = ("Error", "Warning")


needs_istioctl = pytest.mark.skipif(
    ISTIOCTL is None, reason="istioctl is not built: run e2e/toolchain istioctl (see docs/e2e.md)"
)


def render(stack: str, out: Path) -> list[str]:
    run(
        [str(PROJECT_DIR / "venv/bin/python"), "-m", "canary", "render", "--stack", stack, "--out", str(out)],
        cwd=PROJECT_DIR,
    ).check()
    return sorted(str(path) for path in out.glob("*.yaml"))


def analyze(files: list[str]) -> tuple[list[str], int, str]:
    # --all-namespaces: without it istioctl looks only at the context's namespace (`default`),
    # where the release has nothing, and finds nothing to report whatever the files say.
    result = run(
        [ISTIOCTL, "analyze", "--use-kube=false", "--all-namespaces", "--failure-threshold", "Warning", *files]
    )
    messages = [line for line in result.output.splitlines() if line.startswith(FAILING_LEVELS)]
    return messages, result.returncode, result.output


@needs_istioctl
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_istioctl_analyze_reports_no_error_or_warning(stack, tmp_path: Path):
    messages, returncode, output = analyze(render(stack, tmp_path / "manifests"))
    assert messages == [], output
    assert returncode == 0, output


@needs_istioctl
def test_istioctl_analyze_does_see_a_broken_reference(tmp_path: Path):
    # The oracle itself: a VirtualService bound to a gateway that does not exist is an error.
    files = render("dev", tmp_path / "manifests")
    (service,) = [Path(f) for f in files if "virtualservice" in f]
    service.write_text(service.read_text().replace("- nginx-gateway", "- missing-gateway"))
    messages, returncode, _ = analyze(files)
    assert any("IST0101" in message and "missing-gateway" in message for message in messages), messages
    assert returncode != 0
