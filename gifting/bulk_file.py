"""Reading a bulk-gift CSV: its header, its rows, and each row's check (the dry run's reasons)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from lixi.contacts import normalize_email, normalize_phone
from lixi.errors import invalid_field
from lixi.models import MAX_ID
from vouchers.models import OfferKind

COLUMNS = ("row_id", "name", "email", "phone", "offer_id", "amount", "message", "send_at")
ROW_ID_LENGTH, NAME_LENGTH, MESSAGE_LENGTH = 100, 200, 500
EMAIL_LENGTH, PHONE_LENGTH = 254, 32  # the columns a bad row's cells are kept in, as typed
DEFAULT_SEND_TIME = time(8, 0)  # a row's send_at given as a date: that morning, the brand's time


def N_(message: str) -> str:  # noqa: N802 - Babel's marker: the reason is stored in English, shown translated
    return message


# A row's reasons, stored as these English texts (the pages and the results CSV translate them).
NO_ROW_ID = N_("row_id is missing.")
LONG_ROW_ID = N_("row_id is longer than 100 characters.")
REPEATED_ROW_ID = N_("This row_id appears more than once in the file.")
ALREADY_SENT = N_("already sent")
NO_CONTACT = N_("An email or a phone number is needed.")
BAD_EMAIL = N_("Not a valid email address.")
BAD_PHONE = N_("Not a valid phone number.")
LONG_NAME = N_("The name is longer than 200 characters.")
LONG_MESSAGE = N_("The message is longer than 500 characters.")
NO_GIFT = N_("Either offer_id or amount is needed.")
BAD_OFFER_ID = N_("offer_id is not a whole number.")
NO_OFFER = N_("No such offer.")
ARCHIVED_OFFER = N_("The offer is archived.")
BAD_AMOUNT = N_("amount must be a whole number above 0.")
NO_GIFT_CARD_OFFER = N_("A row with an amount needs the gift-card offer chosen for the file.")
AMOUNT_NOT_GIFT_CARD = N_("An amount goes only with a gift-card offer.")
BAD_SEND_AT = N_("send_at is not a date or a date and time.")
FAR_SEND_AT = N_("send_at is too far ahead (400 days at most).")
REASONS = (
    NO_ROW_ID,
    LONG_ROW_ID,
    REPEATED_ROW_ID,
    ALREADY_SENT,
    NO_CONTACT,
    BAD_EMAIL,
    BAD_PHONE,
    LONG_NAME,
    LONG_MESSAGE,
    NO_GIFT,
    BAD_OFFER_ID,
    NO_OFFER,
    ARCHIVED_OFFER,
    BAD_AMOUNT,
    NO_GIFT_CARD_OFFER,
    AMOUNT_NOT_GIFT_CARD,
    BAD_SEND_AT,
    FAR_SEND_AT,
)

# Dates as a spreadsheet set to Vietnamese saves them: 17/02/2027 or 17/02/2027 08:30.
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


class RowStatus(StrEnum):
    OK = "ok"
    BAD = "bad"  # refused by the dry run, or by the service when sent
    SENT = "sent"
    SKIPPED = "skipped"  # its row_id was sent before


@dataclass
class OfferFacts:
    """What a row's check needs of an offer, read once per file."""

    kind: str
    value: int
    max_discount: int | None
    archived: bool


@dataclass
class FileRow:
    """One row as read and checked: the values of its GiftBatchRow."""

    line: int
    cells: dict[str, str]
    row_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    offer_id: int | None = None
    amount: int | None = None
    message: str | None = None
    send_at: datetime | None = None
    value: int = 0
    status: str = "ok"
    error: str | None = None

    def refuse(self, reason: str) -> None:
        """Mark the row bad with its first reason (one reason a row: the first to fix)."""
        if self.status == "ok":
            self.status, self.error = "bad", reason

    def values(self, batch_id: int) -> dict[str, Any]:
        return {
            "batch_id": batch_id,
            "line": self.line,
            "row_id": self.row_id,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "offer_id": self.offer_id,
            "amount": self.amount,
            "message": self.message,
            "send_at": self.send_at,
            "value": self.value if self.status == "ok" else 0,
            "status": self.status,
            "error": self.error,
            "gift_id": None,
        }


