"""The e2e tier: the real Pulumi CLI against the local cluster that `e2e/up` starts.

Every test here carries the `e2e` marker; the unit run leaves them out (`-m "not e2e"` in
pyproject.toml) and `e2e/test` selects them. The fixtures: a workspace with a fresh stack, a shipped
stack deployed in one, the tutorial's release deployed, and the mesh around it (data plane, load,
Prometheus). What they are built from is in tests/support/ and tests/e2e/support/.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support.rollout import APP, Mesh, namespace_of, serving_mesh
from tests.support.stack import Workspace, kubectl

_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def cluster() -> None:
    """Fail at once, with the fix, when no local cluster is there."""
    if not os.environ.get("KUBECONFIG") or not os.environ.get("PULUMI_BACKEND_URL"):
        pytest.fail('no local cluster: run the e2e tier with e2e/test, or eval "$(e2e/up)" first', pytrace=False)
    kubectl("get", "--raw", "/readyz").check()


@pytest.fixture
def new_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Workspace]]:
    """Workspaces with a fresh stack each; every stack is destroyed and removed afterwards."""
    made: list[Workspace] = []

    def make(label: str) -> Workspace:
        stack = f"{label}-{os.getpid()}-{next(_counter)}"
        workspace = Workspace(tmp_path_factory.mktemp(stack), stack)
        workspace.init()
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.destroy()
        workspace.remove()


def module_label(request: pytest.FixtureRequest) -> str:
    """The test module's name as a DNS label: test_rollout_faults -> rollout-faults."""
    return str(request.module.__name__).rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")


@pytest.fixture
def deploy(new_workspace: Callable[[str], Workspace], request: pytest.FixtureRequest) -> Callable[..., Workspace]:
    """Deploys a shipped stack (with config changes) in a fresh workspace, named after the test module."""

    def deployed(stack: str = "dev", **changes: Any) -> Workspace:
        workspace = new_workspace(module_label(request))
        workspace.use_shipped(stack, **changes)
        workspace.up().check()
        return workspace

    return deployed


@pytest.fixture
def release(deploy: Callable[..., Workspace], request: pytest.FixtureRequest) -> Workspace:
    """The tutorial's release, deployed: v1 stable, v2 the canary (cookie version=v2) at 0 %, in
    a namespace of the test module's own, so that modules can run at once (e2e/test -n 2)."""
    return deploy(namespace=f"e2e-{module_label(request)}")


@pytest.fixture
def mesh(release: Workspace, tmp_path: Path) -> Iterator[Mesh]:
    """The tutorial's release behind the loopback data plane, with load and a real Prometheus."""
    with serving_mesh(namespace_of(release), APP, tmp_path / "prometheus") as served:
        yield served
