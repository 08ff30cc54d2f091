"""Tests for canary/traffic/sticky.py and verify's sticky checks, against the fake mesh.

A mesh that sets the cookie right and honours it passes; one that sets no cookie, names the
wrong version, or ignores the pin fails. The figures below are worked out by hand from the
weights (a 90/10 split; a client of 5 requests), not with the code under test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from canary.traffic.client import Answer, Endpoint
from canary.traffic.expected import ExpectationError, from_outputs, parse_routes
from canary.traffic.load import Settings, Tally
from canary.traffic.sticky import clients_needed, cookie_value, flip_probability
from canary.traffic.verify import Criteria, Stickiness, Verification, run_verify
from canary.traffic.versions import VersionReader
from tests.support.fake_mesh import MeshConfig, Rule, serve_in_thread, sticky_rules
from tests.support.traffic_fixtures import plain_route, verify, write_routes

HEADER = VersionReader(header="x-canary-version")
SPLIT = {"v1": 90, "v2": 10}
PINS = [
    {"when": {"cookie": "canary-pin=v1"}, "split": {"v1": 100}},
    {"when": {"cookie": "canary-pin=v2"}, "split": {"v2": 100}},
]
ROUTES = [*PINS, plain_route(SPLIT)]
STICKY = Stickiness("canary-pin", clients=40, requests_each=5)


def _verify(rules: tuple[Rule, ...], routes: list[dict], stickiness: Stickiness | None = STICKY) -> Verification:
    parsed = parse_routes(routes, "test")
    with serve_in_thread(MeshConfig(rules=rules)) as mesh:
        target = Endpoint.from_url(mesh.url)
        tallies = [Tally() for _ in parsed]
        return asyncio.run(run_verify(target, parsed, tallies, HEADER, Settings(), 300, Criteria(), stickiness))


def test_a_mesh_that_pins_right_passes() -> None:
    result = _verify(sticky_rules(SPLIT), ROUTES)
    assert result.ok, [r.problems for r in result.results]
    *pins, plain = result.results
    assert all(r.sticky is None for r in pins)
    assert plain.sticky is not None
    cookies, clients = plain.sticky.cookies, plain.sticky.clients
    assert (cookies.answers, cookies.right, cookies.missing, cookies.wrong) == (300, 300, 0, {})
    assert (clients.clients, clients.tested, clients.flipped) == (40, 40, 0)
    # 40 clients of 5 requests, 5 versions each, and every one of them named.
    assert clients.tally.answered == 200 and clients.tally.failed == 0


def test_a_mesh_that_sets_no_cookie_fails() -> None:
    unset = (*sticky_rules(SPLIT)[:-1], Rule(split=SPLIT))
    result = _verify(unset, ROUTES)
    plain = result.results[-1]
    assert not result.ok and not plain.ok
    assert plain.problems[0] == "300 of 300 answers set no canary-pin cookie"
    # With no cookie to keep, every request is a plain one: a tenth of them land on v2.
    assert plain.sticky is not None and plain.sticky.clients.flipped > 0
    assert plain.problems[1].startswith(f"{plain.sticky.clients.flipped} of 40 clients that kept their canary-pin")


def test_a_mesh_whose_cookie_names_the_wrong_version_fails() -> None:
    result = _verify(sticky_rules(SPLIT, cookie_names={"v2": "v1"}), ROUTES)
    plain = result.results[-1]
    assert not plain.ok and plain.sticky is not None
    # Smooth round robin: 30 of the 300 plain answers come from v2, each naming v1.
    assert plain.sticky.cookies.wrong == {("v2", "v1"): 30}
    assert "30 answer(s) from v2 set canary-pin=v1" in plain.problems
    # A client first answered by v2 is sent back to v1 by its cookie.
    assert plain.sticky.clients.flipped > 0


def test_a_mesh_that_ignores_the_pin_fails_on_the_clients_alone() -> None:
    # It sets the cookie right but has no pinned routes; only the plain route is checked.
    result = _verify((Rule(split=SPLIT, set_cookie="canary-pin"),), [plain_route(SPLIT)])
    (plain,) = result.results
    assert not plain.ok and plain.sticky is not None
    assert plain.sticky.cookies.right == 300
    assert plain.sticky.clients.flipped > 0
    (problem,) = plain.problems
    assert "clients that kept their canary-pin cookie got more than one version (e.g. " in problem


def test_without_a_sticky_cookie_nothing_sticky_is_checked() -> None:
    result = _verify((Rule(split=SPLIT),), [plain_route(SPLIT)], stickiness=None)
    assert result.ok and result.results[0].sticky is None
    assert result.to_json()["routes"][0]["sticky"] is None


def test_a_plain_route_with_one_version_is_not_checked() -> None:
    # At weight 0 or 100 the program pins nobody and sets no cookie.
    result = _verify((Rule(split={"v1": 100}),), [plain_route({"v1": 100})])
    assert result.ok and result.results[0].sticky is None


def test_json_has_the_sticky_fields() -> None:
    document = _verify(sticky_rules(SPLIT, cookie_names={"v2": "v1"}), ROUTES).to_json()
    sticky = document["routes"][-1]["sticky"]
    assert sticky["cookie"] == "canary-pin"
    assert (sticky["answers"], sticky["cookie_right"], sticky["cookie_missing"]) == (300, 270, 0)
    assert sticky["cookie_wrong"] == [{"answered": "v2", "cookie": "v1", "count": 30}]
    assert (sticky["clients"], sticky["requests_per_client"], sticky["clients_tested"]) == (40, 5, 40)
    assert sticky["clients_flipped"] > 0 and len(sticky["flip_example"]) == 5
    assert sticky["client_errors"] == {} and sticky["clients_needed"] is None


# --- the pieces ---------------------------------------------------------------------------------


def answer_with(*set_cookies: bytes) -> Answer:
    return Answer(200, {b"set-cookie": b"\n".join(set_cookies)} if set_cookies else {}, b"")


def test_the_cookie_value_is_read_from_its_own_set_cookie_line() -> None:
    answer = answer_with(b"session=abc; Expires=Wed, 21 Oct 2026 07:28:00 GMT", b"canary-pin=v2; Max-Age=60; Path=/")
    assert cookie_value(answer, "canary-pin") == "v2"
    assert cookie_value(answer, "session") == "abc"
    assert cookie_value(answer, "pin") is None
    assert cookie_value(answer_with(), "canary-pin") is None
    # A browser keeps the last value set.
    assert cookie_value(answer_with(b"canary-pin=v1", b"canary-pin=v2"), "canary-pin") == "v2"
    # A cookie whose value merely contains the name is not it.
    assert cookie_value(answer_with(b"x=canary-pin=v1"), "canary-pin") is None


def test_a_mesh_pinning_nobody_flips_a_client_as_the_weights_say() -> None:
    # 1 - 0.9**5 - 0.1**5 = 1 - 0.59049 - 0.00001
    assert flip_probability(SPLIT, 5) == pytest.approx(0.4095)
    assert flip_probability({"v1": 100}, 5) == 0
    assert flip_probability({"v1": 50, "v2": 50}, 2) == pytest.approx(0.5)


def test_clients_needed_to_catch_it() -> None:
    # 0.5905**n <= 0.01 from n = 9 on (0.5905**8 = 0.0149, 0.5905**9 = 0.0088).
    assert clients_needed(SPLIT, 5, 5, 0.99) == 9
    assert clients_needed(SPLIT, 5, 9, 0.99) is None
    # At 99/1 a client of 5 flips 4.9% of the time: 0.951**92 = 0.0098, 0.951**91 = 0.0103.
    assert clients_needed({"v1": 99, "v2": 1}, 5, 50, 0.99) == 92
    assert clients_needed({"v1": 100}, 5, 1, 0.99) is None


# --- where the cookie comes from, and the command --------------------------------------------


def test_the_sticky_cookie_comes_from_the_stack_outputs() -> None:
    assert from_outputs({"routes": ROUTES, "stickyCookie": "canary-pin"}, "s").sticky_cookie == "canary-pin"
    assert from_outputs({"routes": ROUTES, "stickyCookie": ""}, "s").sticky_cookie is None
    assert from_outputs({"routes": ROUTES}, "s").sticky_cookie is None
    assert from_outputs(ROUTES, "s").sticky_cookie is None
    with pytest.raises(ExpectationError, match="stickyCookie must be a cookie name"):
        from_outputs({"routes": ROUTES, "stickyCookie": "a b"}, "s")


def test_verify_checks_the_stacks_sticky_cookie(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_routes(tmp_path, {"routes": ROUTES, "stickyCookie": "canary-pin"})
    with serve_in_thread(MeshConfig(rules=sticky_rules(SPLIT))) as mesh:
        good = verify(["--routes", path, "--url", mesh.url, "--requests", "200", "--sticky-clients", "20"], capsys)
    assert good.code == 0, good.out + good.err
    words = " ".join(good.out.split())
    assert "plain: sticky cookie canary-pin: 200 of 200 answers set it to the version that answered" in words
    with serve_in_thread(MeshConfig(rules=(Rule(split=SPLIT, set_cookie="canary-pin"),))) as mesh:
        argv = ["--routes", path, "--url", mesh.url, "--requests", "200", "--json", "--sticky-requests", "3"]
        bad = verify(argv, capsys)
    assert bad.code == 1
    sticky = json.loads(bad.out)["routes"][-1]["sticky"]
    assert sticky["requests_per_client"] == 3 and sticky["clients_flipped"] > 0


def test_too_few_clients_get_a_note_with_how_many_would_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_routes(tmp_path, {"routes": ROUTES, "stickyCookie": "canary-pin"})
    with serve_in_thread(MeshConfig(rules=sticky_rules(SPLIT))) as mesh:
        argv = ["--routes", path, "--url", mesh.url, "--requests", "100", "--sticky-clients", "5"]
        outcome = verify(argv, capsys)
    assert outcome.code == 0
    # The table's console wraps long notes; the words are what counts.
    assert "takes about 9 clients (this run had 5: --sticky-clients)" in " ".join(outcome.out.split())


@pytest.mark.parametrize(("flag", "value"), [("--sticky-clients", "0"), ("--sticky-requests", "1")])
def test_sticky_flags_are_checked(flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_routes(tmp_path, ROUTES)
    outcome = verify(["--routes", path, "--url", "http://127.0.0.1:1/", flag, value], capsys)
    assert outcome.code == 2 and f"argument {flag}: must be a whole number" in outcome.err
