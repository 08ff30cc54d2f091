"""Bad stack config: each mistake is reported with its key and value, and nothing is registered."""

from __future__ import annotations

import pulumi
import pytest

from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from tests.support.config_edits import DELETE, changed
from tests.support.project import BASELINE
from tests.support.simulate import Simulation

BAD_CONFIGS = [
    # (key path, bad value, the key the error names, text of the value in the error)
    ("namespace", DELETE, "namespace", "required"),
    ("app", DELETE, "app", "required"),
    ("hosts", DELETE, "hosts", "required"),
    ("versions", DELETE, "versions", "required"),
    ("namespace", "Canary_NS", "namespace", "'Canary_NS'"),
    ("namespace", "n" * 64, "namespace", "'nnnn"),
    ("app", "1web", "app", "'1web'"),
    ("app", "w" * 56, "app", "'wwww"),
    ("port", 0, "port", "0"),
    ("port", 65536, "port", "65536"),
    ("port", "http", "port", "'http'"),
    ("hosts", [], "hosts", "[]"),
    ("hosts", "web.example.com", "hosts", "'web.example.com'"),
    ("hosts", ["Web.example.com"], "hosts[0]", "'Web.example.com'"),
    ("hosts", ["web_1.example.com"], "hosts[0]", "'web_1.example.com'"),
    ("hosts", ["web.*.example.com"], "hosts[0]", "'web.*.example.com'"),
    ("hosts", ["web.example.com", "web.example.com"], "hosts[1]", "listed twice, got 'web.example.com'"),
    ("versions", [], "versions", "[]"),
    ("versions[1].name", "v1", "versions[1].name", "versions[0], got 'v1'"),
    ("versions[0].name", "V1", "versions[0].name", "'V1'"),
    ("versions[0].name", "v1.0", "versions[0].name", "'v1.0'"),
    ("versions[0].image", DELETE, "versions[0].image", "required"),
    ("versions[0].image", "", "versions[0].image", "''"),
    ("versions[0].image", "web app:1", "versions[0].image", "'web app:1'"),
    ("versions[0].replicas", -1, "versions[0].replicas", "-1"),
    ("versions[0].replicas", 1.5, "versions[0].replicas", "1.5"),
    ("versions[0].imagePullPolicy", "Sometimes", "versions[0].imagePullPolicy", "'Sometimes'"),
    ("versions[0].tag", "1.0", "versions[0].tag", "'1.0'"),
    ("stable", "v3", "stable", "'v3'"),
    ("canary.version", "v3", "canary.version", "'v3'"),
    ("canary.version", "v1", "canary.version", "'v1'"),
    ("canary.weight", 150, "canary.weight", "150"),
    ("canary.weight", -1, "canary.weight", "-1"),
    ("canary.weight", 10.5, "canary.weight", "10.5"),
    ("canary.weight", "10", "canary.weight", "'10'"),
    ("canary.weight", True, "canary.weight", "got true"),
    ("canary.wieght", 10, "canary.wieght", "10"),
    ("canary.cookie", "version", "canary.cookie", "'version'"),
    ("canary.cookie", "=v2", "canary.cookie", "'=v2'"),
    ("canary.cookie", "version=", "canary.cookie", "'version='"),
    ("canary.cookie", "ver sion=v2", "canary.cookie", "'ver sion=v2'"),
    ("canary.cookie", "version=v 2", "canary.cookie", "'version=v 2'"),
    ("canary.cookie", "version=v2;x=1", "canary.cookie", "'version=v2;x=1'"),
    ("canary.cookie", 'version=a"b', "canary.cookie", "'version=a\"b'"),
    ("canary.headers", {}, "canary.headers", "{}"),
    ("canary.headers", {"X-Canary": "yes"}, "canary.headers.X-Canary", "'X-Canary'"),
    ("canary.headers", {"x-canary": ""}, "canary.headers.x-canary", "''"),
    ("canary.headers", {"cookie": "a=b"}, "canary.headers.cookie", "'cookie'"),
    ("loadBalancerDns", "not a host", "loadBalancerDns", "'not a host'"),
    ("gateway.selector", {}, "gateway.selector", "{}"),
    ("gateway.tls", {"credentialname": "web-cert"}, "gateway.tls.credentialname", "'web-cert'"),
    ("gateway.tls", {"credentialName": "web-cert", "httpsRedirect": "yes"}, "gateway.tls.httpsRedirect", "'yes'"),
    ("istioApiVersion", "networking.istio.io/v2", "istioApiVersion", "'networking.istio.io/v2'"),
    ("routing.versionHeader", True, "routing.versionHeader", "got true"),
    ("routing.versionHeader", "X-Version", "routing.versionHeader", "'X-Version'"),
    ("wieght", 10, "wieght", "'10'"),
    # Workloads (probes, resources, autoscaling, profiles, scanner exceptions) and namespace security.
    ("versions[0].probe", {"path": "healthz"}, "versions[0].probe.path", "'healthz'"),
    ("versions[0].probe", {"path": "/health check"}, "versions[0].probe.path", "'/health check'"),
    ("versions[0].probe", {"type": "grpc"}, "versions[0].probe.type", "'grpc'"),
    ("versions[0].probe", {"type": "tcp", "path": "/"}, "versions[0].probe.path", "http probes only"),
    (
        "versions[0].resources",
        {"requests": {"cpu": "100 m", "memory": "128Mi"}},
        "versions[0].resources.requests.cpu",
        "'100 m'",
    ),
    (
        "versions[0].resources",
        {"requests": {"cpu": "1", "memory": "128MB"}},
        "versions[0].resources.requests.memory",
        "'128MB'",
    ),
    ("versions[0].resources", {"limits": {"cpu": "-1", "memory": "1Gi"}}, "versions[0].resources.limits.cpu", "'-1'"),
    ("versions[0].resources", {"limits": {"cpu": "0", "memory": "1Gi"}}, "versions[0].resources.limits.cpu", "'0'"),
    ("versions[0].resources", {"limits": {"cpu": 1, "memory": "1Gi"}}, "versions[0].resources.limits.cpu", "1"),
    ("versions[0].resources", {"limits": {"cpu": "50m", "memory": "1Gi"}}, "versions[0].resources.requests.cpu", "50m"),
    ("versions[0].resources", {"requests": {"cpu": "1"}}, "versions[0].resources.requests.memory", "required"),
    ("versions[0].autoscaling", {"min": 5, "max": 2}, "versions[0].autoscaling.min", "max 2, got 5"),
    ("versions[0].autoscaling", {"min": 0, "max": 2}, "versions[0].autoscaling.min", "0"),
    ("versions[0].autoscaling", {"min": 1, "max": 2, "cpu": 0}, "versions[0].autoscaling.cpu", "got 0"),
    ("versions[0].autoscaling", {"min": 1, "max": 2, "cpu": 101}, "versions[0].autoscaling.cpu", "101"),
    ("versions[0].autoscaling", {"max": 2}, "versions[0].autoscaling.min", "required"),
    ("versions[0].replicas", 2, "versions[0]", "set replicas or autoscaling, not both"),  # with autoscaling below
    ("versions[0].securityProfile", "paranoid", "versions[0].securityProfile", "'paranoid'"),
    ("versions[0].runAsUser", 0, "versions[0].runAsUser", "0"),
    ("versions[0].scanExceptions", {"CKV_K8S_43": ""}, "versions[0].scanExceptions.CKV_K8S_43", "''"),
    ("versions[0].scanExceptions", {"CKV_K8S_43": "tag=1.0"}, "versions[0].scanExceptions.CKV_K8S_43", "'tag=1.0'"),
    ("versions[0].scanExceptions", {"K8S_43": "why"}, "versions[0].scanExceptions.K8S_43", "'K8S_43'"),
    ("versions[0].scanExceptions", {"CKV_K8S_999": "why"}, "versions[0].scanExceptions.CKV_K8S_999", "'CKV_K8S_999'"),
    ("security.mtls", "yes", "security.mtls", "'yes'"),
    ("security.networkpolicy", True, "security.networkpolicy", "got true"),
    ("gateway.namespace", "Istio_System", "gateway.namespace", "'Istio_System'"),
    ("routing.mesh", "true", "routing.mesh", "'true'"),
    ("rollout.steps", [10, 5], "rollout.steps", "[10, 5]"),
    ("rollout.steps", [0, 50], "rollout.steps", "[0, 50]"),
    ("rollout.steps", [], "rollout.steps", "[]"),
    ("rollout.stepDuration", "2 minutes", "rollout.stepDuration", "'2 minutes'"),
    ("rollout.stepDuration", "0s", "rollout.stepDuration", "'0s'"),
    ("rollout.maxErrorRate", 0, "rollout.maxErrorRate", "0"),
    ("rollout.maxP99Ms", "500", "rollout.maxP99Ms", "'500'"),
    ("rollout.maxP99Ratio", True, "rollout.maxP99Ratio", "true"),
    ("rollout.prometheus", "localhost:9090", "rollout.prometheus", "'localhost:9090'"),
    ("rollout.webhook", "ftp://hooks.example.com", "rollout.webhook", "'ftp://hooks.example.com'"),
    ("rollout.stepduration", "2m", "rollout.stepduration", "'2m'"),
    ("canary.sticky", {"cookie": "version"}, "canary.sticky.cookie", "must differ"),
    ("canary.sticky", {"cookie": "pin me"}, "canary.sticky.cookie", "'pin me'"),
    ("canary.sticky", {"cookie": "pin", "maxAge": 0}, "canary.sticky.maxAge", "0"),
    ("canary.sticky", {"maxAge": 60}, "canary.sticky.cookie", "required"),
    ("canary.mirror", 100.5, "canary.mirror", "100.5"),
    ("canary.mirror", "5", "canary.mirror", "'5'"),
    ("canary.mirror", True, "canary.mirror", "true"),
    ("routing.api", "gateway", "routing.api", "'gateway'"),
    ("routing", {"api": "gateway-api", "mesh": True}, "routing.mesh", "needs the istio routing API"),
    ("gateway.className", "Istio Class", "gateway.className", "'Istio Class'"),
]


