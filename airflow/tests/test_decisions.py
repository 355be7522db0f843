"""The pure decisions of elt_common.decisions: both ways of every branch."""

from __future__ import annotations

import datetime as dt

import pytest

from elt_common.decisions import (
    dbt_counts,
    dbt_failures,
    failure_summary,
    is_full_refresh_day,
    job_verdict,
    lag_verdict,
    parse_weekday,
    plan_repair,
    prune_verdict,
    tables_still_broken,
)
from elt_common.settings import load_settings

STREAMING = {
    "slot": "elt_slot",
    "phase": "streaming",
    "status": "streaming",
    "heartbeat_fresh": True,
    "heartbeat_age_seconds": 1.0,
    "lag_seconds": 2.0,
    "lag_bytes": 100.0,
    "wal_status": "reserved",
}


def table(name: str, state: str = "streaming", error: str | None = None, job: int | None = None) -> dict:
    return {"table": name, "state": state, "last_error": error, "active_resync_job_id": job}


class TestLag:
    def test_caught_up(self):
        v = lag_verdict(STREAMING, max_lag_seconds=300)
        assert (v.done, v.slot_lost) == (True, False)

    def test_behind_in_seconds(self):
        v = lag_verdict({**STREAMING, "lag_seconds": 301.0}, max_lag_seconds=300)
        assert not v.done and "301.0 s is above the 300 s" in v.reason

    def test_behind_in_bytes(self):
        v = lag_verdict({**STREAMING, "lag_bytes": 2e9}, max_lag_seconds=300, max_lag_bytes=1e9)
        assert not v.done and "bytes" in v.reason

    def test_byte_limit_off(self):
        assert lag_verdict({**STREAMING, "lag_bytes": 2e12}, max_lag_seconds=300, max_lag_bytes=None).done

    def test_snapshotting_waits(self):
        assert not lag_verdict({**STREAMING, "phase": "snapshotting"}, 300).done

    def test_stale_heartbeat_waits_even_with_zero_lag(self):
        v = lag_verdict(
            {**STREAMING, "heartbeat_fresh": False, "heartbeat_age_seconds": 900.0, "lag_seconds": 0.0}, 300
        )
        assert not v.done and "900 s ago" in v.reason

    def test_no_lag_reported_waits(self):
        assert not lag_verdict({**STREAMING, "lag_seconds": None}, 300).done

    def test_lost_slot_ends_the_wait(self):
        v = lag_verdict({**STREAMING, "wal_status": "lost", "lag_seconds": 99999.0}, 300)
        assert (v.done, v.slot_lost) == (True, True)


class TestPlanRepair:
    def test_healthy_replica_needs_nothing(self):
        plan = plan_repair(STREAMING, [table("public.orders"), table("public.customers", "resyncing", job=3)])
        assert not plan.needed and plan.request_body("x") is None

    def test_tables_in_error_are_resynced(self):
        plan = plan_repair(
            STREAMING, [table("public.orders", "error", "boom"), table("public.customers"), table("public.a", "error")]
        )
        assert plan.needed
        assert plan.tables == ("public.a", "public.orders")
        assert plan.request_body("airflow") == {"tables": ["public.a", "public.orders"], "requested_by": "airflow"}
        assert plan.reasons == ("public.a is in error: no error message", "public.orders is in error: boom")

    def test_error_with_active_job_waits_for_it(self):
        plan = plan_repair(STREAMING, [table("public.orders", "error", "boom", job=7)])
        assert plan.needed and plan.tables == () and plan.existing_jobs == (7,)
        assert plan.request_body("x") is None

    def test_tables_that_differ_from_the_source_are_resynced_or_waited_for(self):
        verify = [
            {"table": "public.orders", "outcome": "differs", "rows_differing": 3, "finished_at": "T"},
            {"table": "public.customers", "outcome": "equal", "rows_differing": 0, "finished_at": "T"},
            {"table": "public.a", "outcome": "differs", "rows_differing": 1, "finished_at": "T"},
        ]
        plan = plan_repair(
            STREAMING, [table("public.orders"), table("public.customers"), table("public.a", job=9)], verify
        )
        assert plan.tables == ("public.orders",) and plan.existing_jobs == (9,)
        assert plan.reasons == (
            "public.a differs from the source: 1 rows at the verification of T",
            "public.orders differs from the source: 3 rows at the verification of T",
        )
        assert tables_still_broken([table("public.orders"), table("public.customers")], verify_results=verify) == [
            "public.orders differs from the source: 3 rows at the verification of T"
        ]
        assert not plan_repair(
            STREAMING, [table("public.orders")], [{"table": "public.orders", "outcome": "skipped"}]
        ).needed

    def test_lost_slot_resyncs_everything(self):
        plan = plan_repair({**STREAMING, "wal_status": "lost"}, [table("public.orders"), table("public.customers")])
        assert plan.resync_all and plan.request_body("x") == {"all": True, "requested_by": "x"}

    def test_lost_slot_with_active_job_names_the_rest(self):
        plan = plan_repair(
            {**STREAMING, "wal_status": "lost"}, [table("public.orders", job=4), table("public.customers")]
        )
        assert not plan.resync_all and plan.tables == ("public.customers",) and plan.existing_jobs == (4,)


