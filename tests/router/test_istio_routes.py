"""Istio's own code as the judge of every route: the `istio` tier (no cluster).

Each stack, shipped or generated here, is rendered as `render --outputs` writes it, and its
manifests go through istiod's translation and Envoy's route matching (the oracle,
`e2e/istio-route`). Every request shape `verify` sends for a route of the `routes` output must
reach exactly that route's split, with the version header and the sticky Set-Cookie each
destination answers with, the mirror the stack asks for, and the timeout and retry policy of
its `httpRoute` (none without it) on every route. The product's own reader of the
spec (`canary.router`) decides nothing here: the oracle answers, the `routes` output is compared.

Also: the tutorial's manifests (`tests/data/seed/`) miss `version=v2` when it is not the first
cookie, and `istioctl validate` (the admission webhook's checks, offline) and `istioctl analyze`
accept every object of every stack and case.

Run with `e2e/istio-route-test` (or `venv/bin/python -m pytest -m istio tests/router/test_istio_routes.py`);
the first run builds the oracle with istioctl through e2e/toolchain.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from canary.cli import render as render_command
from canary.traffic.expected import Expectation, Route, from_outputs
from canary.traffic.verify import weighted_route
from tests.support.dataplane_checks import routing_objects
from tests.support.oracle import Answer, Oracle
from tests.support.project import PROJECT_DIR, SHIPPED_STACKS
from tests.support.routing_cases import CASES as ROUTING_CASES
from tests.support.routing_cases import request_shaped_like
from tests.support.routing_cases import spec as planned_spec

pytestmark = pytest.mark.istio

SEED = PROJECT_DIR / "tests" / "data" / "seed"
TOOLCHAIN = PROJECT_DIR / "e2e" / "toolchain"


@dataclass(frozen=True)
class Case:
    """A stack config of the generated matrix (keys without the project prefix)."""

    name: str
    config: Mapping[str, Any]


BASE: dict[str, Any] = {
    "namespace": "shop",
    "app": "web",
    "hosts": ["web.example.com"],
    "versions": [
        {"name": "v1", "image": "registry.example.com/web:1"},
        {"name": "v2", "image": "registry.example.com/web:2"},
    ],
    "stable": "v1",
}


TRAFFIC_POLICY = {
    "connectionPool": {"http": {"http1MaxPendingRequests": 100}},
    "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
}
# A status code in retryOn (429) is one Istio moves to Envoy's own list of retriable codes.
# Each field differs from istiod's default policy (2 attempts on connect-failure, ...), so a
# dropped key cannot pass for a kept one.
RETRIES = {"attempts": 3, "perTryTimeout": "0.5s", "retryOn": "gateway-error,reset,429"}
GRPC: dict[str, Any] = {"port": 9999, "service": {"protocol": "grpc"}}


def _case(name: str, api: str, canary: Mapping[str, Any] | None, **more: Any) -> Case:
    config = copy.deepcopy(BASE)
    config.update(more)
    routing = dict(config.pop("routing", {}))
    routing["api"] = api
    config["routing"] = routing
    if canary is not None:
        config["canary"] = dict(canary)
    return Case(f"{api}-{name}", config)


def generated_cases() -> list[Case]:
    cases = []
    for api in ("istio", "gateway-api"):
        cookie = {"version": "v2", "cookie": "version=v2"}
        for weight in (0, 1, 10, 50, 99, 100):
            cases.append(_case(f"cookie-w{weight}", api, {**cookie, "weight": weight}))
        cases += [
            _case("no-canary", api, None),
            _case("headers-w5", api, {"version": "v2", "headers": {"x-canary": "always"}, "weight": 5}),
            _case(
                "cookie-and-headers-w25",
                api,
                {**cookie, "headers": {"x-canary": "always", "x-team": "qa"}, "weight": 25},
            ),
            _case("sticky-w0", api, {**cookie, "weight": 0, "sticky": {"cookie": "canary-pin"}}),
            _case("sticky-w30", api, {**cookie, "weight": 30, "sticky": {"cookie": "canary-pin", "maxAge": 600}}),
            _case("sticky-w100", api, {**cookie, "weight": 100, "sticky": {"cookie": "canary-pin"}}),
            _case("mirror-w0", api, {**cookie, "weight": 0, "mirror": 12.5}),
            _case("mirror-sticky-w10", api, {**cookie, "weight": 10, "mirror": 100, "sticky": {"cookie": "pin"}}),
            _case("no-version-header-w10", api, {**cookie, "weight": 10}, routing={"versionHeader": False}),
            _case(
                "three-versions-w20",
                api,
                {"version": "v3", "cookie": "release=v3", "weight": 20},
                versions=[*BASE["versions"], {"name": "v3", "image": "registry.example.com/web:3"}],
                stable="v2",
            ),
            _case("wildcard-host-w10", api, {**cookie, "weight": 10}, hosts=["*.shop.example.com"]),
            # The keys beside the routing change no route: the same shapes reach the same splits,
            # and every route carries the timeout and retries (Istio only: the Gateway API's
            # standard channel has no retries). 90s is Envoy's 1m30s: durations compare by value.
            _case(
                "traffic-policy-and-timeout-w10",
                api,
                {**cookie, "weight": 10},
                trafficPolicy=TRAFFIC_POLICY,
                httpRoute={"timeout": "3s", "retries": RETRIES} if api == "istio" else {"timeout": "90s"},
            ),
            # Every kind of route at once (cookie, headers, sticky pins, the mirrored plain one).
            _case(
                "every-route-kind-with-timeout-w30",
                api,
                {**cookie, "headers": {"x-canary": "always"}, "weight": 30, "mirror": 50, "sticky": {"cookie": "pin"}},
                httpRoute={"timeout": "45s", "retries": RETRIES} if api == "istio" else {"timeout": "45s"},
            ),
            _case(
                "service-ports-w10",
                api,
                {**cookie, "weight": 10},
                service={"ports": [{"name": "http-metrics", "port": 9797}, {"name": "grpc-admin", "port": 9999}]},
            ),
        ]
    # gRPC on the routed port (the Service port named `grpc`): Istio only.
    cases.append(_case("grpc-w10", "istio", {"version": "v2", "cookie": "version=v2", "weight": 10}, **GRPC))
    return cases


CASES = generated_cases()


@dataclass
class Rendered:
    """One stack's manifests and outputs, as `render --outputs` writes them."""

    manifests: Path
    outputs: dict[str, Any]
    config: Mapping[str, Any]
    expectation: Expectation = field(init=False)

    def __post_init__(self) -> None:
        self.expectation = from_outputs(self.outputs, str(self.manifests))

    @property
    def mirror(self) -> tuple[str, float] | None:
        canary = self.config.get("canary") or {}
        percent = float(canary.get("mirror", 0) or 0)
        return (canary["version"], percent) if percent else None