@pytest.mark.parametrize(
    ("path", "value", "key", "shown"), BAD_CONFIGS, ids=[f"{c[0]}={c[1]!r}"[:60] for c in BAD_CONFIGS]
)
def test_bad_config_names_key_and_value_and_registers_nothing(run, baseline, path, value, key, shown):
    if path == "versions[0].replicas" and value == 2:
        baseline["versions"][0]["autoscaling"] = {"min": 1, "max": 3}
    simulation = Simulation()
    with pytest.raises(pulumi.RunError) as raised:
        run(changed(baseline, path, value), into=simulation)
    lines = str(raised.value).splitlines()[1:]
    assert any(line.strip().startswith(f"{key}:") and shown in line for line in lines), lines
    assert simulation.registrations == []


def test_every_error_of_a_config_is_reported_at_once(baseline):
    changed(baseline, "port", 0)
    changed(baseline, "versions[0].name", "V1")
    with pytest.raises(ValueError) as raised:
        parse_settings(as_config_strings(baseline))
    assert "port:" in str(raised.value) and "versions[0].name:" in str(raised.value)


def test_a_number_of_more_digits_than_int_reads_is_named_not_a_traceback(baseline):
    # The strings the Pulumi CLI hands the program: int() refuses past 4,300 digits with a ValueError.
    config = {**as_config_strings(baseline), "port": "9" * 5000, "hosts": "[" + "9" * 5000 + "]"}
    with pytest.raises(ConfigError) as raised:
        parse_settings(config)
    lines = str(raised.value).splitlines()[1:]
    assert [line.split(",", 1)[0].strip() for line in lines] == [
        "hosts: a whole number of more digits than any setting could use",
        "port: a whole number of more digits than any setting could use",
    ], lines
    assert all(len(line) < 200 for line in lines)


