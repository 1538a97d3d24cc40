"""`python -m bench.soak` (`make soak`): gunicorn with 4 workers on SQLite and on PostgreSQL, a
bounded mixed workload of simulated coordinators over loopback for a fixed time, then the
database checked against a ledger of what each client did.

Each client is a coordinator of their own provider: they browse and filter the list, open
activities, edit learner counts inline, bulk-close what is ready, import small batch files
(preview, then confirm) and export. Every successful write goes into the client's ledger; at the
end the database must hold exactly that: each count last written, each closed activity closed,
each imported activity once. Prints requests, 5xx, p50/p95 latency and the ledger check; exits 1
on any 5xx or ledger mismatch.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import io
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "soak-password-1"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')
_JOB = re.compile(r"/imports/(\d+)$")


# --- Data -----------------------------------------------------------------------------------


def _seed(url: str, clients: int, per_client: int) -> dict[int, list[int]]:
    """Schema by the real migrations, then one provider, user and activities per client."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.models import Accreditor, Activity, Provider
    from pars_app.services import accounts
    from pars_app.services.activities import refresh_derived

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "soak", "TESTING": True})
    owned: dict[int, list[int]] = {}
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        acc = Accreditor(code="SOAK", name="Soak accreditor", is_national=True)
        db.session.add(acc)
        for c in range(clients):
            p = Provider(code=f"S{c}", name=f"Soak provider {c}", accreditor=acc)
            db.session.add(p)
            db.session.flush()
            for i in range(per_client):
                a = Activity(
                    provider_id=p.id,
                    provider_activity_id=f"S{c}-{i:04d}",
                    title=f"Journal {c}-{i}",
                    format="JN",
                    start_date=date(2026, 1, 5),
                    end_date=date(2026, 1, 20),
                    credits=1,
                    description="Reading.",
                    providership="direct",
                    passport_listed=False,
                    commercial_support=False,
                    outcome_competence=True,
                    physician_learners=1,
                    other_learners=0,
                )
                db.session.add(a)
                refresh_derived(a)
            db.session.flush()
            owned[c] = [a.id for a in db.session.query(Activity).filter_by(provider_id=p.id)]
        db.session.commit()
        for c in range(clients):
            accounts.create_user(
                f"soak{c}@example.org", PASSWORD, role="staff", provider_code=f"S{c}"
            )
        db.engine.dispose()
    return owned


# --- One coordinator ------------------------------------------------------------------------------


@dataclass
class Ledger:
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)
    created: set[str] = field(default_factory=set)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    requests: int = 0


