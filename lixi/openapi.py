"""The API's OpenAPI side: flask-smorest's Api (our error body), and what the served document says
beyond the routes and schemas: its info, shared parameters."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api

from lixi.errors import http_error_response
from lixi.schemas import ErrorSchema

# Passed to flask-smorest's APISpec (merged into the document's top level).
SPEC_OPTIONS: dict[str, Any] = {
    "info": {
        "description": (
            "Gamified rewards and gift vouchers: offers, vouchers and their QR codes, validation and "
            "redemption, game campaigns and plays. Authenticate with a brand API key "
            '(`Authorization: Bearer lx_…`). Every error is `{"error": {"code", "message", '
            '"details"?}}` with a stable `code`; mutating POSTs marked with `Idempotency-Key` '
            "replay their first answer when repeated with the same key and body."
        ),
        "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
        # The project has no public address yet: a deployment may add its own url or email here.
        "contact": {"name": "The Lixi contributors"},
    },
}

MAX_IDEMPOTENCY_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": (
        "A client string, unique per change. A repeat with the same key and body returns the first "
        "response (same status and body) and changes nothing; the same key with another body is "
        "refused (422 idempotency_key_reused)."
    ),
    # Not blank: at least one character that is not a space.
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH, "pattern": r"\S"},
}

UNAUTHORIZED_DESCRIPTION = "unauthorized: the API key is missing, wrong or revoked."


def add_operation_doc(function: Any, **doc: Any) -> None:
    """Merge `doc` into what flask-smorest will document for this view (as its `blp.doc` does),
    for decorators that live outside a blueprint, such as `lixi.idempotency.idempotent`."""
    apidoc = dict(getattr(function, "_apidoc", {}))
    manual = dict(apidoc.get("manual_doc", {}))
    for key, value in doc.items():
        manual[key] = [*manual.get(key, []), *value] if isinstance(value, list) else value
    apidoc["manual_doc"] = manual
    function._apidoc = apidoc


class SchemaExtrasPlugin(BasePlugin):
    """Adds a schema class's OPENAPI_EXTRA (anyOf, not, …) to its component: the cross-field rules
    that marshmallow checks in code but cannot describe field by field."""

    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> dict | None:
        schema = kwargs.get("schema")
        schema_class = schema if isinstance(schema, type) else type(schema)
        return deepcopy(getattr(schema_class, "OPENAPI_EXTRA", None))


def _configured_min_length(app: Flask) -> Callable[..., dict]:
    """minLength read from the app's config (metadata min_length_setting), e.g. the staff password's."""

    def attribute(_converter: Any, field: Any, **_kwargs: Any) -> dict:
        setting = field.metadata.get("min_length_setting")
        return {"minLength": int(app.config[setting])} if setting else {}

    return attribute


def spec_options() -> dict[str, Any]:
    """Keyword arguments for flask-smorest's APISpec: the info and our plugin."""
    return {**SPEC_OPTIONS, "extra_plugins": [SchemaExtrasPlugin()]}


def document_api(api: Any, app: Flask) -> None:
    """After api.init_app: what the document needs from this app's config."""
    api.ma_plugin.converter.add_attribute_function(_configured_min_length(app))


class LixiApi(Api):
    """flask-smorest's Api with its error body replaced by the shape of API.md."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):  # type: ignore[override]
        return http_error_response(error)


api = LixiApi()
