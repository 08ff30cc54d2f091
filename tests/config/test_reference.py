"""The config reference in Pulumi.yaml and docs/config.md is the one the settings models give, and tells the truth."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.config import ConfigError, parse_settings
from canary.config import reference as config_reference
from canary.config.reference import COMMAND, CONFIG_DOC, END, START, main
from tests.support.project import PROJECT_DIR


def test_pulumi_yaml_config_block_is_the_one_the_models_give() -> None:
    committed = (PROJECT_DIR / "Pulumi.yaml").read_text()
    assert config_reference.pulumi_yaml(committed) == committed, f"Pulumi.yaml is stale: run {COMMAND}"


def test_config_doc_tables_are_the_ones_the_models_give() -> None:
    committed = (PROJECT_DIR / CONFIG_DOC).read_text()
    assert config_reference.config_doc(committed) == committed, f"{CONFIG_DOC} is stale: run {COMMAND}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", CONFIG_DOC):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_check_names_the_stale_file_in_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--project-dir", str(project)]) == 0
    # A default changed by hand, as if the models had been forgotten.
    edit(project / "Pulumi.yaml", "    default: 80\n", "    default: 8080\n")
    assert main(["--check", "--project-dir", str(project)]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    assert message.startswith("Pulumi.yaml out of date") and COMMAND in message


def test_write_regenerates_only_the_generated_parts(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pulumi_yaml, doc = project / "Pulumi.yaml", project / CONFIG_DOC
    # Hand-written text around the generated parts is the authors' and must survive.
    pulumi_yaml.write_text("# Before.\n" + pulumi_yaml.read_text() + "# After.\n")
    edit(doc, START, f"Before.\n{START}")
    edit(doc, END, f"{END}\nAfter.")
    expected = {path: path.read_text() for path in (pulumi_yaml, doc)}
    # Stale generated parts: a default changed by hand in each.
    edit(pulumi_yaml, "    default: 80\n", "    default: 8080\n")
    edit(doc, "| `port` | integer | `80` |", "| `port` | integer | `8080` |")

    assert main(["--write", "--project-dir", str(project)]) == 0
    assert {path: path.read_text() for path in expected} == expected
    assert main(["--check", "--project-dir", str(project)]) == 0
    assert capsys.readouterr().err == ""


def test_a_config_doc_without_its_markers_is_refused_and_nothing_is_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project / "Pulumi.yaml", "    default: 80\n", "    default: 8080\n")
    edit(project / CONFIG_DOC, END, "")
    before = {name: (project / name).read_text() for name in ("Pulumi.yaml", CONFIG_DOC)}

    assert main(["--write", "--project-dir", str(project)]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and CONFIG_DOC in message
    assert {name: (project / name).read_text() for name in before} == before


# --- The config doc's default column against the program itself ----------------------------------

# A valid config that sets every key, each to a value other than its default, so that leaving one
# out shows what the program then uses.
EVERY_KEY: dict[str, Any] = {
    "namespace": "shop",
    "createNamespace": False,
    "app": "web",
    "port": 8080,
    "hosts": ["web.example.com"],
    "versions": [
        {
            "name": "v1",
            "image": "registry.example.com/web:1.0",
            "imagePullPolicy": "Always",
            "probe": {"type": "http", "path": "/healthz"},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "securityProfile": "hardened",
            "runAsUser": 2000,
            "autoscaling": {"min": 2, "max": 4, "cpu": 60},
            "scanExceptions": {"CKV_K8S_43": "published by tag only"},
            "container": {"env": [{"name": "LEVEL", "value": "debug"}]},
            "pod": {"terminationGracePeriodSeconds": 20},
            "podMetadata": {"annotations": {"team": "web"}},
            "deployment": {"minReadySeconds": 5},
        },
        # replicas and autoscaling exclude each other: this entry has the former.
        {"name": "v2", "image": "registry.example.com/web:2.0", "replicas": 3},
    ],
    "stable": "v1",
    "container": {"workingDir": "/app"},
    "pod": {"priorityClassName": "web"},
    "podMetadata": {"labels": {"team": "web"}},
    "deployment": {"revisionHistoryLimit": 3},
    "serviceAccount": {
        "name": "web",
        "annotations": {"iam.gke.io/gcp-service-account": "web@p.iam"},
        "existing": False,
    },
    "secretEnv": {"API_TOKEN": "stored as a secret in a real stack"},
    "trafficPolicy": {"connectionPool": {"http": {"http1MaxPendingRequests": 100}}},
    # The Gateway API takes the timeout alone.
    "httpRoute": {"timeout": "10s"},
    # http, as EVERY_KEY routes through the Gateway API, which takes no other.
    "service": {"protocol": "http", "ports": [{"name": "metrics", "port": 9797}]},
    "canary": {
        "version": "v2",
        "cookie": "version=v2",
        "headers": {"x-canary": "yes"},
        "weight": 10,
        "sticky": {"cookie": "canary-pin", "maxAge": 3600},
        "mirror": 2.5,
    },
    "loadBalancerDns": "lb.example.com",
    "gateway": {
        "selector": {"app": "gateway"},
        "namespace": "gateways",
        "tls": {"credentialName": "web-tls", "httpsRedirect": False},
        "className": "istio-custom",
    },
    "istioApiVersion": "networking.istio.io/v1beta1",
    "routing": {"versionHeader": "x-served-by", "mesh": False, "api": "gateway-api"},
    "security": {"mtls": True, "networkPolicy": True},
    "rollout": {
        "steps": [10, {"pause": True}, 20, {"pause": "5m"}],
        "stepDuration": "30s",
        "analysisInterval": "5s",
        "minRequests": 80,
        "holdLimit": "15m",
        "alpha": 0.05,
        "splitTolerance": 3,
        "maxErrorRate": 2.5,
        "maxP99Ms": 250,
        "maxP99Ratio": 3,
        "prometheus": "http://127.0.0.1:9090",
        # One credential at most: the others are given as unset (null), which the dump shows too.
        "prometheusAuth": {
            "bearerTokenEnv": None,
            "bearerTokenFile": None,
            "basicAuth": {"username": "tenant", "passwordEnv": "PROMETHEUS_PASSWORD", "passwordSecret": None},
            "headers": {"X-Scope-OrgID": "tenant"},
            "caFile": "/etc/ssl/prometheus-ca.pem",
        },
        "metrics": [
            {
                "name": "lag",
                "kind": "threshold",
                "bad": None,
                "total": None,
                "query": "max(lag)",
                "min": 0,
                "max": 100,
                "failureLimit": 3,
            }
        ],
        "webhook": "http://127.0.0.1:9000/hook",
        "confirm": "http://127.0.0.1:9000/confirm",
        "notify": ["json://127.0.0.1:9000/events"],
    },
}


def as_cli_passes(values: dict[str, Any]) -> dict[str, str]:
    """Config values as the Pulumi CLI hands them over: strings as they are, anything else as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def doc_tables() -> tuple[dict[str, str], dict[str, str]]:
    """The config doc's top-level and workload tables: dotted key -> default cell."""
    text = (PROJECT_DIR / CONFIG_DOC).read_text()
    section = text[text.index(START) : text.index(END)]
    tables = section.split("Keys of each entry of `versions`:")
    row = re.compile(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", re.MULTILINE)
    top_level, workload = (dict(row.findall(table)) for table in tables)
    return top_level, workload


def doc_defaults() -> list[tuple[tuple[str | int, ...], str]]:
    """(key path in EVERY_KEY, default cell) of every row of the config doc's reference tables.

    A workload key's path goes into the first entry of `versions` that sets it.
    """
    top_level, workload = doc_tables()
    rows: list[tuple[tuple[str | int, ...], str]] = [(tuple(key.split(".")), cell) for key, cell in top_level.items()]
    for key, cell in workload.items():
        path = tuple(key.split("."))
        index = next((i for i, entry in enumerate(EVERY_KEY["versions"]) if path[0] in entry), 0)
        rows.append((("versions", index, *path), cell))
    return rows


def dotted_keys(config: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in config.items():
        keys.add(prefix + key)
        # These hold free-form mappings (labels, headers, check ids, Kubernetes' own fields), not keys of ours.
        free_form = {
            "selector",
            "headers",
            "scanExceptions",
            "annotations",
            "secretEnv",
            "trafficPolicy",
            "httpRoute",
            "container",
            "pod",
            "podMetadata",
            "deployment",
        }
        if isinstance(value, dict) and key not in free_form:
            keys |= dotted_keys(value, f"{prefix}{key}.")
    return keys


def test_the_config_doc_lists_every_key_the_program_reads() -> None:
    # The program's own view of a config, every field included: the keys it reads.
    read = parse_settings(as_cli_passes(EVERY_KEY)).model_dump(by_alias=True)
    assert dotted_keys(EVERY_KEY) == dotted_keys(read)
    workload_keys = set().union(*(dotted_keys(entry) for entry in read["versions"]))
    assert workload_keys == set().union(*(dotted_keys(entry) for entry in EVERY_KEY["versions"]))

    top_level, workload = doc_tables()
    assert set(top_level) == dotted_keys(read)
    assert set(workload) == workload_keys


ONE_OF = {("rollout", "prometheusAuth", "basicAuth", "passwordEnv"): ("passwordSecret", "rollout:password")}


@pytest.mark.parametrize(("path", "default"), doc_defaults(), ids=lambda value: str(value))
def test_config_doc_default_is_what_leaving_the_key_out_gives(path: tuple[str | int, ...], default: str) -> None:
    config = copy.deepcopy(EVERY_KEY)
    parent: Any = config
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    # A key that is one of two (a password from a variable or from a secret) leaves the model
    # invalid alone when deleted: its alternative takes its place.
    if (alternative := ONE_OF.get(path)) is not None:
        parent[alternative[0]] = alternative[1]
    if default == "required":
        with pytest.raises(ConfigError):
            parse_settings(as_cli_passes(config))
        return
    value: Any = parse_settings(as_cli_passes(config)).model_dump(by_alias=True, exclude_none=True)
    for part in path:
        value = value[part] if isinstance(part, int) else value.get(part)
    expected = None if default.startswith("none") else yaml.safe_load(default.strip("`"))
    assert value == expected
