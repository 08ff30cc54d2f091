"""`python -m canary render`: one YAML file per object, namespace first, without a cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from canary.cli import render
from canary.cli.render import HEADER_MARK, main
from canary.config import files as config_files
from tests.support.project import BASELINE, PROJECT_DIR, SHIPPED_STACKS, shipped_stack


def with_project(folder):
    """`folder` as a project folder: the CLI reads stack files only beside a Pulumi.yaml."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", folder)
    return folder


def rendered(out):
    files = sorted(out.glob("*.yaml"))
    return files, [yaml.safe_load(f.read_text()) for f in files]


def test_render_writes_one_file_per_object_namespace_first(tmp_path):
    assert main(["--stack", "dev", "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 0
    files, manifests = rendered(tmp_path)
    assert len(files) == 7
    assert manifests[0]["kind"] == "Namespace"
    assert [m["kind"] for m in manifests[-2:]] == ["DestinationRule", "VirtualService"]
    assert all(f.read_text().startswith(HEADER_MARK) for f in files)


def as_set(manifests):
    return sorted(json.dumps(m, sort_keys=True) for m in manifests)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_rendered_files_are_what_the_components_register(tmp_path, stack):
    # Two back ends of one plan: the files `render` writes, and what the Pulumi components send
    # to the engine (recorded under the SDK's mocks), must be the same objects, field for field.
    assert main(["--stack", stack, "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 0
    _, manifests = rendered(tmp_path)
    assert as_set(manifests) == as_set(shipped_stack(stack).manifests())


VARIANTS = {
    "autoscaling": {"versions": [{**BASELINE["versions"][0], "autoscaling": {"min": 2, "max": 5}}], "canary": {}},
    "tls, mesh, headers": {
        "gateway": {"tls": {"credentialName": "web-cert"}},
        "routing": {"mesh": True, "versionHeader": False},
        "canary": {"version": "v2", "headers": {"x-canary": "always"}, "weight": 30},
    },
    "security, old istio": {
        "security": {"mtls": True, "networkPolicy": True},
        "istioApiVersion": "networking.istio.io/v1beta1",
        "loadBalancerDns": "lb.example.com",
    },
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_rendered_config_variants_are_what_the_components_register(tmp_path, run, variant):
    config = {**BASELINE, **VARIANTS[variant]}
    with_project(tmp_path)
    (tmp_path / "Pulumi.v.yaml").write_text(
        yaml.safe_dump({"config": {f"istio-canary:{k}": v for k, v in config.items()}})
    )
    assert main(["--stack", "v", "--out", str(tmp_path / "m"), "--project-dir", str(tmp_path)]) == 0
    _, manifests = rendered(tmp_path / "m")
    assert as_set(manifests) == as_set(run(config).manifests())


def whole_numbers_written_as_floats(value, where=""):
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [w for key, item in value.items() for w in whole_numbers_written_as_floats(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [w for i, item in enumerate(value) for w in whole_numbers_written_as_floats(item, f"{where}[{i}]")]
    return []


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_rendered_numbers_are_integers(tmp_path, stack):
    # No field of these objects is a float; `replicas: 1.0` would be a wire-format leak.
    assert main(["--stack", stack, "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 0
    _, manifests = rendered(tmp_path)
    assert [w for m in manifests for w in whole_numbers_written_as_floats(m)] == []
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert type(deployment["spec"]["replicas"]) is int
    assert type(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]) is int


def written_text(out):
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.yaml"))}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_libyaml_writes_the_text_pyyamls_own_emitter_writes(tmp_path, monkeypatch, stack):
    # render writes with libyaml when PyYAML has it, as its wheels do; the text must be byte for
    # byte what PyYAML's pure-Python emitter writes, so that no rendered file changes with it.
    assert render._SafeDumper is yaml.CSafeDumper
    args = ["--stack", stack, "--project-dir", str(PROJECT_DIR)]
    assert main([*args, "--out", str(tmp_path / "libyaml")]) == 0
    monkeypatch.setattr(render, "_SafeDumper", yaml.SafeDumper)
    assert main([*args, "--out", str(tmp_path / "python")]) == 0
    assert written_text(tmp_path / "libyaml") == written_text(tmp_path / "python")


def test_rendering_does_not_import_the_pulumi_sdk(tmp_path):
    code = (
        "import sys; from canary.cli.render import main; "
        f"main(['--stack', 'prod', '--out', {str(tmp_path)!r}, '--project-dir', {str(PROJECT_DIR)!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes', 'grpc')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_render_replaces_its_own_stale_files_but_keeps_others(tmp_path):
    stale = tmp_path / "07-deployment-nginx-deployment-v9.yaml"
    stale.write_text(HEADER_MARK + " --stack dev`\nkind: Deployment\n")
    mine = tmp_path / "99-my-extra.yaml"
    mine.write_text("kind: ConfigMap\n")
    assert main(["--stack", "dev", "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 0
    assert not stale.exists()
    assert mine.exists()


def test_render_writes_the_stack_outputs_for_the_verifier(tmp_path):
    outputs = tmp_path / "outputs.json"
    args = [
        "--stack",
        "dev",
        "--out",
        str(tmp_path / "m"),
        "--outputs",
        str(outputs),
        "--project-dir",
        str(PROJECT_DIR),
    ]
    assert main(args) == 0
    written = json.loads(outputs.read_text())
    assert written["routes"] == [
        {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
        {"when": {}, "split": {"v1": 100}},
    ]
    assert written["stickyCookie"] == ""


def test_render_outputs_name_the_sticky_cookie(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    sticky = "cookie: version=v2\n    weight: 10\n    sticky: {cookie: canary-pin}"
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("cookie: version=v2", sticky)
    (project / "Pulumi.sticky.yaml").write_text(text)
    outputs = tmp_path / "outputs.json"
    args = ["--stack", "sticky", "--out", str(tmp_path / "m"), "--outputs", str(outputs), "--project-dir", str(project)]
    assert main(args) == 0
    written = json.loads(outputs.read_text())
    assert written["stickyCookie"] == "canary-pin"
    assert {"when": {"cookie": "canary-pin=v1"}, "split": {"v1": 100}} in written["routes"]


def test_render_of_a_missing_stack_is_a_one_line_error(tmp_path, capsys):
    assert main(["--stack", "nope", "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.nope.yaml" in err
    assert list(tmp_path.iterdir()) == []


def test_render_of_an_invalid_stack_names_the_key_and_writes_nothing(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("cookie: version=v2", "cookie: version=v2;x")
    (project / "Pulumi.bad.yaml").write_text(text)
    out = tmp_path / "out"
    # 2, as for any input the command cannot use; 1 is kept for a release that fails a check.
    assert main(["--stack", "bad", "--out", str(out), "--project-dir", str(project)]) == 2
    assert "canary.cookie: " in capsys.readouterr().err
    assert not out.exists()


def test_render_applies_pulumi_yaml_defaults_like_the_cli(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    declared["config"]["port"]["default"] = 8080
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(declared))
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", project)
    out = tmp_path / "out"
    assert main(["--stack", "dev", "--out", str(out), "--project-dir", str(project)]) == 0
    (service,) = [m for m in rendered(out)[1] if m["kind"] == "Service"]
    assert service["spec"]["ports"][0]["port"] == 8080


def test_render_command_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "canary", "render", "--stack", "dev", "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "wrote 7 manifests" in result.stdout


def test_the_program_runs_after_other_asyncio_code_in_the_same_process(tmp_path):
    import asyncio

    async def nothing() -> None:
        return None

    # asyncio.run() leaves the thread without an event loop, as the verify command does.
    asyncio.run(nothing())
    assert main(["--stack", "dev", "--out", str(tmp_path), "--project-dir", str(PROJECT_DIR)]) == 0


def test_a_run_leaves_no_event_loop_open(run, baseline):
    # The SDK registers resources from worker threads, each with its own event loop; one left
    # open is collected at interpreter exit with a traceback on stderr.
    import asyncio
    import gc

    run(baseline)
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, asyncio.BaseEventLoop) and not o.is_closed()] == []


def test_render_refuses_a_secret_nested_under_a_key_of_ours(tmp_path, capsys):
    # What `pulumi config set --secret --path canary.headers.x-canary ...` writes.
    with_project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n"
        "  istio-canary:namespace: shop\n"
        "  istio-canary:canary:\n"
        "    version: v2\n"
        "    headers:\n"
        "      x-canary:\n"
        "        secure: AAABAKq0\n"
    )
    assert main(["--stack", "s", "--out", str(tmp_path / "out"), "--project-dir", str(tmp_path)]) == 2
    assert "canary: stored as a secret" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_render_ignores_a_secret_of_another_namespace(tmp_path):
    # A provider's secret (its kubeconfig, say) is not the program's to read.
    stack = (PROJECT_DIR / "Pulumi.dev.yaml").read_text() + "  kubernetes:kubeconfig:\n    secure: AAABAKq0\n"
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    assert main(["--stack", "dev", "--out", str(tmp_path / "out"), "--project-dir", str(tmp_path)]) == 0


def test_render_reads_a_key_without_namespace_as_the_project_key_like_the_cli(tmp_path):
    # `pulumi config` shows `loadBalancerDns: x` in a stack file as istio-canary:loadBalancerDns.
    stack = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("istio-canary:loadBalancerDns:", "loadBalancerDns:")
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    out = tmp_path / "out"
    assert main(["--stack", "dev", "--out", str(out), "--project-dir", str(tmp_path)]) == 0
    (service,) = [f for f in out.glob("*virtualservice*")]
    assert "external-dns.alpha.kubernetes.io/target: istio-load-balancer" in service.read_text()


def test_outputs_into_a_missing_folder_are_written_there(tmp_path):
    outputs = tmp_path / "new" / "deeper" / "outputs.json"
    assert main(["--stack", "dev", "--out", str(tmp_path / "m"), "--outputs", str(outputs)]) == 0
    assert json.loads(outputs.read_text())["namespace"] == "canary-deployment"


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_out_that_cannot_be_a_folder_is_one_line_and_writes_nothing(tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if where == "a file" else blocker / "manifests"
    outputs = tmp_path / "outputs.json"
    assert main(["--stack", "dev", "--out", str(out), "--outputs", str(outputs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and err.count("\n") == 1 and "is a file, not a folder" in err
    assert not outputs.exists()


def test_outputs_onto_a_folder_is_refused_before_the_manifests(tmp_path, capsys):
    (tmp_path / "outputs.json").mkdir()
    assert main(["--stack", "dev", "--out", str(tmp_path / "m"), "--outputs", str(tmp_path / "outputs.json")]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_stale_file_cleanup_passes_over_foreign_bytes_and_folders(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "latin1.yaml").write_bytes(b"caf\xe9: 1\n")
    (out / "folder.yaml").mkdir()
    assert main(["--stack", "dev", "--out", str(out)]) == 0
    assert (out / "latin1.yaml").read_bytes() == b"caf\xe9: 1\n"
    assert (out / "folder.yaml").is_dir()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"config:\n  - a\n", "config must be a mapping"),
        (b"config: just text\n", "config must be a mapping"),
        (b"config:\n  1: x\n", "config key 1 must be a string"),
        (b"config:\n  istio-canary:app: \xff\n", "not UTF-8"),
        (b"config:\n  istio-canary:app: [unclosed\n", "Pulumi.s.yaml: not valid YAML at line"),
        (b"config:\n  istio-canary:app: a\n  istio-canary:app: b\n", "'istio-canary:app' appears twice"),
        # libyaml's own message leaves the character out: the file is parsed again to name it.
        (b"config:\n\tistio-canary:app: web\n", "at line 2: found character '\\t' that cannot start any token"),
    ],
)
def test_a_malformed_stack_file_is_one_line_naming_the_file(tmp_path, capsys, content, expected):
    with_project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_bytes(content)
    assert main(["--stack", "s", "--out", str(tmp_path / "m"), "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in SHIPPED_STACKS)])
def test_project_and_stack_files_read_as_pyyamls_own_parser_reads_them(name):
    # Stack files are read with libyaml when PyYAML has it; the result must be PyYAML's own.
    assert yaml.CSafeLoader in config_files._FastUniqueKeyLoader.__mro__
    path = PROJECT_DIR / name
    assert config_files._read_yaml(path) == yaml.load(path.read_text(), Loader=yaml.SafeLoader)


@pytest.mark.parametrize(
    ("out", "outputs", "expected"),
    [
        ("m", "m", "is the --out folder m, or above it"),
        ("m/", "m/", "is the --out folder m, or above it"),
        ("m/sub", "m", "is the --out folder m/sub, or above it"),
        ("m", "m/outputs.json", "is inside the --out folder m, where kubectl apply -f would read it"),
    ],
)
def test_outputs_where_the_manifests_go_is_one_line_and_writes_nothing(
    tmp_path, monkeypatch, capsys, out, outputs, expected
):
    monkeypatch.chdir(tmp_path)
    assert main(["--stack", "dev", "--out", out, "--outputs", outputs, "-C", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --outputs {outputs.rstrip('/')}: ") and expected in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--out", "--outputs"])
def test_a_folder_that_cannot_be_created_is_one_line_and_writes_nothing(tmp_path, capsys, flag):
    # /proc takes no new entries, even from root, whom os.access() calls it writable for.
    paths = {"--out": str(tmp_path / "m"), "--outputs": str(tmp_path / "new" / "outputs.json")}
    paths[flag] = "/proc/canary-x/m" if flag == "--out" else "/proc/canary-x/outputs.json"
    assert main(["--stack", "dev", "--out", paths["--out"], "--outputs", paths["--outputs"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag} /proc/canary-x") and "cannot create /proc/canary-x" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    # The folders made for the other flag before this one failed are gone again.
    assert list(tmp_path.iterdir()) == []


def test_rendering_one_stack_keeps_the_files_another_stack_rendered_there(tmp_path):
    # A `dev-render` stack made after docs/render.md's `pulumi stack init dev-render`, another app.
    project = with_project(tmp_path)
    dev = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").write_text(dev)
    other = dev.replace("app: nginx", "app: shop").replace("namespace: canary-deployment", "namespace: shop")
    (project / "Pulumi.dev-render.yaml").write_text(other)
    out = tmp_path / "m"
    assert main(["--stack", "dev", "--out", str(out), "-C", str(project)]) == 0
    dev_files = {path: path.read_text() for path in out.iterdir()}
    assert main(["--stack", "dev-render", "--out", str(out), "-C", str(project)]) == 0
    assert main(["--stack", "dev-render", "--out", str(out), "-C", str(project)]) == 0
    assert {path: path.read_text() for path in dev_files if path.exists()} == dev_files
    assert len(list(out.iterdir())) > len(dev_files)


def test_a_stack_named_with_its_organisation_renders_and_headers_its_own_name(tmp_path):
    assert main(["--stack", "acme/istio-canary/dev", "--out", str(tmp_path), "-C", str(PROJECT_DIR)]) == 0
    files, _ = rendered(tmp_path)
    assert len(files) == 7 and all(f.read_text().startswith(f"{HEADER_MARK} --stack dev`") for f in files)


@pytest.mark.parametrize("flag", ["--cwd", "-C", "--project-dir"])
def test_cwd_points_render_at_the_project_like_pulumi_cwd(tmp_path, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    assert main(["--stack", "dev", "--out", "m", flag, str(PROJECT_DIR / "docs")]) == 0
    assert len(list((tmp_path / "m").iterdir())) == 7


def test_render_outside_a_project_says_where_it_looked_and_how_to_point_at_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--stack", "dev", "--out", "m"]) == 2
    err = capsys.readouterr().err
    assert f"no Pulumi.yaml in {tmp_path} or any folder above it" in err and "--cwd DIR" in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_bad_flag_is_one_line_and_exit_2(capsys):
    assert main(["--stack", "dev"]) == 2
    assert capsys.readouterr().err == "error: the following arguments are required: --out\n"


def test_git_ignores_what_the_readmes_render_example_writes():
    # `render --stack dev --out manifests/ [--outputs outputs.json]`: output, not source.
    ignored = (PROJECT_DIR / ".gitignore").read_text().splitlines()
    assert "manifests/" in ignored
    assert "outputs.json" in ignored


# --- where render must not write -----------------------------------------------------------------


def test_render_replaces_a_link_in_out_instead_of_writing_through_it(tmp_path, capsys):
    # A link committed to a GitOps repository, named as render names the namespace's file.
    out = tmp_path / "manifests"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "00-namespace-canary-deployment.yaml").symlink_to("../victim.txt")
    status = main(["--stack", "dev", "--out", str(out), "-C", str(PROJECT_DIR)])
    assert victim.read_text() == "precious\n"
    if status == 0:
        written = out / "00-namespace-canary-deployment.yaml"
        assert not written.is_symlink() and written.read_text().startswith(HEADER_MARK)
    else:
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and "00-namespace-canary-deployment.yaml" in err, err


def test_render_writes_each_file_whole_or_not_at_all(tmp_path, monkeypatch):
    # A write cut short (a full disk) leaves the file rendered before, not half of the new one.
    out = tmp_path / "m"
    assert main(["--stack", "dev", "--out", str(out), "-C", str(PROJECT_DIR)]) == 0
    before = {path.name: path.read_text() for path in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render.os, "replace", full_disk)
    assert main(["--stack", "dev", "--out", str(out), "-C", str(PROJECT_DIR)]) == 2
    assert {path.name: path.read_text() for path in out.iterdir()} == before


@pytest.mark.parametrize("flag", ["--out", "--outputs", "--cwd"])
def test_an_empty_path_is_refused_and_writes_nothing(tmp_path, monkeypatch, capsys, flag):
    # `--out "$OUT"` with OUT unset: "" would otherwise be the working folder.
    with_project(tmp_path)
    (tmp_path / "Pulumi.dev.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    argv = {"--out": ["--out", ""], "--outputs": ["--out", "m", "--outputs", ""], "--cwd": ["--out", "m", "--cwd", ""]}
    assert main(["--stack", "dev", *argv[flag]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {flag}" in err and "must not be empty" in err, err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Pulumi.dev.yaml", "Pulumi.yaml"]


def test_two_stacks_of_one_app_in_one_folder_are_refused_naming_the_clash(tmp_path, capsys):
    project = with_project(tmp_path)
    dev = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").write_text(dev)
    (project / "Pulumi.dev2.yaml").write_text(dev.replace("cookie: version=v2", "cookie: version=two"))
    out = tmp_path / "m"
    assert main(["--stack", "dev", "--out", str(out), "-C", str(project)]) == 0
    dev_files = {path.name: path.read_text() for path in out.iterdir()}
    capsys.readouterr()
    assert main(["--stack", "dev2", "--out", str(out), "-C", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rendered for stack dev" in err and "00-namespace-canary-deployment.yaml" in err
    assert {path.name: path.read_text() for path in out.iterdir()} == dev_files


def test_a_file_render_did_not_write_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    mine = out / "00-namespace-canary-deployment.yaml"
    mine.write_text("kind: Namespace\n# hand-written\n")
    assert main(["--stack", "dev", "--out", str(out), "-C", str(PROJECT_DIR)]) == 2
    assert "00-namespace-canary-deployment.yaml" in capsys.readouterr().err
    assert mine.read_text() == "kind: Namespace\n# hand-written\n"
    assert list(out.iterdir()) == [mine]


def test_outputs_in_a_folder_that_cannot_be_one_names_the_file_asked_for(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.write_text("a file where the folder would be")
    assert main(["--stack", "dev", "--out", str(tmp_path / "m"), "--outputs", str(folder / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --outputs {folder / 'o.json'}: ") and "is a file, not a folder" in err, err


def test_a_misspelt_project_prefix_is_shown_before_the_config_errors_it_causes(tmp_path, capsys):
    with_project(tmp_path)
    dev = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.s.yaml").write_text(dev.replace("istio-canary:app:", "istiocanary:app:"))
    assert main(["--stack", "s", "--out", str(tmp_path / "m"), "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "did you mean istio-canary:app?" in err
    assert err.index("did you mean istio-canary:app?") < err.index("app: required key is missing")


@pytest.mark.parametrize(
    "text",
    [
        "config:\n  istio-canary:app: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "config:\n  ? [a, b]\n  : x\n",
    ],
    ids=["nested 100k deep", "list as key"],
)
def test_a_stack_file_that_would_crash_render_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, text):
    with_project(tmp_path)
    (tmp_path / "Pulumi.s.yaml").write_text(text)
    assert main(["--stack", "s", "--out", str(tmp_path / "m"), "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_render_reads_a_stack_whose_rollout_webhook_is_a_secret(tmp_path, capsys):
    # What `pulumi config set --secret --path rollout.webhook ...` writes: only `canary rollout`
    # reads it, and no cluster object or output holds it.
    stack = (
        PROJECT_DIR / "Pulumi.dev.yaml"
    ).read_text() + "  istio-canary:rollout:\n    webhook:\n      secure: AAABAKq0\n"
    with_project(tmp_path)
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    assert main(["--stack", "dev", "--out", str(tmp_path / "out"), "--project-dir", str(tmp_path)]) == 0
    assert "AAABAKq0" not in "".join(path.read_text() for path in (tmp_path / "out").iterdir())


def test_the_refusal_of_a_secret_says_which_keys_may_be_secrets(tmp_path, capsys):
    with_project(tmp_path)
    dev = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.s.yaml").write_text(
        dev.replace("istio-canary:app: nginx", "istio-canary:app:\n    secure: AAA")
    )
    assert main(["--stack", "s", "--out", str(tmp_path / "out"), "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "app: stored as a secret" in err and "only rollout and secretEnv keys may be secrets" in err, err


def test_a_path_with_a_line_break_is_quoted_so_the_error_stays_one_line(tmp_path, capsys):
    blocker = tmp_path / "a\nfile"
    blocker.write_text("x")
    assert main(["--stack", "dev", "--out", str(blocker / "m"), "-C", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err and "a\\nfile" in err, err
    assert main(["--stack", "dev", "--out", str(tmp_path / "m"), "-C", str(tmp_path / "no\nsuch")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err, err