def _render(project: Path, stack: str, out: Path, config: Mapping[str, Any]) -> Rendered:
    outputs = out.with_suffix(".json")
    code = render_command.main(["--stack", stack, "--out", str(out), "--outputs", str(outputs), "--cwd", str(project)])
    assert code == 0, f"render --stack {stack} failed"
    return Rendered(out, json.loads(outputs.read_text()), config)


def render_shipped(stack: str, tmp: Path) -> Rendered:
    values = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    config = {key.split(":", 1)[1]: value for key, value in values.items()}
    return _render(PROJECT_DIR, stack, tmp / stack, config)


def render_case(case: Case, tmp: Path) -> Rendered:
    project = tmp / f"project-{case.name}"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    config = {f"istio-canary:{key}": value for key, value in case.config.items()}
    (project / "Pulumi.case.yaml").write_text(yaml.safe_dump({"config": config}))
    return _render(project, "case", tmp / case.name, case.config)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle(SEED) as running:
        yield running


def request_headers(variant: list[tuple[str, str]]) -> dict[str, str]:
    """A variant's header lines as one request's headers (names lower-case, cookies joined)."""
    headers: dict[str, str] = {}
    for name, value in variant:
        key = name.lower()
        headers[key] = f"{headers[key]}; {value}" if key in headers else value
    return headers


def targets(rendered: Rendered) -> list[tuple[str, str]]:
    """(host, scheme) of every host the stack serves, https when it terminates TLS; a wildcard
    host (which `urls` leaves out) is asked as one name under it."""
    scheme = "https" if (rendered.config.get("gateway") or {}).get("tls") else "http"
    out = [(host.replace("*", "any", 1), scheme) for host in rendered.config["hosts"]]
    # The URLs `verify` is pointed at are among them.
    for url in rendered.expectation.urls:
        parts = urlsplit(url)
        assert (parts.hostname, parts.scheme) in out, url
    assert out
    return out


