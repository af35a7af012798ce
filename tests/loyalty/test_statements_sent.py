"""The daily job sends last month's statement once per member who was a member before the month
began, in the brand's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from lixi.extensions import db
from lixi.models import MailMessage


def _statements(app) -> list[tuple[int | None, str]]:
    with app.app_context():
        return list(
            db.session.execute(
                select(MailMessage.member_id, MailMessage.subject).where(
                    MailMessage.kind == "monthly_statement"
                )
            ).all()
        )


def test_last_months_statement_goes_once_from_the_first_local_day(
    app, clock, programme, make_member, purchase, daily
):
    clock.now = datetime(2030, 1, 10, tzinfo=UTC)
    make_member("m-1", email="an@example.com", subscribed=True)
    purchase("m-1", 500000, "bill-1")
    daily()
    assert _statements(app) == []  # January is not over
    # 31 January 17:30 UTC is still January in UTC but 1 February 00:30 in Ho Chi Minh City (UTC+7).
    clock.now = datetime(2030, 1, 31, 17, 30, tzinfo=UTC)
    make_member("m-2", email="binh@example.com", subscribed=True)  # joins in February, local time
    purchase("m-2", 500000, "bill-2")
    daily()
    daily()
    sent = _statements(app)
    assert len(sent) == 1, sent
    assert "2030" in sent[0][1]
