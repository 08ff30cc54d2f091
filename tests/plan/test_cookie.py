"""The cookie rule, evaluated as Envoy evaluates it: RE2, full match on the Cookie header."""

from __future__ import annotations

import re2

from canary.plan.cookie import cookie_regex, re2_escape
from tests.support.cookie_headers import CARRIES_THE_COOKIE, DOES_NOT_CARRY_IT

TUTORIAL_RULE = "^(.*?;)?(version=v2)(;.*)?$"


def matches(rule: str, header: str) -> bool:
    return re2.compile(rule).fullmatch(header) is not None


def test_cookie_rule_matches_when_the_cookie_is_anywhere_in_the_header():
    rule = cookie_regex("version=v2")
    assert [h for h in CARRIES_THE_COOKIE if not matches(rule, h)] == []


def test_cookie_rule_never_matches_a_lookalike_cookie():
    rule = cookie_regex("version=v2")
    assert [h for h in DOES_NOT_CARRY_IT if matches(rule, h)] == []


def test_tutorial_rule_misses_the_cookie_when_it_is_not_first():
    # Why the program does not reuse the tutorial's rule.
    assert matches(TUTORIAL_RULE, "version=v2")
    assert not matches(TUTORIAL_RULE, "_ga=GA1.2.1234567890.1700000000; version=v2")


# Every character RFC 6265 lets a cookie name (token) or value (cookie-octet) carry, other than
# letters and digits: each must match only itself once escaped.
TOKEN_PUNCTUATION = "!#$%&'*+-.^_`|~"
COOKIE_OCTET_PUNCTUATION = "!#$%&'()*+-./:<=>?@[]^_`{|}~"


def test_escaped_cookie_names_match_only_themselves():
    for ch in TOKEN_PUNCTUATION:
        rule = cookie_regex(f"a{ch}b=1")
        assert matches(rule, f"x=1; a{ch}b=1"), ch
        assert not matches(rule, "x=1; aZb=1"), ch
        assert not matches(rule, f"x=1; a{ch}{ch}b=1"), ch


def test_escaped_cookie_values_match_only_themselves():
    for ch in COOKIE_OCTET_PUNCTUATION:
        rule = cookie_regex(f"v=a{ch}b")
        assert matches(rule, f"x=1; v=a{ch}b; y=2"), ch
        assert not matches(rule, "x=1; v=aZb; y=2"), ch
        assert not matches(rule, f"x=1; v=a{ch}{ch}b; y=2"), ch


def test_quoted_cookie_value_matches_literally():
    rule = cookie_regex('v="a b"'.replace(" ", "-"))
    assert matches(rule, 'x=1; v="a-b"')
    assert not matches(rule, "x=1; v=a-b")


def test_re2_escape_leaves_letters_digits_and_underscore():
    assert re2_escape("Ab_9") == "Ab_9"
    assert re2_escape("a.b") == "a\\.b"


# The sticky pins: every cookie regex the VirtualService's pinned routes use, checked with RE2.

STICKY_COOKIE = "canary-pin"


def _pinned_cookie_regexes() -> dict[str, str]:
    from canary.plan.canary_rules import Canary, Sticky
    from canary.plan.istio_routing import virtual_service_spec

    canary = Canary(version="v2", cookie="version=v2", weight=10, sticky=Sticky(cookie=STICKY_COOKIE))
    spec = virtual_service_spec(
        hosts=["web.example.com"],
        gateways=["web-gateway"],
        service_host="web-service",
        stable="v1",
        canary=canary,
        version_header="x-canary-version",
    )
    return {
        route["name"]: entry["headers"]["cookie"]["regex"]
        for route in spec["http"]
        if route["name"].startswith("sticky-")
        for entry in route["match"]
    }


def test_the_pinned_routes_are_one_cookie_regex_per_version():
    assert sorted(_pinned_cookie_regexes()) == ["sticky-v1", "sticky-v2"]


def test_each_pin_matches_its_cookie_anywhere_in_the_header():
    for name, rule in _pinned_cookie_regexes().items():
        cookie = f"{STICKY_COOKIE}={name.removeprefix('sticky-')}"
        headers = [h.replace("version=v2", cookie) for h in CARRIES_THE_COOKIE]
        assert [h for h in headers if not matches(rule, h)] == [], name


def test_each_pin_never_matches_a_lookalike_or_the_other_version():
    for name, rule in _pinned_cookie_regexes().items():
        version = name.removeprefix("sticky-")
        other = "v1" if version == "v2" else "v2"
        cookie = f"{STICKY_COOKIE}={version}"
        lookalikes = [h.replace("version=v2", cookie) for h in DOES_NOT_CARRY_IT if "version=v2" in h]
        lookalikes += [
            f"{STICKY_COOKIE}={version}0",
            f"x{STICKY_COOKIE}={version}",
            f"a=1; x{STICKY_COOKIE}={version}; b=2",
            f"{STICKY_COOKIE}={other}",
            f"version={version}",  # the testers' cookie name is not the pin's
            f"{STICKY_COOKIE}x={version}",
        ]
        assert [h for h in lookalikes if matches(rule, h)] == [], name
