"""docs/grafana-dashboard.json queries only metrics that exist: the action server's
(actions/metrics.py) and the handoff service's (handoff_service/metrics.py). The metrics
themselves are read from the running action server in test_e2e.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from actions.metrics import REGISTRY

from handoff_service.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
SUFFIXES = re.compile(r"_(bucket|count|sum|total)$")


def family(name: str) -> str:
    return SUFFIXES.sub("", name)


@pytest.mark.usefixtures("action_settings")
def test_the_grafana_dashboard_uses_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {family(n) for e in exprs for n in re.findall(r"\b(?:nivel0|handoff)_[a-z_]+", e)}
    exported = {family(m.name) for m in REGISTRY.collect()}
    exported |= {family(m.name) for m in Metrics().registry.collect()}
    assert used and used <= exported, used - exported
    assert {"nivel0_action_duration_seconds", "nivel0_outbox_rows"} <= used
