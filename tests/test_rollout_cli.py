"""`canary rollout`'s flags and stack config: the plan it prints, and one-line refusals that change nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.rollout.cli import main, write_report
from canary.rollout.lock import LockedError, StackLock
from tests.conftest import BASELINE, PROJECT_DIR
from tests.loopback_http import serving


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


def stable_series(_: Any) -> tuple[int, dict[str, Any]]:
    """A Prometheus API that holds one request series of stable."""
    return 200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}


def test_dry_run_prints_the_plan_from_the_defaults(tmp_path, capsys):
    code, out, _ = run(capsys, project(tmp_path), "--dry-run", "--url", URL)
    assert code == 0
    assert "canary v2 at 0%, stable v1" in out
    assert "steps: 5%, 10%, 25%, 50%, each watched 120s" in out
    assert "gate health: off" in out and "gate webhook: off" in out
    assert "then: stop at the last step" in out


def test_the_stack_configs_rollout_key_sets_the_plan_and_flags_override_it(tmp_path, capsys):
    with serving(stable_series) as (prometheus, received):
        directory = project(
            tmp_path, rollout={"steps": [20, 60], "stepDuration": "45s", "prometheus": prometheus, "maxP99Ms": 300}
        )
        code, out, _ = run(
            capsys, directory, "--dry-run", "--json", "--max-error-rate", "0.5", "--retire", "--url", URL
        )
    plan = json.loads(out)
    assert code == 0
    assert (plan["steps"], plan["step_seconds"]) == ([20, 60], 45)
    health = plan["gates"]["health"]
    assert (health["prometheus"], health["max_p99_ms"], health["max_error_rate"]) == (prometheus, 300, 0.5)
    # The preflight asked Prometheus for stable's series, as the analysis will query them.
    assert len(received) == 1 and "destination_version%3D%22v1%22" in received[0][0]
    assert plan["then"] == ["promote", "retire v1"]


def test_a_release_part_way_plans_the_steps_left(tmp_path, capsys):
    directory = project(tmp_path, canary={"version": "v2", "cookie": "version=v2", "weight": 25})
    _, out, _ = run(capsys, directory, "--dry-run", "--json", "--url", URL)
    assert json.loads(out)["steps"] == [25, 50]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "10,5"], "argument --steps: must rise step by step (e.g. 5,10,25,50), got '10,5'"),
        (["--steps", "ten"], "argument --steps: must be weights such as 5,10,25,50, got 'ten'"),
        (["--step-duration", "2 minutes"], "argument --step-duration: must be a duration such as 90s, 2m or 1h"),
        (["--prometheus", "localhost:9090"], "argument --prometheus: must be an http:// or https:// URL"),
        (["--max-error-rate", "0"], "argument --max-error-rate: must be more than zero, got 0"),
        (["--max-p99-ms", "fast"], "argument --max-p99-ms: invalid float value: 'fast'"),
        (
            ["--max-error-rate", "150"],
            "argument --max-error-rate: must be a percentage above 0 and at most 100, got 150",
        ),
        (["--alpha", "0.7"], "argument --alpha: must be a probability above 0 and below 0.5, got 0.7"),
        (
            ["--split-tolerance", "-1"],
            "argument --split-tolerance: must be percentage points from 0 to below 50, got -1",
        ),
        (["--analysis-interval", "often"], "argument --analysis-interval: must be a duration such as 90s, 2m or 1h"),
        (["--min-requests", "0"], "argument --min-requests: must be at least 1, got 0"),
        (["--wieght", "5"], "unrecognized arguments: --wieght 5"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path, capsys, flags, message):
    directory = project(tmp_path)
    before = (directory / "Pulumi.prod.yaml").read_text()
    code, out, err = run(capsys, directory, *flags)
    assert code == 2 and out == ""
    assert err.startswith("canary rollout: error: ") and message in err and err.count("\n") == 1
    assert (directory / "Pulumi.prod.yaml").read_text() == before


def test_bad_rollout_config_names_the_key_and_value(tmp_path, capsys):
    code, _, err = run(capsys, project(tmp_path, rollout={"steps": [50, 10]}), "--dry-run")
    assert code == 2 and "rollout.steps: must rise step by step" in err and "[50, 10]" in err


def test_a_missing_stack_file_is_one_line(tmp_path, capsys):
    code = main(["--stack", "nope", "--project-dir", str(project(tmp_path)), "--dry-run"])
    assert code == 2 and "no stack file" in capsys.readouterr().err


def test_without_the_pulumi_cli_it_refuses_before_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(capsys, project(tmp_path))
    assert code == 2 and "the Pulumi CLI (pulumi) is not on PATH" in err


def test_a_second_rollout_of_the_same_stack_is_refused(tmp_path):
    with (
        StackLock(tmp_path, "prod"),
        pytest.raises(LockedError, match=r"another rollout of this stack is running \(pid "),
        StackLock(tmp_path, "prod"),
    ):
        pass
    # Released with its holder, and other stacks were never blocked.
    with StackLock(tmp_path, "prod"), StackLock(tmp_path, "staging"):
        pass


def unchanged(directory: Path) -> Callable[[], bool]:
    before = {path.name: path.read_text() for path in directory.iterdir() if path.is_file()}
    return lambda: {path.name: path.read_text() for path in directory.iterdir() if path.is_file()} == before


def test_a_dry_run_with_prometheus_unreachable_is_one_line_exit_2_and_changes_nothing(tmp_path, capsys):
    with serving(stable_series) as (prometheus, _):
        pass  # gone once the block ends
    directory = project(tmp_path)
    same = unchanged(directory)
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL, "--prometheus", prometheus)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"canary rollout: error: Prometheus at {prometheus} is unreachable: ")
    assert same()


def test_a_dry_run_with_prometheus_holding_no_series_of_stable_exits_2(tmp_path, capsys):
    empty = lambda _: (200, {"status": "success", "data": {"resultType": "vector", "result": []}})  # noqa: E731
    with serving(empty) as (prometheus, _):
        code, _, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--prometheus", prometheus)
    assert code == 2 and "has no istio_requests_total series of stable v1" in err and err.count("\n") == 1


def test_a_dry_run_with_the_webhook_unreachable_exits_2_and_any_answer_passes(tmp_path, capsys):
    with serving(lambda _: (405, {})) as (webhook, _):
        code, _, _ = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--webhook", webhook)
        assert code == 0  # any HTTP answer: the webhook judges only the steps' POSTs
    code, _, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--webhook", webhook)
    assert code == 2 and f"webhook {webhook} is unreachable" in err


def test_a_dry_run_whose_url_does_not_resolve_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, project(tmp_path), "--dry-run", "--url", "http://no-such-host.invalid/")
    assert code == 2 and "the URL's host no-such-host.invalid does not resolve" in err and err.count("\n") == 1


def test_a_dry_run_without_url_needs_the_stacks_outputs_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    directory = project(tmp_path)
    same = unchanged(directory)
    code, _, err = run(capsys, directory, "--dry-run")
    assert code == 2 and "the stack's outputs, which need the Pulumi CLI (pulumi) on PATH: pass --url" in err
    assert same()


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("missing/rollout.html", "does not exist"),
        (".", "is a folder"),
    ],
)
def test_a_report_path_that_cannot_be_written_is_one_line_exit_2_before_anything(tmp_path, capsys, where, reason):
    directory = project(tmp_path)
    same = unchanged(directory)
    code, out, err = run(capsys, directory, "--report", str(tmp_path / where), "--url", URL)
    assert code == 2 and reason in err and err.startswith("canary rollout: error: argument --report:"), err
    assert err.count("\n") == 1 and out == "" and same()


def test_a_report_that_cannot_be_written_at_the_end_is_a_warning_not_a_traceback(tmp_path, capsys):
    gone = tmp_path / "gone"
    write_report(gone / "r.html", {"stack": "prod", "outcome": "rolled back", "reason": "x"})
    err = capsys.readouterr().err
    assert err.startswith(f"canary rollout: warning: could not write the report to {gone / 'r.html'}: ")
    assert err.count("\n") == 1


def test_the_report_is_the_rollouts_page(tmp_path, capsys):
    page = tmp_path / "r.html"
    write_report(page, {"stack": "prod", "canary": "v2", "stable": "v1", "outcome": "rolled back", "reason": "why"})
    assert "v2 against v1 on prod: rolled back" in page.read_text()
    assert capsys.readouterr().err == f"report: {page}\n"


def test_health_thresholds_given_while_the_health_gate_is_off_are_reported(tmp_path, capsys):
    directory = project(tmp_path, rollout={"maxP99Ms": 300})
    code, _, err = run(capsys, directory, "--dry-run", "--url", URL, "--max-error-rate", "2", "--min-requests", "9")
    assert code == 0
    assert err == (
        "canary rollout: warning: --max-error-rate, rollout.maxP99Ms, --min-requests ignored: "
        "the health gate is off (no --prometheus or rollout.prometheus)\n"
    )


def test_nothing_is_reported_when_the_thresholds_have_their_gate(tmp_path, capsys):
    with serving(stable_series) as (prometheus, _):
        code, _, err = run(
            capsys, project(tmp_path), "--dry-run", "--url", URL, "--prometheus", prometheus, "--max-p99-ms", "9"
        )
    assert (code, err) == (0, "")


def test_metrics_and_prometheus_auth_given_while_the_health_gate_is_off_are_reported(tmp_path, capsys):
    metric = {"name": "lag", "kind": "threshold", "query": "lag", "max": 1}
    directory = project(tmp_path, rollout={"metrics": [metric], "prometheusAuth": {"bearerTokenEnv": "T"}})
    code, _, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert code == 0
    assert err == (
        "canary rollout: warning: rollout.prometheusAuth, rollout.metrics ignored: "
        "the health gate is off (no --prometheus or rollout.prometheus)\n"
    )
