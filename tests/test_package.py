"""The package's public names resolve, importing it stays light, and it installs as one package."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import canary
from canary.__main__ import extra_requirement, main, run
from tests.support.project import PROJECT_DIR

PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
VERIFY_EXTRA = ["apprise", "numpy", "rich", "scipy"]
# Left out of the copy the wheel is built from: nothing a build reads, and some large.
NOT_COPIED = shutil.ignore_patterns(
    ".git", "venv*", "__pycache__", "*.pyc", ".*_cache", "build", "dist", "*.egg-info", "manifests"
)


def test_every_public_name_resolves():
    for name in canary.__all__:
        assert getattr(canary, name).__name__ == name


def test_importing_the_package_does_not_import_pulumi():
    code = "import sys, canary; print('pulumi' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel pip builds from a copy of the project (tests/, e2e/ and all), offline.

    A copy, because setuptools writes its build/ and *.egg-info/ folders beside pyproject.toml.
    """
    source = tmp_path_factory.mktemp("source") / "istio-canary"
    shutil.copytree(PROJECT_DIR, source, ignore=NOT_COPIED)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--quiet", "--wheel-dir", str(out), str(source)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [built] = out.glob("*.whl")
    assert built.name == f"istio_canary-{canary.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(built) as archive:
        yield archive


DIST_INFO = f"istio_canary-{canary.__version__}.dist-info"


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    return wheel.read(f"{DIST_INFO}/{name}").decode()


def test_the_wheel_holds_the_package_its_subpackages_and_py_typed_only(wheel: zipfile.ZipFile):
    names = wheel.namelist()
    assert "canary/py.typed" in names
    # The schema the container/pod/deployment blocks are checked against, read at run time.
    assert "canary/schemas/kubernetes.json" in names
    assert "canary/__main__.py" in names
    assert "canary/traffic/__init__.py" in names
    assert "canary/cli/traffic.py" in names
    # The report page's style, read with importlib.resources wherever the package is installed.
    assert "canary/rollout/report/report.css" in names
    assert {name.split("/")[0] for name in names} == {"canary", DIST_INFO}
    # Every module of the checkout, and nothing else that is Python.
    shipped = {name for name in names if name.endswith(".py")}
    assert shipped == {path.relative_to(PROJECT_DIR).as_posix() for path in (PROJECT_DIR / "canary").rglob("*.py")}


def test_the_wheel_declares_the_verifier_dependencies_as_an_extra(wheel: zipfile.ZipFile):
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "istio-canary"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata.get_all("Provides-Extra") == ["verify"]
    requires = [Requirement(line) for line in metadata.get_all("Requires-Dist")]
    always = {r.name for r in requires if r.marker is None}
    with_verify = {r.name for r in requires if r.marker is not None and r.marker.evaluate({"extra": "verify"})}
    assert always == {"pulumi", "pulumi-kubernetes", "pydantic", "pyyaml", "jsonschema"}
    assert with_verify == set(VERIFY_EXTRA)


def test_the_console_script_canary_is_main_run(wheel: zipfile.ZipFile, monkeypatch, capsys):
    entry_points = dist_info(wheel, "entry_points.txt")
    assert "[console_scripts]\ncanary = canary.__main__:run\n" in entry_points
    script = EntryPoint(name="canary", value="canary.__main__:run", group="console_scripts").load()
    assert script is run
    monkeypatch.setattr(sys, "argv", ["canary", "--help"])
    with pytest.raises(SystemExit) as exited:
        script()
    assert exited.value.code == 0
    assert "render" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["canary"])
    with pytest.raises(SystemExit) as exited:
        script()
    assert exited.value.code == 2


def requirements(path: Path) -> dict[str, Requirement]:
    lines = (line.strip() for line in path.read_text().splitlines())
    found = [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]
    return {requirement.name: requirement for requirement in found}


def agree(pinned: Requirement, declared: Requirement) -> bool:
    """The same range, or an exact pin inside the declared range."""
    if pinned.specifier == declared.specifier:
        return True
    [only] = list(pinned.specifier) if len(pinned.specifier) == 1 else [None]
    return only is not None and only.operator == "==" and only.version in declared.specifier


def test_requirements_txt_is_the_package_dependencies_and_no_more():
    # requirements.txt is what `pulumi up`'s virtualenv installs: no numpy or scipy for nothing.
    pinned = requirements(PROJECT_DIR / "requirements.txt")
    declared = {r.name: r for r in map(Requirement, PYPROJECT["project"]["dependencies"])}
    assert pinned.keys() == declared.keys()
    for name, requirement in pinned.items():
        assert agree(requirement, declared[name]), f"{requirement} is outside {declared[name]}"


def test_requirements_dev_txt_adds_the_verify_extra_as_declared():
    dev = requirements(PROJECT_DIR / "requirements-dev.txt")
    extra = [Requirement(line) for line in PYPROJECT["project"]["optional-dependencies"]["verify"]]
    assert sorted(r.name for r in extra) == VERIFY_EXTRA
    for requirement in extra:
        assert dev[requirement.name].specifier == requirement.specifier
    assert "-r requirements.txt" in (PROJECT_DIR / "requirements-dev.txt").read_text().splitlines()


