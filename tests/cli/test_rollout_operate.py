"""`canary rollout`'s flags for pauses, the confirm webhook and notifications: the plan, and refusals."""

from __future__ import annotations

import json

import pytest

from tests.support.rollout_cli import URL, project, run


def test_the_plan_lists_pauses_where_they_wait(tmp_path, capsys):
    directory = project(tmp_path, rollout={"steps": [5, {"pause": True}, 25, {"pause": "10m"}, 50]})
    code, out, _ = run(capsys, directory, "--dry-run", "--url", URL)
    assert code == 0
    assert "steps: 5%, pause (approval), 25%, pause (timer 10m), 50%, each watched 120s" in out


def test_the_flag_overrides_the_steps_with_its_own_pauses(tmp_path, capsys):
    code, out, _ = run(
        capsys, project(tmp_path), "--dry-run", "--json", "--steps", "pause,10,pause=90s,50", "--url", URL
    )
    plan = json.loads(out)
    assert code == 0 and plan["steps"] == [10, 50]
    assert plan["sequence"] == ["pause (approval)", "10%", "pause (timer 90s)", "50%"]


def test_the_confirm_webhook_and_notify_urls_show_in_the_plan(tmp_path, capsys):
    directory = project(tmp_path, rollout={"confirm": "http://127.0.0.1:9/confirm", "notify": ["json://127.0.0.1:9/"]})
    code, out, _ = run(capsys, directory, "--dry-run", "--url", URL)
    assert code == 0
    assert "confirm: http://127.0.0.1:9/confirm (holds until 2xx)" in out
    assert "notify: every event to 1 Apprise URL(s)" in out


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"steps": [5, {"pause": "later"}, 25]}, "rollout.steps: item [1] {pause: 'later'}: pause must be true or a"),
        (
            {"steps": [5, {"pause": True}, {"pause": True}]},
            "rollout.steps: item [2] {pause: true}: two pauses in a row",
        ),
        ({"confirm": "ftp://x"}, "rollout.confirm: must be an http:// or https:// URL, got 'ftp://x'"),
        ({"notify": ["hooks.slack.com"]}, "rollout.notify: must be Apprise URLs such as slack://"),
    ],
)
def test_bad_config_is_named_and_changes_nothing(tmp_path, capsys, config, message):
    directory = project(tmp_path, rollout=config)
    before = (directory / "Pulumi.prod.yaml").read_text()
    code, out, err = run(capsys, directory, "--dry-run", "--url", URL)
    assert code == 2 and out == "" and message in err and "Traceback" not in err
    assert (directory / "Pulumi.prod.yaml").read_text() == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "5,pause=,25"], "argument --steps: item 'pause=': pause= takes a duration"),
        (["--confirm", "localhost:9"], "argument --confirm: must be an http:// or https:// URL, got 'localhost:9'"),
        (["--approve", "--abort"], "argument --abort: not allowed with argument --approve"),
    ],
)
def test_bad_flags_are_named(tmp_path, capsys, flags, message):
    code, out, err = run(capsys, project(tmp_path), "--dry-run", *flags)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_a_url_apprise_cannot_send_to_is_refused_by_scheme_without_echoing_it(tmp_path, capsys):
    code, out, err = run(capsys, project(tmp_path), "--dry-run", "--url", URL, "--notify", "slak://T0K3N/SECRET")
    assert code == 2 and out == ""
    assert "argument --notify: Apprise cannot send to this URL (scheme 'slak')" in err
    assert "T0K3N" not in err and "SECRET" not in err


def test_full_goes_only_with_approve(tmp_path, capsys):
    code, out, err = run(capsys, project(tmp_path), "--full")
    assert (code, out) == (2, "") and err == "canary rollout: error: argument --full: only with --approve\n"
