"""How an answer names the version that served it: a response header, or a pattern in the body.

The mesh sets the header per destination (``routing.versionHeader``), which works for any app;
the body pattern is for apps that print their version themselves.
"""

from __future__ import annotations

import re

from canary.traffic.client import Answer

DEFAULT_HEADER = "x-canary-version"


class VersionReader:
    """Reads the version from an answer; None when the answer does not name one."""

    def __init__(self, header: str | None = None, pattern: re.Pattern[str] | None = None) -> None:
        if (header is None) == (pattern is None):
            raise ValueError("give exactly one of header and pattern")
        self._header = header.lower().encode("latin-1") if header else None
        self._pattern = pattern
        if header:
            self.description = f"header {header}"
            """What was looked for, for messages: ``header x-canary-version``."""
        else:
            assert pattern is not None
            self.description = f"body pattern {pattern.pattern!r}"

    def __call__(self, answer: Answer) -> str | None:
        if self._header is not None:
            value = answer.headers.get(self._header)
            if not value:
                return None
            # Two proxies in a row may both add the header; the first names the destination.
            return value.split(b",", 1)[0].strip().decode("latin-1") or None
        assert self._pattern is not None  # exactly one of the two is set
        match = self._pattern.search(answer.body.decode("utf-8", "replace"))
        if match is None:
            return None
        # The first group when there is one (``version: (\w+)``), else the whole match.
        version = match.group(1) if match.re.groups else match.group(0)
        if version is None:  # an optional group that did not take part
            return None
        return version.strip() or None


def compile_pattern(text: str) -> re.Pattern[str]:
    """Compile a --version-pattern, with a message that names what is wrong."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"is not a regular expression ({exc})") from None
