"""The release lock across machines, kept in the stack's tags: taken, refused, stale, raced, lost."""

from __future__ import annotations

import datetime

import pytest

from canary.rollout import release_tags
from canary.rollout.control import TagControl
from canary.rollout.lock import LEASE_SECONDS, SETTLE_SECONDS, LockedError, LockLostError, ReleaseLock, unlock
from canary.rollout.release_tags import decode, encode
from tests.support.memory_tags import MemoryTags
from tests.support.rollout_fakes import FakeClock, FakeStack
from tests.support.rollout_operator import Operator, engine

T0 = datetime.datetime(2026, 12, 7, 4, 0, tzinfo=datetime.UTC)


class Wall:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def lock(tags: MemoryTags, wall: Wall, holder: str = "alice@laptop pid 7", run: str = "aaa") -> ReleaseLock:
    return ReleaseLock(tags, "prod", holder, wall=wall, sleep=wall.sleep, run=run)


def test_a_free_lock_is_taken_and_read_back_after_the_settling_time():
    tags, wall = MemoryTags(), Wall()
    taken = lock(tags, wall).acquire()
    record = decode(tags.tags[release_tags.LOCK])
    assert record == {"run": "aaa", "holder": "alice@laptop pid 7", "since": "2026-12-07T04:00:00Z",
                      "renewed": "2026-12-07T04:00:00Z"}  # fmt: skip
    assert wall.now == T0 + datetime.timedelta(seconds=SETTLE_SECONDS) and tags.reads == 2
    taken.release()
    assert release_tags.LOCK not in tags.tags


def test_a_held_lock_refuses_a_second_rollout_from_anywhere_naming_the_holder():
    tags, wall = MemoryTags(), Wall()
    lock(tags, wall).acquire()
    with pytest.raises(LockedError) as refused:
        lock(tags, wall, holder="ci@runner-3 pid 99", run="bbb").acquire()
    assert str(refused.value) == (
        "a rollout of stack prod is running (alice@laptop pid 7, since 2026-12-07T04:00:00Z; lock renewed "
        "2026-12-07T04:00:00Z): wait for it, or stop it with `canary rollout --stack prod --abort`"
    )
    assert decode(tags.tags[release_tags.LOCK])["run"] == "aaa"


def test_a_lock_not_renewed_for_the_lease_is_stale_and_taken_over():
    tags, wall = MemoryTags(), Wall()
    lock(tags, wall).acquire()
    wall.sleep(LEASE_SECONDS + 1)
    second = lock(tags, wall, holder="ci@runner-3 pid 99", run="bbb").acquire()
    assert second.took_over is not None and second.took_over["run"] == "aaa"
    assert decode(tags.tags[release_tags.LOCK])["run"] == "bbb"


def test_two_rollouts_that_find_it_free_together_end_with_one_holder():
    tags, wall = MemoryTags(), Wall()
    first, second = lock(tags, wall, run="aaa"), lock(tags, wall, holder="bob@desk pid 3", run="bbb")
    # Both read it free; the second's write lands while the first waits to read back.
    wall_sleep = wall.sleep

    def second_writes_meanwhile(seconds: float) -> None:
        if decode(tags.tags.get(release_tags.LOCK, ""))["run"] == "aaa":
            tags.write(release_tags.LOCK, encode({"run": "bbb", "holder": "bob@desk pid 3", "since": "x",
                                                  "renewed": "2026-12-07T04:00:00Z"}))  # fmt: skip
        wall_sleep(seconds)

    first._sleep = second_writes_meanwhile
    with pytest.raises(LockedError) as refused:
        first.acquire()
    assert "took the lock at the same moment (bob@desk pid 3" in str(refused.value)
    assert second.current()["run"] == "bbb"


def test_renewal_rewrites_the_record_once_a_minute_and_a_lost_lock_stops_the_holder():
    tags, wall = MemoryTags(), Wall()
    held = lock(tags, wall).acquire()
    writes = len(tags.writes)
    held.renew()
    assert len(tags.writes) == writes  # not yet due
    wall.sleep(61)
    held.renew()
    assert decode(tags.tags[release_tags.LOCK])["renewed"] == "2026-12-07T04:01:06Z"
    unlock(tags, "prod")
    with pytest.raises(LockLostError, match="no longer this rollout's \\(removed with --unlock\\)"):
        held.renew()


def test_unlock_names_whose_lock_it_removed_and_refuses_when_there_is_none():
    tags, wall = MemoryTags(), Wall()
    lock(tags, wall).acquire()
    assert (
        unlock(tags, "prod")
        == "removed the rollout lock of stack prod (alice@laptop pid 7, since 2026-12-07T04:00:00Z)"
    )
    with pytest.raises(LockedError, match="stack prod has no rollout lock to remove"):
        unlock(tags, "prod")


def test_a_rollout_whose_lock_is_taken_stops_as_interrupted_leaving_the_weight():
    clock, tags, wall = FakeClock(), MemoryTags(), Wall()
    held = lock(tags, wall, run="run-1").acquire()
    stack = FakeStack()
    rollout, _, _ = engine("10,50", clock, tags, Operator(tags, clock), stack=stack)
    rollout.control = TagControl(tags, "run-1", clock=clock, lease=held)
    # Another machine takes the lock over at 12 s (as if it had gone stale).
    tags.write(release_tags.LOCK, encode({"run": "other", "holder": "ci@runner-3 pid 9", "since": "t"}))
    report = rollout.run(promote=True, retire=False)
    assert report.outcome == "interrupted" and report.exit_code == 130
    assert report.reason.startswith("the lock of stack prod is no longer this rollout's (ci@runner-3 pid 9, since t)")
    assert stack.log == ["weight 10", "up: canary rollout: v2 at 10%"]


def test_a_lock_whose_holder_ran_here_and_is_gone_is_stale_at_once():
    tags, wall = MemoryTags(), Wall()
    ReleaseLock(tags, "prod", "ci@runner-3 pid 4242", wall=wall, sleep=wall.sleep, run="aaa").acquire()
    # Killed: the same machine, its pid gone, well within the lease.
    taken = ReleaseLock(tags, "prod", "ci@runner-3 pid 5000", wall=wall, sleep=wall.sleep, run="bbb",
                        host="runner-3", alive=lambda pid: pid != 4242).acquire()  # fmt: skip
    assert taken.took_over is not None and taken.took_over["holder"] == "ci@runner-3 pid 4242"
    assert decode(tags.tags[release_tags.LOCK])["run"] == "bbb"


@pytest.mark.parametrize(
    ("holder", "host", "alive"),
    [
        ("ci@runner-3 pid 4242", "runner-3", True),  # still running
        ("ci@runner-3 pid 4242", "runner-9", False),  # another machine: its processes are not ours to see
        ("someone", "runner-3", False),  # a holder that names no pid
    ],
)
def test_a_lock_whose_holder_may_still_run_is_refused_within_the_lease(holder, host, alive):
    tags, wall = MemoryTags(), Wall()
    ReleaseLock(tags, "prod", holder, wall=wall, sleep=wall.sleep, run="aaa").acquire()
    with pytest.raises(LockedError):
        ReleaseLock(tags, "prod", "ci@runner-3 pid 5000", wall=wall, sleep=wall.sleep, run="bbb", host=host,
                    alive=lambda pid: alive).acquire()  # fmt: skip
