"""The health analysis of one `canary rollout`, wired from its policy and the stack: the mesh's
counters, the team's own metrics, and the evidence of the release kept with the stack."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from canary.config import StackSettings
from canary.policy import Policy
from canary.rollout.engine import RolloutRefusedError
from canary.rollout.gates import alpha_shares
from canary.rollout.prometheus import PrometheusAccess
from canary.rollout.release_tags import TagStore, TagStoreError
from canary.support.visible_text import say

if TYPE_CHECKING:
    from canary.rollout.watch import HealthWatch

# Stable's history read before the rollout, to calibrate the analysis on how its 5xx vary.
HISTORY_SECONDS = 600.0


def health_watch(
    policy: Policy,
    settings: StackSettings,
    tags: TagStore | None = None,
    *,
    forget: bool = False,
    access: PrometheusAccess | None = None,
) -> HealthWatch | None:
    """The analysis of this invocation, reading the mesh's counters and the team's own metrics,
    continuing the evidence of the release kept in the stack's `tags`; None without Prometheus.
    RolloutRefusedError when the kept evidence cannot be read or continued."""
    if not policy.prometheus or settings.canary is None:
        return None
    from canary.rollout.analysis import SequentialAnalysis
    from canary.rollout.custom_metrics import MetricsWatch
    from canary.rollout.kept_analysis import KeptAnalysis
    from canary.rollout.prometheus import MeshReader
    from canary.rollout.watch import HealthWatch

    canary, stable = settings.canary.version, settings.stable_version
    prometheus = access or PrometheusAccess.of(policy.prometheus)
    reader = MeshReader(prometheus, settings.namespace, settings.app, [stable, canary])
    shares = alpha_shares(ratio_metrics(settings))
    # The baseline is read at the weight the stack stands at: counting begins there.
    analysis = SequentialAnalysis(limits=policy.limits, alpha_shares=shares, weight=settings.weight)
    metrics = (
        MetricsWatch.reading(
            prometheus,
            settings.rollout.metrics,
            namespace=settings.namespace,
            app=settings.app,
            stable=stable,
            canary=canary,
            alpha_each=policy.limits.alpha / shares,
            weight=settings.weight,
            step=policy.analysis_seconds,
        )
        if settings.rollout.metrics
        else None
    )
    kept = KeptAnalysis(tags, stable, canary) if tags is not None else None
    note = ""
    try:
        found = None
        if kept is not None and forget:
            kept.forget()
        elif kept is not None:
            found = kept.load()
        if found is not None:
            analysis = SequentialAnalysis.resumed(found.state, policy.limits, alpha_shares=shares)
            if metrics is not None:
                metrics.restore(found.state.get("metrics") or {})
            e_values = ", ".join(f"{r.test} {r.e_value:.3g}" for r in analysis.results())
            note = (
                f"continuing the evidence of {kept.release if kept else ''} kept with the stack "
                f"(saved {found.saved_at} at {found.weight}%): e-values {e_values}"
            )
    except TagStoreError as err:
        # A backend without tags (a DIY backend before Pulumi CLI v3.211) still rolls out: the
        # evidence then lives as long as the run, and alpha holds per run.
        say(f"canary rollout: warning: {err}: the analysis' evidence is not kept between runs", to=sys.stderr)
        kept, note = None, ""
    except ValueError as err:
        raise RolloutRefusedError(
            f"{err}: an e-process cannot change its alpha, its limits or its metrics midway; rerun with the same "
            "settings, or with --forget-evidence to start the analysis anew (nothing changed)"
        ) from None
    seconds, step = HISTORY_SECONDS, policy.analysis_seconds
    return HealthWatch(
        read=reader.read,
        analysis=analysis,
        stable=stable,
        canary=canary,
        metrics=metrics,
        kept=kept,
        resumed_note=note,
        history=lambda: reader.history(stable, seconds, step, time.time()),
    )


def ratio_metrics(settings: StackSettings) -> int:
    return sum(metric.kind == "ratio" for metric in settings.rollout.metrics)
