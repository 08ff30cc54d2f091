"""The two routers (VirtualService, HTTPRoute), on specs written by hand, and the regexes against RE2 itself."""

from __future__ import annotations

import re

import pytest
import re2

from canary.plan.cookie import cookie_regex
from canary.router import GatewayApiRouter, IstioRouter, Router, UnmodelledSpecError
from tests.support.cookie_headers import CARRIES_THE_COOKIE, DOES_NOT_CARRY_IT


def destination(subset: str, weight: int | None = None) -> dict:
    return {
        "destination": {"host": "web-service", "subset": subset},
        **({"weight": weight} if weight is not None else {}),
    }


SPEC = {
    "http": [
        {
            "match": [
                {"headers": {"x-a": {"exact": "1"}, "x-b": {"prefix": "b"}}},
                {"headers": {"cookie": {"regex": "^(.*; )?t=yes(;.*)?$"}}},
            ],
            "route": [destination("v3")],
        },
        {"match": [{"headers": {"x-c": {"exact": "1"}}}], "route": [destination("v2", 0), destination("v1", 100)]},
        {"route": [destination("v1", 70), destination("v2", 30)]},
    ]
}


def test_the_first_route_whose_match_holds_takes_the_request():
    assert IstioRouter(SPEC).split({"x-a": "1", "x-b": "bee"}) == {"v3": 100}
    assert IstioRouter(SPEC).split({"cookie": "a=1; t=yes"}) == {"v3": 100}
    # Inside one entry every condition must hold; entries are alternatives.
    assert IstioRouter(SPEC).split({"x-a": "1"}) == {"v1": 70, "v2": 30}
    assert IstioRouter(SPEC).split({"x-a": "1", "x-b": "bee", "x-c": "1"}) == {"v3": 100}


def test_a_route_without_matches_takes_everything_else():
    assert IstioRouter(SPEC).split({}) == {"v1": 70, "v2": 30}


def test_a_lone_destination_gets_everything_and_several_get_their_weights():
    assert IstioRouter(SPEC).split({"x-c": "1"}) == {"v2": 0, "v1": 100}


def test_no_route_taking_the_request_is_a_404():
    with pytest.raises(LookupError):
        IstioRouter({"http": [{"match": [{"headers": {"x": {"exact": "1"}}}], "route": [destination("v1")]}]}).split({})


def test_weights_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="add up to 100"):
        IstioRouter({"http": [{"route": [destination("v1", 50), destination("v2", 40)]}]}).split({})


def test_fields_it_does_not_model_are_refused_rather_than_guessed():
    with pytest.raises(UnmodelledSpecError):
        IstioRouter({"http": [{"match": [{"uri": {"prefix": "/"}}], "route": [destination("v1")]}]}).split({})
    with pytest.raises(UnmodelledSpecError):
        IstioRouter({"http": [{"match": [{"headers": {"x": {"suffix": "1"}}}], "route": [destination("v1")]}]}).split(
            {}
        )


def test_reachable_versions_are_the_subsets_some_request_can_reach():
    assert IstioRouter(SPEC).reachable() == ["v3", "v1", "v2"]
    only_stable = {"http": [{"route": [destination("v1", 100), destination("v2", 0)]}]}
    assert IstioRouter(only_stable).reachable() == ["v1"]


COOKIES = ["version=v2", "tester=yes", "a.b=c-d", 'x="quoted"', "n=1+2/3"]


@pytest.mark.parametrize("cookie", COOKIES)
def test_python_re_and_re2_agree_on_every_cookie_regex_the_program_writes(cookie):
    # The interpreter stands in `re` for Envoy's RE2: sound only where the two agree.
    name, _, value = cookie.partition("=")
    headers = [h.replace("version=v2", cookie) for h in CARRIES_THE_COOKIE + DOES_NOT_CARRY_IT]
    headers += [f"{name}={value}x", f"x{name}={value}", f"{name} = {value}", f"{name}={value};"]
    regex = cookie_regex(cookie)
    for header in headers:
        assert (re.fullmatch(regex, header) is not None) == (re2.compile(regex).fullmatch(header) is not None), header


# Response headers and mirrors: what the mesh adds to an answer and where it copies a request.

