"""Throughput under gunicorn (issue 7): dashboard requests/s ÷ `/health` requests/s.

gunicorn with 2 sync workers serves the bench's own seeded database (the SQLite file or the
PostgreSQL schema the harness made), with the app's clock in the same close-out season as the
other rows. A load generator on loopback keeps a few connections busy for a fixed time on one
side, then the other (health, dashboard, health, dashboard …), so whatever else the shared
machine does weighs on both. The dashboard is the BIG provider's (50,000 activities), signed in
through the real form; `/health` needs no session. Any answer but 200 fails the row.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import time_machine
from flask import Flask

from pars_app import create_app
from pars_app.services import clock

from .harness import CSRF_META, Bench, Row, _config, measurement
from .soak import _NoRedirect, _serve  # soak's way of starting gunicorn and waiting for /health

WORKERS = 2  # the issue's
CONNECTIONS = 4  # two per worker: one served while the next waits in the listen queue
ROUNDS = 4  # timed rounds of (health, dashboard), after one round of warm-up
TARGET = 0.4  # dashboard requests/s ÷ /health requests/s, at least
NAME = "dashboard requests/s under gunicorn"
SPEC_ENV = "PARS_BENCH_SERVE"  # how the harness tells the workers what to serve (JSON)


def application() -> Flask:
    """gunicorn's app factory (`bench.throughput:application()`), run in each worker: the app
    on the bench's database, with the bench's config, its clock travelled to the harness's."""
    spec = json.loads(os.environ[SPEC_ENV])
    # The same offset from the real clock in every worker, not the same instant at each one's
    # start: workers start apart, and a session cookie signed by a worker whose clock is ahead
    # reads as signed in the future (itsdangerous refuses it) on the other, a 302 to /login.
    # Started and never stopped: the traveller lives as long as the worker process. Its clock
    # starts ticking at the first reading, not at start(): read it at once.
    time_machine.travel(time.time() + spec["offset"], tick=True).start()
    time.time()
    return create_app(_config(spec["uri"], spec["options"]))


@dataclass
class Side:
    """What one URL got over all timed rounds."""

    path: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _drive(host: str, port: int, side: Side, headers: dict[str, str], seconds: float) -> None:
    """CONNECTIONS threads, each sending GETs back to back (a new connection each: gunicorn's
    sync workers close it after every response) until `seconds` have passed. The side's time
    runs until the last answer is in, so requests started near the end count whole."""
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=120)
                try:
                    conn.request("GET", side.path, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                finally:
                    conn.close()
            except OSError as err:
                with lock:
                    side.errors.append(f"GET {side.path}: {type(err).__name__}: {err}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    side.requests += 1
                    side.latencies.append(elapsed)
                else:
                    side.errors.append(f"GET {side.path} answered {status}")

    began = time.perf_counter()
    threads = [threading.Thread(target=loop, daemon=True) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    side.seconds += time.perf_counter() - began


def _sign_in(base: str, email: str, password: str) -> str:
    """The session cookie (as a Cookie header) of a sign-in through the real form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    with opener.open(base + "/login", timeout=60) as resp:
        token = CSRF_META.search(resp.read().decode())
    assert token, "no CSRF meta tag on /login"
    form = {"email": email, "password": password, "csrf_token": token[1]}
    try:
        status = opener.open(base + "/login", urllib.parse.urlencode(form).encode()).status
    except urllib.error.HTTPError as err:  # the 302 we want arrives as an error (no redirect)
        status = err.code
    assert status == 302, f"sign-in over HTTP failed for {email} ({status})"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


@measurement
def throughput(b: Bench) -> list[Row]:
    """Dashboard requests/s of the BIG provider ÷ /health requests/s, 2 gunicorn workers."""
    uri = b.app.config["SQLALCHEMY_DATABASE_URI"]
    options = b.app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    database = "PostgreSQL" if uri.startswith("postgresql") else "SQLite"
    size = f"{b.seeded.big.activities:,} activities; {WORKERS} workers"
    # The app's clock is travelled (the season); the workers keep the same offset from the real one.
    offset = clock.now().timestamp() - time_machine.escape_hatch.time.time()
    spec = {"uri": uri, "options": options, "offset": offset}
    slice_s = b.cfg.throughput_seconds
    with tempfile.TemporaryDirectory(prefix="pars-bench-gunicorn-") as tmp:
        log = Path(tmp) / "gunicorn.log"
        try:
            proc, base = _serve(
                uri, WORKERS, "bench.throughput:application()", {SPEC_ENV: json.dumps(spec)}, log
            )
        except SystemExit as err:  # _serve's way of saying it did not start; not the bench's end
            note = f"gunicorn did not start: {_reason(str(err))}"
            return [Row(NAME, size, target=f"≥ {TARGET:g}", passed=False, note=note)]
        try:
            where = urllib.parse.urlsplit(base)
            host, port = where.hostname or "127.0.0.1", where.port or 80
            cookie = _sign_in(base, b.seeded.big.email, b.seeded.password)
            health, dashboard = Side("/health"), Side("/")
            headers = {"/health": {}, "/": {"Cookie": cookie}}
            for rnd in range(ROUNDS + 1):
                for side in (health, dashboard):
                    # The warm-up round (first requests of each worker: templates, connections)
                    # goes to a throwaway tally, errors included in the real one.
                    target = side if rnd else Side(side.path)
                    _drive(host, port, target, headers[side.path], slice_s)
                    if not rnd:
                        side.errors += target.errors
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # A 500's traceback is in the log, which goes with the temporary directory.
        logged = _reason(log.read_text(errors="replace"))
    ratio = dashboard.per_second / health.per_second if health.per_second else 0.0
    errors = health.errors + dashboard.errors
    row = Row(
        NAME,
        size,
        dashboard.per_second,
        "/health:",
        health.per_second,
        ratio,
        f"≥ {TARGET:g}",
        ratio >= TARGET and not errors,
        unit="req/s",
    )
    row.note = (
        f"{database}; {CONNECTIONS} connections on loopback, {ROUNDS} rounds of {slice_s:g} s "
        f"a side after a warm-up round; GET / as {b.seeded.big.email}: "
        f"{dashboard.requests:,} answers, p50 {_p50(dashboard)} ms; GET /health: "
        f"{health.requests:,} answers, p50 {_p50(health)} ms; "
        + (f"{len(errors)} not 200, e.g. {errors[0]}" if errors else "0 errors")
    )
    if errors and logged:
        row.note += f"; gunicorn's log: {logged}"
    return [row]


def _p50(side: Side) -> str:
    return f"{statistics.median(side.latencies) * 1000:.1f}" if side.latencies else "—"


def _reason(log: str) -> str:
    """The line of a gunicorn log that says what went wrong: the last one that is not
    gunicorn's own bracketed status line (a traceback's exception line, typically)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith("[")] or lines[-1:]
    return said[-1][:200] if said else ""
