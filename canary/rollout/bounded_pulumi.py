"""The Pulumi CLI as the Automation API runs it, with its output bounded.

The Automation API reads the whole output of every CLI command it runs, for as long as the
command runs (`PulumiCommand.run`, and `pulumi version` when it is made). So a `pulumi stack
output`, `stack export`, `stack tag ls` or `config` that printed without end would fill the
rollout's memory, and one that hung would hang it. `BoundedPulumiCommand` runs each through
`run_bounded` instead: at most `MAX_OUTPUT_BYTES` of output, and, for the commands that only
read, at most `READ_TIMEOUT` seconds (an update, a preview or a refresh takes as long as the
cluster does: the rollout's retries judge those). Past either the command is killed, and it
fails as any CLI command does (`CommandError`), its error line naming the command and the limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pulumi.automation import CommandError, CommandResult, OnOutput, PulumiCommand

# The SDK's own check of the CLI's version and its floor (private names, pinned by the SDK's major
# version in requirements.txt): the check the unbounded PulumiCommand.__init__ makes, kept as is.
from pulumi.automation._cmd import _parse_and_validate_pulumi_version
from pulumi.automation._env import _SKIP_VERSION_CHECK_VAR
from pulumi.automation._minimum_version import _MINIMUM_VERSION
from pulumi.automation.errors import create_command_error

from canary.support.bounded_run import MEBIBYTE, CommandOutputError, run_bounded

MAX_OUTPUT_BYTES = 64 * MEBIBYTE
"""Far more than the output, state or tags of a release's stack (kilobytes), far less than
would exhaust a CI runner's memory."""
READ_TIMEOUT = 300.0
"""For the commands that only read: longer than a remote backend takes to answer."""
VERSION_OUTPUT_BYTES = MEBIBYTE
"""`pulumi version` prints one line."""
VERSION_TIMEOUT = 60.0
ENGINE_COMMANDS = frozenset({"up", "preview", "refresh", "destroy", "import"})
"""The commands that run the deployment engine, as long as the cluster takes: no timeout."""


class BoundedPulumiCommand(PulumiCommand):
    """`PulumiCommand` (the CLI on PATH), each run bounded; for `LocalWorkspaceOptions(pulumi_command=...)`."""

    def __init__(self) -> None:
        """The CLI's version read and checked as `PulumiCommand()` does, but bounded. Raises
        CommandError (its message one `error:` line) or the SDK's InvalidVersionError."""
        self.command = "pulumi"
        env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        try:
            done = run_bounded([self.command, "version"], limit=VERSION_OUTPUT_BYTES, timeout=VERSION_TIMEOUT, env=env)
        except CommandOutputError as err:
            raise CommandError(CommandResult(stdout="", stderr=f"\nerror: {err}", code=-1)) from None
        if done.returncode != 0:
            raise create_command_error(CommandResult(stdout=done.stdout, stderr=done.stderr, code=done.returncode))
        self.version = _parse_and_validate_pulumi_version(
            min_version=_MINIMUM_VERSION,
            current_version=done.stdout.strip().removeprefix("v"),
            opt_out=os.getenv(_SKIP_VERSION_CHECK_VAR) is not None,
        )

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: OnOutput | None = None,
        on_error: OnOutput | None = None,
    ) -> CommandResult:
        # As the Automation API runs it: non-interactive (a prompt would wait for ever), marked as
        # run by the Automation API, with the CLI's own folder first on PATH when given one.
        args = list(args)
        flags_end = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:flags_end]:
            args.insert(0, "--non-interactive")
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        if os.path.isabs(self.command):
            env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
        subcommand = next((arg for arg in args if not arg.startswith("-")), "")
        timeout = None if subcommand in ENGINE_COMMANDS else READ_TIMEOUT
        try:
            done = run_bounded(
                [self.command, *args],
                limit=MAX_OUTPUT_BYTES,
                timeout=timeout,
                cwd=cwd,
                env=env,
                on_stdout=on_output,
                on_stderr=on_error,
            )
        except CommandOutputError as err:
            # On a line of its own: the callers take the line that starts with `error:`.
            raise CommandError(CommandResult(stdout="", stderr=f"\nerror: {err}", code=-1)) from None
        result = CommandResult(stdout=_lines(done.stdout), stderr=_lines(done.stderr), code=done.returncode)
        if done.returncode != 0:
            raise create_command_error(result)
        return result


def _lines(text: str) -> str:
    """As the Automation API hands output on: each line without its trailing blanks."""
    return "\n".join(line.rstrip() for line in text.splitlines())
