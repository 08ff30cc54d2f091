"""Run checkov's Kubernetes checks over a directory of rendered manifests and report the outcome.

`scan_directory(path)` runs checkov (3.3, Kubernetes framework only) as a subprocess and
returns a `ScanResult` with the passed, failed and skipped counts and the failed checks.
Checkov lives in its own virtualenv, `venv-scan/` beside the project (requirements-scan.txt),
because it pins `packaging<24` while the Pulumi SDK needs `packaging>=26`; the environment
variable `CHECKOV` may name another checkov executable.

The run is offline, quiet and reproducible:

- `--skip-download` stops the calls to the Prisma Cloud API (guidelines and policy metadata),
  and `CKV_SKIP_PACKAGE_UPDATE_CHECK=true` stops the update check against PyPI; with both, a
  run opens no network connection.
- Checkov also takes options from `CKV_*`/`BC_*`/`CHECKOV_*`/`PRISMA_*` environment variables
  (e.g. `CKV_SKIP_CHECK`), treats every object as namespaced when `HELM_NAMESPACE` is set, and
  reads `.checkov.yaml`/`.checkov.yml` from the scanned directory, the working directory and
  the home directory. Those variables are removed, the working and home directories are an
  empty temporary directory, and a scanned directory holding such a file is refused, so that
  only the manifests decide the result.
- `--soft-fail` makes failed checks exit 0, so any other exit status means checkov broke (it
  exits 2, printing nothing on stdout, e.g. when a skip annotation's reason contains `=`).

A check a stack deliberately does not meet is skipped on the object itself, one check per
annotation in `metadata.annotations` of the Deployment (the pod template's annotations are not
read), as `checkov.io/skip1: CKV_K8S_43=reason`. Skipped checks are counted in `skipped`, not
in `passed`; their reasons are in `ScanResult.skips`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 600.0
# Environment variables that checkov reads as options or that change its results.
_IGNORED_ENV_PREFIXES = ("CKV_", "BC_", "CHECKOV_", "PRISMA_")
_IGNORED_ENV_NAMES = frozenset({"HELM_NAMESPACE", "LOG_LEVEL"})
_QUIET_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "BC_SKIP_MAPPING": "TRUE",
    "PYTHONWARNINGS": "ignore",
    "LOG_LEVEL": "ERROR",
}
_CONFIG_FILES = (".checkov.yaml", ".checkov.yml")


class CheckovError(RuntimeError):
    """Checkov could not be run, crashed, or printed no report that could be read."""


@dataclass(frozen=True)
class Failure:
    """One failed check on one object."""

    check_id: str
    check_name: str
    resource: str  # checkov's resource name: Kind.namespace.name (Pod.* for the pod of a workload)
    file: str  # path of the manifest, relative to the scanned directory

    def __str__(self) -> str:
        return f"{self.check_id} {self.check_name}: {self.resource} in {self.file}"


@dataclass(frozen=True)
class Skip:
    """One check skipped on one object by its checkov skip annotation."""

    check_id: str
    check_name: str
    resource: str
    file: str
    reason: str  # checkov reports "No comment provided" when the annotation gives none


@dataclass(frozen=True)
class ScanResult:
    """Checkov's counts for the directory and the checks that failed."""

    passed: int
    failed: int
    skipped: int
    failures: list[Failure]
    skips: list[Skip] = field(default_factory=list)
    # Objects checkov read, plus one Pod per workload; 0 when no object had a check to run.
    resource_count: int = 0

    def report(self) -> str:
        """A readable summary: the counts, then one line per failed check."""
        lines = [f"checkov: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"]
        lines += [f"  FAILED {failure}" for failure in self.failures]
        return "\n".join(lines)


PROJECT_DIR = Path(__file__).resolve().parents[2]


def checkov_executable() -> Path:
    """The checkov to run: $CHECKOV, else venv-scan/bin/checkov beside the project."""
    configured = os.environ.get("CHECKOV")
    executable = Path(configured) if configured else PROJECT_DIR / "venv-scan" / "bin" / "checkov"
    if not executable.is_file():
        install = "python3 -m venv venv-scan && venv-scan/bin/pip install -r requirements-scan.txt"
        raise CheckovError(f"no checkov at {executable}: {install}")
    return executable


def checkov_command(path: Path) -> list[str]:
    """The command line `scan_directory` runs, for `path` (an absolute directory)."""
    return [
        str(checkov_executable()),
        "--directory",
        str(path),
        "--framework",
        "kubernetes",
        "--output",
        "json",
        "--compact",
        "--skip-download",
        "--soft-fail",
    ]