@pytest.fixture(scope="module")
def unset(oracle: Oracle) -> Answer:
    """What istiod writes on a route that sets no timeout and no retries: the tutorial's
    hand-written VirtualService (tests/data/seed/) sets neither."""
    oracle.load(SEED)
    answer = oracle.ask("nginx-app.example.com")
    # "0s" is Envoy's "no timeout"; a route without one would time out after Envoy's own 15s.
    assert answer.timeout == "0s" and answer.retry, answer.raw
    return answer


DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def seconds(duration: str) -> float:
    """A duration as the stack spells it (`3s`, `0.5s`, `90s`) or as the oracle prints Envoy's
    (Go's spelling: `1m30s`, `500ms`), in seconds."""
    parts = DURATION_PART.findall(duration)
    assert parts and "".join(number + unit for number, unit in parts) == duration, duration
    return round(sum(float(number) * UNIT_SECONDS[unit] for number, unit in parts), 9)


def retry_meaning(retry: Mapping[str, Any]) -> dict[str, Any]:
    """Envoy's retry policy (as the oracle reports it) with its durations in seconds and its
    conditions as a set."""
    return {
        "numRetries": retry["numRetries"],
        "perTryTimeout": seconds(retry["perTryTimeout"]) if "perTryTimeout" in retry else None,
        "retryOn": set(retry["retryOn"].split(",")),
        "retriableStatusCodes": sorted(retry.get("retriableStatusCodes") or []),
    }


def expected_retry(retries: Mapping[str, Any], default: Mapping[str, Any]) -> dict[str, Any]:
    """The retry policy Istio documents for a VirtualService route's `retries`: `attempts` are the
    retries after the first try, `perTryTimeout` each try's limit, and `retryOn` Envoy's conditions,
    where a status code goes to Envoy's list of retriable codes and `retriable-status-codes` among
    the conditions. What it leaves out stays istiod's `default`."""
    expected = retry_meaning(default)
    expected["numRetries"] = retries["attempts"]
    if "perTryTimeout" in retries:
        expected["perTryTimeout"] = seconds(retries["perTryTimeout"])
    if "retryOn" in retries:
        conditions = [part.strip() for part in retries["retryOn"].split(",")]
        codes = sorted(int(part) for part in conditions if part.isdigit())
        expected["retryOn"] = {part for part in conditions if not part.isdigit()}
        expected["retryOn"] |= {"retriable-status-codes"} if codes else set()
        expected["retriableStatusCodes"] = codes
    return expected


def policy_problems(config: Mapping[str, Any], answer: Answer, unset: Answer) -> list[str]:
    """How the route's timeout and retry policy differ from the stack's `httpRoute` (Istio's
    `timeout` and `retries`, or the Gateway API's `timeouts.request` it becomes); a stack without
    them must get what istiod writes on a route that sets none."""
    http_route = config.get("httpRoute") or {}
    problems = []
    if "timeout" in http_route:
        if answer.timeout is None or seconds(answer.timeout) != seconds(http_route["timeout"]):
            problems.append(f"times out after {answer.timeout}, httpRoute.timeout says {http_route['timeout']}")
    elif answer.timeout != unset.timeout:
        problems.append(f"times out after {answer.timeout}, no key asks for a timeout")
    assert unset.retry is not None
    if "retries" in http_route:
        expected = expected_retry(http_route["retries"], unset.retry)
        got = retry_meaning(answer.retry) if answer.retry else None
        if got != expected:
            problems.append(f"retries {answer.retry}, httpRoute.retries {http_route['retries']} means {expected}")
    elif answer.retry != unset.retry:
        problems.append(f"retries {answer.retry}, no key asks for retries")
    return problems


