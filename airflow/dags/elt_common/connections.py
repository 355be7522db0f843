"""The elt REST API client and the destination database settings, resolved at task run time.

Where they come from, first match wins:

- API: the Airflow connection `elt_api` (HTTP; host and port, or a full URL in host;
  the bearer token as its password), else ELT_API_URL and ELT_API_TOKEN.
- Destination (for dbt): the Airflow connection `elt_destination`
  (Postgres), else ELT_DBT_HOST/PORT/USER/PASSWORD/DBNAME as they are, else ELT_DESTINATION_URL.

Connections never hold anything at parse time: these functions run inside tasks only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import requests


class ApiError(Exception):
    """The API answered with an error, or did not answer."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.code = code
        #: Worth retrying: unreachable, 5xx/503 (destination down, replicator not ready), timeout.
        self.transient = transient


def _lookup_connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined (only callable inside a task)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


@dataclass(frozen=True)
class EltApi:
    base_url: str
    token: str | None = None
    timeout: float = 15.0

    @classmethod
    def resolve(cls, conn_id: str) -> EltApi:
        conn = _lookup_connection(conn_id)
        if conn is not None and conn.host:
            host = conn.host.rstrip("/")
            if "://" not in host:
                scheme = conn.schema if conn.schema in ("http", "https") else "http"
                host = f"{scheme}://{host}"
            if conn.port:
                host = f"{host}:{conn.port}"
            return cls(host, conn.password or os.environ.get("ELT_API_TOKEN") or None)
        url = os.environ.get("ELT_API_URL", "").strip()
        if not url:
            raise ApiError(
                f"No API address: define the Airflow connection {conn_id!r} (e.g. AIRFLOW_CONN_ELT_API='http://:TOKEN@127.0.0.1:5001') "
                "or set ELT_API_URL (and ELT_API_TOKEN)."
            )
        return cls(url.rstrip("/"), os.environ.get("ELT_API_TOKEN") or None)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        url = f"{self.base_url}{path}"
        try:
            response = requests.request(method, url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise ApiError(f"{method} {url} failed: {error.__class__.__name__}: {error}", transient=True) from error
        if response.status_code < 400:
            return response.json()
        try:
            err = response.json().get("error", {})
        except ValueError:
            err = {}
        message = err.get("message") or response.text[:300]
        raise ApiError(
            f"{method} {url} answered {response.status_code}: {message}",
            status=response.status_code,
            code=err.get("code"),
            transient=response.status_code >= 500 or response.status_code == 429,
        )

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/v1/status")

    def tables(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/tables")["tables"])

    def verify_results(self) -> list[dict[str, Any]]:
        """GET /v1/verify: the last verification of each table (none from an API older than elt verify)."""
        try:
            return list(self._request("GET", "/v1/verify")["results"])
        except ApiError as error:
            if error.status == 404 and error.code == "not_found":
                return []
            raise

    def request_resync(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            raise ApiError(
                "POST /v1/resync needs a token: set the password of the elt_api connection or ELT_API_TOKEN."
            )
        return self._request("POST", "/v1/resync", body)

    def job(self, job_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/resync/{int(job_id)}")

    def request_prune(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            raise ApiError("POST /v1/prune needs a token: set the password of the elt_api connection or ELT_API_TOKEN.")
        return self._request("POST", "/v1/prune", body)

    def prune_job(self, job_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/prune/{int(job_id)}")


@dataclass(frozen=True)
class Destination:
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    dbname: str | None

    def dbt_env(self) -> dict[str, str]:
        """The ELT_DBT_* variables custom_postgres/profiles.yml reads (only those known)."""
        pairs = {
            "ELT_DBT_HOST": self.host,
            "ELT_DBT_PORT": None if self.port is None else str(self.port),
            "ELT_DBT_USER": self.user,
            "ELT_DBT_PASSWORD": self.password,
            "ELT_DBT_DBNAME": self.dbname,
        }
        return {k: v for k, v in pairs.items() if v is not None}

    def psycopg2_kwargs(self) -> dict[str, Any]:
        kwargs = {
            "host": self.host or "127.0.0.1",
            "port": self.port or 5434,
            "user": self.user or "postgres",
            "dbname": self.dbname or "analytics",
        }
        if self.password:
            kwargs["password"] = self.password
        return kwargs


def destination_from_url(url: str) -> Destination:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"ELT_DESTINATION_URL must be a postgres:// URL, not {parts.scheme or 'empty'}://")
    return Destination(
        host=parts.hostname,
        port=parts.port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        dbname=parts.path.lstrip("/") or None,
    )


def resolve_destination(conn_id: str) -> Destination:
    conn = _lookup_connection(conn_id)
    if conn is not None:
        return Destination(
            conn.host or None, conn.port or None, conn.login or None, conn.password or None, conn.schema or None
        )
    if any(os.environ.get(name) for name in ("ELT_DBT_HOST", "ELT_DBT_PORT", "ELT_DBT_DBNAME")):
        env = os.environ
        port = env.get("ELT_DBT_PORT")
        return Destination(
            env.get("ELT_DBT_HOST"),
            int(port) if port else None,
            env.get("ELT_DBT_USER"),
            env.get("ELT_DBT_PASSWORD"),
            env.get("ELT_DBT_DBNAME"),
        )
    url = os.environ.get("ELT_DESTINATION_URL", "").strip()
    if url:
        return destination_from_url(url)
    # profiles.yml defaults: the `make up` stack (127.0.0.1:5434/analytics as postgres).
    return Destination(None, None, None, None, None)
