"""What a shown URL keeps (scheme, host, port, path) and what it hides (user:password, query)."""

from __future__ import annotations

import pytest

from canary.support.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://prometheus.monitoring:9090", "http://prometheus.monitoring:9090"),
        ("https://bob:s3cret@prom.example.com/api/prom", "https://***@prom.example.com/api/prom"),
        ("https://12345:glc_eyJrIjoi@prometheus-prod-01.grafana.net", "https://***@prometheus-prod-01.grafana.net"),
        ("https://hooks.example.com/canary?token=abc&x=1", "https://hooks.example.com/canary?***"),
        ("https://u:p@h:8443/p?apiKey=k#frag", "https://***@h:8443/p?***"),
        ("https://h/p#access_token=abc", "https://h/p#***"),
        # A password holding `/` and `@`: nothing of it is left in the "path".
        ("http://admin:pa/ss@wo@rd@127.0.0.1:9090/x", "http://***@127.0.0.1:9090/x"),
        ("http://admin:p:4@127.0.0.1:notaport", "http://***@127.0.0.1:notaport"),
        ("prom.example.com?key=1", "prom.example.com?***"),
    ],
)
def test_a_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_every_url_in_a_message_is_redacted() -> None:
    text = "Prometheus at http://u:hunter2@127.0.0.1:1 is unreachable; webhook 'https://h/x?sig=zz' answered 500"
    shown = redact_text(text)
    assert "hunter2" not in shown and "zz" not in shown
    assert shown == "Prometheus at http://***@127.0.0.1:1 is unreachable; webhook 'https://h/x?***' answered 500"
