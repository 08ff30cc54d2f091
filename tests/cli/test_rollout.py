"""`canary rollout`'s flags and stack config: the plan it prints, and one-line refusals that change nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.cli.rollout import main, write_report
from canary.rollout.lock import LockedError, StackLock
from canary.rollout.run_report import RolloutReport
from tests.support.loopback_http import serving
from tests.support.rollout_cli import URL, project, run


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
        (["--steps", "ten"], "argument --steps: item 'ten': must be a weight from 1 to 100, pause or pause=<"),
        (["--step-duration", "2 minutes"], "argument --step-duration: must be a duration such as 90s, 2m or 1h"),
        (["--prometheus", "localhost:9090"], "argument --prometheus: must be an http:// or https:// URL"),
        (["--max-error-rate", "0"], "argument --max-error-rate: must be a percentage above 0 and at most 100, got 0"),
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
        (["--min-requests", "0"], "argument --min-requests: must be an integer from 1 to 10000000, got 0"),
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


def test_control_characters_a_server_answers_are_shown_not_obeyed_by_the_terminal(tmp_path, capsys):
    # ESC clears the screen, CR rewrites the line, U+202E reads what follows backwards: a
    # Prometheus (or a proxy in front of it) could make the error say something else.
    refusal = {"status": "error", "error": "\x1b[2J\rbad\u202eparse error"}
    with serving(lambda _: (400, refusal)) as (prometheus, _):
        code, out, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--prometheus", prometheus)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "<U+001B>[2J" in err and "bad<U+202E>parse error" in err, err
    assert not any((ord(char) < 32 and char != "\n") or char == "\u202e" for char in err)


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
    write_report(gone / "r.html", RolloutReport(stack="prod", canary="v2", stable="v1", outcome="rolled back"))
    err = capsys.readouterr().err
    assert err.startswith(f"canary rollout: warning: could not write the report to {gone / 'r.html'}: ")
    assert err.count("\n") == 1


def test_the_report_is_the_rollouts_page(tmp_path, capsys):
    page = tmp_path / "r.html"
    write_report(page, RolloutReport(stack="prod", canary="v2", stable="v1", outcome="rolled back", reason="why"))
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


# --- one model for flags and stack: the same ranges, the same reasons ----------------------------

# Each row: a flag and its value, the same value as a `rollout:` key, and the reason both must give.
SAME_RULE = [
    ("--step-duration", "99999999999999h", "stepDuration", "must be at most 24h"),
    ("--step-duration", "0", "stepDuration", "must be more than zero"),
    ("--analysis-interval", "2h", "analysisInterval", "must be at most 1h"),
    ("--hold-limit", "99h", "holdLimit", "must be at most 24h"),
    ("--min-requests", "20000000", "minRequests", "must be an integer from 1 to 10000000"),
    ("--max-p99-ms", "inf", "maxP99Ms", "must be a number above 0 and at most 60000"),
    ("--max-p99-ms", "nan", "maxP99Ms", "must be a number above 0 and at most 60000"),
    ("--max-p99-ratio", "0.01", "maxP99Ratio", "must be a number from 1 to 100"),
    ("--max-error-rate", "0", "maxErrorRate", "must be a percentage above 0 and at most 100"),
    ("--alpha", "nan", "alpha", "must be a probability above 0 and below 0.5"),
]


def as_stack_value(key: str, text: str) -> Any:
    if key in ("stepDuration", "analysisInterval", "holdLimit"):
        return text
    return int(text) if key == "minRequests" else float(text)


@pytest.mark.parametrize(("flag", "text", "key", "reason"), SAME_RULE, ids=[f"{r[0]} {r[1]}" for r in SAME_RULE])
def test_a_flag_and_its_rollout_key_are_held_to_one_rule(tmp_path, capsys, flag, text, key, reason):
    directory = project(tmp_path)
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL, flag, text)
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert err.startswith(f"canary rollout: error: argument {flag}: {reason}, got "), err
    directory = project(tmp_path, rollout={key: as_stack_value(key, text)})
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert (code, out) == (2, "") and f"rollout.{key}: {reason}, got " in err, err


@pytest.mark.parametrize("value", ["999999999999", "0"])
def test_the_split_gates_requests_have_a_range(tmp_path, capsys, value):
    code, _, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--requests", value)
    assert code == 2 and "argument --requests: must be a whole number from 1 to 1000000" in err, err


def test_a_host_header_with_a_line_break_is_refused_as_verify_refuses_it(tmp_path, capsys):
    code, out, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--host", "evil.com\r\nX-Injected: 1")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "argument --host: must be a host name such as app.example.com" in err, err


@pytest.mark.parametrize("flag", ["--report", "--project-dir"])
def test_an_empty_path_flag_is_refused(tmp_path, capsys, flag):
    code, _, err = main(["--stack", "prod", "--dry-run", "--url", URL, flag, ""]), *capsys.readouterr()
    assert code == 2 and f"argument {flag}" in err and "must not be empty" in err, err


def test_a_step_duration_written_as_a_number_of_seconds_is_read_as_the_flag_reads_it(tmp_path, capsys):
    code, out, _ = run(capsys, project(tmp_path, rollout={"stepDuration": 120}), "--dry-run", "--json", "--url", URL)
    assert code == 0 and json.loads(out)["step_seconds"] == 120


def test_a_dry_run_of_a_stack_without_a_canary_is_refused_as_the_real_run_is(tmp_path, capsys):
    directory = project(tmp_path, canary={})
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert (code, out) == (2, "") and "has no canary to roll out" in err and err.count("\n") == 1, err


def least_requests(share: float, alpha: float) -> int:
    """The least n with 2 (1 - share)^n < alpha, counted up one request at a time."""
    n = 1
    while 2 * (1 - share) ** n >= alpha:
        n += 1
    return n


def test_the_plan_says_how_many_requests_the_split_gate_will_send_at_each_step(tmp_path, capsys):
    # The baseline: a cookie route and the plain route, two versions, four steps: 16 split tests,
    # each at 0.01 / 5 / 16; at 5 % a version must be seen within 2 points, so at 3 %.
    code, out, _ = run(capsys, project(tmp_path), "--dry-run", "--url", URL)
    assert code == 0
    at_5 = least_requests(0.03, 0.01 / 5 / 16)
    at_10 = least_requests(0.08, 0.01 / 5 / 16)
    assert (at_5, at_10) == (318, 117)
    # --requests (200 by default) is the floor.
    assert f"{at_5} requests per route at 5%, 200 at 10%, 25%, 50%" in out, out
    code, out, _ = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--requests", "100")
    assert f"{at_5} requests per route at 5%, {at_10} at 10%, 100 at 25%, 50%" in out, out


# --- a secret webhook --------------------------------------------------------------------------


def fake_pulumi(folder: Path, revealed: str) -> Path:
    """A `pulumi` that answers `config get --path istio-canary:rollout.webhook` with `revealed`,
    as the real CLI decrypts a secret, and logs its arguments."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{folder / "pulumi.log"}"\n'
        'case "$*" in *"config get"*"istio-canary:rollout.webhook"*) '
        f"echo '{revealed}'; exit 0;; esac\n"
        "echo 'error: unexpected call' >&2; exit 1\n"
    )
    script.chmod(0o755)
    return bin_dir


