"""checkov over every shipped stack's manifests: no failed check, and every skip is deliberate.

Checkov runs from its own virtualenv (venv-scan/, see tests/support/checkov_scan.py). A skip turns a
failing check into an exception shown in the manifest; it must never hide a check that would
pass, so the skips are compared with the checks that fail once the annotations are removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from canary.cli.render import write_manifests
from canary.config import parse_settings
from canary.config.files import stack_config
from canary.plan.rules.checkov_ids import KUBERNETES_CHECK_IDS
from canary.plan.security_profiles import PROFILES
from tests.support.checkov_scan import kubernetes_check_ids, scan_directory
from tests.support.project import PROJECT_DIR, SHIPPED_STACKS, shipped_stack

SEED = Path(__file__).parent / "data" / "seed"

# checkov takes seconds a stack: slow as well as scan.
pytestmark = [pytest.mark.scan, pytest.mark.slow]


def render(stack: str, out: Path, *, keep_skips: bool = True) -> list[dict]:
    manifests = shipped_stack(stack).manifests()
    for manifest in manifests:
        if not keep_skips and manifest["kind"] == "Deployment":
            manifest["metadata"].pop("annotations", None)
    write_manifests(manifests, out, stack)
    return manifests


def expected_skips(stack: str) -> set[tuple[str, str, str]]:
    """(deployment, check, reason) for every exception the stack's settings declare."""
    settings = parse_settings(stack_config(PROJECT_DIR, stack))
    return {
        (f"{settings.app}-deployment-{version.name}", check, reason)
        for version in settings.versions
        for check, reason in {**PROFILES[version.security_profile].scan_exceptions, **version.scan_exceptions}.items()
    }


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stack_passes_the_scan_with_only_its_declared_skips(stack, tmp_path):
    render(stack, tmp_path)
    result = scan_directory(tmp_path)
    assert result.failed == 0, result.report()
    assert result.passed > 0 and result.resource_count > 0
    skipped = {(s.resource.split(".")[2], s.check_id, s.reason) for s in result.skips}
    assert skipped == expected_skips(stack)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_skip_of_a_shipped_stack_hides_a_check_that_really_fails(stack, tmp_path):
    render(stack, tmp_path, keep_skips=False)
    result = scan_directory(tmp_path)
    failing = {(f.resource.split(".")[2], f.check_id) for f in result.failures}
    assert failing == {(deployment, check) for deployment, check, _ in expected_skips(stack)}


def test_the_tutorial_fails_the_checks_the_program_fixes(tmp_path):
    for manifest in SEED.glob("*.yml"):
        (tmp_path / manifest.name).write_text(manifest.read_text())
    result = scan_directory(tmp_path)
    failing = {f.check_id for f in result.failures}
    # Probes, resources, privilege escalation, seccomp, security contexts, service-account token.
    fixed = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"}
    fixed |= {"CKV_K8S_20", "CKV_K8S_28", "CKV_K8S_29", "CKV_K8S_30", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_38"}
    assert fixed <= failing


def test_the_check_ids_scan_exceptions_accept_are_the_installed_checkovs():
    assert kubernetes_check_ids() == KUBERNETES_CHECK_IDS
