"""`canary/config/files.py`: a stack's keys read once, from the files the Pulumi CLI would read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from canary.config.files import StackFileError, read_stack, stack_config
from tests.support.project import PROJECT_DIR

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()


def project(folder: Path, **stacks: str) -> Path:
    """A project folder: the shipped Pulumi.yaml and the given stack files."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", folder)
    for name, text in stacks.items():
        (folder / f"Pulumi.{name}.yaml").write_text(text)
    return folder


def test_a_key_set_with_and_without_the_project_prefix_is_refused_naming_both(tmp_path):
    folder = project(tmp_path, s=DEV.replace("config:\n", "config:\n  app: shop\n", 1))
    with pytest.raises(StackFileError) as raised:
        read_stack(folder, "s")
    message = str(raised.value)
    assert "app and istio-canary:app both set istio-canary:app" in message
    assert "\n" not in message


def test_a_key_under_a_misspelt_project_prefix_warns_naming_the_nearest_key(tmp_path):
    folder = project(tmp_path, s=DEV + "  istiocanary:stable: v9\n", plain=DEV)
    read = read_stack(folder, "s")
    (warning,) = read.warnings
    assert "istiocanary:stable is not read" in warning
    assert "did you mean istio-canary:stable?" in warning
    # Warned of, and still not read: the CLI would not pass it to the program either.
    assert read.values == read_stack(folder, "plain").values


def test_a_misspelt_prefix_and_key_warns_with_the_nearest_project_key(tmp_path):
    folder = project(tmp_path, s=DEV + "  istio_canary:loadBalancerDNS: lb\n")
    (warning,) = read_stack(folder, "s").warnings
    assert "istio_canary:loadBalancerDNS" in warning and "istio-canary:loadBalancerDns?" in warning


def test_keys_of_other_namespaces_stay_untouched(tmp_path):
    others = "  kubernetes:context: kind\n  istio:meshID: m\n  aws:region: eu\n"
    folder = project(tmp_path, s=DEV + others, plain=DEV)
    read = read_stack(folder, "s")
    assert read.warnings == []
    assert read.values == read_stack(folder, "plain").values


def test_stack_config_prints_its_warnings_one_line_each(tmp_path, capsys):
    folder = project(tmp_path, s=DEV + "  istiocanary:stable: v1\n")
    stack_config(folder, "s")
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and err.count("\n") == 1


@pytest.mark.parametrize("prefix", ["", "istio-canary:"])
def test_config_keys_at_the_top_level_say_they_belong_under_config(tmp_path, prefix):
    folder = project(tmp_path, s=f"{prefix}namespace: shop\n{prefix}app: web\nencryptionsalt: v1:x\n")
    with pytest.raises(StackFileError) as raised:
        read_stack(folder, "s")
    message = str(raised.value)
    assert f"{prefix}namespace, {prefix}app sit at the top level" in message
    assert "under `config:`" in message
    assert "missing" not in message


@pytest.mark.parametrize("stack", ["dev", "acme/dev", "acme/istio-canary/dev"])
def test_a_qualified_stack_name_reads_the_stacks_own_file(stack):
    read = read_stack(PROJECT_DIR, stack)
    assert read.path.name == "Pulumi.dev.yaml"
    assert read.values["namespace"] == "canary-deployment"


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("acme/shop/dev", "names project shop, but"),
        ("a/b/c/dev", "must be a stack name, org/stack or org/project/stack"),
        ("acme/", "must be a stack name"),
        ("../dev", "must be a stack name"),
    ],
)
def test_a_stack_name_the_cli_would_not_take_is_refused(stack, expected):
    with pytest.raises(StackFileError) as raised:
        read_stack(PROJECT_DIR, stack)
    assert str(raised.value).startswith(f"--stack {stack}: ") and expected in str(raised.value)


def test_outside_a_project_the_error_names_the_folder_searched_and_cwd(tmp_path):
    with pytest.raises(StackFileError) as raised:
        read_stack(tmp_path, "dev")
    assert str(raised.value) == (
        f"no Pulumi.yaml in {tmp_path} or any folder above it: run in the project folder, or point at it with --cwd DIR"
    )


