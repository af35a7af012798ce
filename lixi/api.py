"""JSON API of the kernel: merchants and members."""

from __future__ import annotations

from flask import g

from lixi import members, merchants, staff
from lixi.blueprints import api_blueprint
from lixi.idempotency import idempotent
from lixi.schemas import (
    ErrorSchema,
    MemberInSchema,
    MemberOutSchema,
    MerchantInSchema,
    MerchantListSchema,
    MerchantOutSchema,
    StaffInSchema,
    StaffListSchema,
    StaffOutSchema,
)

blp = api_blueprint("kernel", __name__, "Merchants (stores), their staff and members (customers).")


@blp.route("/merchants", methods=["POST"])
@idempotent
@blp.arguments(MerchantInSchema)
@blp.response(201, MerchantOutSchema)
def create_merchant(data: dict):
    """Create a merchant (store) of the brand.

    Stores are where vouchers are redeemed and where staff work; an offer may be limited to some
    of them. Returns the new store with its id.
    """
    return merchants.create_merchant(g.brand_id, data["name"], data.get("address"))


@blp.route("/merchants", methods=["GET"])
@blp.response(200, MerchantListSchema)
def list_merchants():
    """List the brand's merchants.

    Every store of the brand, oldest first.
    """
    return {"merchants": merchants.list_merchants(g.brand_id)}


@blp.route("/merchants/<int:merchant_id>", methods=["GET"])
@blp.response(200, MerchantOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such store of this brand.")
def get_merchant(merchant_id: int):
    """One merchant of the brand.

    Another brand's store is not found, like one that does not exist.
    """
    return merchants.get_merchant(g.brand_id, merchant_id)


@blp.route("/members", methods=["POST"])
@idempotent
@blp.arguments(MemberInSchema)
@blp.response(200, MemberOutSchema, description="The member existed and was updated.")
@blp.alt_response(201, schema=MemberOutSchema, description="The member was created.")
def upsert_member(data: dict):
    """Create or update a member by the brand's external_id.

    An upsert: the brand's own id for the customer (`external_id`) finds the member; the profile
    fields given replace the stored ones. 201 when the member is new, 200 when it existed.
    """
    external_id = data.pop("external_id")
    member, created = members.upsert_member(g.brand_id, external_id, data)
    return member, 201 if created else 200


@blp.route("/members/<string:external_id>", methods=["GET"])
@blp.response(200, MemberOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no member with this external_id.")
def get_member(external_id: str):
    """One member by external_id.

    The member's profile as the brand stored it, and the member's tier.
    """
    return members.get_member(g.brand_id, external_id)


@blp.route("/staff", methods=["POST"])
@idempotent
@blp.arguments(StaffInSchema)
@blp.response(201, StaffOutSchema)
@blp.alt_response(409, schema=ErrorSchema, description="email_taken")
def create_staff(data: dict):
    """Create a staff account: merchant staff log in at /merchant to scan and redeem at their stores.

    `merchant_staff` work at one or more of the brand's stores (`merchant_ids`, each one of its
    stores, 422 otherwise); a `brand_admin` may act at any store and logs in to the dashboard. The
    password is stored hashed and never returned; an email already used in this brand is refused
    (409 email_taken).
    """
    return staff.create_staff(
        g.brand_id, data["email"], data["password"], data["role"], data.get("name"), data["merchant_ids"]
    )


@blp.route("/staff", methods=["GET"])
@blp.response(200, StaffListSchema)
def list_staff():
    """The brand's staff accounts.

    Every account with its role, stores and whether it is disabled; never a password.
    """
    return {"staff": staff.list_staff(g.brand_id)}
