"""Phone numbers and email addresses as people type them (lixi.contacts, which gifting's recipients
and claim codes go through): normalised, or refused; and the members a contact finds."""

from __future__ import annotations

import pytest

from lixi.contacts import members_with_contact, normalize_email, normalize_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0901234567",
        "090 123 4567",
        "090-123-4567",
        "(090) 123.4567",
        "+84 90 123 4567",
        "+84901234567",
        "84901234567",
        " 0901234567 ",
    ],
)
def test_a_vietnamese_mobile_typed_any_usual_way_is_one_e164_number(typed):
    assert normalize_phone(typed) == "+84901234567"


def test_a_number_with_another_country_code_keeps_it():
    assert normalize_phone("+65 8123 4567") == "+6581234567"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "12345",
        "090123",
        "09012345678901",
        "+84 1",
        "0000000000",
        "+999 123456789",
        "0" * 50,
    ],
)
def test_what_is_not_a_phone_number_is_refused(typed):
    assert normalize_phone(typed) is None


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("lan@example.com", "lan@example.com"),
        ("  lan@example.com ", "lan@example.com"),
        ("Lan.Nguyen@Example.COM", "Lan.Nguyen@example.com"),
        ("lan+tet@example.vn", "lan+tet@example.vn"),
        ("lan@bücher.example", "lan@bücher.example"),
    ],
)
def test_an_email_keeps_its_local_part_and_lowers_its_domain(typed, normalised):
    assert normalize_email(typed) == normalised


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "lan",
        "lan@",
        "@example.com",
        "lan@@example.com",
        "lan@example",
        "lan example@x.com",
        "a" * 250 + "@x.com",
    ],
)
def test_what_is_not_an_email_is_refused(typed):
    assert normalize_email(typed) is None


def test_a_contact_finds_the_brands_members_however_their_phone_was_stored(api, brand, make_brand):
    other = make_brand("Trà Sữa")
    for external_id, phone, who in [
        ("m-1", "0901234567", brand),
        ("m-2", "+84 90 123 4567", brand),
        ("m-3", "0907654321", brand),
        ("m-4", "0901234567", other),
    ]:
        response = api.post("/members", {"external_id": external_id, "phone": phone}, who=who)
        assert response.status_code == 201, response.get_json()
    api.post("/members", {"external_id": "m-5", "email": "Lan@Example.com"})

    found = members_with_contact(brand.id, None, "+84901234567", limit=10)
    assert [m.external_id for m in found] == ["m-1", "m-2"]
    assert [m.external_id for m in members_with_contact(brand.id, "lan@example.com", None, 10)] == ["m-5"]
    assert members_with_contact(brand.id, "binh@example.com", "+84909999999", 10) == []
    assert members_with_contact(brand.id, None, None, 10) == []
