"""domain/ and io/ stay pure: no Flask, no SQLAlchemy, no models, services or web code."""

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "pars_app"
PURE_PACKAGES = ("domain", "io")
FORBIDDEN_PREFIXES = (
    "flask",
    "sqlalchemy",
    "pars_app.models",
    "pars_app.services",
    "pars_app.extensions",
    "pars_app.web",
)


def _forbidden(module: str) -> bool:
    # "flask" also covers flask_login, flask_wtf, ... (any flask_* extension).
    if module == "flask" or module.startswith(("flask.", "flask_")):
        return True
    return any(module == p or module.startswith(p + ".") for p in FORBIDDEN_PREFIXES[1:])


def _imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) for every import, resolving relative ones against package."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
                # "from .. import models" imports the module pars_app.models itself.
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module or ""))
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def violations_in(source: str, package: str, filename: str = "<test>") -> list[str]:
    """Every forbidden import in one module's source."""
    tree = ast.parse(source, filename=filename)
    return [
        f"{filename}:{line} imports {module}"
        for line, module in _imported_modules(tree, package)
        if _forbidden(module)
    ]


def _pure_files() -> list[Path]:
    return sorted(path for name in PURE_PACKAGES for path in (PACKAGE_ROOT / name).rglob("*.py"))


def test_domain_and_io_import_no_framework_or_persistence_code():
    files = _pure_files()
    assert any(p.parent.name == "domain" for p in files), "the walk found no domain modules"
    problems = []
    for path in files:
        relative = path.relative_to(PACKAGE_ROOT.parent)
        package = ".".join(relative.with_suffix("").parts[:-1])
        problems += violations_in(path.read_text(encoding="utf-8"), package, str(relative))
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "from flask import g",
        "import flask_login",
        "from flask_wtf import FlaskForm",
        "import sqlalchemy as sa",
        "from sqlalchemy.orm import Session",
        "from pars_app.models.activity import Activity",
        "from pars_app import models",
        "from pars_app import extensions",
        "from ..services import imports",
        "from .. import web",
        "from ..models import Activity",
        "def f():\n    import flask\n",
    ],
)
def test_checker_catches_forbidden_imports(source):
    assert violations_in(source, "pars_app.domain")


@pytest.mark.parametrize(
    "source",
    [
        "from decimal import Decimal",
        "from zoneinfo import ZoneInfo",
        "from pars_app.domain.formats import FORMATS",
        "from . import formats",
        "from .. import domain",
        "import flaskish_helpers",
        "import pars_app.modelsx",
    ],
)
def test_checker_allows_pure_imports(source):
    assert violations_in(source, "pars_app.domain") == []