def read_rows(data: bytes, max_rows: int) -> list[FileRow]:
    """The file's rows with their line numbers (the header is line 1); 422 for a file that cannot be
    read as a whole: not UTF-8 text, a header without the needed columns, or more than `max_rows`."""
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise invalid_field("file", "The file is not UTF-8 text: save it as “CSV UTF-8”.") from None
    if "\x00" in text:
        raise invalid_field("file", "The file is not a CSV text file.")
    if not text.strip():
        raise invalid_field("file", "The file is empty.")
    first_line = text.split("\n", 1)[0]
    # A spreadsheet in a locale whose decimal mark is a comma saves with semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    # newline="": the csv module splits the lines itself (a quoted cell may hold a line break).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _records(reader, max_rows)
    except csv.Error as error:
        raise invalid_field("file", f"Line {reader.line_num} cannot be read as CSV: {error}.") from None


def _records(reader: Any, max_rows: int) -> list[FileRow]:
    header = [name.strip().lower() for name in next(reader)]
    columns = _columns(header)
    rows: list[FileRow] = []
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # a blank line (spreadsheets leave them at the end)
        if len(rows) == max_rows:
            raise invalid_field("file", f"The file has more than {max_rows:,} rows: split it.")
        cells = {name: record[index].strip() for name, index in columns.items() if index < len(record)}
        rows.append(FileRow(line=start, cells=cells))
    return rows


def _columns(header: list[str]) -> dict[str, int]:
    unknown = [name for name in header if name and name not in COLUMNS]
    if unknown:
        raise invalid_field(
            "file", f"Unknown columns: {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}."
        )
    if len(set(header)) != len([name for name in header if name]):
        raise invalid_field("file", "A column appears twice in the header.")
    if "row_id" not in header:
        raise invalid_field("file", "The header needs a row_id column.")
    if "email" not in header and "phone" not in header:
        raise invalid_field("file", "The header needs an email or a phone column.")
    if "offer_id" not in header and "amount" not in header:
        raise invalid_field("file", "The header needs an offer_id or an amount column.")
    return {name: index for index, name in enumerate(header) if name}


def check_cells(row: FileRow, tz_name: str, latest_send: datetime) -> None:
    """The checks one row can make alone: its row_id, contact, name, message, numbers and date."""
    cells = row.cells
    row.row_id = cells.get("row_id") or None
    row.name = cells.get("name") or None
    row.message = cells.get("message") or None
    raw_email, raw_phone = cells.get("email") or None, cells.get("phone") or None
    row.email = normalize_email(raw_email) if raw_email else None
    row.phone = normalize_phone(raw_phone) if raw_phone else None
    if row.row_id is None:
        row.refuse(NO_ROW_ID)
    elif len(row.row_id) > ROW_ID_LENGTH:
        row.refuse(LONG_ROW_ID)
    if raw_email is None and raw_phone is None:
        row.refuse(NO_CONTACT)
    if raw_email is not None and row.email is None:
        row.refuse(BAD_EMAIL)
    if raw_phone is not None and row.phone is None:
        row.refuse(BAD_PHONE)
    if row.name and len(row.name) > NAME_LENGTH:
        row.refuse(LONG_NAME)
    if row.message and len(row.message) > MESSAGE_LENGTH:
        row.refuse(LONG_MESSAGE)
    raw_offer, raw_amount = cells.get("offer_id") or None, cells.get("amount") or None
    if raw_offer is None and raw_amount is None:
        row.refuse(NO_GIFT)
    if raw_offer is not None:
        row.offer_id = _whole_number(raw_offer)
        if row.offer_id is None or row.offer_id < 1:
            row.offer_id = None
            row.refuse(BAD_OFFER_ID)
        elif row.offer_id > MAX_ID:  # no such id, and more than its column holds
            row.offer_id = None
            row.refuse(NO_OFFER)
    if raw_amount is not None:
        row.amount = _whole_number(raw_amount)
        if row.amount is None or row.amount < 1:
            row.amount = None
            row.refuse(BAD_AMOUNT)
    if cells.get("send_at"):
        row.send_at = parse_send_at(cells["send_at"], tz_name)
        if row.send_at is None:
            row.refuse(BAD_SEND_AT)
        elif row.send_at > latest_send:
            row.refuse(FAR_SEND_AT)
    if row.status != "ok":
        _keep_as_typed(row, raw_email, raw_phone)


