"""From stack config to verified traffic: the program's own VirtualService, served by a loopback
mesh that routes as Istio would (canary.router.IstioRouter), checked by `python -m canary verify`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from canary.router import IstioRouter
from tests.support.fake_mesh import FakeMesh, MeshConfig, _Picker, serve_in_thread
from tests.support.project import BASELINE
from tests.support.traffic_fixtures import verify

CANARY = {"version": "v2", "cookie": "version=v2", "headers": {"x-canary": "always"}, "weight": 10}


class VirtualServiceMesh(FakeMesh):
    """Routes every request by a VirtualService spec: its first matching HTTP route, then that
    route's weights (smooth weighted round robin, so the counts are exact); answers with the
    headers the spec sets and adds on that destination (the version header, a sticky cookie).
    Its config names no version header: the spec's own does."""

    def __init__(self, config: MeshConfig, spec: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._router = IstioRouter(spec)
        self._route_pickers: dict[int, _Picker] = {}

    def route(self, cookies: list[str], headers: Mapping[str, str]) -> tuple[int, str] | None:
        try:
            index = self._router.spec["http"].index(self._router.rule_for(headers))
        except LookupError:
            return None
        picker = self._route_pickers.setdefault(index, _Picker(self._router.split(headers), None))
        return index, picker.pick()

    def added_headers(self, index: int, version: str, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(self._router.answer_headers(headers, version))


def serve_spec(spec: Mapping[str, Any]):
    """The loopback mesh routing by `spec`, on a thread."""
    config = MeshConfig(rules=(), version_header=None, body_version=False)
    return serve_in_thread(config, mesh=VirtualServiceMesh(config, spec))


def deploy(run, tmp_path, canary=CANARY):
    simulation = run({**BASELINE, "canary": canary})
    (virtual_service,) = simulation.find("VirtualService")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(simulation.outputs))
    return virtual_service["spec"], str(outputs), simulation.outputs["versionHeader"]


def version_header_of(spec: Mapping[str, Any]) -> str:
    """The one response header the VirtualService sets, naming the subset, on every destination."""
    names = set()
    for http_route in spec["http"]:
        for destination in http_route["route"]:
            ((name, value),) = destination["headers"]["response"]["set"].items()
            assert value == destination["destination"]["subset"]
            names.add(name)
    (name,) = names
    return name


def test_the_programs_routing_passes_verification(run, tmp_path, capsys):
    spec, outputs, header = deploy(run, tmp_path)
    assert version_header_of(spec) == header
    with serve_spec(spec) as mesh:
        outcome = verify(["--routes", outputs, "--url", mesh.url, "--requests", "300", "--json"], capsys)
    assert outcome.code == 0, outcome.err or outcome.out
    report = outcome.json()
    assert [route["when"] for route in report["routes"]] == [
        {"cookie": "version=v2"},
        {"headers": {"x-canary": "always"}},
        {},
    ]
    assert report["routes"][0]["counts"] == {"v2": 300}
    assert report["routes"][2]["counts"] == {"v1": 270, "v2": 30}


def test_the_tutorials_cookie_rule_fails_verification(run, tmp_path, capsys):
    spec, outputs, _ = deploy(run, tmp_path, canary={"version": "v2", "cookie": "version=v2"})
    spec["http"][0]["match"][0]["headers"]["cookie"]["regex"] = "^(.*?;)?(version=v2)(;.*)?$"
    with serve_spec(spec) as mesh:
        outcome = verify(["--routes", outputs, "--url", mesh.url, "--requests", "300", "--json"], capsys)
    assert outcome.code == 1
    cookie_route, plain_route = outcome.json()["routes"]
    assert cookie_route["ok"] is False and cookie_route["counts"]["v1"] > 0
    assert plain_route["ok"] is True


STICKY_CANARY = {
    "version": "v2",
    "cookie": "version=v2",
    "weight": 10,
    "sticky": {"cookie": "canary-pin", "maxAge": 3600},
}


def test_sticky_clients_never_flip_and_verification_passes(run, tmp_path, capsys):
    spec, outputs, _ = deploy(run, tmp_path, canary=STICKY_CANARY)
    with serve_spec(spec) as mesh:
        argv = ["--routes", outputs, "--url", mesh.url, "--requests", "300", "--sticky-clients", "60", "--json"]
        outcome = verify(argv, capsys)
    assert outcome.code == 0, outcome.err or outcome.out
    routes = outcome.json()["routes"]
    assert [(route["when"], route["counts"]) for route in routes] == [
        ({"cookie": "version=v2"}, {"v2": 300}),
        ({"cookie": "canary-pin=v2"}, {"v2": 300}),
        ({"cookie": "canary-pin=v1"}, {"v1": 300}),
        ({}, {"v1": 270, "v2": 30}),
    ]
    sticky = routes[-1]["sticky"]
    assert (sticky["cookie"], sticky["cookie_right"], sticky["cookie_missing"], sticky["cookie_wrong"]) == (
        "canary-pin",
        300,
        0,
        [],
    )
    assert (sticky["clients_tested"], sticky["clients_flipped"]) == (60, 0)


def test_the_tutorials_weighted_split_makes_cookie_keeping_clients_flip(run, tmp_path, capsys):
    # The stack says sticky; the mesh serves the tutorial's plain weighted VirtualService.
    _, outputs, _ = deploy(run, tmp_path, canary=STICKY_CANARY)
    tutorial = tmp_path / "tutorial"
    tutorial.mkdir()
    spec, _, _ = deploy(run, tutorial, canary=CANARY)
    with serve_spec(spec) as mesh:
        argv = ["--routes", outputs, "--url", mesh.url, "--requests", "300", "--sticky-clients", "60", "--json"]
        outcome = verify(argv, capsys)
    assert outcome.code == 1
    plain = outcome.json()["routes"][-1]
    assert plain["when"] == {} and plain["ok"] is False
    assert plain["sticky"]["cookie_missing"] == 300
    assert plain["sticky"]["clients_flipped"] > 0