def problems_of(rendered: Rendered, route: Route, index: int, answer: Answer, unset: Answer) -> list[str]:
    """How the oracle's answer for a request of `route` differs from what the stack says."""
    expectation = rendered.expectation
    problems = []
    if answer.route is None:
        return ["no route takes it"]
    problems += policy_problems(rendered.config, answer, unset)
    expected = {version: float(percent) for version, percent in route.split.items() if percent > 0}
    if dict(answer.destinations) != expected:
        problems.append(f"reaches {dict(answer.destinations)}, routes says {expected}")
    sticky = expectation.sticky_cookie
    pins = sticky is not None and index == weighted_route(expectation.routes)
    for version, lines in answer.destination_headers.items():
        named = [value for name, value in lines if name == (expectation.version_header or "").lower()]
        if expectation.version_header and named != [version]:
            problems.append(f"{version} answers {expectation.version_header}: {named}, not [{version!r}]")
        cookies = [value for name, value in lines if name == "set-cookie"]
        if pins:
            if len(cookies) != 1 or not cookies[0].startswith(f"{sticky}={version};"):
                problems.append(f"{version} answers Set-Cookie {cookies}, not one pinning {sticky}={version}")
        elif cookies:
            problems.append(f"{version} answers Set-Cookie {cookies} off the weighted route")
        others = [name for name, _ in lines if name not in {"set-cookie", (expectation.version_header or "").lower()}]
        if others:
            problems.append(f"{version} answers headers no stack key asks for: {others}")
    mirror = rendered.mirror
    expected_mirror = {mirror[0]: mirror[1]} if mirror and route.cookie is None and not route.headers else {}
    # A sticky stack's pinned routes are cookie routes; the mirror belongs to the plain one alone.
    if dict(answer.mirror) != expected_mirror:
        problems.append(f"mirrors {dict(answer.mirror)}, the stack asks for {expected_mirror}")
    return problems


def check_every_shape(oracle: Oracle, rendered: Rendered, unset: Answer) -> list[str]:
    oracle.load(rendered.manifests)
    problems = []
    asked = 0
    for host, scheme in targets(rendered):
        for index, route in enumerate(rendered.expectation.routes):
            for variant in route.header_variants():
                headers = request_headers(variant)
                answer = oracle.ask(host, headers=headers, scheme=scheme)
                asked += 1
                problems += [
                    f"{scheme}://{host} {route.label} {headers}: {p}"
                    for p in problems_of(rendered, route, index, answer, unset)
                ]
    assert asked >= len(rendered.expectation.routes)
    return problems


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_request_shape_of_a_shipped_stack_reaches_its_routes_split(
    oracle: Oracle, unset: Answer, stack: str, tmp_path: Path
):
    problems = check_every_shape(oracle, render_shipped(stack, tmp_path), unset)
    assert problems == []


def asked_split(config: Mapping[str, Any]) -> dict[str, float]:
    """The plain route's split as the case's config words it: `weight` percent to the canary."""
    stable = config.get("stable") or config["versions"][0]["name"]
    canary = config.get("canary") or {}
    weight = canary.get("weight", 0)
    split = {stable: 100.0 - weight, canary["version"]: float(weight)} if canary else {stable: 100.0}
    return {version: percent for version, percent in split.items() if percent}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_request_shape_of_a_generated_case_reaches_its_routes_split(
    oracle: Oracle, unset: Answer, case: Case, tmp_path: Path
):
    rendered = render_case(case, tmp_path)
    problems = check_every_shape(oracle, rendered, unset)
    assert problems == []
    # And that split is the one the config asks for.
    host, scheme = targets(rendered)[0]
    assert dict(oracle.ask(host, scheme=scheme).destinations) == asked_split(case.config)


@pytest.mark.parametrize(("canary", "expected"), ROUTING_CASES, ids=[str(c) for c, _ in ROUTING_CASES])
def test_each_case_of_the_routing_unit_tests_routes_as_its_hand_written_routes_say(
    oracle: Oracle, canary: Any, expected: list[dict[str, Any]], tmp_path: Path
):
    # tests/plan/test_routing.py's cases: the routes written out by hand from the config's meaning,
    # and the program's VirtualService for it, with the Gateway, subsets and Service around it.
    for i, manifest in enumerate(routing_objects(planned_spec(canary))):
        (tmp_path / f"{i:02d}.yaml").write_text(yaml.safe_dump(manifest))
    oracle.load(tmp_path)
    for route in expected:
        answer = oracle.ask("web.example.com", headers=request_shaped_like(route["when"]))
        assert dict(answer.destinations) == {v: float(p) for v, p in route["split"].items() if p}, route


