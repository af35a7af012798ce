"""Game tests play many times in a row: the per-member and per-device limits are raised unless a test asks."""

import pytest

from tests.conftest import fresh_app

HIGH = "100000 per minute"


@pytest.fixture
def app(migrated, redis_url, request):
    overrides = {"RATE_LIMIT_PLAYS_PER_MEMBER": HIGH, "RATE_LIMIT_PLAYS_PER_DEVICE": HIGH}
    overrides.update(getattr(request, "param", {}))
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app
