"""Tests for canary/traffic/versions.py: reading the version from a header or the body."""

from __future__ import annotations

import re

import pytest

from canary.traffic.client import Answer
from canary.traffic.versions import VersionReader, compile_pattern


def _answer(headers: dict[bytes, bytes] | None = None, body: bytes = b"") -> Answer:
    return Answer(200, headers or {}, body)


def test_header_is_read_whatever_the_case_of_its_name() -> None:
    reader = VersionReader(header="X-Canary-Version")
    assert reader(_answer({b"x-canary-version": b" v2 "})) == "v2"


def test_header_added_twice_names_the_first_destination() -> None:
    reader = VersionReader(header="x-canary-version")
    assert reader(_answer({b"x-canary-version": b"v2, v1"})) == "v2"


@pytest.mark.parametrize("headers", [{}, {b"x-canary-version": b""}, {b"x-other": b"v2"}])
def test_answer_without_the_header_has_no_version(headers: dict[bytes, bytes]) -> None:
    assert VersionReader(header="x-canary-version")(_answer(headers)) is None


def test_pattern_takes_its_first_group() -> None:
    reader = VersionReader(pattern=re.compile(r"version: (\w+)"))
    assert reader(_answer(body=b"<p>version: v2</p>")) == "v2"


def test_pattern_without_groups_takes_the_whole_match() -> None:
    reader = VersionReader(pattern=re.compile(r"v\d+"))
    assert reader(_answer(body=b"nginx v12 here")) == "v12"


def test_pattern_that_does_not_match_gives_no_version() -> None:
    reader = VersionReader(pattern=re.compile(r"version: (\w+)"))
    assert reader(_answer(body=b"<h1>hello</h1>")) is None


def test_pattern_group_that_did_not_take_part_gives_no_version() -> None:
    reader = VersionReader(pattern=re.compile(r"hello( from (\w+))?"))
    assert reader(_answer(body=b"hello world")) is None


def test_bad_pattern_says_why() -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        compile_pattern("version: (")