STICKY_SPEC = {
    "http": [
        {
            "name": "default",
            "route": [
                {
                    **destination("v1", 80),
                    "headers": {
                        "response": {
                            "set": {"x-canary-version": "v1"},
                            "add": {"set-cookie": "pin=v1; Max-Age=60; Path=/"},
                        }
                    },
                },
                {**destination("v2", 20), "headers": {"response": {"set": {"X-Canary-Version": "v2"}}}},
            ],
            "mirror": {"host": "web-service", "subset": "v2"},
            "mirrorPercentage": {"value": 2.5},
        }
    ]
}


def test_set_replaces_the_apps_header_of_that_name_and_add_appends_a_line():
    upstream = [("Content-Type", "text/html"), ("X-Canary-Version", "v9"), ("Set-Cookie", "session=abc")]
    assert IstioRouter(STICKY_SPEC).answer_headers({}, "v1", upstream) == [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "session=abc"),
        ("x-canary-version", "v1"),
        ("set-cookie", "pin=v1; Max-Age=60; Path=/"),
    ]
    # Header names are case-insensitive: `set` of X-Canary-Version replaces x-canary-version.
    assert IstioRouter(STICKY_SPEC).answer_headers({}, "v2", [("x-canary-version", "v9")]) == [
        ("X-Canary-Version", "v2")
    ]


def cookies_set(router: Router, headers: dict, version: str) -> list[str]:
    """The Set-Cookie values the routing adds to the answer when such a request goes to `version`."""
    return [value for name, value in router.answer_headers(headers, version) if name.lower() == "set-cookie"]


def test_the_cookies_the_mesh_adds_are_per_destination():
    assert cookies_set(IstioRouter(STICKY_SPEC), {}, "v1") == ["pin=v1; Max-Age=60; Path=/"]
    assert cookies_set(IstioRouter(STICKY_SPEC), {}, "v2") == []


def test_a_subset_the_route_does_not_send_to_has_no_answer_headers():
    with pytest.raises(LookupError):
        IstioRouter(STICKY_SPEC).answer_headers({}, "v3")


@pytest.mark.parametrize(
    "headers",
    [
        {"request": {"set": {"x": "1"}}},
        {"response": {"remove": ["server"]}},
    ],
)
def test_header_operations_it_does_not_model_are_refused(headers):
    spec = {"http": [{"route": [{**destination("v1"), "headers": headers}]}]}
    with pytest.raises(UnmodelledSpecError):
        IstioRouter(spec).answer_headers({}, "v1")


def test_route_level_header_operations_are_refused():
    spec = {"http": [{"headers": {"response": {"set": {"x": "1"}}}, "route": [destination("v1")]}]}
    with pytest.raises(UnmodelledSpecError, match="route-level"):
        IstioRouter(spec).answer_headers({}, "v1")


def test_the_mirror_of_the_route_a_request_takes():
    assert IstioRouter(STICKY_SPEC).mirror({}) == ("v2", 2.5)
    assert IstioRouter(SPEC).mirror({}) is None


def test_a_mirror_without_a_percentage_copies_every_request():
    spec = {"http": [{"route": [destination("v1")], "mirror": {"host": "web-service", "subset": "v2"}}]}
    assert IstioRouter(spec).mirror({}) == ("v2", 100.0)


def test_a_percentage_without_a_mirror_mirrors_nothing():
    spec = {"http": [{"route": [destination("v1")], "mirrorPercentage": {"value": 50}}]}
    assert IstioRouter(spec).mirror({}) is None


def test_only_the_route_that_takes_the_request_decides_its_mirror():
    spec = {
        "http": [
            {"match": [{"headers": {"x-t": {"exact": "1"}}}], "route": [destination("v2")]},
            STICKY_SPEC["http"][0],
        ]
    }
    assert IstioRouter(spec).mirror({"x-t": "1"}) is None
    assert IstioRouter(spec).mirror({}) == ("v2", 2.5)


@pytest.mark.parametrize(
    "fields",
    [
        {"mirrors": [{"destination": {"host": "web-service", "subset": "v2"}}]},
        {"mirror": {"host": "web-service", "subset": "v2"}, "mirrorPercent": 5},
        {"mirror": {"host": "web-service", "subset": "v2", "port": {"number": 80}}},
        {"mirror": {"host": "web-service"}},
    ],
)
def test_mirror_spellings_it_does_not_model_are_refused(fields):
    spec = {"http": [{"route": [destination("v1")], **fields}]}
    with pytest.raises(UnmodelledSpecError):
        IstioRouter(spec).mirror({})


