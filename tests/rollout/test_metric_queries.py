"""`rollout.metrics` templates filled in per version, each value escaped for where it lands."""

from __future__ import annotations

import pytest

from canary.rollout.metric_queries import fill, for_version

VALUES = {"namespace": "shop", "app": "web", "version": "v2"}


def test_every_placeholder_is_filled_in_with_or_without_spaces() -> None:
    template = 'checkout_failures_total{namespace="{{namespace}}",app="{{ app }}",version="{{  version }}"}'
    assert (
        for_version(template, "shop", "web", "v2") == 'checkout_failures_total{namespace="shop",app="web",version="v2"}'
    )


@pytest.mark.parametrize(
    ("template", "value", "filled"),
    [
        # A quote or backslash in a plain matcher's string cannot end the string.
        ('m{version="{{ version }}"}', 'v"} or vector(1) #', 'm{version="v\\"} or vector(1) #"}'),
        ('m{version="{{ version }}"}', "a\\b", 'm{version="a\\\\b"}'),
        ("m{version='{{ version }}'}", "it's", "m{version='it\\'s'}"),
        # In a regex matcher, RE2's special characters match themselves.
        ('m{version=~"{{ version }}"}', "v1.2", 'm{version=~"v1\\\\.2"}'),
        ('m{version!~"{{ version }}|canary"}', "a+b", 'm{version!~"a\\\\+b|canary"}'),
        # A `=~` before an earlier string does not make a later plain string a regex.
        ('m{a=~"x",version="{{ version }}"}', "v1.2", 'm{a=~"x",version="v1.2"}'),
        # A quote escaped inside an earlier string does not end it.
        ('label_replace(m, "d", "\\"{{ version }}", "s", ".*")', "v2", 'label_replace(m, "d", "\\"v2", "s", ".*")'),
        # Outside any string, the value is written as a string.
        ('label_replace(m, "version", {{ version }}, "", "")', 'x"y', 'label_replace(m, "version", "x\\"y", "", "")'),
        ("m{version=`{{ version }}`}", "v`2", "m{version=`v2`}"),
    ],
)
def test_a_filled_value_stays_a_value(template: str, value: str, filled: str) -> None:
    assert fill(template, {**VALUES, "version": value}) == filled
