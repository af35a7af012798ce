"""The yardstick: a bare Flask JSON endpoint that parses a body and answers a voucher-sized object."""

from flask import Flask, jsonify, request

app = Flask(__name__)

VOUCHER = {
    "code": "ABCD0123456789",
    "token": "IkFCQ0QwMTIzNDU2Nzg5Ig.abcdefghijklmnopqrstuvwxyz0",
    "status": "issued",
    "offer_id": 1,
    "kind": "fixed_amount",
    "value": 50000,
    "balance": None,
    "member_external_id": None,
    "expires_at": None,
}


@app.post("/api/v1/vouchers/validate")
def validate():
    body = request.get_json()
    return jsonify({"valid": True, "voucher": {**VOUCHER, "code": body["code"]}, "amount": 50000})


@app.get("/ready")
def ready():
    return "ok"
