"""Reading requests: every JSON body through one provider, and query strings that always decode.

Flask's `request.get_json()`, the API's webargs parser, the Idempotency-Key fingerprint and the
play limits' member identity all parse JSON here, so a body that would crash the stack (deep
nesting) or the database driver (a lone UTF-16 surrogate, which UTF-8 cannot encode) is refused
once, before anything reads it: 400 when it cannot be parsed, 422 naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.utils import cached_property

from lixi.errors import InvalidRequest

_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE_MESSAGE = "Not valid Unicode text: a lone UTF-16 surrogate (\\ud800–\\udfff) cannot be stored."


class LoneSurrogate(ValueError):
    """A JSON string or key holds an unpaired surrogate; `path` leads to it (keys and list indexes)."""

    def __init__(self, path: tuple[str, ...]) -> None:
        super().__init__(f"{'.'.join(path) or 'the body'}: {LONE_SURROGATE_MESSAGE}")
        self.path = path


def _printable(key: str) -> str:
    # A field name in an error message must itself be encodable.
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def refuse_lone_surrogates(value: Any) -> None:
    """Raise LoneSurrogate for the first unpaired surrogate in a parsed JSON value (iterative: the
    value may be nested as deep as the parser allowed)."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise LoneSurrogate(path)
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    raise LoneSurrogate((*path, _printable(key)))
                stack.append(((*path, key), child))
        elif isinstance(item, list):
            stack.extend(((*path, str(index)), child) for index, child in enumerate(item))


class LixiJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what would crash later: nesting past the recursion limit, surrogates."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, bytes | bytearray):
            # Strict decoding (json.loads would use surrogatepass): raw surrogate bytes are refused.
            s = s.decode(json.detect_encoding(s))
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None
        # Only a \uXXXX escape can make a surrogate in decoded text; the common body skips the walk.
        if "\\ud" in s or "\\uD" in s:
            refuse_lone_surrogates(value)
        return value


def _field_details(path: tuple[str, ...], message: str) -> dict[str, Any]:
    """{"prizes": {"0": {"label": [message]}}}: the nesting of marshmallow's own messages."""
    details: Any = [message]
    for key in reversed(path or ("_schema",)):
        details = {key: details}
    return details


class LixiRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, LoneSurrogate):
            raise InvalidRequest(
                "Some fields are invalid.", {"fields": _field_details(e.path, LONE_SURROGATE_MESSAGE)}
            )
        if e is not None:
            raise BadRequest(f"The request body is not valid JSON: {e}")
        return super().on_json_loading_failed(e)

    @cached_property
    def args(self) -> MultiDict[str, str]:  # type: ignore[override]
        # Werkzeug decodes the query string strictly (raw non-UTF-8 bytes were a 500, even on the
        # error page, which reads it for its language links); like werkzeug's own path decoding,
        # undecodable bytes become U+FFFD. Percent-escaped ones stay escaped, as werkzeug keeps them.
        return self.parameter_storage_class(
            parse_qsl(
                self.query_string.decode("utf-8", "replace"),
                keep_blank_values=True,
                errors="werkzeug.url_quote",
            )
        )


class LixiParser(FlaskParser):
    """webargs reads JSON with the stdlib; this reads it through the request, so through the provider."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing  # as webargs: no JSON body is a missing body, not a broken one
        return req.get_json(force=True)


def register_request_parsing(app: Flask) -> None:
    app.request_class = LixiRequest
    app.json = LixiJSONProvider(app)
