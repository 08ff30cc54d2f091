"""Tests for canary/traffic/client.py: the HTTP/1.1 client against scripted loopback servers."""

from __future__ import annotations

import asyncio

import pytest

from canary.traffic.client import ConnectionClosedError, Endpoint, ProtocolError, _parse_head, connect
from canary.traffic.load import fetch
from tests.support.traffic_fixtures import scripted_server


def _get(url: str, answers: int = 1) -> list:
    """Send ``answers`` GETs on one connection; return the answers."""

    async def go() -> list:
        target = Endpoint.from_url(url)
        request = target.request([])
        conn = await connect(target)
        got = []
        for _ in range(answers):
            got.append(await asyncio.wait_for(conn.send(request), 5))
        conn.close()
        return got

    return asyncio.run(go())


def test_content_length_answers_on_one_connection_are_kept_apart() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Canary-Version: v1\r\n\r\nhello",
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 3\r\n\r\nbad",
    ]
    with scripted_server(answers) as url:
        first, second = _get(url, answers=2)
    assert (first.status, first.body, first.headers[b"x-canary-version"]) == (200, b"hello", b"v1")
    assert (second.status, second.body) == (503, b"bad")


def test_chunked_body_is_reassembled() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nvers\r\n9;ext=1\r\nion: v2 !\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    with scripted_server([answer, b"HTTP/1.1 204 No Content\r\n\r\n"]) as url:
        first, second = _get(url, answers=2)
    assert first.body == b"version: v2 !"
    assert (second.status, second.body) == (204, b"")


def test_interim_answer_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with scripted_server([answer]) as url:
        (got,) = _get(url)
    assert (got.status, got.body) == (200, b"ok")


def test_body_without_length_ends_at_close() -> None:
    answer = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end"
    with scripted_server([answer], close_after=True) as url:
        (got,) = _get(url)
    assert got.body == b"until the end"


def test_answer_that_is_not_http_is_a_protocol_error() -> None:
    with scripted_server([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"]) as url, pytest.raises(ProtocolError):
        _get(url)


def test_answer_cut_off_midway_is_a_closed_connection() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"
    with scripted_server([cut], close_after=True) as url, pytest.raises(ConnectionClosedError) as caught:
        _get(url)
    assert caught.value.empty is False


def _fetch_twice(url: str) -> tuple[bytes, bytes, bool]:
    """Two GETs through ``fetch``, the second on the first's connection."""

    async def go() -> tuple[bytes, bytes, bool]:
        target = Endpoint.from_url(url)
        request = target.request([])
        first, conn = await fetch(target, request, 5, None)
        second, conn2 = await fetch(target, request, 5, conn)
        conn2.close()
        return first.body, second.body, conn2 is not conn

    return asyncio.run(go())


def test_request_on_a_keep_alive_connection_closed_unanswered_is_sent_again() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    # The server drops the reused connection on the second request, as one does with a
    # connection that sat idle too long: the request goes again on a new connection.
    with scripted_server([ok, None, ok]) as url:
        assert _fetch_twice(url) == (b"ok", b"ok", True)


def test_request_on_a_new_connection_closed_unanswered_is_an_error_not_retried() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    # A fresh connection closed without an answer is the server's doing, not idleness: it
    # is reported (the next entry would have answered a retry).
    with scripted_server([None, ok]) as url:

        async def go() -> None:
            target = Endpoint.from_url(url)
            await fetch(target, target.request([]), 5, None)

        with pytest.raises(ConnectionClosedError) as caught:
            asyncio.run(go())
    assert caught.value.empty is True


def test_connection_close_header_opens_a_new_connection_next_time() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with scripted_server([closing, closing]) as url:

        async def go() -> bool:
            target = Endpoint.from_url(url)
            _, conn = await fetch(target, target.request([]), 5, None)
            return conn.usable

        assert asyncio.run(go()) is False


def test_request_names_host_path_and_headers() -> None:
    target = Endpoint.from_url("http://10.0.0.1:8080/app?x=1", host="nginx-app.example.com")
    request = target.request([("Cookie", "version=v2")])
    assert request == (b"GET /app?x=1 HTTP/1.1\r\nHost: nginx-app.example.com\r\nCookie: version=v2\r\n\r\n")
    assert (target.address, target.port) == ("10.0.0.1", 8080)


def test_https_target_uses_the_host_override_for_sni() -> None:
    target = Endpoint.from_url("https://lb.example.net/", host="nginx-app.example.com")
    assert (target.port, target.server_hostname) == (443, "nginx-app.example.com")
    assert target.tls is not None and target.tls.check_hostname


@pytest.mark.parametrize("url", ["ftp://example.com/", "http:///path", "http://h:99999/"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.from_url(url)


def test_keep_alive_follows_each_http_version_default():
    # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it.
    assert _parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0")[2] is True
    assert _parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0")[2] is False
    assert _parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0")[2] is False
    assert _parse_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0")[2] is True


def test_set_cookie_lines_are_kept_apart_not_folded_at_their_commas() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\n"
        b"Vary: a\r\nVary: b\r\nSet-Cookie: canary-pin=v2; Path=/\r\nContent-Length: 0\r\n\r\n"
    )
    with scripted_server([answer]) as url:
        (got,) = _get(url)
    assert got.set_cookies == [b"session=abc; Expires=Wed, 21 Oct 2026 07:28:00 GMT", b"canary-pin=v2; Path=/"]
    assert got.headers[b"vary"] == b"a, b"
    with scripted_server([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]) as url:
        (bare,) = _get(url)
    assert bare.set_cookies == []


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n" + b"x" * (17 << 20),
        b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * (17 << 20),
    ],
    ids=["content-length", "chunked", "until close"],
)
def test_an_answer_body_larger_than_any_app_sends_is_a_protocol_error(head: bytes) -> None:
    # Bodies are read into memory for --version-pattern: a server that never stops must not exhaust it.
    with scripted_server([head], close_after=True) as url, pytest.raises(ProtocolError, match="body over 16 MiB"):
        _get(url)
