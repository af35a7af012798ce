"""JSON API of the kernel: merchants and members."""

from __future__ import annotations

from flask import g

from lixi import members, merchants, staff
from lixi.blueprints import SECURITY, api_blueprint
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
@blp.doc(security=SECURITY)
def create_merchant(data: dict):
    """Create a merchant (store) of the brand."""
    return merchants.create_merchant(g.brand_id, data["name"], data.get("address"))


@blp.route("/merchants", methods=["GET"])
@blp.response(200, MerchantListSchema)
@blp.doc(security=SECURITY)
def list_merchants():
    """List the brand's merchants."""
    return {"merchants": merchants.list_merchants(g.brand_id)}


@blp.route("/merchants/<int:merchant_id>", methods=["GET"])
@blp.response(200, MerchantOutSchema)
@blp.doc(security=SECURITY)
def get_merchant(merchant_id: int):
    """One merchant of the brand."""
    return merchants.get_merchant(g.brand_id, merchant_id)


@blp.route("/members", methods=["POST"])
@idempotent
@blp.arguments(MemberInSchema)
@blp.response(200, MemberOutSchema, description="The member existed and was updated.")
@blp.alt_response(201, schema=MemberOutSchema, description="The member was created.")
@blp.doc(security=SECURITY)
def upsert_member(data: dict):
    """Create or update a member by the brand's external_id."""
    external_id = data.pop("external_id")
    member, created = members.upsert_member(g.brand_id, external_id, data)
    return member, 201 if created else 200


@blp.route("/members/<string:external_id>", methods=["GET"])
@blp.response(200, MemberOutSchema)
@blp.doc(security=SECURITY)
def get_member(external_id: str):
    """One member by external_id."""
    return members.get_member(g.brand_id, external_id)


@blp.route("/staff", methods=["POST"])
@idempotent
@blp.arguments(StaffInSchema)
@blp.response(201, StaffOutSchema)
@blp.alt_response(409, schema=ErrorSchema, description="email_taken")
@blp.doc(security=SECURITY)
def create_staff(data: dict):
    """Create a staff account: merchant staff log in at /merchant to scan and redeem at their stores."""
    return staff.create_staff(
        g.brand_id, data["email"], data["password"], data["role"], data.get("name"), data["merchant_ids"]
    )


@blp.route("/staff", methods=["GET"])
@blp.response(200, StaffListSchema)
@blp.doc(security=SECURITY)
def list_staff():
    """The brand's staff accounts."""
    return {"staff": staff.list_staff(g.brand_id)}
