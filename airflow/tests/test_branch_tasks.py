"""The branch at task level: `airflow dags test elt_dag` against a scripted API (a real HTTP
server in this process, answering like api/src/routes) with `true` standing in for dbt.

The real API, replicator and dbt are exercised by test_e2e.py; here every branch and the
task states it leads to are checked in seconds.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import REPO_ROOT, run_dag_test

STATUS = {
    "slot": "elt_slot",
    "phase": "streaming",
    "status": "streaming",
    "heartbeat_fresh": True,
    "heartbeat_age_seconds": 1.0,
    "lag_seconds": 0.5,
    "lag_bytes": 0,
    "wal_status": "reserved",
}


class ScriptedApi:
    """GET /v1/status, GET /v1/tables, GET /v1/verify, POST /v1/resync, GET /v1/resync/{id}, with a scripted job."""

    def __init__(
        self,
        tables: list[dict],
        job_states: list[str],
        job_error: str | None = None,
        heal: bool = True,
        verify: list[dict] | None = None,
    ):
        self.tables = tables
        self.verify = verify
        self.job_states = list(job_states)
        self.job_error = job_error
        self.heal = heal
        self.posts: list[dict] = []
        self.lock = threading.Lock()

    def job(self) -> dict:
        with self.lock:
            state = self.job_states.pop(0) if len(self.job_states) > 1 else self.job_states[0]
            if state == "succeeded" and self.heal:
                for t in self.tables:
                    t["state"], t["active_resync_job_id"] = "streaming", None
                if self.verify is not None:  # a resync clears the table's last verification
                    self.verify = []
        failed = state == "failed"
        return {
            "id": 1,
            "slot": "elt_slot",
            "state": state,
            "error": self.job_error if failed else None,
            "progress": {
                "tables_total": 1,
                "tables_done": int(state == "succeeded"),
                "rows_copied": 10,
                "rows_estimated": 10,
                "percent": 100.0,
            },
            "tables": [{"table": "public.orders", "state": state, "error": self.job_error if failed else None}],
        }


def serve(api: ScriptedApi) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def reply(self, code: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/v1/status":
                self.reply(200, STATUS)
            elif self.path == "/v1/tables":
                self.reply(200, {"slot": "elt_slot", "tables": api.tables})
            elif self.path == "/v1/verify" and api.verify is not None:
                self.reply(200, {"results": api.verify})
            elif self.path == "/v1/resync/1":
                self.reply(200, api.job())
            else:
                self.reply(404, {"error": {"code": "not_found", "message": self.path}})

        def do_POST(self):
            if self.headers.get("authorization") != "Bearer t0ken-t0ken-t0ken-1":
                return self.reply(401, {"error": {"code": "unauthorized", "message": "no token"}})
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            api.posts.append(body)
            for t in api.tables:
                if t["table"] in body.get("tables", []):
                    t["active_resync_job_id"] = 1
            self.reply(202, {**api.job(), "state": "queued"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(airflow_db, api: ScriptedApi, tmp_path):
    server = serve(api)
    try:
        env = {
            "ELT_API_URL": f"http://127.0.0.1:{server.server_port}",
            "ELT_API_TOKEN": "t0ken-t0ken-t0ken-1",
            "ELT_DBT_BIN": "true",
            "ELT_DBT_PROJECT_DIR": str(REPO_ROOT / "custom_postgres"),
            "ELT_DBT_ARTIFACTS_DIR": str(tmp_path / "dbt"),
            "ELT_LAG_POKE_SECONDS": "1",
            "ELT_RESYNC_POKE_SECONDS": "1",
            "ELT_RETRY_DELAY_SECONDS": "1",
            "ELT_TASK_RETRIES": "1",
        }
        return run_dag_test(airflow_db, "elt_dag", env, timeout=300)
    finally:
        server.shutdown()


def orders(state: str) -> dict:
    return {
        "table": "public.orders",
        "state": state,
        "last_error": "boom" if state == "error" else None,
        "active_resync_job_id": None,
    }


DBT = ("dbt_source_freshness", "dbt_build_staging", "dbt_build_marts", "dbt_test_reconciliation")


def test_healthy_replica_skips_the_resync(airflow_db, tmp_path):
    api = ScriptedApi([orders("streaming")], ["succeeded"])
    result = run(airflow_db, api, tmp_path)
    assert result.returncode == 0, result.output[-4000:]
    assert result.states["request_resync"] == result.states["wait_for_resync"] == "skipped"
    assert all(result.states[t] == "success" for t in DBT), result.states
    assert api.posts == [] and result.asset_events == 1


def test_table_in_error_is_resynced_then_dbt_runs(airflow_db, tmp_path):
    api = ScriptedApi([orders("error")], ["queued", "running", "succeeded"])
    result = run(airflow_db, api, tmp_path)
    assert result.returncode == 0, result.output[-4000:]
    assert result.states["request_resync"] == result.states["wait_for_resync"] == "success"
    assert all(result.states[t] == "success" for t in DBT), result.states
    assert [p["tables"] for p in api.posts] == [["public.orders"]]
    assert result.asset_events == 1


def test_failed_resync_fails_wait_for_resync_and_blocks_dbt(airflow_db, tmp_path):
    api = ScriptedApi([orders("error")], ["running", "failed"], job_error="permission denied for table orders")
    result = run(airflow_db, api, tmp_path)
    assert result.returncode != 0
    assert result.states["wait_for_resync"] == "failed"
    assert result.tries["wait_for_resync"] == 1  # a failed job is final: no retry
    assert all(result.states[t] == "upstream_failed" for t in DBT), result.states
    assert result.asset_events == 0
    assert "ELT FAILURE dag=elt_dag" in result.output and "task=wait_for_resync" in result.output
    assert "permission denied for table orders" in result.output


DIFFERS = {
    "table": "public.orders",
    "outcome": "differs",
    "rows_differing": 3,
    "finished_at": "2026-01-02T03:04:05.000000Z",
}


def test_table_that_differs_from_the_source_is_resynced_before_dbt(airflow_db, tmp_path):
    api = ScriptedApi([orders("streaming")], ["running", "succeeded"], verify=[dict(DIFFERS)])
    result = run(airflow_db, api, tmp_path)
    assert result.returncode == 0, result.output[-4000:]
    assert "public.orders differs from the source: 3 rows" in result.output
    assert [p["tables"] for p in api.posts] == [["public.orders"]]
    assert all(result.states[t] == "success" for t in DBT), result.states


def test_table_still_differing_after_its_resync_stops_the_marts(airflow_db, tmp_path):
    api = ScriptedApi([orders("streaming")], ["succeeded"], verify=[dict(DIFFERS)])
    api.heal = False  # the verification after the resync found it differing again
    result = run(airflow_db, api, tmp_path)
    assert result.states["wait_for_resync"] == "failed"
    assert "public.orders differs from the source" in result.output
    assert all(result.states[t] == "upstream_failed" for t in DBT), result.states


def test_resync_that_leaves_the_table_in_error_fails_too(airflow_db, tmp_path):
    api = ScriptedApi([orders("error")], ["succeeded"], heal=False)
    result = run(airflow_db, api, tmp_path)
    assert result.states["wait_for_resync"] == "failed"
    assert "still in error: public.orders (boom)" in result.output
    assert all(result.states[t] == "upstream_failed" for t in DBT)
