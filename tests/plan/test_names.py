"""`canary/plan/rules/names.py` and every string rule built on it: a value must match whole.

Python's `$` also matches before a final newline, so a rule that anchors with `^...$` and
`re.match` takes `"canary\n"` for `canary`: the value renders, and the API server refuses it
halfway through an update. Each rule below gets a good value, and must refuse it with a newline
(or another line break) added; a last test keeps the table whole.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from canary import policy
from canary.config.files import StackFileError, stack_name
from canary.plan.rules import checks, names, quantities

# A good value of each rule of `canary.plan.rules.names`.
GOOD_NAMES: dict[Callable[..., Any], str] = {
    names.dns1123_label: "canary",
    names.dns1035_label: "nginx",
    names.dns1123_subdomain: "app.example.com",
    names.host_name: "*.example.com",
    names.dns_name_or_ip: "lb.example.com",
    names.header_name: "x-version",
    names.response_header_name: "x-version",
    names.cookie_name: "version",
    names.cookie_pair: "version=v2",
    names.label_key: "istio",
    names.label_value: "ingressgateway",
    names.image_reference: "registry.example.com/team/app:1.2",
    names.checkov_check_id: "CKV_K8S_43",
}

# A good value of each string rule of `canary.plan.rules.checks` (a rule that refuses a number as "must be a string").
GOOD_CHECKS: dict[str, str] = {
    "namespace_name": "canary",
    "gateway_namespace_name": "istio-system",
    "app_name": "nginx",
    "version_name": "v2",
    "host_name": "app.example.com",
    "header_name": "x-canary",
    "response_header_name": "x-version",
    "header_value": "always",
    "cookie_name": "pin",
    "cookie_pair": "version=v2",
    "label_key": "istio",
    "label_value": "ingressgateway",
    "image_reference": "nginx:1.27",
    "dns_subdomain": "web-cert",
    "check_id": "CKV_K8S_43",
    "scan_reason": "published by tag only",
    "probe_path": "/healthz",
    "quantity": "128Mi",
    "capability": "NET_BIND_SERVICE",
    "gateway_reference": "istio-system/web-gateway",
    "load_balancer_dns": "lb.example.com",
}

LINE_ENDS = ["\n", "\r\n", "\r", "\x00"]


def string_rules_of_checks() -> set[str]:
    return {
        name
        for name, value in vars(checks).items()
        if not name.startswith("_")
        and callable(value)
        and not inspect.isclass(value)
        and _refuses_a_number_as_not_a_string(value)
    }


def _refuses_a_number_as_not_a_string(rule: Callable[[Any], str | None]) -> bool:
    try:
        return rule(7) == "must be a string"
    except Exception:
        return False


@pytest.mark.parametrize("rule", GOOD_NAMES, ids=[rule.__name__ for rule in GOOD_NAMES])
@pytest.mark.parametrize("end", LINE_ENDS, ids=repr)
def test_every_name_rule_refuses_a_good_value_with_a_line_break_added(rule, end):
    good = GOOD_NAMES[rule]
    assert rule(good) is None
    assert rule(good + end) is not None


@pytest.mark.parametrize("name", GOOD_CHECKS)
@pytest.mark.parametrize("end", LINE_ENDS, ids=repr)
def test_every_string_rule_of_the_args_refuses_a_good_value_with_a_line_break_added(name, end):
    rule = getattr(checks, name)
    good = GOOD_CHECKS[name]
    assert rule(good) is None
    assert rule(good + end) is not None


def test_the_tables_cover_every_name_rule_and_every_string_rule():
    public = {
        value
        for name, value in vars(names).items()
        if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == names.__name__
    }
    # Not a rule: a question about a valid reference.
    public.discard(names.image_without_tag_or_digest)
    assert public == set(GOOD_NAMES)
    assert string_rules_of_checks() == set(GOOD_CHECKS)


@pytest.mark.parametrize("end", LINE_ENDS, ids=repr)
def test_a_stack_name_with_a_line_break_is_refused(end):
    assert stack_name("dev") == "dev"
    with pytest.raises(StackFileError, match="--stack") as raised:
        stack_name("dev" + end)
    assert "\n" not in str(raised.value) and "\r" not in str(raised.value)


@pytest.mark.parametrize(
    ("read", "good"),
    [(policy.parse_duration, "90s"), (quantities.parse_quantity, "128Mi")],
    ids=["duration", "quantity"],
)
def test_durations_and_quantities_with_a_line_break_are_refused(read, good):
    read(good)
    for end in LINE_ENDS:
        try:
            value = read(good + end)
        except ValueError:
            continue
        assert value is None, f"{good + end!r} read as {value!r}"


@pytest.mark.parametrize("end", LINE_ENDS, ids=repr)
def test_a_url_with_a_line_break_is_refused(end):
    assert policy.url_problem("http://prometheus:9090") is None
    assert policy.url_problem("http://prometheus:9090" + end) is not None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:80x/", "http://127.0.0.1:99999/", "http://:80/", "http://[::1/", "ftp://example.com/"],
)
def test_a_url_that_the_http_client_could_not_open_is_refused(url):
    # Each made urllib raise (InvalidURL, ValueError) where a one-line error was due.
    assert policy.url_problem(url) is not None


@pytest.mark.parametrize(("text", "value"), [("1Ei", 2**60), ("1E", 10**18), ("1E3", 1000), ("2e2", 200)])
def test_exa_and_exponent_quantities_are_read_apart(text, value):
    # `1Ei` was read as an exponent `E` followed by "i", and refused with int()'s own message.
    assert quantities.parse_quantity(text) == value
