"""Test and benchmark harness: a live gunicorn server and a local Redis, for tests/, bench/ and scripts/.

Outside the service's packages on purpose: nothing under lixi/ or a domain imports it.
"""
