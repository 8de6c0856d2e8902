"""docs/grafana-dashboard.json is a Grafana dashboard whose every query names metrics that BatchLab exports."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["jobs/metrics.py", "batchlab/metrics.py", "jobs/worker/metrics.py"]


def exported_names() -> set[str]:
    names = set()
    for source in SOURCES:
        names |= set(re.findall(r'"(batchlab_[a-z_]+)"', (ROOT / source).read_text()))
    return names


def test_every_query_uses_metrics_that_exist():
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    assert dashboard["title"] == "BatchLab" and dashboard["panels"]
    known = exported_names()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"\bbatchlab_[a-z_]+", target["expr"]):
                used.add(re.sub(r"_(total|bucket|count|sum)$", "", name))
    assert used and used <= known, used - known
    # The panels an operator needs first: throughput and failures, durations, queue, workers.
    for metric in ("batchlab_jobs_completed", "batchlab_jobs_failed", "batchlab_job_run_seconds",
                   "batchlab_job_queue_wait_seconds", "batchlab_queue_oldest_age_seconds", "batchlab_workers"):
        assert metric in used, metric
