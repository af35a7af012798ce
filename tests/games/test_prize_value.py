"""A prize's value is what winning it costs the brand: only a prize with an offer gives anything."""

from __future__ import annotations

from tests.conftest import error_code


def _campaign(api, prizes: list[dict]):
    return api.post("/campaigns", {"name": "Tết", "game": "spin_wheel", "prizes": prizes})


def test_a_prize_with_a_value_but_no_offer_is_refused_naming_it(api, offer):
    response = _campaign(
        api,
        [
            {"label": "20k", "weight": 1, "offer_id": offer["id"]},
            {"label": "Lì xì", "weight": 1, "value": 10000},
        ],
    )
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert "no value" in response.get_json()["error"]["details"]["fields"]["prizes"]["1"]["value"][0]


def test_a_valued_prize_with_an_offer_and_an_empty_slot_are_accepted(api, offer):
    response = _campaign(
        api,
        [
            {"label": "20k", "weight": 1, "offer_id": offer["id"], "value": 20000},
            {"label": "Chúc may mắn", "weight": 3},
            {"label": "Lần sau", "weight": 1, "value": 0},
        ],
    )
    assert response.status_code == 201, response.get_json()
    assert [p["value"] for p in response.get_json()["prizes"]] == [20000, 0, 0]


def test_pacing_is_bounded_by_the_units_it_must_schedule(api, offer):
    body = {
        "name": "Paced",
        "game": "spin_wheel",
        "pacing": True,
        "starts_at": "2030-01-01T00:00:00+07:00",
        "ends_at": "2030-02-01T00:00:00+07:00",
        "prizes": [{"label": "Grand", "weight": 1, "offer_id": offer["id"], "stock": 10**9}],
    }
    refused = api.post("/campaigns", body)
    assert refused.status_code == 422
    assert "pacing" in refused.get_json()["error"]["details"]["fields"]
    body["prizes"][0]["stock"] = 100
    assert api.post("/campaigns", body).status_code == 201
