"""The cookie rule, evaluated as Envoy evaluates it: RE2, full match on the Cookie header."""

from __future__ import annotations

import re2

from canary.cookie import cookie_regex, re2_escape

TUTORIAL_RULE = "^(.*?;)?(version=v2)(;.*)?$"

# Cookie headers as browsers send them: pairs joined by "; " (RFC 6265 section 5.4).
CARRIES_THE_COOKIE = [
    "version=v2",
    "version=v2; _ga=GA1.2.1234567890.1700000000",
    "_ga=GA1.2.1234567890.1700000000; version=v2",
    "_ga=GA1.2.1234567890.1700000000; version=v2; theme=dark",
    "session=eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo; version=v2",
    "token=abc==; version=v2; consent=yes",
    "a=b;version=v2",  # clients that join without the space
    "a=b;  version=v2 ; c=d",  # and clients that pad
]
DOES_NOT_CARRY_IT = [
    "",
    "version=v1",
    "myversion=v2",
    "_ga=GA1.2.1; myversion=v2",
    "version=v20",
    "version=v2x",
    "version=v2x; theme=dark",
    "theme=dark; version=v20",
    "a=version=v2",  # the cookie `a` whose value merely contains the text
    "version_=v2; xversion=v2",
    "version=v1; myversion=v2; version=v20",
]


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
