"""What the rollout reads from the Pulumi CLI's refusals and failures: who holds a stack's lock,
whether that lock was left by a process that no longer runs, and which line says what failed."""

from __future__ import annotations

from canary.rollout.pulumi_stack import StackLockHolder, error_line, lock_holders, stale

# As the file backend's refusal reads (pkg/backend/diy/lock.go), inside a CommandError's text.
REFUSAL = (
    "\n code: 255\n stdout: \n stderr: error: the stack is currently locked by 2 lock(s). Either wait for the "
    "other process(es) to end or delete the lock file with `pulumi cancel`.\n"
    "  file:///state/pulumi-backend/.pulumi/locks/organization/istio-canary/dev/0a.json: created by "
    "root@ci-7 (pid 4242) at 2026-12-07T04:00:00Z\n"
    "  file:///state/pulumi-backend/.pulumi/locks/organization/istio-canary/dev/0b.json: created by "
    "ana@laptop.local (pid 17) at 2026-12-06T22:10:05+01:00\n"
)


def test_every_lock_holder_is_read_from_the_refusal():
    assert lock_holders(REFUSAL) == [
        StackLockHolder("root", "ci-7", 4242, "2026-12-07T04:00:00Z"),
        StackLockHolder("ana", "laptop.local", 17, "2026-12-06T22:10:05+01:00"),
    ]


def test_a_refusal_naming_no_holder_gives_none():
    assert lock_holders("error: [409] Conflict: Another update is currently in progress.") == []


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