def secret_stack(tmp_path: Path) -> Path:
    directory = project(tmp_path)
    stack = yaml.safe_load((directory / "Pulumi.prod.yaml").read_text())
    stack["config"]["istio-canary:rollout"] = {"webhook": {"secure": "AAABAKq0"}}
    (directory / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    return directory


def test_a_secret_webhook_is_decrypted_by_the_pulumi_cli_and_never_shown(tmp_path, capsys, monkeypatch):
    with serving(lambda _: (200, {})) as (webhook, received):
        secret = f"{webhook.rstrip('/')}/services/T0/B0/s3cret"
        monkeypatch.setenv("PATH", f"{fake_pulumi(tmp_path, secret)}:/usr/bin:/bin")
        directory = secret_stack(tmp_path)
        code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
        assert code == 0, err
        assert len(received) == 1  # the preflight reached the decrypted URL
        assert "s3cret" not in out + err and "gate webhook: [secret]" in out
        code, out, err = run(capsys, directory, "--dry-run", "--json", "--url", URL)
        assert code == 0 and "s3cret" not in out + err
        assert json.loads(out)["gates"]["webhook"] == "[secret]"
    assert "config get --path istio-canary:rollout.webhook --stack prod" in (tmp_path / "pulumi.log").read_text()


def test_an_unreachable_secret_webhook_is_refused_without_showing_it(tmp_path, capsys, monkeypatch):
    with serving(lambda _: (200, {})) as (webhook, _):
        pass  # gone once the block ends
    monkeypatch.setenv("PATH", f"{fake_pulumi(tmp_path, webhook.rstrip('/') + '/s3cret')}:/usr/bin:/bin")
    code, out, err = run(capsys, secret_stack(tmp_path), "--dry-run", "--url", URL)
    assert code == 2 and "is unreachable" in err and "s3cret" not in out + err, err


def test_a_secret_webhook_without_the_pulumi_cli_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(capsys, secret_stack(tmp_path), "--dry-run", "--url", URL)
    assert code == 2 and err.count("\n") == 1
    assert "rollout.webhook is a secret: reading it needs the Pulumi CLI (pulumi) on PATH" in err, err


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_a_lock_file_that_is_a_link_or_a_fifo_is_refused_and_left_alone(tmp_path, kind):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    lock = tmp_path / ".canary-rollout.prod.lock"
    if kind == "link":
        lock.symlink_to(victim)
    else:
        os.mkfifo(lock)
    with pytest.raises(LockedError, match=r"\.canary-rollout\.prod\.lock"), StackLock(tmp_path, "prod"):
        pass
    assert victim.read_text() == "precious\n"


def test_the_did_you_mean_hint_comes_before_the_config_errors(tmp_path, capsys):
    directory = project(tmp_path)
    stack = (directory / "Pulumi.prod.yaml").read_text().replace("istio-canary:app:", "istiocanary:app:")
    (directory / "Pulumi.prod.yaml").write_text(stack)
    code, _, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert code == 2 and err.index("did you mean istio-canary:app?") < err.index("app: required key is missing"), err
