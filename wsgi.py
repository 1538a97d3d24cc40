"""WSGI entry point: `gunicorn wsgi:app`, and what plain `flask` finds from the repo root."""

from pars_app import create_app

app = create_app()
