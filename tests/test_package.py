"""The package's public names resolve, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import canary
from tests.conftest import PROJECT_DIR


def test_every_public_name_resolves():
    for name in canary.__all__:
        assert getattr(canary, name).__name__ == name


def test_importing_the_package_does_not_import_pulumi():
    code = "import sys, canary; print('pulumi' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