def test_baseline_config_is_valid(baseline):
    settings = parse_settings(as_config_strings(baseline))
    assert (settings.stable_version, settings.canary_version, settings.weight) == ("v1", "v2", 0)


def test_stable_defaults_to_the_first_version_and_an_empty_stable_means_the_same(baseline):
    del baseline["canary"]
    assert parse_settings(as_config_strings(baseline)).stable_version == "v1"
    assert parse_settings(as_config_strings({**baseline, "stable": ""})).stable_version == "v1"
    assert parse_settings(as_config_strings({**baseline, "stable": "v2"})).stable_version == "v2"


def test_an_empty_canary_mapping_is_no_canary(baseline):
    # Pulumi.yaml's default for `canary` is {}: the CLI needs a default to keep the key optional.
    settings = parse_settings(as_config_strings({**baseline, "canary": {}}))
    assert settings.canary is None and settings.weight == 0


def test_wildcard_hosts_are_accepted(baseline):
    settings = parse_settings(as_config_strings({**baseline, "hosts": ["*.example.com", "web.example.com"]}))
    assert settings.hosts == ["*.example.com", "web.example.com"]


def test_version_header_can_be_turned_off(baseline):
    settings = parse_settings(as_config_strings({**baseline, "routing": {"versionHeader": False}}))
    assert settings.routing.version_header is False


