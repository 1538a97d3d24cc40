"""Pure PARS reporting rules: formats, values, status, deadlines and the checklist.

Nothing in this package imports Flask, SQLAlchemy or the models; tests/unit/test_layering.py
enforces it so the rules stay testable without an app and shared by web, CLI and jobs.
"""
