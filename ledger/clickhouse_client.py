"""Opening a clickhouse-connect HTTP client from a URL, as against any ClickHouse server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect

from auditledger.config import Settings, with_stack_credentials


class StoreUnreachableError(RuntimeError):
    """The ClickHouse store did not answer; verification cannot run (exit 2, not 'failed')."""


def store_client(settings: Settings, url: str | None = None, **kwargs: Any) -> Any:
    """The store named by the settings (URL, database, credentials): how every CLI and tool opens it.
    Against the local stack's store with no user named, the stack's admin (stack.json) is used."""
    if url and url != settings.clickhouse_url:
        settings = replace(settings, clickhouse_url=url)
    settings = with_stack_credentials(settings)
    return connect(url or settings.clickhouse_url, settings.clickhouse_database,
                   user=settings.clickhouse_user, password=settings.clickhouse_password, **kwargs)  # fmt: skip


def connect(url: str, database: str = "default", user: str = "", password: str = "", **kwargs: Any) -> Any:
    """A client for the ClickHouse server at `url`; credentials in the URL win over `user`/`password`."""
    if not url:
        raise StoreUnreachableError(
            "no ClickHouse URL: start the stack (auditledger stack up) or set AUDITLEDGER_CLICKHOUSE_URL"
        )
    parsed = urlparse(url)
    try:
        return clickhouse_connect.get_client(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 8123,
            username=parsed.username or user or "default",
            password=parsed.password or password or "",
            secure=parsed.scheme == "https",
            database=database,
            **kwargs,
        )
    except Exception as exc:
        raise StoreUnreachableError(f"ClickHouse at {parsed.hostname}:{parsed.port} did not answer: {exc}") from exc