def test_run_as_user_does_not_apply_to_the_root_profile(baseline):
    baseline["versions"][0].update({"securityProfile": "root", "runAsUser": 20000})
    with pytest.raises(ValueError, match=r"versions\[0\].runAsUser: does not apply to this security profile"):
        parse_settings(as_config_strings(baseline))


def test_quantities_are_compared_by_value_not_text(baseline):
    baseline["versions"][0]["resources"] = {
        "requests": {"cpu": "0.5", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1024Mi"},
    }
    assert parse_settings(as_config_strings(baseline)).versions[0].resources.limits.cpu == "500m"


def test_a_misspelt_top_level_key_gets_a_short_suggestion():
    with pytest.raises(ConfigError) as err:
        parse_settings(as_config_strings({**BASELINE, "verions": BASELINE["versions"]}))
    (line,) = [line for line in str(err.value).splitlines() if "verions" in line]
    assert "unknown key (did you mean 'versions'?)" in line
    assert len(line) <= 160, line


def test_the_typed_choices_are_the_known_profiles_and_api_versions():
    from typing import get_args

    from canary.config import StackSettings, VersionSettings
    from canary.plan.istio import NETWORKING_API_VERSIONS
    from canary.plan.security_profiles import PROFILES

    assert set(get_args(VersionSettings.model_fields["security_profile"].annotation)) == set(PROFILES)
    assert get_args(StackSettings.model_fields["istio_api_version"].annotation) == NETWORKING_API_VERSIONS


@pytest.mark.parametrize("name", ["service", "v" * 60])
def test_with_the_gateway_api_each_versions_service_must_be_a_distinct_short_name(baseline, name):
    baseline["routing"] = {"api": "gateway-api"}
    baseline["versions"][1]["name"] = name
    baseline["canary"] = {}
    with pytest.raises(ConfigError) as err:
        parse_settings(as_config_strings(baseline))
    assert f"versions[1].name: with the gateway-api routing its Service 'web-{name}'" in str(err.value)
    baseline["routing"] = {"api": "istio"}
    parse_settings(as_config_strings(baseline))