# The Gateway API's HTTPRoute, on specs written by hand.

# The version behind each backend Service, as the plan tells the router.
VERSIONS = {"web-v1": "v1", "web-v2": "v2", "web-v3": "v3", "web-v4": "v4", "a": "va"}


def http(spec: dict) -> GatewayApiRouter:
    return GatewayApiRouter(spec, VERSIONS)


def backend(name: str, weight: int | None = None, **more: object) -> dict:
    return {"name": name, "port": 80, **({"weight": weight} if weight is not None else {}), **more}


def header(name: str, value: str, kind: str | None = None) -> dict:
    return {"name": name, "value": value, **({"type": kind} if kind else {})}


HTTP_ROUTE = {
    "rules": [
        # One header: less specific than the two-header match of the next rule, though listed first.
        {"name": "one", "matches": [{"headers": [header("x-a", "1")]}], "backendRefs": [backend("web-v3")]},
        {
            "name": "two",
            "matches": [
                {"headers": [header("x-a", "1"), header("X-B", "b", "Exact")]},
                {"headers": [header("cookie", "^(.*; )?t=yes(;.*)?$", "RegularExpression")]},
            ],
            "backendRefs": [backend("web-v2")],
        },
        {"name": "tie", "matches": [{"headers": [header("x-c", "1")]}], "backendRefs": [backend("web-v4")]},
        {"name": "rest", "backendRefs": [backend("web-v1", 7), backend("web-v2", 3)]},
    ]
}


def test_the_match_with_the_most_headers_wins_whatever_the_rule_order():
    assert http(HTTP_ROUTE).split({"x-a": "1", "x-b": "b"}) == {"v2": 100}
    assert http(HTTP_ROUTE).split({"x-a": "1"}) == {"v3": 100}


def test_among_equally_specific_matches_the_earlier_rule_wins():
    # x-a and the cookie are one header each: "one" comes before "two".
    assert http(HTTP_ROUTE).split({"x-a": "1", "cookie": "t=yes"}) == {"v3": 100}
    # And the cookie match (one header) before "tie"'s, by list order.
    assert http(HTTP_ROUTE).split({"x-c": "1", "cookie": "s=1; t=yes"}) == {"v2": 100}


def test_matches_of_a_rule_are_alternatives_and_headers_in_one_match_all_must_hold():
    assert http(HTTP_ROUTE).split({"cookie": "t=yes"}) == {"v2": 100}
    assert http(HTTP_ROUTE).split({"x-b": "b"}) == {"v1": 70, "v2": 30}


def test_header_names_are_case_insensitive_and_values_exact():
    assert http(HTTP_ROUTE).split({"x-a": "1", "x-b": "B"}) == {"v3": 100}


def test_weights_are_relative_and_default_to_1():
    spec = {"rules": [{"backendRefs": [backend("web-v1"), backend("web-v2", 3)]}]}
    assert http(spec).split({}) == {"v1": 25, "v2": 75}
    with pytest.raises(UnmodelledSpecError, match="whole percents"):
        http({"rules": [{"backendRefs": [backend("web-v1", 1), backend("web-v2", 2)]}]}).split({})


def test_a_rule_without_weight_or_a_request_without_rule_gets_no_answer():
    with pytest.raises(LookupError, match="500"):
        http({"rules": [{"backendRefs": [backend("web-v1", 0)]}]}).split({})
    with pytest.raises(LookupError, match="404"):
        http({"rules": [{"matches": [{"headers": [header("x", "1")]}], "backendRefs": []}]}).split({})


def test_the_default_path_is_no_condition():
    spec = {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [backend("a")]}]}
    assert http(spec).split({}) == {"va": 100}


