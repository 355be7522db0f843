"""The decisions the elt DAGs take, as pure functions of what the API returned.

No I/O here: every function takes the parsed JSON of an API answer (GET /v1/status,
GET /v1/tables, GET /v1/resync/{id}, GET /v1/prune/{id}, GET /v1/verify) or a dbt artifact and returns a value. The tasks in
elt_dag.py only fetch, call these and act, so the branching is tested without a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: GET /v1/status `wal_status` when the source removed WAL the slot still needed.
SLOT_LOST = "lost"
#: Resync job states after which the job never changes again.
JOB_FINISHED = frozenset({"succeeded", "failed", "cancelled"})

JsonObject = Mapping[str, Any]


# ---------------------------------------------------------------------------------------
# Lag: is the replica caught up enough to build marts from?
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LagVerdict:
    """What the lag sensor concluded from one GET /v1/status."""

    #: The sensor may stop waiting (caught up, or waiting cannot help: slot lost).
    done: bool
    #: The slot was invalidated: only a full resync repairs the replica.
    slot_lost: bool
    #: One sentence for the task log.
    reason: str


def lag_verdict(status: JsonObject, max_lag_seconds: float, max_lag_bytes: float | None = None) -> LagVerdict:
    """Caught up = streaming, fresh heartbeat, lag under the thresholds; a lost slot ends the wait too."""
    if status.get("wal_status") == SLOT_LOST:
        return LagVerdict(True, True, f"slot {status.get('slot')} is lost (wal_status=lost): a full resync is needed")
    phase = status.get("phase")
    if phase != "streaming":
        return LagVerdict(False, False, f"the replicator is still {phase} (initial snapshot), not streaming yet")
    if not status.get("heartbeat_fresh"):
        age = status.get("heartbeat_age_seconds")
        age_text = "never" if age is None else f"{age:.0f} s ago"
        return LagVerdict(
            False,
            False,
            f"the replicator's last heartbeat was {age_text} (status {status.get('status')!r}): is it running?",
        )
    lag_seconds = status.get("lag_seconds")
    lag_bytes = status.get("lag_bytes")
    if lag_seconds is None:
        return LagVerdict(False, False, "the replicator has not reported a lag yet")
    if lag_seconds > max_lag_seconds:
        return LagVerdict(False, False, f"lag {lag_seconds:.1f} s is above the {max_lag_seconds:g} s threshold")
    if max_lag_bytes is not None and lag_bytes is not None and lag_bytes > max_lag_bytes:
        return LagVerdict(False, False, f"lag {lag_bytes:.0f} bytes is above the {max_lag_bytes:.0f} bytes threshold")
    bytes_text = "unknown" if lag_bytes is None else f"{lag_bytes:.0f}"
    return LagVerdict(True, False, f"caught up: lag {lag_seconds:.1f} s, {bytes_text} bytes")


# ---------------------------------------------------------------------------------------
# Repair: tables in error or a lost slot -> resync through the API
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairPlan:
    """What to ask the API for before dbt may run."""

    #: POST /v1/resync {"all": true}.
    resync_all: bool = False
    #: POST /v1/resync {"tables": [...]} (empty with resync_all).
    tables: tuple[str, ...] = ()
    #: Resync jobs already queued or running for broken tables: wait for them instead.
    existing_jobs: tuple[int, ...] = ()
    #: Why, one entry per problem, for the log.
    reasons: tuple[str, ...] = field(default=())

    @property
    def needed(self) -> bool:
        return self.resync_all or bool(self.tables) or bool(self.existing_jobs)

    def request_body(self, requested_by: str) -> dict[str, Any] | None:
        """The POST /v1/resync body, or None when nothing new has to be queued."""
        if self.resync_all:
            return {"all": True, "requested_by": requested_by}
        if self.tables:
            return {"tables": list(self.tables), "requested_by": requested_by}
        return None


def differing_tables(verify_results: Sequence[JsonObject]) -> dict[str, str]:
    """The tables whose last verification (GET /v1/verify `results`) found rows that differ, with why."""
    return {
        str(
            r["table"]
        ): f"{r['table']} differs from the source: {r.get('rows_differing')} rows at the verification of {r.get('finished_at')}"
        for r in verify_results
        if r.get("outcome") == "differs"
    }


def plan_repair(
    status: JsonObject, tables: Sequence[JsonObject], verify_results: Sequence[JsonObject] = ()
) -> RepairPlan:
    """Decide the repair from GET /v1/status, GET /v1/tables (`tables` is its `tables` list) and GET /v1/verify.

    - A lost slot: every table is copied again (`all`), unless some already have a resync
      queued: then those jobs are waited for and the others are named.
    - Tables in state `error`, and tables whose last verification found differing rows (a
      resync clears that result): each is resynced, or its active job waited for. Marts are
      never built from a table known to differ.
    Tables `resyncing` without an error keep serving their old rows until the swap, so dbt
    does not wait for them.
    """
    active = {
        str(t["table"]): int(t["active_resync_job_id"]) for t in tables if t.get("active_resync_job_id") is not None
    }
    if status.get("wal_status") == SLOT_LOST:
        reasons = (f"slot {status.get('slot')} is lost (wal_status=lost)",)
        if not active:
            return RepairPlan(resync_all=True, reasons=reasons)
        rest = tuple(sorted(str(t["table"]) for t in tables if str(t["table"]) not in active))
        return RepairPlan(tables=rest, existing_jobs=tuple(sorted(set(active.values()))), reasons=reasons)

    differing = differing_tables(verify_results)
    broken = sorted(
        (t for t in tables if t.get("state") == "error" or str(t["table"]) in differing), key=lambda t: str(t["table"])
    )
    reasons = tuple(
        f"{t['table']} is in error: {t.get('last_error') or 'no error message'}"
        if t.get("state") == "error"
        else differing[str(t["table"])]
        for t in broken
    )
    new = tuple(str(t["table"]) for t in broken if str(t["table"]) not in active)
    waiting = tuple(sorted({active[str(t["table"])] for t in broken if str(t["table"]) in active}))
    return RepairPlan(tables=new, existing_jobs=waiting, reasons=reasons)


# ---------------------------------------------------------------------------------------
# Resync jobs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobVerdict:
    """One GET /v1/resync/{id} judged."""

    finished: bool
    succeeded: bool
    message: str


def job_verdict(job: JsonObject) -> JobVerdict:
    """Is the resync job finished, did it succeed, and one sentence saying so."""
    state = job.get("state")
    job_id = job.get("id")
    progress = job.get("progress") or {}
    if state not in JOB_FINISHED:
        pct = progress.get("percent")
        pct_text = "" if pct is None else f", {pct:.0f}%"
        return JobVerdict(
            False,
            False,
            f"resync job {job_id} is {state} ({progress.get('tables_done', 0)}/{progress.get('tables_total', '?')} tables{pct_text})",
        )
    if state == "succeeded":
        return JobVerdict(True, True, f"resync job {job_id} succeeded ({progress.get('rows_copied', 0)} rows copied)")
    failed = [
        f"{t.get('table')}: {t.get('error')}"
        for t in job.get("tables", [])
        if t.get("state") == "failed" and t.get("error")
    ]
    detail = "; ".join(failed) or job.get("error") or "no error message"
    return JobVerdict(True, False, f"resync job {job_id} {state}: {detail}")


def tables_still_broken(
    tables: Sequence[JsonObject], names: Sequence[str] | None = None, verify_results: Sequence[JsonObject] = ()
) -> list[str]:
    """The tables (all, or only `names`) whose state is still `error`, with their last error, or that still differ."""
    wanted = None if names is None else set(names)
    differing = differing_tables(verify_results)
    return [
        f"{t['table']} ({t.get('last_error') or 'no error message'})"
        if t.get("state") == "error"
        else differing[str(t["table"])]
        for t in tables
        if (t.get("state") == "error" or str(t["table"]) in differing) and (wanted is None or t["table"] in wanted)
    ]


# ---------------------------------------------------------------------------------------
# dbt artifacts and failure summaries
# ---------------------------------------------------------------------------------------

_DBT_BAD = frozenset({"error", "fail", "runtime error"})


def dbt_failures(run_results: JsonObject) -> list[str]:
    """Failing nodes of a dbt run_results.json: `unique_id: status (message)`."""
    out = []
    for result in run_results.get("results", []):
        if result.get("status") in _DBT_BAD:
            message = (result.get("message") or "").strip().splitlines()
            out.append(f"{result.get('unique_id')}: {result.get('status')}" + (f" ({message[0]})" if message else ""))
    return out


def dbt_counts(run_results: JsonObject) -> dict[str, int]:
    """How many nodes of a dbt run ended in each status (success, pass, fail, error, skipped, ...)."""
    counts: dict[str, int] = {}
    for result in run_results.get("results", []):
        status = str(result.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def failure_summary(
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int | None,
    max_tries: int | None,
    error: BaseException | str | None,
    details: Sequence[str] = (),
) -> str:
    """The one block a failure callback logs: what failed, where, why, and what to look at."""
    tries = "" if try_number is None else f" (try {try_number} of {max_tries if max_tries is not None else '?'})"
    what = (
        f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else (error or "no exception recorded")
    )
    lines = [f"ELT FAILURE dag={dag_id} run={run_id} task={task_id}{tries}: {what}"]
    lines += [f"  - {d}" for d in details]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Maintenance
# ---------------------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(value: str) -> int:
    """`sunday` / `Sun` / `6` -> 6 (Monday is 0, as datetime.weekday())."""
    text = value.strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValueError(
        f"ELT_FULL_REFRESH_WEEKDAY={value!r} is not a weekday: use a name like sunday or a number 0 (Monday)-6"
    )


def is_full_refresh_day(day: dt.date | dt.datetime, weekday: int) -> bool:
    return day.weekday() == weekday


def prune_verdict(job: JsonObject) -> JobVerdict:
    """Is the prune job (GET /v1/prune/{id}) finished, did it succeed, and one sentence saying so."""
    state = job.get("state")
    job_id = job.get("id")
    if state not in ("succeeded", "failed"):
        return JobVerdict(False, False, f"prune job {job_id} is {state}")
    if state == "failed":
        return JobVerdict(True, False, f"prune job {job_id} failed: {job.get('error') or 'no error message'}")
    tables = job.get("tables") or {}
    detail = ", ".join(f"{name}: {rows}" for name, rows in sorted(tables.items())) or "none"
    return JobVerdict(
        True,
        True,
        f"prune job {job_id} succeeded: {job.get('rows_pruned', 0)} rows deleted before {job.get('cutoff')} removed ({detail})",
    )
