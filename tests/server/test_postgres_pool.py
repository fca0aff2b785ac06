"""The PostgreSQL store's connection pool: a connection handed out costs no round trip while it is
sound, one the database ended while it sat in the pool is replaced before anyone uses it, and every
connection commits durably whatever the database's own setting."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
import pytest

import dbbackend
from server.store.postgres import PostgresStore, check_idle
from waiting import wait_until

pytestmark = pytest.mark.postgresql_only(reason="the connection pool is the PostgreSQL store's")


def _last_query(admin: psycopg.Connection, pid: int) -> str | None:
    row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row[0] if row else None


def test_checking_a_sound_idle_connection_sends_it_nothing(data_dir) -> None:
    url = dbbackend.database_url(data_dir)
    with psycopg.connect(url, autocommit=True) as admin, psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 'the last query'")
        check_idle(conn)
        assert _last_query(admin, conn.info.backend_pid) == "SELECT 'the last query'"


def test_a_connection_the_database_ended_in_the_pool_is_replaced_unnoticed(data_dir) -> None:
    url = dbbackend.database_url(data_dir)
    store = PostgresStore(url, pool_size=1, migrate_schema=False)  # one connection: the next request gets this one
    try:
        backend = store.lookup(lambda tx: tx._one("SELECT pg_backend_pid()")[0])
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            wait_until(lambda: _last_query(admin, backend) is None, "the terminated session to end")
        assert store.read(lambda tx: tx._one("SELECT pg_backend_pid()")[0]) != backend
    finally:
        store.close()


def test_a_database_set_to_acknowledge_commits_before_they_are_durable_is_overridden(data_dir) -> None:
    # `synchronous_commit = off` (set for speed on the server, its database or the role; here in the
    # URL, as the shared test server must keep its own) acknowledges a commit before its WAL is
    # flushed: a crash of PostgreSQL then lost two of 779 acknowledged creates
    url = dbbackend.database_url(data_dir) + quote(" -csynchronous_commit=off")
    with psycopg.connect(url, autocommit=True) as plain:
        assert plain.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    store = PostgresStore(url, pool_size=2, migrate_schema=False)
    try:
        assert store.lookup(lambda tx: tx._one("SHOW synchronous_commit")[0]) == "on"
        assert store.write(lambda tx: tx._one("SHOW synchronous_commit")[0]) == "on"
    finally:
        store.close()


def test_a_stronger_setting_of_the_database_is_kept(data_dir) -> None:
    url = dbbackend.database_url(data_dir) + quote(" -csynchronous_commit=remote_apply")
    store = PostgresStore(url, pool_size=2, migrate_schema=False)
    try:
        assert store.write(lambda tx: tx._one("SHOW synchronous_commit")[0]) == "remote_apply"
    finally:
        store.close()
