"""What the rollout prints while it runs: each poll's counts and e-values in one line."""

from __future__ import annotations

import dataclasses

import pytest

from canary.rollout.gates import GateResult
from canary.rollout.view import ConsoleView, gate_figures
from canary.rollout.watch import Poll, VersionPoll

POLL = Poll(
    seconds=42.4,
    weight=10,
    versions={
        "v1": VersionPoll(requests=900, errors=1, error_rate=0.1, p99_ms=9.5),
        "v2": VersionPoll(requests=100, errors=5, error_rate=None, p99_ms=None),
    },
    unattributed_errors=2,
    tests=(
        {"test": "error rate against stable", "e_value": 12.5, "p_value": 0.08, "threshold": 500.0, "alpha": 0.002},
    ),
    rollback=False,
)


def test_a_poll_is_a_log_line_with_the_counts_and_the_e_values(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleView(live=False).poll(POLL)
    line = capsys.readouterr().err
    assert "poll at 42s: v1 900 requests 1 5xx (now 0.10%, p99 10 ms); v2 100 requests 5 5xx (now -, p99 -)" in line
    assert "2 5xx of no version; e-values 5xx vs stable 12.5/500" in line


def test_a_health_gate_that_rolled_back_shows_its_poll() -> None:
    result = GateResult("health", False, ("error rate limit: ...",), {"poll": POLL.to_json()})
    assert gate_figures(result).endswith("e-values 5xx vs stable 12.5/500")


def test_a_polls_line_gives_each_metric_of_the_team_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    ratio = {
        "name": "checkouts",
        "kind": "ratio",
        "versions": {"v1": {"bad": 3, "total": 900}, "v2": {"bad": 4, "total": 100}},
    }
    lag = {
        "name": "lag",
        "kind": "threshold",
        "value": 150.0,
        "min": None,
        "max": 100,
        "bad_polls": 2,
        "failure_limit": 3,
    }
    ConsoleView(live=False).poll(dataclasses.replace(POLL, metrics=(ratio, lag)))
    line = capsys.readouterr().err
    assert "2 5xx of no version; checkouts v1 3/900, v2 4/100; lag 150 (max 100, 2/3 bad); e-values" in line


def test_the_live_line_while_waiting_says_what_for_since_when_and_the_time_left() -> None:
    from canary.rollout.control import Wait
    from canary.rollout.view import waiting_line

    wait = Wait("r:1", "timer", "10m, or an approval (canary rollout --approve)", 1, 5, "2026-12-07T10:02:11Z")
    assert waiting_line(1, 3, wait, 125.0, "5xx vs stable 1.2/500") == (
        "step 1/3: canary at 5%, waiting for 10m, or an approval (canary rollout --approve) since "
        "2026-12-07T10:02:11Z, 2m05s left; e-values 5xx vs stable 1.2/500"
    )
    approval = Wait("r:2", "approval", "an approval (canary rollout --approve)", 2, 25, "2026-12-07T10:20:00Z")
    assert waiting_line(2, 3, approval, None) == (
        "step 2/3: canary at 25%, waiting for an approval (canary rollout --approve) since 2026-12-07T10:20:00Z"
    )


def test_the_p99_comparison_shows_the_ratio_it_tested() -> None:
    from canary.rollout.view import e_values

    detail = "canary above 250 ms against stable above 100 ms (stable's p99.6): ratio tested 2.5"
    tests = [{"test": "p99 against stable", "e_value": 3.0, "threshold": 1000.0, "detail": detail}]
    assert e_values(tests) == "p99 vs stable 3/1e+03 (ratio tested 2.5)"


def test_what_a_gate_was_answered_is_shown_not_obeyed_by_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # A webhook's or Prometheus' answer inside a problem or an event: ESC, CR, a bidi override.
    view = ConsoleView(live=False)
    view.event("webhook answered \x1b]0;owned\x07 \u202edeliver")
    view.gate(GateResult("webhook", False, ("answered 500: \x1b[1A\rall good",), {}))
    err = capsys.readouterr().err
    assert "webhook answered <U+001B>]0;owned<U+0007> <U+202E>deliver" in err
    assert "answered 500: <U+001B>[1A<U+000D>all good" in err
    assert not any((ord(char) < 32 and char != "\n") or char == "\u202e" for char in err)
