"""Configuration classes, read from environment variables with safe defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def normalise_database_url(url: str) -> str:
    """Let plain `postgresql://` URLs (what hosts hand out) use psycopg 3, our driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Settings shared by every environment."""

    TESTING = False
    DEBUG = False
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'pars.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # Uploads: batch files of 10,000 rows are a few MB; 25 MB leaves room without inviting abuse.
    MAX_CONTENT_LENGTH = _env_int("PARS_MAX_UPLOAD_MB", 25) * 1024 * 1024
    # Imports' job queue (services.jobs): "thread" (embedded worker thread, the default),
    # "worker" (separate `flask pars worker` processes) or "immediate" (in the request).
    PARS_JOB_BACKEND = os.environ.get("PARS_JOB_BACKEND", "thread")
    # Files up to this size preview in the request, without a progress bar; previews of up to
    # this many rows commit in the request too.
    PARS_IMPORT_INLINE_BYTES = _env_int("PARS_IMPORT_INLINE_KB", 256) * 1024
    PARS_IMPORT_INLINE_ROWS = _env_int("PARS_IMPORT_INLINE_ROWS", 500)
    WTF_CSRF_TIME_LIMIT = (
        None  # tokens live as long as the session; a form left open all day still works
    )
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=_env_int("PARS_SESSION_HOURS", 12))
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Per-account lockout: this many failures in a row lock the account for the given minutes.
    PARS_LOCKOUT_THRESHOLD = _env_int("PARS_LOCKOUT_THRESHOLD", 5)
    PARS_LOCKOUT_MINUTES = _env_int("PARS_LOCKOUT_MINUTES", 15)
    PARS_LOGIN_RATE = os.environ.get("PARS_LOGIN_RATE", "20 per minute")
    PARS_PAGE_SIZES = (25, 50, 100, 200)


class DevConfig(Config):
    """Local development: the embedded SQLite default and a throwaway secret."""

    DEBUG = False  # the reloader/debugger is opt-in via `flask run --debug`
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")


class TestConfig(Config):
    """Tests: an in-memory or given database, no rate limit surprises."""

    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("PARS_TEST_DATABASE_URL", "sqlite://")
    )
    RATELIMIT_ENABLED = False
    PARS_JOB_BACKEND = "immediate"


class ProdConfig(Config):
    """Production: secure cookies, a real secret, PostgreSQL via DATABASE_URL."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {"dev": DevConfig, "test": TestConfig, "prod": ProdConfig}


def config_from_env() -> type[Config]:
    """Pick the config class named by PARS_ENV (dev by default)."""
    name = os.environ.get("PARS_ENV", "dev")
    if name not in CONFIGS:
        raise RuntimeError(f"PARS_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
