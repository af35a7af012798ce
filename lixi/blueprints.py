"""The JSON API blueprint every domain uses: brand API-key authentication and documented errors."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from lixi.auth import require_api_key
from lixi.extensions import csrf
from lixi.parsing import LixiParser

API_PREFIX = "/api/v1"
SECURITY = [{"ApiKey": []}]


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint reading bodies through the app's JSON provider (lixi.parsing)."""

    ARGUMENTS_PARSER = LixiParser()


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A flask-smorest Blueprint under /api/v1 whose every route needs a brand API key."""
    blp = ApiBlueprint(name, import_name, url_prefix=API_PREFIX, description=description)
    csrf.exempt(blp)  # bearer-key calls carry no cookies, so there is no cross-site request to forge

    @blp.before_request
    def _authenticate() -> None:
        require_api_key(request.headers.get("Authorization"))

    return blp