BLOCK = "import sys; sys.modules[{module!r}] = None\n"
RUN_MAIN = "from canary.__main__ import main; sys.exit(main({argv!r}))"
# From this checkout: the checkout itself, editable, with this interpreter's pip.
INSTALL_EXTRA = f"{sys.executable} -m pip install -e '{PROJECT_DIR}[verify]'"


def needs_extra(command: str, module: str) -> str:
    return f"canary {command}: error: needs the extra 'verify' ({module} is missing): {INSTALL_EXTRA}\n"


@pytest.mark.parametrize("command", ["verify", "traffic", "rollout"])
@pytest.mark.parametrize("module", VERIFY_EXTRA)
def test_verify_traffic_and_rollout_without_the_extra_say_what_to_install(command: str, module: str):
    code = BLOCK.format(module=module) + RUN_MAIN.format(argv=[command, "--stack", "dev"])
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == needs_extra(command, module)


@pytest.mark.parametrize("command", ["verify", "traffic", "rollout"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_works_without_the_extra(command: str, flag: str):
    code = "".join(BLOCK.format(module=module) for module in VERIFY_EXTRA) + RUN_MAIN.format(argv=[command, flag])
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: canary {command}") and "--stack" in result.stdout


def test_the_install_hint_names_this_checkout_which_declares_the_extra():
    # The hint installs the project at PROJECT_DIR; it is the one whose pyproject has the extra.
    command = shlex.split(INSTALL_EXTRA)
    assert command[:5] == [sys.executable, "-m", "pip", "install", "-e"]
    folder, _, extra = command[5].partition("[")
    assert extra == "verify]"
    declared = tomllib.loads((Path(folder) / "pyproject.toml").read_text())
    assert declared["project"]["name"] == "istio-canary"
    assert "verify" in declared["project"]["optional-dependencies"]


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        # PEP 610's own examples of what pip records in direct_url.json.
        (
            {"url": "https://github.com/acme/istio-canary.git", "vcs_info": {"vcs": "git", "commit_id": "7921be1"}},
            "istio-canary[verify] @ git+https://github.com/acme/istio-canary.git@7921be1",
        ),
        (
            {"url": "file:///home/me/istio-canary", "dir_info": {}},
            "istio-canary[verify] @ file:///home/me/istio-canary",
        ),
        (
            {"url": "https://example.com/istio_canary-0.2.0-py3-none-any.whl", "archive_info": {}},
            "istio-canary[verify] @ https://example.com/istio_canary-0.2.0-py3-none-any.whl",
        ),
        (None, "istio-canary[verify]"),
    ],
)
def test_an_installed_package_is_told_to_install_the_extra_from_where_it_came(direct_url, expected):
    requirement = extra_requirement(direct_url)
    assert requirement == expected
    # Whatever the source, pip reads it as this package with the extra.
    parsed = Requirement(requirement)
    assert (parsed.name, parsed.extras) == ("istio-canary", {"verify"})


def test_version_prints_the_version_the_wheel_is_built_with(wheel: zipfile.ZipFile, capsys):
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"istio-canary {metadata['Version']}\n"


# The MD5 of apache.org's LICENSE-2.0.txt, as license scanners record the Apache-2.0 text.
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_the_license_is_apache_2_0_declared_and_shipped_in_the_wheel(wheel: zipfile.ZipFile):
    text = (PROJECT_DIR / "LICENSE").read_bytes()
    assert hashlib.md5(text).hexdigest() == APACHE_2_0_MD5
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert wheel.read(f"{DIST_INFO}/licenses/LICENSE") == text


def test_the_console_scripts_usage_says_canary_and_the_modules_says_python_m_canary(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["canary", "--help"])
    with pytest.raises(SystemExit):
        run()
    assert capsys.readouterr().out.startswith("usage: canary {render,")
    result = subprocess.run(
        [sys.executable, "-m", "canary", "--help"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("usage: python -m canary {render,")


def test_render_does_not_need_the_extra():
    code = "".join(BLOCK.format(module=module) for module in VERIFY_EXTRA) + RUN_MAIN.format(argv=["render", "--help"])
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--stack" in result.stdout


@pytest.mark.parametrize("missing", ["scipy.special._ufuncs", "numpy.linalg", "rich.live"])
def test_a_module_of_the_extra_missing_mid_command_is_the_same_one_line(missing: str, monkeypatch, capsys):
    # An installed package that lacks one of its own modules fails only when the command imports it.
    from canary.cli import traffic as cli

    def fail(argv: list[str]) -> int:
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    monkeypatch.setattr(cli, "verify_main", fail)
    assert main(["verify"]) == 2
    assert capsys.readouterr().err == needs_extra("verify", missing.partition(".")[0])


def test_any_other_missing_module_is_not_blamed_on_the_extra(monkeypatch):
    from canary.cli import traffic as cli

    def fail(argv: list[str]) -> int:
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")

    monkeypatch.setattr(cli, "traffic_main", fail)
    with pytest.raises(ModuleNotFoundError):
        main(["traffic"])


def test_the_changelog_starts_with_this_version():
    headings = [line for line in (PROJECT_DIR / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")]
    assert headings[0].startswith(f"## [{canary.__version__}]")
    assert headings[-1] == "## [0.1.0]"
