"""The release's records in the stack's tags: long records cut in parts, whole or nothing."""

from __future__ import annotations

import json

from canary.rollout import release_tags
from canary.rollout.release_tags import MAX_VALUE, read_record, remove_record, write_record
from tests.support.logged_tags import LoggedTags

KEY = release_tags.ANALYSIS
LONG = {"logs": [i / 7 for i in range(100)], "name": "x" * 300}


def test_a_record_longer_than_a_tag_is_read_back_whole() -> None:
    store = LoggedTags()
    write_record(store, KEY, LONG)
    text = json.dumps(LONG, separators=(",", ":"), sort_keys=True)
    parts = -(-len(text) // MAX_VALUE)
    assert parts > 3 and len(store.tags) == parts + 1
    assert read_record(store.read(), KEY) == LONG


def test_the_header_is_written_last_and_removed_first() -> None:
    store = LoggedTags()
    write_record(store, KEY, LONG)
    assert store.log[-1] == f"set {KEY}"
    write_record(store, KEY, {"short": 1})
    second = store.log[store.log.index(f"set {KEY}") + 1 :]
    assert second[0] == f"rm {KEY}" and second.index(f"set {KEY}") > second.index(f"set {KEY}.1")
    # The parts the longer record used and the shorter does not are gone.
    assert sorted(store.tags) == [KEY, f"{KEY}.1"]
    assert read_record(store.read(), KEY) == {"short": 1}


def test_a_write_cut_short_reads_as_no_record() -> None:
    store = LoggedTags()
    write_record(store, KEY, LONG)
    tags = store.read()
    tags[f"{KEY}.2"] = tags[f"{KEY}.2"][:-1] + "0"  # a part of another write
    assert read_record(tags, KEY) is None
    del tags[f"{KEY}.3"]
    assert read_record(tags, KEY) is None


def test_removing_a_record_leaves_no_tag_of_it() -> None:
    store = LoggedTags()
    store.write("canary-rollout:lock", "{}")
    write_record(store, KEY, LONG)
    remove_record(store, KEY)
    assert store.tags == {"canary-rollout:lock": "{}"}
    assert read_record(store.read(), KEY) is None


def test_no_part_starts_with_a_dash_where_a_cut_would_fall_on_one() -> None:
    # A timestamp's "-07T05:24:04Z" cut at a part's start was refused by the CLI as a flag.
    record = {"a": "x" * (MAX_VALUE - 10) + "2026-12-07T05:24:04Z" + "-" * 30}
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    assert text[MAX_VALUE] == "-"  # where the old cut fell
    store = LoggedTags()
    write_record(store, KEY, record)
    assert read_record(store.read(), KEY) == record