def _lookalikes(cookie: str) -> list[str]:
    name, value = cookie.split("=", 1)
    return [f"x{name}={value}", f"{name}x={value}", f"{name}={value}x", f"{name}={value[:-1]}", "other=1"]


COOKIE_CASES = [c for c in CASES if (c.config.get("canary") or {}).get("cookie")]


@pytest.mark.parametrize("case", COOKIE_CASES, ids=[c.name for c in COOKIE_CASES])
def test_lookalike_or_absent_cookies_take_the_plain_route(oracle: Oracle, case: Case, tmp_path: Path):
    rendered = render_case(case, tmp_path)
    oracle.load(rendered.manifests)
    (plain,) = [r for r in rendered.expectation.routes if r.cookie is None and not r.headers]
    expected = {version: float(percent) for version, percent in plain.split.items() if percent > 0}
    host, scheme = targets(rendered)[0]
    problems = []
    for lookalike in [None, *_lookalikes(case.config["canary"]["cookie"])]:
        for cookie in [lookalike] if lookalike is None else [lookalike, f"_ga=1; {lookalike}; theme=dark"]:
            headers = {} if cookie is None else {"cookie": cookie}
            answer = oracle.ask(host, headers=headers, scheme=scheme)
            if dict(answer.destinations) != expected:
                problems.append(f"cookie {cookie!r} reaches {dict(answer.destinations)}, not the plain {expected}")
    assert problems == []


def test_grpc_calls_through_the_gateway_split_as_the_routes_say(oracle: Oracle, tmp_path: Path):
    (case,) = [c for c in CASES if c.name == "istio-grpc-w10"]
    rendered = render_case(case, tmp_path)
    (service,) = [m for m in rendered_objects(rendered) if m["kind"] == "Service"]
    assert service["spec"]["ports"][0]["name"] == "grpc"
    oracle.load(rendered.manifests)
    # A gRPC call as a client makes it: an HTTP/2 POST to /<package.Service>/<Method>.
    grpc = {"content-type": "application/grpc", "te": "trailers"}
    path = "/grpc.health.v1.Health/Check"
    plain = oracle.ask("web.example.com", path, headers=grpc, method="POST")
    assert dict(plain.destinations) == {"v1": 90.0, "v2": 10.0}
    pinned = oracle.ask("web.example.com", path, headers={**grpc, "cookie": "version=v2"}, method="POST")
    assert dict(pinned.destinations) == {"v2": 100.0}


# Written out by hand from the two cases' httpRoute: what Envoy holds on every route of them.
ENVOY_POLICY = {
    "istio": (
        "45s",
        {
            "retryOn": "gateway-error,reset,retriable-status-codes",
            "numRetries": 3,
            "perTryTimeout": "500ms",
            "retriableStatusCodes": [429],
        },
    ),
    "gateway-api": ("45s", None),
}


@pytest.mark.parametrize("api", ["istio", "gateway-api"])
def test_every_kind_of_route_carries_the_timeout_and_retries_as_istiod_writes_them(
    oracle: Oracle, unset: Answer, api: str, tmp_path: Path
):
    (case,) = [c for c in CASES if c.name == f"{api}-every-route-kind-with-timeout-w30"]
    rendered = render_case(case, tmp_path)
    oracle.load(rendered.manifests)
    timeout, retry = ENVOY_POLICY[api]
    # Cookie, header, two sticky pins and the plain route, each asked in every shape `verify` sends.
    assert len(rendered.expectation.routes) == 5, [route.label for route in rendered.expectation.routes]
    for route in rendered.expectation.routes:
        for variant in route.header_variants():
            answer = oracle.ask("web.example.com", headers=request_headers(variant))
            assert answer.route is not None, (route.label, answer.raw)
            # The Gateway API's standard channel has no retries: its routes keep istiod's default.
            assert (answer.timeout, answer.retry) == (timeout, retry or unset.retry), (route.label, answer.raw)
    assert (unset.timeout, unset.retry) != (timeout, retry)


def rendered_objects(rendered: Rendered) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(rendered.manifests.glob("*.yaml"))]


def test_a_host_the_gateway_does_not_serve_has_no_route(oracle: Oracle, tmp_path: Path):
    rendered = render_shipped("dev", tmp_path)
    oracle.load(rendered.manifests)
    answer = oracle.ask("elsewhere.example.com", headers={"cookie": "version=v2"})
    assert (answer.route, dict(answer.destinations)) == (None, {})