def test_the_project_is_found_from_a_folder_below_it_as_the_cli_finds_it(tmp_path):
    below = project(tmp_path, dev=DEV) / "manifests" / "deeper"
    below.mkdir(parents=True)
    assert read_stack(below, "dev").path == tmp_path / "Pulumi.dev.yaml"


def test_an_unknown_stack_lists_the_stacks_there(tmp_path):
    folder = project(tmp_path, dev=DEV, prod=DEV)
    with pytest.raises(StackFileError) as raised:
        read_stack(folder, "acme/nope")
    expected = f"--stack acme/nope: no stack file Pulumi.nope.yaml in {folder}; stacks there: dev, prod"
    assert str(raised.value) == expected


def test_stack_files_in_the_projects_stack_config_dir_are_read_there(tmp_path):
    folder = project(tmp_path)
    (folder / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text() + "stackConfigDir: stacks\n")
    (folder / "stacks").mkdir()
    (folder / "stacks" / "Pulumi.dev.yaml").write_text(DEV)
    assert read_stack(folder, "dev").path == folder / "stacks" / "Pulumi.dev.yaml"


def test_a_cwd_that_is_no_folder_says_so(tmp_path):
    with pytest.raises(StackFileError) as raised:
        read_stack(tmp_path / "nope", "dev")
    assert str(raised.value) == f"--cwd {tmp_path / 'nope'}: no such folder"


# --- files that would crash or hang a reader -----------------------------------------------------

NESTED = "config:\n  istio-canary:app: " + "[" * 100_000 + "]" * 100_000 + "\n"
# Ten levels of ten aliases each: 10**10 values once expanded, a few hundred bytes as written.
ALIAS_BOMB = (
    "config:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 10))
    + "  istio-canary:app: *l9\n"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (NESTED, "nested more than"),
        (ALIAS_BOMB, "more than"),
        ("config:\n  ? [a, b]\n  : x\n", "a mapping key must be a single value"),
        ("config:\n  ? {a: b}\n  : x\n", "a mapping key must be a single value"),
        # More digits than Python's int() reads (4,300): PyYAML's ValueError was a traceback.
        ("config:\n  istio-canary:replicas: " + "9" * 5000 + "\n", "at line 2: a whole number of more digits"),
        ("config:\n  ? " + "9" * 5000 + "\n  : x\n", "at line 2: a whole number of more digits"),
    ],
    ids=["nested 100k deep", "alias bomb", "list as key", "mapping as key", "5,000 digits", "5,000 digits as key"],
)
def test_a_stack_file_that_would_crash_the_reader_is_one_line(tmp_path, text, reason):
    folder = project(tmp_path, s=text)
    with pytest.raises(StackFileError) as raised:
        read_stack(folder, "s")
    message = str(raised.value)
    assert reason in message
    assert message.startswith(str(folder / "Pulumi.s.yaml"))
    assert "\n" not in message


def test_an_alias_that_expands_to_little_is_read(tmp_path):
    text = DEV.replace("imagePullPolicy: Always", "imagePullPolicy: &pull Always", 1)
    text = text[::-1].replace("imagePullPolicy: Always"[::-1], "imagePullPolicy: *pull"[::-1], 1)[::-1]
    assert "&pull" in text and "*pull" in text
    folder = project(tmp_path, s=text)
    assert read_stack(folder, "s").values == read_stack(project(tmp_path, plain=DEV), "plain").values


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "big"])
def test_a_stack_file_that_is_no_regular_file_or_too_big_is_refused_at_once(tmp_path, target):
    folder = project(tmp_path)
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
        target = str(tmp_path / "fifo")
    elif target == "big":
        (tmp_path / "big").write_text("config:\n" + "  # padding\n" * 1_000_000)
        target = str(tmp_path / "big")
    (folder / "Pulumi.zero.yaml").symlink_to(target)
    with pytest.raises(StackFileError) as raised:
        read_stack(folder, "zero")
    message = str(raised.value)
    assert "no stack file" not in message
    assert ("is not a regular file" if target != str(tmp_path / "big") else "is larger than") in message
