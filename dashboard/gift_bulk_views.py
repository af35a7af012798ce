"""Dashboard pages for bulk gifts from a file: upload, the dry run, sending with progress, results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from dashboard.access import admin_blueprint, csv_response, current_brand
from dashboard.forms import FormErrors, FormPage, integer, text
from gifting import bulk
from gifting.bulk_file import COLUMNS
from gifting.models import BatchStatus, Design, GiftBatch
from lixi.schemas import parse_id
from lixi.timeutil import local_date, utcnow
from vouchers import offers
from vouchers.models import OfferKind

bp = admin_blueprint("dashboard_gift_batches", __name__)

UPLOAD_ENDPOINT = "dashboard_gift_batches.batches_page"
ROWS_SHOWN = 500  # of the bad or skipped rows on the dry-run page; the results CSV has them all
PREVIEW_ROWS = 10  # the first rows that will be sent, to see the file was read as meant
SAMPLE = (
    ",".join(COLUMNS) + "\r\n"
    "NV001,Nguyễn Văn An,an@example.com,,{offer},,Chúc mừng năm mới!,{day}\r\n"
    "NV002,Trần Thị Bình,,0912345678,,200000,Cảm ơn bạn!,\r\n"
)


@bp.url_value_preprocessor
def _allow_big_files(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # A 10,000-row file is bigger than other forms may be. Set before CSRF protection (a before_request)
    # reads the form: url_value_preprocessors run first.
    if endpoint == UPLOAD_ENDPOINT and request.method == "POST":
        request.max_content_length = current_app.config["GIFT_BULK_MAX_BYTES"]


def _gift_card_offers(brand_id: int) -> list[Any]:
    return [offer for offer in offers.list_offers(brand_id) if offer.kind == OfferKind.GIFT_CARD]


def _check_upload(brand_id: int) -> GiftBatch:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FormErrors({"file": [_("Choose a CSV file.")]})
    claim_days = integer("claim_days")
    return bulk.check_batch(
        brand_id,
        upload.filename,
        upload.read(),
        parse_id(request.form.get("gift_card_offer_id")),
        request.form.get("design") or Design.PLAIN,
        text("sender_name") or None,
        30 if claim_days is None else claim_days,
    )


@bp.route("/gifts/batches", methods=["GET", "POST"])
def batches_page() -> ResponseReturnValue:
    """Gifts from a file: the upload form (checked first, nothing sent) and the files so far."""
    page = FormPage("dashboard/gift_batches.html")
    batch = page.submit(lambda: _check_upload(g.brand_id))
    if batch is not None:
        return redirect(url_for("dashboard_gift_batches.batch_page", batch_id=batch.id))
    return page.render(
        batches=bulk.list_batches(g.brand_id),
        gift_cards=_gift_card_offers(g.brand_id),
        designs=list(Design),
        columns=COLUMNS,
        max_rows=current_app.config["GIFT_BULK_MAX_ROWS"],
    )


@bp.get("/gifts/batches/sample.csv")
def sample_csv() -> Response:
    """A file to start from: the header and two rows."""
    offer_ids = [offer.id for offer in offers.list_offers(g.brand_id) if offer.kind != OfferKind.GIFT_CARD]
    next_week = local_date(utcnow(), current_brand().timezone) + timedelta(days=7)
    rows = iter([SAMPLE.format(offer=offer_ids[0] if offer_ids else "", day=next_week.isoformat())])
    return csv_response(rows, "lixi-gifts-sample.csv")


@bp.get("/gifts/batches/<int:batch_id>")
def batch_page(batch_id: int) -> str:
    """A checked file's dry run (what will be sent, each bad row and why), or the sending's progress."""
    batch = bulk.get_batch(g.brand_id, batch_id)
    if batch.status == BatchStatus.CHECKED:
        return render_template(
            "dashboard/gift_batch_check.html",
            brand=current_brand(),
            batch=batch,
            to_send=bulk.rows_to_send(batch),
            problems=bulk.batch_rows(g.brand_id, batch.id, status="bad", limit=ROWS_SHOWN),
            skipped=bulk.batch_rows(g.brand_id, batch.id, status="skipped", limit=ROWS_SHOWN),
            preview=bulk.batch_rows(g.brand_id, batch.id, status="ok", limit=PREVIEW_ROWS),
            rows_shown=ROWS_SHOWN,
        )
    return render_template(
        "dashboard/gift_batch.html",
        brand=current_brand(),
        batch=batch,
        progress=bulk.batch_progress(batch),
        problems=bulk.batch_rows(g.brand_id, batch.id, status="bad", limit=ROWS_SHOWN),
        rows_shown=ROWS_SHOWN,
    )


@bp.post("/gifts/batches/<int:batch_id>/send")
def send_batch(batch_id: int) -> Response:
    """Send the checked file's good rows in the background (pressed twice, it still sends once); a
    failed sending carries on."""
    batch = bulk.start_batch(g.brand_id, batch_id)
    return redirect(url_for("dashboard_gift_batches.batch_page", batch_id=batch.id))


@bp.get("/gifts/batches/<int:batch_id>/progress.json")
def batch_progress(batch_id: int) -> Response:
    """The sending's progress, for the bar the page refreshes."""
    return jsonify(bulk.batch_progress(bulk.get_batch(g.brand_id, batch_id)))


@bp.get("/gifts/batches/<int:batch_id>/results.csv")
def results_csv(batch_id: int) -> Response:
    """Every row of the file with its status, reason and claim link, streamed."""
    rows = bulk.results_csv(g.brand_id, batch_id)
    return csv_response(rows, f"lixi-gifts-{batch_id}-results.csv")