def scan_directory(path: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ScanResult:
    """Run checkov's Kubernetes checks over every manifest under `path` and return the outcome.

    Raises NotADirectoryError when `path` is not a directory, and CheckovError when checkov is
    not installed, crashes, times out, reports parse errors or prints no readable JSON report.
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise NotADirectoryError(f"not a directory: {path}")
    for name in _CONFIG_FILES:
        if (path / name).exists():
            raise CheckovError(f"{path / name} would change checkov's options; remove it from the scanned directory")
    command = checkov_command(path)
    completed = _run_checkov(command, timeout)

    if completed.returncode != 0:
        hint = ""
        if "too many values to unpack" in completed.stderr:
            hint = "\n(a checkov skip annotation whose reason contains '=' makes checkov crash)"
        raise CheckovError(
            f"checkov exited with status {completed.returncode}: {' '.join(command)}\n{_tail(completed.stderr)}{hint}"
        )
    return _parse_report(completed.stdout, completed.stderr)


def _run_checkov(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run checkov offline, in a clean home, with none of the environment variables it reads."""
    with tempfile.TemporaryDirectory(prefix="checkov-home-") as home:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_IGNORED_ENV_PREFIXES) and name not in _IGNORED_ENV_NAMES
        }
        env.update(_QUIET_ENV, HOME=home, XDG_CACHE_HOME=home, XDG_CONFIG_HOME=home)
        try:
            return subprocess.run(
                command,
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise CheckovError(f"checkov did not finish within {timeout:g}s: {' '.join(command)}") from err


def kubernetes_check_ids(*, timeout: float = DEFAULT_TIMEOUT) -> set[str]:
    """Every Kubernetes check id the installed checkov lists."""
    command = [str(checkov_executable()), "--list", "--framework", "kubernetes", "--skip-download"]
    completed = _run_checkov(command, timeout)
    if completed.returncode != 0:
        raise CheckovError(f"checkov exited with status {completed.returncode}: {_tail(completed.stderr)}")
    return set(re.findall(r"\bCKV2?_K8S_[0-9]+\b", completed.stdout))


def _parse_report(stdout: str, stderr: str = "") -> ScanResult:
    """Read checkov's JSON output: one report, a list of reports, or only a summary."""
    documents = _json_documents(stdout)
    if not documents:
        raise CheckovError(f"checkov printed no JSON report\n{_tail(stderr or stdout)}")
    reports: list[dict[str, Any]] = []
    for document in documents:
        for item in document if isinstance(document, list) else [document]:
            if not isinstance(item, dict):
                raise CheckovError(f"unexpected item in checkov's JSON report: {item!r:.200}")
            reports.append(item)

    passed = failed = skipped = resource_count = 0
    failures: list[Failure] = []
    skips: list[Skip] = []
    for report in reports:
        if "check_type" not in report:
            # Nothing had a check to run: checkov prints only the summary (all zero).
            summary = report
        elif report["check_type"] != "kubernetes":
            raise CheckovError(f"checkov reported on framework {report['check_type']!r}, not kubernetes")
        else:
            summary = report.get("summary", {})
        if summary.get("parsing_errors"):
            errors = report.get("results", {}).get("parsing_errors", [])
            raise CheckovError(f"checkov could not parse {summary['parsing_errors']} file(s): {errors}")
        results = report.get("results", {})
        report_failures = [_failure(check) for check in results.get("failed_checks", [])]
        if len(report_failures) != summary.get("failed", 0):
            raise CheckovError(
                f"checkov's summary counts {summary.get('failed')} failed checks but lists {len(report_failures)}"
            )
        failures += report_failures
        skips += [_skip(check) for check in results.get("skipped_checks", [])]
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        skipped += summary.get("skipped", 0)
        resource_count += summary.get("resource_count", 0)

    return ScanResult(
        passed=passed,
        failed=failed,
        skipped=skipped,
        failures=sorted(failures, key=lambda f: (f.file, f.resource, _check_order(f.check_id))),
        skips=sorted(skips, key=lambda s: (s.file, s.resource, _check_order(s.check_id))),
        resource_count=resource_count,
    )


def _json_documents(text: str) -> list[Any]:
    """Every JSON document in `text`, skipping anything before the first one."""
    decoder = json.JSONDecoder()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    documents: list[Any] = []
    while 0 <= start < len(text):
        try:
            document, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as err:
            raise CheckovError(f"checkov's output is not valid JSON ({err})\n{_tail(text)}") from err
        documents.append(document)
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
    return documents


def _failure(check: dict[str, Any]) -> Failure:
    return Failure(
        check_id=check["check_id"],
        check_name=check["check_name"],
        resource=check["resource"],
        file=_relative(check),
    )


def _skip(check: dict[str, Any]) -> Skip:
    return Skip(
        check_id=check["check_id"],
        check_name=check["check_name"],
        resource=check["resource"],
        file=_relative(check),
        reason=check.get("check_result", {}).get("suppress_comment", ""),
    )


def _relative(check: dict[str, Any]) -> str:
    # checkov gives file_path relative to the scanned directory, with a leading slash.
    return str(check.get("file_path", "")).lstrip("/")


def _check_order(check_id: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(\d+)", check_id)
    return (match.group(1), int(match.group(2))) if match else (check_id, 0)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


if __name__ == "__main__":
    for directory in sys.argv[1:]:
        print(f"{directory}: {scan_directory(Path(directory)).report()}")
