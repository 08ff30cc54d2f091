"""The HTML report is written from the typed report with every secret masked, as `--json` masks its document."""

from __future__ import annotations

import html

from canary.rollout.control import Wait
from canary.rollout.gates import GateResult
from canary.rollout.report.html import render_html
from canary.rollout.stack_secrets import SHOWN, Masker
from tests.support.rollout_report_fixtures import evidence, poll, report, step

# An ampersand, escaped on the page as &amp;: masking the page's text instead of the report would miss it.
SECRET = "t0ken&sig=abc"


def _leaky_report():
    url = f"https://hooks.example.com/x?{SECRET}"
    test = evidence(3.0, name=f"metric {SECRET}")
    return report(
        reason=f"webhook {url} answered 500",
        note=f"resumed; evidence from {SECRET}",
        steps=[step(10, 0.0, 30.0, GateResult("webhook", False, (f"POST {url}: 500",), {"url": url}))],
        polls=[poll(10.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0), [test])],
        holds=[{"seconds": 10.0, "weight": 10, "reasons": [f"confirm {url} not yet 2xx"]}],
        waits=[Wait(id="w", kind="confirm", what=f"confirm {url}", step=1, weight=10, since="2026-12-01T10:00:00Z")],
    )


def test_no_secret_reaches_the_page_raw_or_escaped():
    page = render_html(Masker((SECRET,)).value(_leaky_report()))
    assert SECRET not in page and html.escape(SECRET) not in page
    assert page.count(SHOWN) >= 6


def test_the_typed_report_is_masked_as_its_json_document_is():
    masker, leaky = Masker((SECRET,)), _leaky_report()
    assert masker.value(leaky).to_json() == masker.document(leaky.to_json())
    assert SECRET in leaky.reason  # the report itself is left as it was


def test_without_secrets_the_report_is_the_same_object():
    leaky = _leaky_report()
    assert Masker().value(leaky) is leaky
