"""Members through the API: upsert by external id, read back, unknown ones 404, bad fields 422."""

from __future__ import annotations


def test_members_upsert_by_external_id(api):
    first = api.post("/members", {"external_id": "zalo-42", "name": "Bình", "birthday": "1990-02-10"})
    assert first.status_code == 201
    second = api.post("/members", {"external_id": "zalo-42", "phone": "0901234567"})
    assert second.status_code == 200
    member = second.get_json()
    assert member["id"] == first.get_json()["id"]
    assert (member["name"], member["phone"], member["birthday"]) == ("Bình", "0901234567", "1990-02-10")
    assert api.get("/members/zalo-42").get_json() == member
    assert api.get("/members/nobody").status_code == 404
    assert api.post("/members", {"external_id": "x", "email": "not-an-email"}).status_code == 422
