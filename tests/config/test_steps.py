"""The step grammar: weights and pauses, from the stack config and from `--steps`."""

from __future__ import annotations

import pytest

from canary.config.steps import Pause, Steps, StepsError, describe, from_flag, from_items


def test_a_pause_after_a_weight_waits_for_approval_after_that_step():
    assert from_items([5, {"pause": True}, 25, 50]) == Steps((5, 25, 50), (Pause(after=5, seconds=None),))


def test_a_timed_pause_reads_a_duration_or_seconds():
    assert from_items([5, {"pause": "10m"}, 25]).pauses == (Pause(after=5, seconds=600.0),)
    assert from_items([5, {"pause": 90}, 25]).pauses == (Pause(after=5, seconds=90.0),)


def test_the_flag_says_the_same_in_one_word():
    assert from_flag("5,pause,25,50") == from_items([5, {"pause": True}, 25, 50])
    assert from_flag("5,pause=10m,25") == from_items([5, {"pause": "10m"}, 25])


def test_a_pause_first_waits_before_any_weight_and_a_pause_last_before_promotion():
    steps = from_flag("pause,10,50,pause=1h")
    assert steps.pauses == (Pause(after=0), Pause(after=50, seconds=3600.0))
    assert describe(steps, 0) == ["pause (approval)", "10%", "50%", "pause (timer 1h)"]
    # Resumed at 50 %: the pause before the first step is behind it.
    assert describe(steps, 50) == ["50%", "pause (timer 1h)"]


def test_items_round_trip_to_the_config_form():
    items = [5, {"pause": True}, 25, {"pause": "10m"}, 50]
    assert from_items(items).items() == items


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([5, {"pause": False}, 25], "item [1] {pause: false}: pause must be true or a duration such as 90s, 10m or 1h"),
        ([5, {"pause": "soon"}, 25], "item [1] {pause: 'soon'}: pause must be true or a duration"),
        ([5, {"wait": True}], "item [1] {wait: true}: must be a weight from 1 to 100, {pause: true} or {pause: "),
        ([5, "pause"], "item [1] 'pause': must be a weight from 1 to 100"),
        ([0, 50], "item [0] 0: must be a weight from 1 to 100"),
        ([5, {"pause": True}, {"pause": "1m"}, 25], "item [2] {pause: '1m'}: two pauses in a row"),
        ([50, 10], "must rise step by step"),
        ([{"pause": True}], "must list at least one weight"),
        # A timer longer than a week is an approval that nobody gives: said with the limit.
        ([5, {"pause": "169h"}, 25], "item [1] {pause: '169h'}: pause must be at most 168h"),
        ([5, {"pause": 10**30}, 25], "item [1] {pause: 1000000000000000000000000000000}: pause must be at most 168h"),
        # Past a float's range: compared as a whole number, never converted (an OverflowError
        # before), and shown cut short.
        ([5, {"pause": 10**400}, 25], "item [1] {pause: 1" + "0" * 48 + "...: pause must be at most 168h"),
    ],
)
def test_a_bad_item_is_named_with_its_value(items, message):
    with pytest.raises(StepsError) as caught:
        from_items(items)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5,pauze,25", "item 'pauze': must be a weight from 1 to 100, pause or pause=<duration such as 10m>"),
        ("5,pause=soon,25", "item 'pause=soon': pause= takes a duration such as 90s, 10m or 1h"),
        ("5,150", "item '150': must be a weight from 1 to 100"),
        ("5,,25", "item '': must be"),
        ("5,pause,pause=1m,25", "item 'pause=1m': two pauses in a row"),
        ("5,pause=99999999999h,25", "item 'pause=99999999999h': pause= must be at most 168h"),
        # int() refuses both with a ValueError of its own (a traceback before), and the long one is cut short.
        ("5," + "9" * 5000, "item '" + "9" * 56 + "...: must be a weight from 1 to 100"),
        ("5,\u00b2", "item '\u00b2': must be a weight from 1 to 100"),
    ],
)
def test_a_bad_flag_word_is_named(text, message):
    with pytest.raises(StepsError) as caught:
        from_flag(text)
    assert message in str(caught.value)
