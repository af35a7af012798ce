"""Composition root: gunicorn and `flask --app wsgi` load the app from here."""

from lixi.app import create_app

app = create_app()
