"""`secretEnv`: secret values reach one Secret of the release's own, and nothing else, through every door."""

from __future__ import annotations

import json
import shutil

import pulumi
import pytest
import yaml

from canary.cli.render import main
from canary.config import ConfigError, parse_settings
from canary.config.files import as_config_strings
from tests.support.project import BASELINE, PROJECT_DIR
from tests.support.simulate import simulate

TOKEN = "tok-3f9a1c-never-shown"
# How the Pulumi SDK marks a secret value on the wire (`{SIG_KEY: SECRET_SIG, "value": ...}`): the
# engine keeps such a value encrypted in the state.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def config(**more):
    return as_config_strings({**BASELINE, "canary": {}, **more})


def with_secret(**more):
    return simulate(config(secretEnv={"API_TOKEN": TOKEN}, **more), secret_keys=["secretEnv"])


def test_the_value_reaches_the_secret_alone_and_as_a_pulumi_secret():
    # Secret twice over: the program wraps each value, and the SDK's Secret marks `stringData` secret.
    simulation = with_secret()
    holding = [r for r in simulation.registrations if TOKEN in json.dumps(r.inputs, default=str)]
    assert [(r.type, r.name) for r in holding] == [("kubernetes:core/v1:Secret", "canary-secret-env")]
    (secret,) = holding
    assert secret.inputs["metadata"]["name"] == "web-env"
    assert secret.inputs["stringData"] == {SIG_KEY: SECRET_SIG, "value": {"API_TOKEN": TOKEN}}
    assert TOKEN not in json.dumps(simulation.outputs) + json.dumps(simulation.registered_outputs, default=str)


def test_every_version_reads_the_value_from_the_secret_and_says_why_the_scanner_check_is_skipped():
    deployments = with_secret().find("Deployment")
    assert len(deployments) == 2
    for deployment in deployments:
        (app,) = deployment["spec"]["template"]["spec"]["containers"]
        assert app["env"] == [
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "web-env", "key": "API_TOKEN"}}}
        ]
        skips = deployment["metadata"]["annotations"].values()
        assert any(skip.startswith("CKV_K8S_35=secretEnv: ") for skip in skips)


def test_a_value_stored_in_plain_text_is_refused():
    with pytest.raises(pulumi.RunError, match=r"secretEnv: stored in plain text; store each value as a secret"):
        simulate(config(secretEnv={"API_TOKEN": TOKEN}))


def test_other_keys_stored_as_secrets_are_still_refused():
    with pytest.raises(pulumi.RunError, match=r"app: stored as a secret"):
        simulate(config(secretEnv={"API_TOKEN": TOKEN}), secret_keys=["secretEnv", "app"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"API-TOKEN": TOKEN}, "secretEnv['API-TOKEN']: must be an environment variable name"),
        ({"API_TOKEN": 12345}, "secretEnv['API_TOKEN']: must be a string, got '(secret)'"),
        ([TOKEN], "secretEnv: must be a mapping of environment variable names to secret values, got '(secret)'"),
    ],
)
def test_a_bad_value_is_named_by_its_key_and_never_shown(values, expected):
    with pytest.raises(ConfigError) as raised:
        parse_settings(config(secretEnv=values))
    assert expected in str(raised.value)
    assert TOKEN not in str(raised.value) and "12345" not in str(raised.value)


def test_an_env_var_set_by_secret_env_and_by_a_container_block_is_refused():
    values = config(secretEnv={"API_TOKEN": TOKEN}, container={"env": [{"name": "API_TOKEN", "value": "x"}]})
    with pytest.raises(ConfigError, match=r"container\.env\[0\]\.name: is set by secretEnv too"):
        parse_settings(values)


def project_with(tmp_path, secret_env):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    stack["config"]["istio-canary:secretEnv"] = secret_env
    (project / "Pulumi.sec.yaml").write_text(yaml.safe_dump(stack))
    return project


def test_render_writes_everything_but_the_secret_and_says_how_to_create_it(tmp_path, capsys):
    # What `pulumi config set --secret --path` writes: the value encrypted, never readable here.
    project = project_with(tmp_path, {"API_TOKEN": {"secure": "v1:c2FsdA==:ZW5jcnlwdGVk"}})
    out = tmp_path / "out"
    assert main(["--stack", "sec", "--out", str(out), "--project-dir", str(project)]) == 0
    err = capsys.readouterr().err
    assert "secretEnv: the Secret web-env (API_TOKEN) is not written" in err
    kinds = [yaml.safe_load(path.read_text())["kind"] for path in sorted(out.iterdir())]
    assert "Secret" not in kinds and "Deployment" in kinds
    text = "".join(path.read_text() for path in out.iterdir())
    assert "secretKeyRef" in text and "(secret: not decrypted)" not in text and "ZW5jcnlwdGVk" not in text


def test_render_refuses_a_secret_env_value_written_in_plain_text(tmp_path, capsys):
    project = project_with(tmp_path, {"API_TOKEN": TOKEN})
    out = tmp_path / "out"
    assert main(["--stack", "sec", "--out", str(out), "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "secretEnv.API_TOKEN is stored in plain text" in err and TOKEN not in err
    assert not out.exists()
