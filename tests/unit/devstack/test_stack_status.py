"""`stack status --json`: each worker's full endpoint URLs."""

from __future__ import annotations

import os

from services.devstack.stack import ProcessInfo, StackState


def test_status_gives_every_workers_full_endpoint_urls(tmp_path):
    state = StackState(str(tmp_path), "127.0.0.1:9092", "postgresql://x")
    state.workers = [
        ProcessInfo("intake", os.getpid(), "http://127.0.0.1:41001"),
        ProcessInfo("routing", os.getpid()),
    ]
    intake, routing = state.status()["workers"]
    assert intake["endpoints"] == {
        "metrics": "http://127.0.0.1:41001/metrics",
        "healthz": "http://127.0.0.1:41001/healthz",
        "readyz": "http://127.0.0.1:41001/readyz",
        "statusz": "http://127.0.0.1:41001/statusz",
    }
    assert intake["metrics_url"] == "http://127.0.0.1:41001"  # the base, as before
    assert routing["endpoints"] is None  # not started with an ops port
