"""Import one DAG file the way the DAG processor parses it, and report what the import did.

Run as `python dag_import_probe.py DAG_FILE` in a fresh interpreter (test_dag_parse_time.py does): Airflow and
its task SDK are imported first, as the DAG processor has them loaded already; then every way to reach a
server (a socket connect, psycopg2 or psycopg, sqlite) is replaced by one that records the attempt and fails,
and the DAG file is imported. Prints one JSON object: the import's CPU seconds (this process's, so that a
loaded machine, where the import waits for a core, does not count against it), the attempts, the error if any.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import sys
import time
import traceback
from pathlib import Path

import airflow.sdk  # noqa: F401 (loaded before the clock starts, as in the DAG processor)

attempts: list[str] = []


def refuse(what: str):
    def refused(*args, **kwargs):
        attempts.append(f"{what}{args!r:.200} {kwargs!r:.200}")
        raise ConnectionRefusedError(f"{what} at import time")

    return refused


socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.create_connection = refuse("socket.create_connection")
sqlite3.connect = refuse("sqlite3.connect")
for module_name in ("psycopg2", "psycopg"):
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        continue
    module.connect = refuse(f"{module_name}.connect")

path = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location(f"probe_{path.stem}", path)
assert spec and spec.loader
error = None
start = time.process_time()
try:
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
except Exception:
    error = traceback.format_exc()
seconds = time.process_time() - start
print(json.dumps({"seconds": seconds, "attempts": attempts, "error": error}))