class TestJobs:
    def job(self, state: str, **extra) -> dict:
        return {
            "id": 5,
            "state": state,
            "error": None,
            "progress": {"tables_total": 1, "tables_done": 0, "rows_copied": 10, "percent": 50.0},
            "tables": [],
            **extra,
        }

    @pytest.mark.parametrize("state", ["queued", "running"])
    def test_unfinished(self, state):
        v = job_verdict(self.job(state))
        assert not v.finished and state in v.message

    def test_succeeded(self):
        v = job_verdict(self.job("succeeded"))
        assert v.finished and v.succeeded

    def test_failed_names_table_and_error(self):
        v = job_verdict(
            self.job(
                "failed",
                error="public.orders: denied",
                tables=[{"table": "public.orders", "state": "failed", "error": "permission denied for table orders"}],
            )
        )
        assert v.finished and not v.succeeded
        assert v.message == "resync job 5 failed: public.orders: permission denied for table orders"

    def test_cancelled_is_a_failure(self):
        v = job_verdict(self.job("cancelled"))
        assert v.finished and not v.succeeded

    def test_tables_still_broken(self):
        tables = [table("public.orders", "error", "x"), table("public.b")]
        assert tables_still_broken(tables) == ["public.orders (x)"]
        assert tables_still_broken(tables, ["public.b"]) == []


def test_dbt_results_summaries():
    results = {
        "results": [
            {"unique_id": "model.elt.a", "status": "success"},
            {
                "unique_id": "test.elt.t1",
                "status": "fail",
                "message": "Got 3 results, configured to fail if != 0\nmore",
            },
            {"unique_id": "model.elt.b", "status": "error", "message": "relation does not exist"},
            {"unique_id": "model.elt.c", "status": "skipped"},
        ]
    }
    assert dbt_counts(results) == {"error": 1, "fail": 1, "skipped": 1, "success": 1}
    assert dbt_failures(results) == [
        "test.elt.t1: fail (Got 3 results, configured to fail if != 0)",
        "model.elt.b: error (relation does not exist)",
    ]


def test_failure_summary_names_task_try_and_cause():
    text = failure_summary(
        dag_id="elt_dag",
        run_id="r1",
        task_id="wait_for_resync",
        try_number=1,
        max_tries=4,
        error=RuntimeError("job 3 failed"),
        details=["next: look"],
    )
    assert text.splitlines() == [
        "ELT FAILURE dag=elt_dag run=r1 task=wait_for_resync (try 1 of 4): RuntimeError: job 3 failed",
        "  - next: look",
    ]


class TestMaintenance:
    def test_weekday(self):
        assert parse_weekday("sunday") == parse_weekday("Sun") == parse_weekday("6") == 6
        with pytest.raises(ValueError, match="ELT_FULL_REFRESH_WEEKDAY"):
            parse_weekday("someday")

    def test_full_refresh_day_both_ways(self):
        assert is_full_refresh_day(dt.date(2026, 11, 29), 6)  # a Sunday
        assert not is_full_refresh_day(dt.date(2026, 11, 27), 6)

    def test_prune_job_running(self):
        v = prune_verdict({"id": 4, "state": "running"})
        assert (v.finished, v.succeeded, v.message) == (False, False, "prune job 4 is running")

    def test_prune_job_succeeded(self):
        job = {
            "id": 4,
            "state": "succeeded",
            "rows_pruned": 12,
            "cutoff": "2026-01-01T00:00:00.000000Z",
            "tables": {"public.orders": 10, "public.a": 2},
        }
        v = prune_verdict(job)
        assert (v.finished, v.succeeded) == (True, True)
        assert (
            v.message
            == "prune job 4 succeeded: 12 rows deleted before 2026-01-01T00:00:00.000000Z removed (public.a: 2, public.orders: 10)"
        )

    def test_prune_job_failed(self):
        v = prune_verdict({"id": 5, "state": "failed", "error": "canceling statement due to lock timeout"})
        assert (v.finished, v.succeeded) == (True, False) and "lock timeout" in v.message


class TestSettings:
    def test_defaults(self):
        s = load_settings({})
        assert (s.schedule, s.max_lag_seconds, s.retries, s.dbt_bin) == ("@hourly", 300, 3, "dbt")
        assert s.prune_after_days == 7

    def test_overrides(self):
        s = load_settings({"ELT_DAG_SCHEDULE": "none", "ELT_MAX_LAG_BYTES": "off", "ELT_DBT_VENV": "/v"})
        assert s.schedule is None and s.max_lag_bytes is None and s.dbt_bin == "/v/bin/dbt"
        assert load_settings({"ELT_PRUNE_AFTER_DAYS": "off"}).prune_after_days is None
        assert load_settings({"ELT_PRUNE_AFTER_DAYS": "30"}).prune_after_days == 30

    def test_bad_value_names_the_variable(self):
        with pytest.raises(ValueError, match="ELT_MAX_LAG_SECONDS='soon' is not a number"):
            load_settings({"ELT_MAX_LAG_SECONDS": "soon"})
