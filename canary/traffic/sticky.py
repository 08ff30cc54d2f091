"""Sticky canary sessions, checked from the outside: the cookie each answer sets, and clients that keep it.

A sticky canary (`canary.sticky`) pins each client of the weighted route to the version that
first answered it: every answer of that route sets `Set-Cookie: <cookie>=<version>`, and a request
carrying the cookie goes back to that version. Two checks follow:

- every answer of the weighted (plain) route carries the cookie, naming the version that
  answered (`CookieTally`, fed answer by answer during the main run);
- simulated clients, each keeping that one cookie as a browser would, send a few requests in a
  row, and none may get more than one version (`run_clients`). A mesh that pins nobody flips a
  client of m requests with probability 1 - sum(p_v ** m) over the weights p_v, which says how
  many clients it takes to catch one (`clients_needed`).

Mirroring is not checked here: the mirror's answers are discarded, so no client can see them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.traffic.client import Answer, Connection, Endpoint, ProtocolError
from canary.traffic.load import Settings, Tally, error_kind, fetch
from canary.traffic.versions import VersionReader

# The pin sits among a browser's other cookies, so a mesh rule that finds it in one place only is caught.
_OTHER_COOKIES = ("_ga=GA1.2.3", "theme=dark")


def cookie_value(answer: Answer, name: str) -> str | None:
    """The value an answer's Set-Cookie lines give the cookie `name` (the last one wins, as in a
    browser); None when none sets it."""
    found = None
    for line in answer.set_cookies:
        pair = line.split(b";", 1)[0].decode("latin-1")
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


@dataclass
class CookieTally:
    """The weighted route's answers by what their Set-Cookie says about the sticky cookie."""

    cookie: str
    answers: int = 0
    right: int = 0
    missing: int = 0
    wrong: dict[tuple[str, str], int] = field(default_factory=dict)
    """(version that answered, version the cookie named) -> answers."""

    def __call__(self, answer: Answer, version: str) -> None:
        self.answers += 1
        named = cookie_value(answer, self.cookie)
        if named is None:
            self.missing += 1
        elif named == version:
            self.right += 1
        else:
            self.wrong[(version, named)] = self.wrong.get((version, named), 0) + 1

    def problems(self) -> list[str]:
        found = []
        if self.missing:
            found.append(f"{self.missing:,} of {self.answers:,} answers set no {self.cookie} cookie")
        for (version, named), n in sorted(self.wrong.items()):
            found.append(f"{n:,} answer(s) from {version} set {self.cookie}={named}")
        return found


@dataclass(frozen=True)
class ClientsOutcome:
    """What the simulated clients saw."""

    clients: int
    requests_each: int
    tally: Tally
    """Every request of every client: versions and errors."""
    tested: int
    """Clients with at least two answers naming a version: those that could flip."""
    flipped: int
    example: tuple[str, ...] = ()
    """The versions one flipped client got, in order."""


@dataclass(frozen=True)
class StickyResult:
    """Both checks on the weighted route."""

    cookies: CookieTally
    clients: ClientsOutcome
    clients_needed: int | None
    """Clients needed to catch a mesh that pins nobody at the run's confidence, when these were
    too few; None when they were enough."""

    @property
    def problems(self) -> list[str]:
        found = self.cookies.problems()
        outcome = self.clients
        if outcome.tested == 0:
            found.append(f"no client that kept its {self.cookies.cookie} cookie got two answers naming a version")
        elif outcome.flipped:
            found.append(
                f"{outcome.flipped:,} of {outcome.tested:,} clients that kept their {self.cookies.cookie} cookie"
                f" got more than one version (e.g. {' '.join(outcome.example)})"
            )
        return found

    def to_json(self) -> dict[str, Any]:
        tally = self.cookies
        return {
            "cookie": tally.cookie,
            "answers": tally.answers,
            "cookie_right": tally.right,
            "cookie_missing": tally.missing,
            "cookie_wrong": [
                {"answered": version, "cookie": named, "count": n}
                for (version, named), n in sorted(tally.wrong.items())
            ],
            "clients": self.clients.clients,
            "requests_per_client": self.clients.requests_each,
            "clients_tested": self.clients.tested,
            "clients_flipped": self.clients.flipped,
            "flip_example": list(self.clients.example),
            "client_errors": dict(sorted(self.clients.tally.errors.items())),
            "clients_needed": self.clients_needed,
        }


def flip_probability(split: Mapping[str, int], requests_each: int) -> float:
    """How likely a client of `requests_each` requests gets more than one version from a mesh
    that ignores the cookie: each request independently reaches v with its weight."""
    total = sum(split.values())
    return 1.0 - sum((weight / total) ** requests_each for weight in split.values() if weight > 0)


def clients_needed(split: Mapping[str, int], requests_each: int, clients: int, confidence: float) -> int | None:
    """Least number of clients that catches a mesh pinning nobody with probability `confidence`,
    when `clients` are fewer; None when they are enough (or nothing can flip)."""
    flip = flip_probability(split, requests_each)
    if flip <= 0:
        return None
    needed = math.ceil(math.log(1 - confidence) / math.log(1 - flip))
    return needed if needed > clients else None


def _cookie_header(cookie: str, value: str) -> tuple[str, str]:
    first, second = _OTHER_COOKIES
    return ("Cookie", f"{first}; {cookie}={value}; {second}")


async def run_clients(
    target: Endpoint,
    reader: VersionReader,
    settings: Settings,
    cookie: str,
    clients: int,
    requests_each: int,
) -> ClientsOutcome:
    """`clients` clients, up to `settings.concurrency` at a time, each sending `requests_each`
    plain requests in a row with the sticky cookie its answers set; the versions each got."""
    tally = Tally()
    sequences: list[list[str]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval = 1.0 / settings.rate if settings.rate else 0.0
    slots = 0
    next_client = 0
    common = [("User-Agent", "canary-verify"), ("Accept", "*/*")]

    async def pace() -> None:
        # The same fixed start slots as the main run, shared by all clients: --rate holds.
        nonlocal slots
        slot, slots = slots, slots + 1
        if interval:
            delay = start + slot * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def one_client() -> list[str]:
        jar: str | None = None
        seen: list[str] = []
        conn: Connection | None = None
        for _ in range(requests_each):
            await pace()
            headers = common + ([_cookie_header(cookie, jar)] if jar is not None else [])
            began = loop.time()
            try:
                answer, conn = await fetch(target, target.request(headers), settings.timeout, conn)
            except (OSError, ProtocolError) as exc:
                conn = None
                tally.add_error(error_kind(exc))
                continue
            # A browser keeps cookies from any answer, an error page's too.
            jar = cookie_value(answer, cookie) or jar
            version = reader(answer) if answer.status < 400 else None
            if answer.status >= 400:
                tally.add_error(f"http_{answer.status // 100}xx", loop.time() - began)
            elif version is None:
                tally.add_error("no_version", loop.time() - began)
            else:
                tally.add_version(version, loop.time() - began)
                seen.append(version)
        if conn is not None:
            conn.close()
        return seen

    async def worker() -> None:
        nonlocal next_client
        while next_client < clients:
            next_client += 1
            sequences.append(await one_client())

    await asyncio.gather(*(worker() for _ in range(min(settings.concurrency, clients))))
    tested = [seen for seen in sequences if len(seen) >= 2]
    flipped = [seen for seen in tested if len(set(seen)) > 1]
    return ClientsOutcome(
        clients=clients,
        requests_each=requests_each,
        tally=tally,
        tested=len(tested),
        flipped=len(flipped),
        example=tuple(flipped[0]) if flipped else (),
    )
