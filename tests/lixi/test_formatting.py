"""Numbers and percentages on pages follow the visitor's language."""

from __future__ import annotations

from flask_babel import refresh

from lixi.formatting import number, percent


def test_percentages_and_counts_in_vietnamese_and_english(app):
    with app.test_request_context("/?lang=vi"):
        refresh()  # the suite's one app context keeps the last request's locale
        assert percent(0.1) == "10,0%"
        assert percent(1 / 3) == "33,33%"
        assert percent(0.05, 2) == "5,00%"
        assert percent(0.1, 0) == "10%"
        assert number(1234567) == "1.234.567"
        assert percent(None) == number(None) == "—"
    with app.test_request_context("/?lang=en"):
        refresh()
        assert percent(0.1) == "10.0%"
        assert number(1234567) == "1,234,567"
