"""canary/rollout/report/: the page drawn from a typed rollout report.

The reports are built by hand from small worked figures; positions are checked against
the axes the chart itself draws (its tick labels and their positions), not against the module's
own layout constants.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from canary.rollout.gates import GateResult
from canary.rollout.report.html import render_html
from canary.rollout.run_report import RolloutReport
from tests.support.rollout_report_fixtures import poll as _poll
from tests.support.rollout_report_fixtures import report as _report
from tests.support.rollout_report_fixtures import step as _step

SVG = "{http://www.w3.org/2000/svg}"


class _Page(HTMLParser):
    """Every start tag with its attributes, and all text outside <style>, as the browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.text.append(data)


def _page(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _svgs(page: str) -> dict[str, ET.Element]:
    """Each chart's <svg>, parsed as XML (so each is also well-formed), by id."""
    charts = [ET.fromstring(fragment) for fragment in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]
    return {svg.attrib["id"]: svg for svg in charts}


def _find(svg: ET.Element, css_class: str) -> list[ET.Element]:
    return [el for el in svg.iter() if css_class in el.attrib.get("class", "").split()]


def _axis(svg: ET.Element, name: str) -> tuple[list[float], list[float]]:
    """(values, pixels) of an axis's ticks, read from their labels and their positions."""
    (axis,) = _find(svg, name)
    values, pixels = [], []
    for tick in _find(axis, "tick"):
        label = tick.find(f"{SVG}text")
        line = tick.find(f"{SVG}line")
        assert label is not None and line is not None and label.text is not None
        if name == "x-axis":
            minutes, seconds = label.text.split(":")
            values.append(60 * int(minutes) + int(seconds))
            pixels.append(float(line.attrib["x1"]))
        else:
            values.append(float(label.text))
            pixels.append(float(line.attrib["y1"]))
    return values, pixels


def _to_pixel(svg: ET.Element, name: str, value: float) -> float:
    """Where the axis's own ticks put `value` (they are evenly spaced: read the first and last)."""
    values, pixels = _axis(svg, name)
    return pixels[0] + (value - values[0]) / (values[-1] - values[0]) * (pixels[-1] - pixels[0])


def _points(polyline: ET.Element) -> list[float]:
    """A polyline's points, flat: x1, y1, x2, y2 ..."""
    return [float(n) for pair in polyline.attrib["points"].split() for n in pair.split(",")]


def _flat(pairs: list[tuple[float, float]]) -> list[float]:
    return [n for pair in pairs for n in pair]


def _series(svg: ET.Element, role: str) -> ET.Element:
    (group,) = [g for g in _find(svg, "series") if role in g.attrib["class"].split() and g.tag == f"{SVG}g"]
    return group


def test_a_chart_for_the_weight_the_error_rate_the_p99_and_the_evidence() -> None:
    assert list(_svgs(render_html(_report()))) == ["chart-weight", "chart-error-rate", "chart-p99", "chart-evidence"]


def test_polls_without_tests_have_no_evidence_chart() -> None:
    polls = [_poll(10.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0))]
    assert "chart-evidence" not in _svgs(render_html(_report(polls=polls)))


def test_the_evidence_is_each_e_value_over_its_threshold_on_a_log_axis() -> None:
    svg = _svgs(render_html(_report()))["chart-evidence"]
    values, pixels = _axis(svg, "y-axis")
    # Decades, evenly spaced: 0.001 (below the first e-value over its threshold, 0.5 / 200) to 10.
    assert values == [0.001, 0.01, 0.1, 1.0, 10.0]
    spacing = {round(b - a, 6) for a, b in itertools.pairwise(pixels)}
    assert len(spacing) == 1

    def at(value: float) -> float:
        return pixels[0] + (math.log10(value) + 3) * (pixels[1] - pixels[0])

    circles = list(_series(svg, "test").iter(f"{SVG}circle"))
    drawn = [float(c.attrib["cy"]) for c in circles]
    assert drawn == pytest.approx([at(0.5 / 200), at(3 / 200), at(40 / 200), at(250 / 200)], abs=0.01)
    (rule,) = _find(svg, "rule")
    line = rule.find(f"{SVG}line")
    assert line is not None and float(line.attrib["y1"]) == pytest.approx(at(1.0), abs=0.01)
    assert "error rate against stable" in "".join(_find(svg, "legend-item")[0].itertext())