class Client:
    def __init__(self, base: str, n: int, ids: list[int], stats: Stats, lock: threading.Lock):
        self.base, self.n, self.ids = base, n, ids
        self.stats, self.lock = stats, lock
        self.ledger = Ledger()
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), _NoRedirect()
        )
        self.token = ""
        self.rand = random.Random(n)

    def request(self, method: str, path: str, data: bytes | None = None, headers=None):
        req = urllib.request.Request(self.base + path, data=data, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if self.token:
            req.add_header("X-CSRFToken", self.token)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, body, location = resp.status, resp.read(), resp.headers.get("Location")
        except urllib.error.HTTPError as err:
            status, body, location = err.code, err.read(), err.headers.get("Location")
        elapsed = time.perf_counter() - started
        with self.lock:
            self.stats.requests += 1
            self.stats.latencies.append(elapsed)
            if status >= 500:
                self.stats.server_errors.append(f"{method} {path} → {status}")
        return status, body.decode("utf-8", "replace"), location

    def form(self, path: str, fields: dict[str, str]):
        data = urllib.parse.urlencode({**fields, "csrf_token": self.token}).encode()
        return self.request(
            "POST", path, data, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def login(self) -> None:
        _status, body, _ = self.request("GET", "/login")
        self.token = _TOKEN.search(body).group(1)
        status, _, _ = self.form(
            "/login", {"email": f"soak{self.n}@example.org", "password": PASSWORD}
        )
        assert status == 302, f"client {self.n} could not sign in ({status})"
        _status, body, _ = self.request("GET", "/")
        self.token = _TOKEN.search(body).group(1)  # the session's token after sign-in

    # The workload: each step is one thing a coordinator does.
    def browse(self) -> None:
        self.request("GET", f"/activities?page={self.rand.randint(1, 3)}&per_page=25")
        self.request("GET", "/")

    def search(self) -> None:
        self.request(
            "GET",
            f"/activities?q=Journal+{self.n}-{self.rand.randint(0, 9)}",
            headers={"HX-Request": "true"},
        )

    def open_one(self) -> None:
        self.request("GET", f"/activities/{self.rand.choice(self.ids)}")

    def edit_counts(self) -> None:
        aid = self.rand.choice(self.ids)
        status, body, _ = self.request(
            "GET", f"/activities/{aid}/counts/edit?place=row", headers={"HX-Request": "true"}
        )
        found = _VERSION.search(body)
        if status != 200 or not found:
            return  # closed since: the cell is read-only, as it should be
        value = (self.rand.randint(1, 10_000), self.rand.randint(0, 500))
        status, _, _ = self.form(
            f"/activities/{aid}/counts",
            {
                "physicians": str(value[0]),
                "others": str(value[1]),
                "version": found.group(1),
                "place": "row",
            },
        )
        if status == 200:
            self.ledger.counts[aid] = value

    def bulk_close(self) -> None:
        chosen = self.rand.sample(self.ids, 3)
        data = urllib.parse.urlencode(
            [("ids", str(i)) for i in chosen] + [("csrf_token", self.token)]
        ).encode()
        status, _, _ = self.request(
            "POST",
            "/activities/bulk/close",
            data,
            {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"},
        )
        if status == 200:
            # Every seeded activity is complete and ended: each chosen one must now be closed.
            self.ledger.closed.update(chosen)

    def small_import(self) -> None:
        from pars_app.io import write_activities

        pids = [f"I{self.n}-{uuid.uuid4().hex[:10]}" for _ in range(3)]
        data = write_activities(
            {
                "provider_activity_id": pid,
                "title": f"Imported {pid}",
                "format": "JN",
                "start_date": date(2026, 2, 1),
                "end_date": date(2026, 2, 27),
            }
            for pid in pids
        )
        body, ctype = _multipart({"csrf_token": self.token}, "file", "soak.xlsx", data)
        status, _, location = self.request("POST", "/imports/new", body, {"Content-Type": ctype})
        match = _JOB.search(location or "")
        if status != 302 or not match:
            return
        job = match.group(1)
        status, _, _ = self.form(f"/imports/{job}/commit", {})
        status, page, _ = self.request("GET", f"/imports/{job}")
        if 'id="import-status">Imported<' in page:
            self.ledger.created.update(pids)

    def export(self) -> None:
        self.request("GET", "/exports/activities.xlsx?year=2026")

    def run(self, until: float) -> None:
        self.login()
        steps = (
            [self.browse] * 4
            + [self.search] * 3
            + [self.open_one] * 3
            + [self.edit_counts] * 5
            + [self.bulk_close, self.small_import, self.export]
        )
        while time.monotonic() < until:
            self.rand.choice(steps)()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes):
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        )
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


# --- The check ---------------------------------------------------------------------------------


def _check(url: str, clients: list[Client]) -> list[str]:
    """Every ledger entry against the database; returns the mismatches."""
    from sqlalchemy import func, select

    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.models import Activity

    problems: list[str] = []
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "soak", "TESTING": True})
    with app.app_context():
        for c in clients:
            for aid, (phys, others) in c.ledger.counts.items():
                a = db.session.get(Activity, aid)
                # A later bulk close leaves counts alone; nothing else writes them.
                if (a.physician_learners, a.other_learners) != (phys, others):
                    problems.append(f"client {c.n}: activity {aid} counts lost")
            if c.ledger.created:
                found = db.session.scalars(
                    select(Activity.provider_activity_id).where(
                        Activity.provider_activity_id.in_(c.ledger.created)
                    )
                ).all()
                if sorted(found) != sorted(c.ledger.created):
                    problems.append(
                        f"client {c.n}: imported {len(c.ledger.created)}, found {len(found)}"
                    )
            if c.ledger.closed:
                still_open = db.session.scalar(
                    select(func.count())
                    .select_from(Activity)
                    .where(Activity.id.in_(c.ledger.closed), Activity.closed_at.is_(None))
                )
                if still_open:
                    problems.append(f"client {c.n}: {still_open} bulk-closed activities open")
        dupes = db.session.execute(
            select(Activity.provider_id, Activity.provider_activity_id, func.count())
            .group_by(Activity.provider_id, Activity.provider_activity_id)
            .having(func.count() > 1)
        ).all()
        problems += [f"duplicate activity {d}" for d in dupes]
        db.engine.dispose()
    return problems


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOG = Path(tempfile.gettempdir()) / "pars-soak-gunicorn.log"


def _serve(
    url: str,
    workers: int,
    app: str = "wsgi:app",
    extra_env: dict[str, str] | None = None,
    log_path: Path = LOG,
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving `app` on a free loopback port, once /health answers; its error log goes
    to `log_path`. bench/throughput.py serves its own app factory through this too."""
    port = _free_port()
    # A file, not a pipe nobody reads: a pipe full of tracebacks would block the workers.
    log = log_path.open("w")
    env = os.environ | {
        "DATABASE_URL": url,
        "PARS_ENV": "dev",
        "SECRET_KEY": "soak-secret",
        "PARS_JOB_BACKEND": "immediate",
        "PARS_LOGIN_RATE": "100000 per minute",
    }
    env |= extra_env or {}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not start: {log_path.read_text()[-2000:]}")


def soak(url: str, label: str, clients: int, seconds: float, workers: int) -> bool:
    owned = _seed(url, clients, 60)
    proc, base = _serve(url, workers)
    stats, lock = Stats(), threading.Lock()
    runners = [Client(base, n, owned[n], stats, lock) for n in range(clients)]
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=r.run, args=(until,)) for r in runners]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    problems = _check(url, runners)
    lat = sorted(stats.latencies)
    p95 = lat[int(len(lat) * 0.95)] if lat else 0
    writes = sum(
        len(r.ledger.counts) + len(r.ledger.created) + len(r.ledger.closed) for r in runners
    )
    print(
        f"{label}: {stats.requests:,} requests in {seconds:.0f} s by {clients} clients on "
        f"{workers} gunicorn workers; 5xx: {len(stats.server_errors)}; "
        f"p50 {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"ledger: {writes:,} writes checked, "
        + ("all found" if not problems else f"{len(problems)} PROBLEMS")
    )
    for line in stats.server_errors[:10] + problems[:20]:
        print("   ", line)
    return not problems and not stats.server_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("SOAK_DATABASE_URL"),
        help="also soak this PostgreSQL database (its public schema is replaced)",
    )
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= soak(
            f"sqlite:///{tmp}/soak.sqlite3", "SQLite", args.clients, args.seconds, args.workers
        )
    if args.postgres:
        ok &= soak(args.postgres, "PostgreSQL", args.clients, args.seconds, args.workers)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
