def test_issue_validate_redeem(api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    r = api.post("/vouchers/validate", {"code": voucher["code"], "merchant_id": merchant["id"]})
    assert r.status_code == 200, r.get_json()
    r = api.post("/redemptions", {"code": voucher["token"], "merchant_id": merchant["id"]})
    assert r.status_code == 201, r.get_json()
    r = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_redeemed"