def test_each_version_has_a_point_per_poll_with_data() -> None:
    svgs = _svgs(render_html(_report()))
    # p99: the canary's second poll has none, so its line breaks there: 1 point, then 2.
    canary = _series(svgs["chart-p99"], "canary")
    assert [len(_points(p)) // 2 for p in canary.iter(f"{SVG}polyline")] == [1, 2]
    assert len(list(canary.iter(f"{SVG}circle"))) == 3
    stable = _series(svgs["chart-p99"], "stable")
    assert [len(_points(p)) // 2 for p in stable.iter(f"{SVG}polyline")] == [4]
    assert len(list(_series(svgs["chart-error-rate"], "canary").iter(f"{SVG}circle"))) == 4


def test_points_sit_where_the_axes_say() -> None:
    svg = _svgs(render_html(_report()))["chart-error-rate"]
    circles = list(_series(svg, "canary").iter(f"{SVG}circle"))
    drawn = [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in circles]
    expected = [
        (_to_pixel(svg, "x-axis", t), _to_pixel(svg, "y-axis", rate))
        for t, rate in ((10, 0.0), (20, 5.0), (30, 10.0), (42.5, 15.0))
    ]
    assert _flat(drawn) == pytest.approx(_flat(expected), abs=0.01)


def test_value_axis_reaches_the_highest_value_and_is_labelled_with_its_unit() -> None:
    svg = _svgs(render_html(_report()))["chart-p99"]
    values, _ = _axis(svg, "y-axis")
    assert values[0] == 0 and values[-1] >= 45.0
    titles = [t.text for t in _find(svg, "axis-title")]
    assert "p99 (ms)" in titles and "time since the rollout began (m:ss)" in titles


def test_the_verdict_is_marked_at_its_moment_on_every_chart() -> None:
    for svg in _svgs(render_html(_report(verdict_seconds=37.0))).values():
        (marker,) = _find(svg, "verdict")
        line = marker.find(f"{SVG}line")
        assert line is not None
        assert float(line.attrib["x1"]) == pytest.approx(_to_pixel(svg, "x-axis", 37.0), abs=0.01)
        assert line.attrib["x1"] == line.attrib["x2"]
        assert "rolled back at 0:37" in "".join(marker.itertext())


def test_the_verdict_reason_is_written_by_the_marker() -> None:
    marker = _find(_svgs(render_html(_report()))["chart-weight"], "verdict")[0]
    # Written beside the line, not only in the hover text.
    (note,) = _find(marker, "marker-note")
    assert note.text == "error rate against stable: e-value 250 >= 200"


def test_small_error_rates_get_fractional_ticks() -> None:
    polls = [
        _poll(10.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0)),
        _poll(20.0, 10, (40, 0, 0.0, 5.0), (360, 1, 0.56, 5.0)),
    ]
    svg = _svgs(render_html(_report(polls=polls)))["chart-error-rate"]
    values, _ = _axis(svg, "y-axis")
    assert values == [0.0, 0.2, 0.4, 0.6]
    (circle,) = [
        c for c in _series(svg, "stable").iter(f"{SVG}circle") if float(c.attrib["cy"]) != _to_pixel(svg, "y-axis", 0)
    ]
    assert float(circle.attrib["cy"]) == pytest.approx(_to_pixel(svg, "y-axis", 0.56), abs=0.01)


def test_no_verdict_no_marker() -> None:
    svgs = _svgs(render_html(_report(verdict_seconds=None, outcome="interrupted", reason="interrupted at 10%")))
    assert all(not _find(svg, "verdict") for svg in svgs.values())


def test_the_weight_steps_are_a_step_line_and_a_band_each() -> None:
    steps = [_step(5, 0.0, 60.0), _step(20, 65.0, 125.0, extended=True)]
    svg = _svgs(render_html(_report(steps=steps, polls=[], verdict_seconds=125.0, outcome="completed")))["chart-weight"]
    (line,) = _series(svg, "weight").iter(f"{SVG}polyline")
    corners = [(0.0, 5.0), (65.0, 5.0), (65.0, 20.0), (125.0, 20.0)]
    expected = [(_to_pixel(svg, "x-axis", t), _to_pixel(svg, "y-axis", w)) for t, w in corners]
    assert _points(line) == pytest.approx(_flat(expected), abs=0.01)
    bands = _find(svg, "band")
    assert ["".join(b.itertext()) for b in bands] == ["5 %", "20 % (extended)"]
    rects = [b.find(f"{SVG}rect") for b in bands]
    assert [float(r.attrib["x"]) for r in rects if r is not None] == pytest.approx(
        [_to_pixel(svg, "x-axis", 0.0), _to_pixel(svg, "x-axis", 65.0)], abs=0.01
    )


def test_a_failed_step_is_shaded_as_failed() -> None:
    svg = _svgs(render_html(_report()))["chart-error-rate"]
    (band,) = _find(svg, "band")
    assert "failed" in band.attrib["class"].split()


def test_text_from_the_report_stays_text() -> None:
    hostile = "<script>alert(1)</script> & \"quoted\" 'single' <img src=x onerror=alert(2)>"
    report = _report(reason=hostile, stack="<b>dev</b>", canary="v2<i>", stable="v1&amp;")
    report.polls[0].tests[0]["test"] = "<script>t()</script>"
    page = render_html(report)
    parsed = _page(page)
    assert {tag for tag, _ in parsed.tags} & {"script", "img", "b", "i"} == set()
    text = "".join(parsed.text)
    assert hostile in text and "<b>dev</b>" in text and "v1&amp;" in text and "<script>t()</script>" in text
    # The SVG fragments still parse as XML, and carry the reason as text too.
    assert any(hostile in "".join(svg.itertext()) for svg in _svgs(page).values())


def test_nothing_is_loaded_from_outside_the_file() -> None:
    page = render_html(_report(reason="see https://example.com/x", started_at="javascript:alert(1)"))
    parsed = _page(page)
    for tag, attrs in parsed.tags:
        assert not {"src", "href", "xlink:href", "srcset", "action", "poster", "data"} & set(attrs), tag
        assert not any(name.startswith("on") for name in attrs), tag
    assert {tag for tag, _ in parsed.tags} & {"script", "link", "img", "iframe", "object", "embed"} == set()
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_the_outcome_colour_says_good_or_bad() -> None:
    tones = {}
    for outcome in ("completed", "promoted", "retired", "rolled back", "update failed", "held", "interrupted"):
        body = [attrs for tag, attrs in _page(render_html(_report(outcome=outcome))).tags if tag == "body"]
        tones[outcome] = body[0]["class"]
    assert tones == {
        "completed": "good",
        "promoted": "good",
        "retired": "good",
        "rolled back": "bad",
        "update failed": "bad",
        "held": "warn",
        "interrupted": "neutral",
    }


def test_the_header_gives_outcome_reason_time_to_verdict_and_alpha() -> None:
    text = " ".join(_page(render_html(_report())).text)
    for expected in ("rolled back", "error rate against stable: e-value 250 >= 200", "42 s", "0.01", "dev"):
        assert expected in text


def test_every_poll_is_a_table_row_with_its_counts_and_tests() -> None:
    page = render_html(_report())
    rows = re.findall(r'<tr class="(poll|rollback)">(.*?)</tr>', page, flags=re.DOTALL)
    assert [kind for kind, _ in rows] == ["poll", "poll", "poll", "rollback"]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>.*?</td>", rows[3][1])]
    # time, weight, canary requests/errors, stable requests/errors, unattributed, e, p, rollback
    assert cells == ["0:42", "10 %", "80", "6", "720", "2", "0", "250 / 200p 0.004 / 0.005", "rollback"]
    assert "crossed" in rows[3][1] and "crossed" not in rows[2][1]


def test_no_polls_draws_the_weight_and_says_why_the_rest_is_missing() -> None:
    page = render_html(_report(polls=[]))
    assert list(_svgs(page)) == ["chart-weight"]
    assert "No polls" in page


def test_interrupted_before_any_step_has_no_chart_and_says_so() -> None:
    page = render_html(_report(steps=[], polls=[], verdict_seconds=None, outcome="interrupted", reason=""))
    assert _svgs(page) == {}
    assert "No step began" in " ".join(_page(page).text)


def test_a_single_poll_at_the_start_still_has_a_time_axis() -> None:
    poll = _poll(0.0, 10, (5, 0, 0.0, 9.0), (45, 0, 0.0, 8.0))
    svg = _svgs(render_html(_report(polls=[poll], steps=[], verdict_seconds=None)))["chart-p99"]
    values, pixels = _axis(svg, "x-axis")
    assert len(values) >= 2 and pixels[-1] > pixels[0]
    (line,) = _series(svg, "canary").iter(f"{SVG}polyline")
    assert _points(line) == pytest.approx([_to_pixel(svg, "x-axis", 0.0), _to_pixel(svg, "y-axis", 9.0)])


def test_null_and_malformed_figures_are_gaps() -> None:
    polls = [
        _poll(10.0, 10, (20, 0, None, None), (180, 0, None, None)),
        _poll(20.0, 10, (40, 0, float("inf"), float("nan")), (360, 0, 0.0, None)),
    ]
    svgs = _svgs(render_html(_report(polls=polls)))
    assert list(_series(svgs["chart-p99"], "canary").iter(f"{SVG}circle")) == []
    assert list(_series(svgs["chart-error-rate"], "canary").iter(f"{SVG}circle")) == []
    assert len(list(_series(svgs["chart-error-rate"], "stable").iter(f"{SVG}circle"))) == 1


def test_a_resumed_rollout_says_its_analysis_started_anew() -> None:
    page = render_html(_report(resumed=True, note="resumed at 25%"))
    assert "resumed at 25%" in page


def test_a_long_table_of_polls_is_folded_a_short_one_open() -> None:
    many = [_poll(10.0 * k, 10, (20 * k, 0, 0.0, 5.0), (180 * k, 0, 0.0, 5.0)) for k in range(1, 32)]
    for polls, is_open in ((many[:30], True), (many, False)):
        (details,) = [attrs for tag, attrs in _page(render_html(_report(polls=polls))).tags if tag == "details"]
        assert ("open" in details) is is_open


def test_an_overwhelming_e_value_sits_at_the_top_of_a_bounded_axis() -> None:
    report = _report()
    report.polls[-1].tests[0]["e_value"] = 1e300
    svg = _svgs(render_html(report))["chart-evidence"]
    values, pixels = _axis(svg, "y-axis")
    assert values[-1] == 1e6 and len(values) <= 11
    last = list(_series(svg, "test").iter(f"{SVG}circle"))[-1]
    assert float(last.attrib["cy"]) == pytest.approx(pixels[-1], abs=0.01)
    assert "1e+300 / 200" in render_html(report)


def test_a_negative_rate_is_a_gap() -> None:
    polls = [
        _poll(10.0, 10, (20, 0, -5.0, 5.0), (180, 0, 0.0, 5.0)),
        _poll(20.0, 10, (40, 0, 1.0, 5.0), (360, 0, 0.0, 5.0)),
    ]
    svg = _svgs(render_html(_report(polls=polls)))["chart-error-rate"]
    (circle,) = _series(svg, "canary").iter(f"{SVG}circle")
    assert float(circle.attrib["cy"]) == pytest.approx(_to_pixel(svg, "y-axis", 1.0), abs=0.01)


def test_a_report_without_the_analysis_fields_still_renders() -> None:
    """A rollout without the analysis (no Prometheus): no verdict time, no polls, the default alpha."""
    steps = [_step(5, 0.0, 60.0, GateResult("split", True))]
    page = render_html(RolloutReport(stack="prod", canary="v2", stable="v1", outcome="completed", steps=steps))
    assert list(_svgs(page)) == ["chart-weight"]
    text = " ".join(_page(page).text)
    assert "No polls" in text and "split ok" in text and "no verdict" in text and "completed" in text


def test_a_step_interrupted_before_its_end_runs_to_the_last_poll() -> None:
    steps = [_step(10, 5.0, None)]
    polls = [
        _poll(15.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0)),
        _poll(25.0, 10, (40, 0, 0.0, 5.0), (360, 0, 0.0, 5.0)),
    ]
    page = render_html(_report(steps=steps, polls=polls, verdict_seconds=None, outcome="interrupted"))
    svg = _svgs(page)["chart-weight"]
    (line,) = _series(svg, "weight").iter(f"{SVG}polyline")
    expected = [(_to_pixel(svg, "x-axis", t), _to_pixel(svg, "y-axis", 10.0)) for t in (5.0, 25.0)]
    assert _points(line) == pytest.approx(_flat(expected), abs=0.01)
    (band,) = _find(svg, "band")
    rect = band.find(f"{SVG}rect")
    assert rect is not None
    right = float(rect.attrib["x"]) + float(rect.attrib["width"])
    assert right == pytest.approx(_to_pixel(svg, "x-axis", 25.0), abs=0.01)


