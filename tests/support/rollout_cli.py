"""`canary rollout` run as a user would: a project folder with one stack file, the command's exit code and output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.cli.rollout import main
from tests.support.project import BASELINE, PROJECT_DIR


def project(tmp_path: Path, **config: Any) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    values = {**BASELINE, **config}
    stack = {"config": {f"istio-canary:{key}": value for key, value in values.items()}}
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], directory: Path, *flags: str) -> tuple[int, str, str]:
    code = main(["--stack", "prod", "--project-dir", str(directory), *flags])
    out, err = capsys.readouterr()
    return code, out, err


URL = "http://127.0.0.1:8080/"
