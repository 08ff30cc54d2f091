"""The analysis' evidence kept with the stack: one release's, continued by a later run."""

from __future__ import annotations

import pytest

from canary.config import parse_settings
from canary.config.files import as_config_strings
from canary.policy import Limits, Policy
from canary.rollout.analysis import Counts, SequentialAnalysis
from canary.rollout.custom_metrics import RatioCounts
from canary.rollout.engine import RolloutRefusedError
from canary.rollout.health_setup import health_watch
from canary.rollout.kept_analysis import KeptAnalysis
from canary.rollout.release_tags import TagStoreError
from tests.support.logged_tags import LoggedTags
from tests.support.project import BASELINE


def settings(weight: int = 10):  # type: ignore[no-untyped-def]
    return parse_settings(as_config_strings({**BASELINE, "canary": {"version": "v2", "weight": weight}}))


def evidence() -> SequentialAnalysis:
    analysis = SequentialAnalysis(weight=10)
    analysis.observe(weight=10, canary=Counts(100, 3), stable=Counts(900, 0))
    return analysis


def test_a_later_run_continues_the_kept_evidence_of_its_release() -> None:
    store = LoggedTags()
    stable = settings().stable_version
    KeptAnalysis(store, stable, "v2").save(evidence().state(), "2026-12-07T04:00:00Z", 10)
    watch = health_watch(Policy(prometheus="http://127.0.0.1:9"), settings(), store)
    assert watch is not None and watch.resumed_note.startswith(f"continuing the evidence of {stable} -> v2")
    kept = [t.e_value for t in watch.analysis.results()]
    assert kept == pytest.approx([t.e_value for t in evidence().results()]) and max(kept) > 1


def test_another_releases_evidence_is_not_continued() -> None:
    store = LoggedTags()
    KeptAnalysis(store, settings().stable_version, "v3").save(evidence().state(), "t", 10)
    watch = health_watch(Policy(prometheus="http://127.0.0.1:9"), settings(), store)
    assert watch is not None and watch.resumed_note == ""
    assert all(t.e_value == 1.0 for t in watch.analysis.results())


def test_kept_evidence_gathered_with_another_alpha_refuses_the_run_unless_forgotten() -> None:
    store = LoggedTags()
    KeptAnalysis(store, settings().stable_version, "v2").save(evidence().state(), "t", 10)
    policy = Policy(prometheus="http://127.0.0.1:9", limits=Limits(alpha=0.05))
    with pytest.raises(RolloutRefusedError, match=r"gathered with alpha 0\.01, this run has 0\.05"):
        health_watch(policy, settings(), store)
    watch = health_watch(policy, settings(), store, forget=True)
    assert watch is not None and watch.resumed_note == "" and store.tags == {}


def test_the_kept_evidence_goes_when_the_release_ends_and_stays_when_it_is_kept_again() -> None:
    store = LoggedTags()
    watch = health_watch(Policy(prometheus="http://127.0.0.1:9"), settings(), store)
    assert watch is not None
    assert watch.keep(10, "t") is None and store.tags
    assert watch.forget() is None and store.tags == {}


class UnreadableTags(LoggedTags):
    def read(self) -> dict[str, str]:
        raise TagStoreError("cannot read the tags of stack dev: error: stack tags are not supported")


def test_a_backend_without_tags_rolls_out_with_a_warning_and_keeps_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    watch = health_watch(Policy(prometheus="http://127.0.0.1:9"), settings(), UnreadableTags())
    assert watch is not None and watch.kept is None and watch.resumed_note == ""
    assert capsys.readouterr().err == (
        "canary rollout: warning: cannot read the tags of stack dev: error: stack tags are not supported: "
        "the analysis' evidence is not kept between runs\n"
    )


RATIO_METRIC = {
    "name": "checkout-failures",
    "kind": "ratio",
    "bad": 'failures_total{version="{{ version }}"}',
    "total": 'checkouts_total{version="{{ version }}"}',
}


def with_metrics(*metrics: dict[str, object]):  # type: ignore[no-untyped-def]
    rollout = {"metrics": list(metrics)}
    return parse_settings(
        as_config_strings({**BASELINE, "canary": {"version": "v2", "weight": 10}, "rollout": rollout})
    )


def test_a_ratio_metrics_evidence_is_kept_and_continued_with_the_release() -> None:
    store = LoggedTags()
    policy = Policy(prometheus="http://127.0.0.1:9")
    first = health_watch(policy, with_metrics(RATIO_METRIC), store)
    assert first is not None and first.metrics is not None
    ratio = first.metrics._ratios[0].comparison
    ratio.observe(10, RatioCounts(30, 100), RatioCounts(9, 900))
    gathered = ratio.observe(10, RatioCounts(60, 200), RatioCounts(18, 1800)).e_value
    assert gathered > 1 and first.keep(10, "2026-12-07T04:00:00Z") is None
    again = health_watch(policy, with_metrics(RATIO_METRIC), store)
    assert again is not None and again.metrics is not None
    continued = again.metrics._ratios[0].comparison.observe(10, RatioCounts(), RatioCounts())
    assert continued.e_value == pytest.approx(gathered)


def test_kept_evidence_of_a_ratio_metric_that_reads_other_queries_refuses_the_run() -> None:
    store = LoggedTags()
    policy = Policy(prometheus="http://127.0.0.1:9")
    first = health_watch(policy, with_metrics(RATIO_METRIC), store)
    assert first is not None and first.keep(10, "t") is None
    changed = {**RATIO_METRIC, "bad": 'errors_total{version="{{ version }}"}'}
    with pytest.raises(RolloutRefusedError, match="gathered with metric checkout-failures reading other queries"):
        health_watch(policy, with_metrics(changed), store)
    # A second ratio metric changes every test's share of alpha: refused as another alpha.
    second = {**RATIO_METRIC, "name": "refunds"}
    with pytest.raises(RolloutRefusedError, match="gathered with alpha"):
        health_watch(policy, with_metrics(RATIO_METRIC, second), store)
