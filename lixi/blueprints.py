"""The JSON API blueprint every domain uses: brand API-key authentication and documented errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_smorest import Blueprint

from lixi.auth import require_api_key
from lixi.extensions import csrf
from lixi.openapi import UNAUTHORIZED_DESCRIPTION
from lixi.parsing import LixiParser
from lixi.schemas import ErrorSchema

API_PREFIX = "/api/v1"
SECURITY = [{"ApiKey": []}]


class NoSessionForTheApi(SecureCookieSessionInterface):
    """The JSON API authenticates with bearer keys and sets no cookies: its requests get a null
    session (no cookie read, no signing serializer built per request, nothing saved)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX + "/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint reading bodies through the app's JSON provider (lixi.parsing), and
    documenting what every API route shares: its operationId (the endpoint name, for generated
    clients), the brand key it needs and the 401 without one."""

    ARGUMENTS_PARSER = LixiParser()

    def route(self, rule: str, *, parameters: Any = None, tags: Any = None, **options: Any) -> Callable:
        register = super().route(rule, parameters=parameters, tags=tags, **options)

        def decorator(view: Callable) -> Callable:
            operation_id = options.get("endpoint") or view.__name__
            unauthorized = self.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED_DESCRIPTION)
            documented = unauthorized(view)
            register(self.doc(operationId=operation_id, security=SECURITY)(documented))
            return view

        return decorator


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A flask-smorest Blueprint under /api/v1 whose every route needs a brand API key."""
    blp = ApiBlueprint(name, import_name, url_prefix=API_PREFIX, description=description)
    csrf.exempt(blp)  # bearer-key calls carry no cookies, so there is no cross-site request to forge

    @blp.before_request
    def _authenticate() -> None:
        require_api_key(request.headers.get("Authorization"))

    return blp
