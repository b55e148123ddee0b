"""The bench's workers write their output to their CF_HOME, and the run keeps it: a stall or a
crash seen in a run (a flood of an hour and more) can be read afterwards."""

from __future__ import annotations

from pathlib import Path

from services.bench.pipeline import keep_logs, worker_env, worker_log
from services.kernel.settings import Settings


def test_a_workers_output_goes_to_its_home_and_the_run_keeps_what_was_written(tmp_path: Path):
    # Given two stages of a run, each with its own home, whose workers wrote (or not)
    run = tmp_path / "cf-bench-1"
    first = Settings(home=run / "bench0a1b2c3d", database_url="postgresql://db/cf")
    second = Settings(home=run / "bench9f8e7d6c")
    with worker_log(first, "sla_timer") as log:
        log.write(b"WARNING sla_timer: a step fell due 71 s late\n")
    with worker_log(first, "sla_timer") as log:  # a worker started again appends
        log.write(b"INFO sla_timer: started\n")
    worker_log(second, "intake").close()  # a worker that said nothing
    # When the run ends
    kept = keep_logs(run, tmp_path / "bench-results" / "2026-12-03T190000Z-logs")
    # Then the logs with something in them are kept, named by stage and worker
    assert kept is not None
    assert sorted(p.name for p in kept.iterdir()) == ["bench0a1b2c3d-sla_timer.log"]
    assert (kept / "bench0a1b2c3d-sla_timer.log").read_bytes().splitlines() == [
        b"WARNING sla_timer: a step fell due 71 s late",
        b"INFO sla_timer: started",
    ]
    # And a worker's environment names that home (not the developer's `.complaintflow`)
    assert worker_env(first, 9000)["CF_HOME"] == str(run / "bench0a1b2c3d")


def test_a_run_whose_workers_said_nothing_keeps_no_folder(tmp_path: Path):
    worker_log(Settings(home=tmp_path / "run" / "bench1"), "routing").close()
    assert keep_logs(tmp_path / "run", tmp_path / "out") is None
    assert not (tmp_path / "out").exists()
