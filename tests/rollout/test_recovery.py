"""What the rollout reads of what a killed update left and of the Pulumi CLI's failures: who holds
a stack's lock, whether that lock was left by a process that no longer runs, and which line of
the CLI's output says what failed."""

from __future__ import annotations

import json
from pathlib import Path

from canary.rollout.pulumi_stack import StackLockHolder, error_line, file_backend_lock_holders, stale


def write_lock(backend: Path, *parts: str, **content: object) -> None:
    """A lock file as the CLI writes one (pkg/backend/diy/lock.go): `.pulumi/locks/.../<uuid>.json`."""
    folder = backend.joinpath(".pulumi", "locks", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{len(list(folder.iterdir()))}-8cc99fcf.json").write_text(json.dumps(content))
    (folder / "meta.json.attrs").write_text("{}")  # the bucket's attribute files are not locks


def test_every_lock_of_the_stack_is_read_from_a_file_backend(tmp_path):
    write_lock(tmp_path, "organization", "istio-canary", "dev", pid=4242, username="root", hostname="ci-7",
               timestamp="2026-12-07T04:17:03.43Z")  # fmt: skip
    write_lock(tmp_path, "organization", "istio-canary", "dev", pid=17, username="ana", hostname="laptop",
               timestamp="2026-12-06T22:10:05Z")  # fmt: skip
    write_lock(tmp_path, "organization", "istio-canary", "prod", pid=1, username="x", hostname="y", timestamp="t")
    holders = file_backend_lock_holders(f"file://{tmp_path}", "istio-canary", "dev")
    assert sorted(holders, key=lambda h: h.pid) == [
        StackLockHolder("ana", "laptop", 17, "2026-12-06T22:10:05Z"),
        StackLockHolder("root", "ci-7", 4242, "2026-12-07T04:17:03.43Z"),
    ]
    assert str(holders[0]).startswith("pulumi, pid ")


def test_no_lock_no_folder_and_other_backends_give_none(tmp_path):
    assert file_backend_lock_holders(f"file://{tmp_path}", "istio-canary", "dev") == []
    write_lock(tmp_path, "organization", "istio-canary", "dev", pid=1, username="x", hostname="y", timestamp="t")
    assert file_backend_lock_holders("https://api.pulumi.com", "istio-canary", "dev") == []
    assert file_backend_lock_holders(f"file://{tmp_path}", "other-project", "dev") == []


def test_an_unreadable_lock_file_is_a_holder_nobody_can_name(tmp_path):
    folder = tmp_path / ".pulumi" / "locks" / "organization" / "istio-canary" / "dev"
    folder.mkdir(parents=True)
    (folder / "x.json").write_text("{not json")
    (holder,) = file_backend_lock_holders(f"file://{tmp_path}", "istio-canary", "dev")
    assert holder.pid == 0 and "unreadable" in holder.since
    # Never taken for stale: its host is unknown.
    assert not stale([holder], "ci-7", alive=lambda pid: False)


def test_a_lock_is_stale_only_when_every_holder_ran_here_and_is_gone():
    here = StackLockHolder("root", "ci-7", 4242, "t")
    assert stale([here], "ci-7", alive=lambda pid: False)
    assert not stale([here], "ci-7", alive=lambda pid: True)
    assert not stale([here], "elsewhere", alive=lambda pid: False)
    assert not stale([here, StackLockHolder("ana", "laptop", 17, "t")], "ci-7", alive=lambda pid: False)
    # A backend that names no holder (Pulumi Cloud): nothing is known, so nothing is stale.
    assert not stale([], "ci-7", alive=lambda pid: False)


def test_the_error_line_is_the_specific_one_not_update_failed():
    text = (
        "\n code: 255\n stdout: Updating (dev):\n"
        "    kubernetes:networking.istio.io/v1:VirtualService (nginx-virtualservice):\n"
        '      error: configured Kubernetes cluster is unreachable: Get "https://127.0.0.1:6443": refused\n'
        " stderr: error: update failed\n"
    )
    assert error_line(text) == 'configured Kubernetes cluster is unreachable: Get "https://127.0.0.1:6443": refused'
    assert error_line(" stderr: error: update failed\n") == "update failed"
    assert error_line("") == "no output"


def test_an_error_that_only_counts_its_errors_is_joined_to_the_next_line():
    text = (
        " stdout: Updating (dev):\n"
        "      error: 1 error occurred:\n"
        '      \t* the Kubernetes API server reported that "x" failed to fully initialize: webhook timed out\n'
        " stderr: error: update failed\n"
    )
    assert error_line(text) == (
        '1 error occurred: the Kubernetes API server reported that "x" failed to fully initialize: webhook timed out'
    )