@pytest.mark.parametrize("stack", ["staging", "gateway-api"])
def test_plain_http_is_redirected_to_https(oracle: Oracle, stack: str, tmp_path: Path):
    rendered = render_shipped(stack, tmp_path)
    oracle.load(rendered.manifests)
    host, scheme = targets(rendered)[0]
    assert scheme == "https"
    answer = oracle.ask(host, scheme="http")
    assert answer.redirect is not None and answer.redirect["scheme"] == "https", answer.raw
    assert dict(answer.destinations) == {}


def test_seed_manifests_miss_version_v2_unless_it_is_the_first_cookie(oracle: Oracle, tmp_path: Path):
    # The tutorial's own regex, ^(.*?;)?(version=v2)(;.*)?$, as istiod hands it to the gateway.
    oracle.load(SEED)
    first = oracle.ask("nginx-app.example.com", headers={"cookie": "version=v2; _ga=GA1.2.3"})
    later = oracle.ask("nginx-app.example.com", headers={"cookie": "_ga=GA1.2.3; version=v2"})
    assert dict(first.destinations) == {"v2": 100.0}
    assert dict(later.destinations) == {"v1": 100.0}  # the defect: a browser with any earlier cookie
    # The dev stack reproduces the tutorial and fixes exactly that.
    oracle.load(render_shipped("dev", tmp_path).manifests)
    assert dict(oracle.ask("nginx-app.example.com", headers={"cookie": "_ga=GA1.2.3; version=v2"}).destinations) == {
        "v2": 100.0
    }


# --- istioctl: the admission webhook's validation and the analyzers, offline -------------------------


@pytest.fixture(scope="module")
def istioctl(oracle: Oracle) -> str:
    """istioctl from the toolchain cache: the oracle's build made it too (the `oracle` fixture waits for it)."""
    result = subprocess.run([str(TOOLCHAIN), "istioctl"], capture_output=True, text=True, check=True)
    return str(Path(result.stdout.strip().splitlines()[-1]) / "istioctl")


def validate(istioctl: str, manifests: Path) -> subprocess.CompletedProcess[str]:
    files = sorted(str(p) for p in manifests.glob("*.yaml"))
    args = [istioctl, "validate", "--referential=false"]
    for f in files:
        args += ["-f", f]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def analyze(istioctl: str, manifests: Path) -> subprocess.CompletedProcess[str]:
    files = sorted(str(p) for p in manifests.glob("*.yaml"))
    args = [istioctl, "analyze", "--use-kube=false", "--all-namespaces", "--failure-threshold", "Info", *files]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def every_rendered(tmp: Path) -> Iterator[Rendered]:
    for stack in SHIPPED_STACKS:
        yield render_shipped(stack, tmp)
    for case in CASES:
        yield render_case(case, tmp)


def test_istioctl_validate_accepts_every_object_of_every_stack_and_case(istioctl: str, tmp_path: Path):
    refused = []
    for rendered in every_rendered(tmp_path):
        result = validate(istioctl, rendered.manifests)
        if result.returncode != 0:
            refused.append(f"{rendered.manifests.name}: {(result.stderr or result.stdout).strip()}")
    assert refused == []


def test_istioctl_analyze_finds_nothing_in_any_stack_or_case(istioctl: str, tmp_path: Path):
    findings = []
    for rendered in every_rendered(tmp_path):
        result = analyze(istioctl, rendered.manifests)
        if result.returncode != 0:
            findings.append(f"{rendered.manifests.name}: {(result.stdout + result.stderr).strip()}")
    assert findings == []


def test_istioctl_validate_does_refuse_a_bad_object(istioctl: str, tmp_path: Path):
    # The check itself: a cookie regex RE2 cannot compile is what the webhook refuses.
    rendered = render_shipped("staging", tmp_path)
    (service,) = rendered.manifests.glob("*virtualservice*")
    text = service.read_text()
    service.write_text(text.replace("regex: ^(.*;)?", "regex: ^((.*;)?"))
    assert service.read_text() != text
    result = validate(istioctl, rendered.manifests)
    assert result.returncode != 0, result.stdout