def _keep_as_typed(row: FileRow, raw_email: str | None, raw_phone: str | None) -> None:
    """A bad row keeps what was typed (cut to its columns), so the page shows what to fix."""
    row.row_id = row.row_id[:ROW_ID_LENGTH] if row.row_id else None
    row.name = row.name[:NAME_LENGTH] if row.name else None
    row.email = row.email or (raw_email[:EMAIL_LENGTH] if raw_email else None)
    row.phone = row.phone or (raw_phone[:PHONE_LENGTH] if raw_phone else None)


_BIGGEST = 2**53  # well inside BIGINT; no gift is worth more


def _whole_number(raw: str) -> int | None:
    """A whole number as people type money ("50000", "50.000", "50,000", "50 000"), else None."""
    cleaned = raw.replace(".", "").replace(",", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 15:
        return None
    number = int(cleaned)
    return number if number < _BIGGEST else None


def parse_send_at(raw: str, tz_name: str) -> datetime | None:
    """An ISO date-time (an offset is kept; without one it is the brand's local time), an ISO date
    (08:00 that day), or the day-first form a Vietnamese spreadsheet writes; UTC, or None."""
    zone = ZoneInfo(tz_name)
    moment: datetime | None = None
    day_first = _DAY_FIRST.match(raw)
    try:
        if day_first:
            day, month, year, hour, minute, second = (int(part or 0) for part in day_first.groups())
            has_time = day_first.group(4) is not None
            moment = datetime(year, month, day, hour, minute, second)
            if not has_time:
                moment = datetime.combine(moment.date(), DEFAULT_SEND_TIME)
        elif len(raw) == 10:
            moment = datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), DEFAULT_SEND_TIME)
        else:
            moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def check_offers(
    rows: Iterable[FileRow], offers: dict[int, OfferFacts], gift_card_offer: OfferFacts | None
) -> None:
    """Each ok row's offer (the brand's, not archived) or amount, and what the row is worth."""
    for row in rows:
        if row.status != "ok":
            continue
        if row.offer_id is not None:
            facts = offers.get(row.offer_id)
            if facts is None:
                row.refuse(NO_OFFER)
            elif facts.archived:
                row.refuse(ARCHIVED_OFFER)
            elif row.amount is not None and facts.kind != OfferKind.GIFT_CARD:
                row.refuse(AMOUNT_NOT_GIFT_CARD)
            else:
                row.value = row.amount if row.amount is not None else offer_value(facts)
        elif gift_card_offer is None:
            row.refuse(NO_GIFT_CARD_OFFER)
        else:
            row.value = row.amount or 0


def offer_value(facts: OfferFacts) -> int:
    """What a voucher of the offer is worth to the file's total: its money value; a percent offer's
    cap when it has one (uncapped, its worth depends on the bill: 0)."""
    if facts.kind == OfferKind.PERCENT:
        return facts.max_discount or 0
    return facts.value


def check_repeats(rows: list[FileRow]) -> None:
    """A row_id given twice is refused on every line: which of them was meant is for the sender."""
    seen: dict[str, int] = {}
    for row in rows:
        if row.row_id:
            seen[row.row_id] = seen.get(row.row_id, 0) + 1
    for row in rows:
        if row.row_id and seen[row.row_id] > 1:
            row.refuse(REPEATED_ROW_ID)


def skip_sent(rows: Iterable[FileRow], sent: set[str]) -> None:
    """Rows whose row_id a gift of the brand already has: skipped, never sent again (whatever else
    is wrong with them now, unless it is the row_id itself)."""
    for row in rows:
        if row.row_id in sent and row.error not in _ROW_ID_REASONS:
            row.status, row.error, row.value = "skipped", ALREADY_SENT, 0


_ROW_ID_REASONS = (NO_ROW_ID, LONG_ROW_ID, REPEATED_ROW_ID)
