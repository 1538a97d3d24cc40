"""Helpers for tests that drive real separate processes against one database (issue 8, points 3
and 5): a SQLite file in WAL mode, or in the PostgreSQL pass the suite's own database (its
migrated schema, truncated after each test by `tests/conftest.py`'s `app` fixture).

Children are started with the "spawn" method: each is a fresh interpreter that builds its own
app with `create_app({...})`, as a second web worker would; nothing (no pooled connection, no
session) is inherited from the test process.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from pars_app import create_app
from pars_app.config import normalise_database_url
from pars_app.extensions import db
from tests.conftest import IS_PG, PG_URL

SPAWN = multiprocessing.get_context("spawn")
WAIT = 60  # seconds any one wait may take before the test gives up (a hung child, not a timing)


def app_for(url: str, **config: Any) -> Flask:
    """An app of its own on `url`, as each process of a deployment builds one."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": "x",
            "PARS_JOB_BACKEND": "immediate",
        }
        | config
    )


@contextmanager
def shared_database(request: pytest.FixtureRequest, tmp_path, **config: Any) -> Iterator[tuple]:
    """(app, url) of a database several processes can open: the PostgreSQL suite's database,
    or a fresh SQLite file (WAL, the app's own connect pragmas) in `tmp_path`. `config`
    overrides the app's settings (the job backend, say)."""
    if IS_PG:
        request.getfixturevalue("app")  # the migrated schema, and its truncation afterwards
        url = normalise_database_url(PG_URL)
    else:
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    app = app_for(url, **config)
    with app.app_context():
        if not IS_PG:
            db.create_all()
            with db.engine.connect() as conn:  # the races are only meaningful in WAL mode
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    try:
        yield app, url
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # no pooled connection may outlive the test (PG's TRUNCATE)


def on_statement(
    when: str, starts_with: str, action: Callable[[], None], once: bool = True
) -> Callable[[], None]:
    """Run `action` before or after (`when`) the first statement that starts with
    `starts_with` on this process's engine; returns the function that removes the hook.

    Fault injection and statement ordering for the test harness: the app's code runs as is.
    """
    name = f"{when}_cursor_execute"
    fired = False

    def hook(conn, cursor, statement, parameters, context, executemany) -> None:
        nonlocal fired
        if (once and fired) or not statement.lstrip().upper().startswith(starts_with):
            return
        fired = True
        action()

    event.listen(db.engine, name, hook)
    return lambda: event.remove(db.engine, name, hook)


def run_child(target: Callable[..., None], *args: Any) -> None:
    """A child's entry point: run `target(*args)`; a failure reaches the test as text on the
    results queue (the last argument) instead of as a bare non-zero exit code."""
    try:
        target(*args)
    except BaseException:
        args[-1].put(("error", traceback.format_exc()))
        raise


def start(target: Callable[..., None], *args: Any):
    """Start `target(*args)` in a fresh process (spawn); `target` must be module-level."""
    child = SPAWN.Process(target=run_child, args=(target, *args))
    child.start()
    return child


def collect(results, expected: int, children: list) -> list[tuple]:
    """`expected` results from the children, then their clean exit; a child's error fails."""
    got: list[tuple] = []
    try:
        while len(got) < expected:
            item = results.get(timeout=WAIT)
            if item[0] == "error":
                pytest.fail(f"a child process failed:\n{item[1]}")
            got.append(item)
    finally:
        for child in children:
            child.join(WAIT)
            if child.is_alive():
                child.kill()
                child.join(WAIT)
    assert [c.exitcode for c in children] == [0] * len(children)
    return got
