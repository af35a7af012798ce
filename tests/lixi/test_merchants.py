"""Merchants (a brand's stores) through the API: create and list, an empty name refused."""

from __future__ import annotations


def test_merchants_create_and_list(api):
    created = api.post("/merchants", {"name": "Quận 5", "address": "5 Trần Hưng Đạo"})
    assert created.status_code == 201
    listed = api.get("/merchants").get_json()["merchants"]
    assert [m["name"] for m in listed] == ["Quận 5"]
    assert api.post("/merchants", {"name": ""}).status_code == 422