def _with_metrics(report: RolloutReport) -> RolloutReport:
    """The worked report with a ratio metric (checkouts failing 1 % on stable, 4, 8 and 12 % on
    the canary) and a threshold metric (a lag of 10, 20, no value, 150 against max 100)."""
    lags = (10.0, 20.0, None, 150.0)
    for index, entry in enumerate(report.polls):
        metrics = (
            {
                "name": "checkout-failures",
                "kind": "ratio",
                "versions": {
                    "v1": {"bad": index + 1, "total": 100 * (index + 1), "ratio": 1.0},
                    "v2": {"bad": 0, "total": 0, "ratio": (4.0, 8.0, 12.0, None)[index]},
                },
            },
            {"name": "queue-lag", "kind": "threshold", "value": lags[index], "min": None, "max": 100.0},
        )
        report.polls[index] = dataclasses.replace(entry, metrics=metrics)
    return report


def test_each_metric_has_a_chart_beside_the_meshs() -> None:
    svgs = _svgs(render_html(_with_metrics(_report())))
    assert list(svgs) == [
        "chart-weight", "chart-error-rate", "chart-p99", "chart-metric-0", "chart-metric-1", "chart-evidence"
    ]  # fmt: skip
    ratio = svgs["chart-metric-0"]
    assert "checkout-failures" in "".join(ratio.find(f"{SVG}title").itertext())  # type: ignore[union-attr]
    circles = list(_series(ratio, "canary").iter(f"{SVG}circle"))
    drawn = [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in circles]
    expected = [(_to_pixel(ratio, "x-axis", t), _to_pixel(ratio, "y-axis", r)) for t, r in ((10, 4), (20, 8), (30, 12))]
    assert _flat(drawn) == pytest.approx(_flat(expected), abs=0.01)
    assert len(list(_series(ratio, "stable").iter(f"{SVG}circle"))) == 4


