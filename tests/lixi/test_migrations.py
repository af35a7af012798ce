"""Migrations keep the data they move: SQLite's batch rebuilds must not cascade into other tables."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from lixi.app import create_app
from lixi.config import ROOT
from lixi.extensions import db
from tests.conftest import POSTGRES, make_config

MIGRATIONS = str(ROOT / "migrations")
BEFORE_PER_BRAND_STAFF = "9694f42783ea"


@pytest.mark.skipif(POSTGRES, reason="the batch rebuild is SQLite's (PostgreSQL alters in place)")
def test_staff_per_brand_keeps_stores_and_redemptions_of_existing_staff(tmp_path, redis_url):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'old.db'}", redis_url))
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=BEFORE_PER_BRAND_STAFF)
        rows = [
            "INSERT INTO brands (id, slug, name, currency, locale, timezone, created_at)"
            " VALUES (1, 'a', 'A', 'VND', 'vi', 'Asia/Ho_Chi_Minh', '2026-01-01')",
            "INSERT INTO merchants (id, brand_id, name, created_at) VALUES (1, 1, 'Q1', '2026-01-01')",
            "INSERT INTO staff_users (id, brand_id, email, password_hash, role, created_at)"
            " VALUES (1, 1, 'mai@a.vn', 'x', 'merchant_staff', '2026-01-01')",
            "INSERT INTO staff_merchants (staff_user_id, merchant_id) VALUES (1, 1)",
        ]
        for row in rows:
            db.session.execute(text(row))
        db.session.commit()

        upgrade(directory=MIGRATIONS)

        assert db.session.execute(text("SELECT * FROM staff_merchants")).all() == [(1, 1)]
        staff = db.session.execute(text("SELECT id, email, session_version FROM staff_users")).all()
        assert staff == [(1, "mai@a.vn", 1)]
        db.session.execute(
            text(
                "INSERT INTO brands (id, slug, name, currency, locale, timezone, created_at)"
                " VALUES (2, 'b', 'B', 'VND', 'vi', 'Asia/Ho_Chi_Minh', '2026-01-01')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO staff_users (brand_id, email, password_hash, role, created_at)"
                " VALUES (2, 'mai@a.vn', 'x', 'merchant_staff', '2026-01-01')"
            )
        )
        db.session.commit()  # the same email in another brand
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on after the run
        db.session.execute(text("DELETE FROM staff_users WHERE brand_id = 2"))
        db.session.commit()
        downgrade(directory=MIGRATIONS, revision=BEFORE_PER_BRAND_STAFF)
        assert db.session.execute(text("SELECT * FROM staff_merchants")).all() == [(1, 1)]
        db.session.remove()
