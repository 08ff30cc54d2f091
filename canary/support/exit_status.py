"""The exit statuses of every `canary` command: one per kind of outcome, the same in each command.

CI branches on them: 1 means the release itself was judged and failed, so it must never also
mean "the command was given something it cannot use" (that is 2, and nothing was changed).
"""

from __future__ import annotations

OK = 0
"""Done: the manifests written, every route holds, every rollout step passed, traffic stopped."""
FAILED = 1
"""The release failed a check: a route's split does not hold, a gate failed and the canary was rolled back."""
USAGE = 2
"""The command could not run as asked and changed nothing: a bad flag, a project or stack file that is
missing, malformed or holds an invalid value (a secret included), a path that cannot be written, an
unreachable target, a missing tool or extra."""
HELD = 3
"""The rollout stopped without a verdict, the canary's weight left where it was: its evidence stayed
too thin (too few canary requests), both versions kept failing alike, or a threshold metric stayed
out of bounds short of its failureLimit, for longer than the hold limit. Neither good nor bad; a
rerun continues from that weight."""
UNSETTLED = 4
"""A rollout's update was not taken by the cluster, even its roll back, after trying for a while: the
stack file and the cluster may differ; the report says what each holds and the command to settle it."""
INTERRUPTED = 130
"""Ctrl-C or SIGTERM where the command cannot finish cleanly (128 + SIGINT, as shells report it)."""

START = 10
"""`canary rollout --decide`: a canary whose version or image has not been rolled out; start one."""
RESUME = 11
"""`canary rollout --decide`: a rollout was interrupted part way; resume it."""
LOCKED = 75
"""Another rollout of the stack holds its lock (sysexits' EX_TEMPFAIL: try again later)."""
