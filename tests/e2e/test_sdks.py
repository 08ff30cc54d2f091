"""The TypeScript and Go SDKs `pulumi package gen-sdk` makes from plugin/schema.json, used by real programs.

Each program (tests/e2e/sdk_programs) declares the release of examples/yaml through its SDK: it
must type-check or build, and `pulumi up` must deploy the routes the Args give. The SDKs are
generated into a temporary folder, never committed.

`pulumi package add` cannot wire them here: the Node.js and Go language hosts the module proxy
serves (v3.163-era) lack the `Link` call the CLI makes. The programs depend on the generated SDK
the way `add` would have linked it: a local npm package, a Go module in the program's own.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stack import PROJECT_DIR, Result, Workspace, live_object, run

PROGRAMS = Path(__file__).parent / "sdk_programs"
SCHEMA = PROJECT_DIR / "plugin" / "schema.json"
# The Go SDK the generated code is built against: the Go host's own release.
GO_SDK_VERSION = "v3.163.0"
EXPECTED_ROUTES = [
    {"when": {"cookie": "version=v2"}, "split": {"v2": 100}},
    {"when": {}, "split": {"v1": 90, "v2": 10}},
]

_counter = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def sdk_language_hosts() -> None:
    missing = [h for h in ("pulumi-language-nodejs", "pulumi-language-go") if shutil.which(h) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: run e2e/toolchain language-nodejs language-go", pytrace=False)


class Program(Workspace):
    """A program folder of any runtime, using the package in this checkout's plugin/."""

    def __init__(self, root: Path, stack: str, runtime: str) -> None:
        self.root, self.stack = root, stack
        root.mkdir(parents=True, exist_ok=True)
        project = {"name": f"shop-{runtime}", "runtime": runtime, "packages": {"canary": str(PROJECT_DIR / "plugin")}}
        (root / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.fixture
def program(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, str], Program]]:
    made: list[Program] = []

    def make(runtime: str, source: str) -> Program:
        stack = f"sdk-{runtime}-{os.getpid()}-{next(_counter)}"
        made_program = Program(tmp_path_factory.mktemp(stack), stack, runtime)
        shutil.copytree(PROGRAMS / source, made_program.root, dirs_exist_ok=True)
        made.append(made_program)
        return made_program

    yield make
    for made_program in made:
        made_program.destroy()
        made_program.remove()


def gen_sdk(language: str, out: Path) -> Path:
    run(["pulumi", "package", "gen-sdk", str(SCHEMA), "--language", language, "--out", str(out)]).check()
    return out / language


def in_dir(folder: Path, *command: str, env: dict[str, str] | None = None) -> Result:
    return run(list(command), cwd=folder, env=env)


def deploy_and_check(made: Program, namespace: str) -> None:
    made.init()
    made.up().check()
    outputs: dict[str, Any] = made.outputs()
    assert outputs["namespace"] == namespace
    assert outputs["urls"] == ["http://shop.example.org/"]
    assert outputs["routes"] == EXPECTED_ROUTES
    assert live_object("virtualservice.v1.networking.istio.io", "web-virtualservice", namespace) is not None
    made.preview("--expect-no-changes").check()
    made.destroy().check()
    assert live_object("namespace", namespace) is None


def fix_nodejs_type_imports(sdk: Path) -> None:
    """The v3.163 Node.js codegen writes types/*.ts with the package root's relative imports."""
    for path in (sdk / "types").glob("*.ts"):
        text = (
            path.read_text()
            .replace('from "./types/', 'from "../types/')
            .replace('from "./utilities"', 'from "../utilities"')
        )
        path.write_text(text)


def test_a_typescript_program_type_checks_against_the_generated_sdk_and_deploys(program):
    made = program("nodejs", "typescript")
    sdk = gen_sdk("nodejs", made.root / "sdk")
    fix_nodejs_type_imports(sdk)
    npm = ["npm", "install", "--no-audit", "--no-fund"]
    # The SDK types the Kubernetes blocks by the kubernetes package's own types: the program needs
    # that package too, at the provider version the schema references.
    kubernetes = f"@pulumi/kubernetes@{metadata.version('pulumi-kubernetes')}"
    in_dir(made.root, *npm, "--save-dev", "typescript@5", "@types/node@20", "@pulumi/pulumi@3", kubernetes).check()
    in_dir(made.root, "npx", "tsc", "-p", ".").check()

    # The types are real: a misspelt property of a nested type does not compile.
    (made.root / "misspelt.ts").write_text((made.root / "index.ts").read_text().replace("weight:", "wieght:"))
    (made.root / "tsconfig.misspelt.json").write_text('{"extends": "./tsconfig.json", "files": ["misspelt.ts"]}')
    misspelt = in_dir(made.root, "npx", "tsc", "-p", "tsconfig.misspelt.json")
    assert misspelt.returncode != 0
    assert "'wieght' does not exist in type 'Input<CanaryArgs>'" in misspelt.output

    # At run time the program imports the compiled SDK, as a published package would be.
    in_dir(sdk, "npx", "--prefix", str(made.root), "tsc", "-p", ".").check()
    package = (sdk / "package.json").read_text().replace("${VERSION}", "0.2.0")
    (sdk / "bin" / "package.json").write_text(package)
    in_dir(made.root, *npm, "./sdk/nodejs/bin").check()
    deploy_and_check(made, "shop-ts")


def test_a_go_program_builds_with_the_generated_sdk_and_deploys(program, tmp_path, monkeypatch):
    made = program("go", "go")
    gen_sdk("go", made.root)
    # The generated SDK is a package inside the program's module, at its import path.
    (made.root / "go.mod").write_text("module istio-canary.local/sdk\n\ngo 1.24\n")
    env = {"GOFLAGS": "-mod=mod", "GOMODCACHE": str(tmp_path / "gomod"), "GOCACHE": str(tmp_path / "gocache")}
    try:
        in_dir(made.root, "go", "get", f"github.com/pulumi/pulumi/sdk/v3@{GO_SDK_VERSION}", env=env).check()
        in_dir(made.root, "go", "mod", "tidy", env=env).check()
        in_dir(made.root, "go", "build", "-o", "shop", ".", env=env).check()
        # The Go host builds the program itself, with the same module cache.
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        deploy_and_check(made, "shop-go")
    finally:
        # Module files are read-only: only the go command removes them.
        run(["go", "clean", "-modcache"], env=env)