@pytest.mark.parametrize(
    "rule",
    [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": [backend("a")]},
        {"matches": [{"method": "GET"}], "backendRefs": [backend("a")]},
        {"matches": [{"queryParams": [header("q", "1")]}], "backendRefs": [backend("a")]},
        {"matches": [{"headers": [header("x", "1", "Prefix")]}], "backendRefs": [backend("a")]},
        {"matches": [{"headers": [header("x", "1"), header("X", "2")]}], "backendRefs": [backend("a")]},
        {"backendRefs": [backend("a", namespace="other")]},
        {"backendRefs": [backend("a", kind="ServiceImport", group="multicluster.x-k8s.io")]},
        {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]},
        {"filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}], "backendRefs": [backend("a")]},
    ],
)
def test_http_route_fields_it_does_not_model_are_refused(rule):
    with pytest.raises(UnmodelledSpecError):
        http({"rules": [rule]}).split({})


def modifier(**operations: list) -> list:
    return [{"type": "ResponseHeaderModifier", "responseHeaderModifier": operations}]


STICKY_HTTP_ROUTE = {
    "rules": [
        {
            "backendRefs": [
                backend(
                    "web-v1",
                    80,
                    filters=modifier(
                        set=[header("x-canary-version", "v1")], add=[header("set-cookie", "pin=v1; Path=/")]
                    ),
                ),
                backend("web-v2", 20, filters=modifier(set=[header("X-Canary-Version", "v2")])),
            ],
            "filters": [
                {
                    "type": "RequestMirror",
                    "requestMirror": {"backendRef": backend("web-v2"), "fraction": {"numerator": 3, "denominator": 40}},
                }
            ],
        }
    ]
}


def test_response_headers_are_set_and_added_per_backend():
    router = http(STICKY_HTTP_ROUTE)
    assert router.answer_headers({}, "v1") == [("x-canary-version", "v1"), ("set-cookie", "pin=v1; Path=/")]
    assert cookies_set(router, {}, "v2") == []
    upstream = [("Content-Type", "text/html"), ("x-canary-version", "v9"), ("Set-Cookie", "session=abc")]
    assert router.answer_headers({}, "v2", upstream) == [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "session=abc"),
        ("X-Canary-Version", "v2"),
    ]
    with pytest.raises(LookupError):
        router.answer_headers({}, "v3")


def test_backend_filters_it_does_not_model_are_refused():
    spec = {"rules": [{"backendRefs": [backend("a", filters=modifier(remove=["server"]))]}]}
    with pytest.raises(UnmodelledSpecError):
        http(spec).answer_headers({}, "va")


@pytest.mark.parametrize(
    ("mirror", "percent"),
    [({"percent": 5}, 5.0), ({"fraction": {"numerator": 3, "denominator": 40}}, 7.5), ({}, 100.0)],
)
def test_the_mirror_of_the_rule_a_request_takes(mirror, percent):
    rule = {"backendRefs": [backend("web-v1")]}
    rule["filters"] = [{"type": "RequestMirror", "requestMirror": {"backendRef": backend("web-v2"), **mirror}}]
    assert http({"rules": [rule]}).mirror({}) == ("v2", percent)
    assert http(HTTP_ROUTE).mirror({}) is None


def test_reachable_versions_are_those_of_a_backend_with_a_weight_above_0():
    assert http(HTTP_ROUTE).reachable() == ["v3", "v2", "v4", "v1"]
    # Unlike a lone Istio destination, a lone backend of weight 0 gets nothing.
    assert http({"rules": [{"backendRefs": [backend("a", 0)]}]}).reachable() == []
    # A mirror's answers are discarded: mirroring alone routes no request there.
    assert http(STICKY_HTTP_ROUTE).reachable() == ["v1", "v2"]


def test_a_backend_that_is_no_versions_service_is_refused():
    spec = {"rules": [{"backendRefs": [backend("web-v1", 50), backend("web-other", 50)]}]}
    with pytest.raises(UnmodelledSpecError, match="web-other"):
        http(spec).split({})
    with pytest.raises(UnmodelledSpecError, match="web-other"):
        http(spec).reachable()


def test_backends_are_known_by_the_name_the_spec_holds_whatever_its_type():
    # The planned HTTPRoute holds each Service's name output, not a string: the router keys on it.
    v1_name, v2_name = object(), object()
    spec = {"rules": [{"backendRefs": [{"name": v1_name, "port": 80, "weight": 90}, {"name": v2_name, "weight": 10}]}]}
    assert GatewayApiRouter(spec, {v1_name: "v1", v2_name: "v2"}).split({}) == {"v1": 90, "v2": 10}
