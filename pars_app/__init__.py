"""pars-app: annual ACCME PARS reporting for accredited CME providers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from .config import Config, config_from_env


def create_app(config: type[Config] | str | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Config class, its name ("dev", "test", "prod"), or a dict of
    overrides applied on top of the environment's config (handy in tests)."""
    from . import web
    from .config import CONFIGS, ROOT
    from .extensions import csrf, db, limiter, login_manager, migrate
    from .services import data_version  # noqa: F401  (its session hooks keep the data version)

    # templates/ and static/ live at the repo root (DESIGN.md §2), beside the package.
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    overrides: dict[str, Any] = {}
    if isinstance(config, dict):
        overrides = config
        config = None
    cls = CONFIGS[config] if isinstance(config, str) else (config or config_from_env())
    app.config.from_object(cls)
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set outside development and tests")

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)  # home of the SQLite default
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    web.init_app(app)
    return app