def test_a_threshold_metric_is_drawn_against_its_bound() -> None:
    svg = _svgs(render_html(_with_metrics(_report())))["chart-metric-1"]
    values, _ = _axis(svg, "y-axis")
    assert values[-1] >= 150
    (rule,) = _find(svg, "rule")
    line = rule.find(f"{SVG}line")
    assert line is not None and float(line.attrib["y1"]) == pytest.approx(_to_pixel(svg, "y-axis", 100), abs=0.01)
    assert "max 100" in "".join(rule.itertext())
    canary = _series(svg, "canary")
    # No value at the third poll: a gap.
    assert [len(_points(p)) // 2 for p in canary.iter(f"{SVG}polyline")] == [2, 1]


@pytest.mark.parametrize(
    "hostile",
    ["\x00", "\x1b[31m", "\u202e", "\u2066", "\x7f", "\x85"],
    ids=["NUL", "ESC", "RLO", "LRI", "DEL", "NEL"],
)
def test_control_and_bidi_characters_from_the_report_are_shown_not_obeyed(hostile: str) -> None:
    # A bidi override makes the text after it read backwards: "rolled back" could show as another verdict.
    reason = f"split holds{hostile}kcab dellor"
    report = _report(reason=reason, stack=f"dev{hostile}", canary=f"v2{hostile}")
    report.polls[0].tests[0]["test"] = f"t{hostile}"
    page = render_html(report)
    assert hostile[0] not in page
    text = "".join(_page(page).text)
    assert f"split holds{_visible(hostile[0])}" in text
    # The SVG fragments still parse as XML: a raw NUL would not.
    assert _svgs(page)


def _visible(char: str) -> str:
    """The form the page shows a control character in, written out: U+ and four hex digits."""
    return f"<U+{ord(char):04X}>"


def test_a_verdict_a_trillion_seconds_in_still_draws_a_bounded_page() -> None:
    page = render_html(_report(verdict_seconds=1e12))
    for svg in _svgs(page).values():
        (axis,) = _find(svg, "x-axis")
        assert 2 <= len(_find(axis, "tick")) <= 9


def test_a_thirty_day_report_has_a_few_readable_time_ticks() -> None:
    month = 30 * 24 * 3600.0
    report = _report(verdict_seconds=month)
    report.steps[0].ended_seconds = month
    report.polls = [_poll(s, 10, (20, 0, 0.0, 80.0), (180, 0, 0.0, 70.0)) for s in (10.0, month / 2, month)]
    svg = _svgs(render_html(report))
    for chart in svg.values():
        (axis,) = _find(chart, "x-axis")
        assert 2 <= len(_find(axis, "tick")) <= 9


def test_holds_are_listed_with_when_why_and_what_stable_did() -> None:
    holds = [
        {
            "seconds": 75.0,
            "weight": 25,
            "reasons": ["error rate limit: stable too at or above the limit (20% of 900): a shared incident"],
            "stable": {"requests": 5400, "errors": 190, "error_rate": 20.0, "p99_ms": 12.5},
        },
        {"seconds": 150.0, "weight": 25, "reasons": ["thin evidence"]},
    ]
    page = render_html(_report(outcome="held", holds=holds))
    section = page[page.index("<h2>Holds (2)</h2>") :]
    body = section[section.index("<tbody>") : section.index("</tbody>")]
    rows = [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>.*?</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.DOTALL)
    ]
    assert rows == [
        ["1:15", "25 %", holds[0]["reasons"][0], "5,400 requests, 190 5xx; now 20 % 5xx, p99 12.5 ms"],
        ["2:30", "25 %", "thin evidence", "-"],
    ]


def test_a_held_poll_says_hold_in_the_decision_column() -> None:
    polls = [_poll(10.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0), holds=("both versions failing alike",))]
    rows = re.findall(
        r'<tr class="(poll|rollback|hold)">(.*?)</tr>', render_html(_report(polls=polls)), flags=re.DOTALL
    )
    assert [kind for kind, _ in rows] == ["hold"] and rows[0][1].endswith("<td>hold</td>")


def test_the_calibration_of_the_analysis_is_shown() -> None:
    calibration = "stable's 5xx over 60 intervals vary 3.2 times"
    assert "stable&#x27;s 5xx over 60 intervals vary 3.2 times" in render_html(_report(calibration=calibration))


def test_what_each_test_compared_is_in_the_header() -> None:
    detail = "canary above 100 ms against stable above 50 ms (stable's p94): ratio tested 2"
    test = {"test": "p99 against stable", "e_value": 1.0, "p_value": 1.0, "threshold": 1000.0, "alpha": 0.001,
            "detail": detail}  # fmt: skip
    polls = [_poll(10.0, 10, (20, 0, 0.0, 5.0), (180, 0, 0.0, 5.0), [test])]
    text = " ".join(_page(render_html(_report(polls=polls))).text)
    assert f"tested {detail}" in text
