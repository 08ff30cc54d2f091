"""The VirtualService interpreter, on specs written by hand, and its regexes against RE2 itself."""

from __future__ import annotations

import re

import pytest
import re2

from canary import mesh
from canary.cookie import cookie_regex
from tests.test_cookie import CARRIES_THE_COOKIE, DOES_NOT_CARRY_IT


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
    assert mesh.split_for(SPEC, {"x-a": "1", "x-b": "bee"}) == {"v3": 100}
    assert mesh.split_for(SPEC, {"cookie": "a=1; t=yes"}) == {"v3": 100}
    # Inside one entry every condition must hold; entries are alternatives.
    assert mesh.split_for(SPEC, {"x-a": "1"}) == {"v1": 70, "v2": 30}
    assert mesh.split_for(SPEC, {"x-a": "1", "x-b": "bee", "x-c": "1"}) == {"v3": 100}


def test_a_route_without_matches_takes_everything_else():
    assert mesh.split_for(SPEC, {}) == {"v1": 70, "v2": 30}


def test_a_lone_destination_gets_everything_and_several_get_their_weights():
    assert mesh.split_for(SPEC, {"x-c": "1"}) == {"v2": 0, "v1": 100}


def test_no_route_taking_the_request_is_a_404():
    with pytest.raises(LookupError):
        mesh.split_for({"http": [{"match": [{"headers": {"x": {"exact": "1"}}}], "route": [destination("v1")]}]}, {})


def test_weights_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="add up to 100"):
        mesh.split_for({"http": [{"route": [destination("v1", 50), destination("v2", 40)]}]}, {})


def test_fields_it_does_not_model_are_refused_rather_than_guessed():
    with pytest.raises(mesh.UnmodelledSpecError):
        mesh.split_for({"http": [{"match": [{"uri": {"prefix": "/"}}], "route": [destination("v1")]}]}, {})
    with pytest.raises(mesh.UnmodelledSpecError):
        mesh.split_for({"http": [{"match": [{"headers": {"x": {"suffix": "1"}}}], "route": [destination("v1")]}]}, {})


def test_routed_subsets_are_those_some_request_can_reach():
    assert mesh.routed_subsets(SPEC) == ["v3", "v1", "v2"]
    only_stable = {"http": [{"route": [destination("v1", 100), destination("v2", 0)]}]}
    assert mesh.routed_subsets(only_stable) == ["v1"]


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
