"""The hot routes (validate, redeem, play) at the framework's speed, from the schemas they document.

A hot route is declared like any API route, with flask-smorest's `arguments`, `response`,
`alt_response` and `doc`, so the OpenAPI document is made from its marshmallow schemas as before.
`@hot_route(limits)`, right under `blp.route`, then serves it with what those same decorators
recorded, without their per-request layers (webargs, a marshmallow schema built and run per call,
a wrapper per documented response):

- the body is decoded by msgspec into a struct generated from the input schema (types, ranges,
  lengths, no unknown fields, no NUL); a body it does not accept goes the documented way, through
  webargs and marshmallow, which answer it exactly as before (their value, or their 422). So the
  fast decoder only ever accepts what marshmallow would accept the same way (tests/lixi/test_hotpath.py
  checks that with generated bodies);
- the limits are one Redis call (lixi/hotlimits.py), a 404 counted as a failed look-up;
- the answer is dumped by a function compiled from the response schema's fields (the same
  attributes, functions and nested schemas marshmallow would read, checked against marshmallow's
  own dump in the tests) and encoded by msgspec.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Annotated, Any

import msgspec
from flask import Response, g, request
from flask_smorest.utils import resolve_schema_instance
from marshmallow import Schema, fields, validate
from marshmallow.utils import missing
from webargs.core import is_json
from werkzeug.exceptions import HTTPException

from lixi.blueprints import ApiBlueprint
from lixi.errors import DomainError
from lixi.hotlimits import HotLimits
from lixi.idempotency import idempotent, is_idempotent
from lixi.schemas import Text

_UNSET = msgspec.UNSET


class Unsupported(TypeError):
    """A schema uses a field or validator the generated code does not handle (use the plain route)."""


# --- input: a msgspec struct generated from the schema --------------------------------------------


def _constraints(field: fields.Field) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            if validator.min is not None:
                meta["ge" if validator.min_inclusive else "gt"] = validator.min
            if validator.max is not None:
                meta["le" if validator.max_inclusive else "lt"] = validator.max
        elif isinstance(validator, validate.Length) and validator.equal is None:
            if validator.min is not None:
                meta["min_length"] = validator.min
            if validator.max is not None:
                meta["max_length"] = validator.max
        else:
            raise Unsupported(f"validator {validator!r}")
    if isinstance(field, Text):
        # Text refuses NUL, and a stricter pattern when it has one (searched, as JSON Schema does).
        meta["pattern"] = field.pattern.pattern if field.pattern is not None else "^[^\x00]*$"
    return meta


def _field_type(field: fields.Field) -> Any:
    if isinstance(field, fields.Integer) and field.strict and not field.as_string:
        base: Any = int
    elif type(field) in (fields.String, Text):
        base = str
    else:
        raise Unsupported(f"field {field!r}")
    meta = _constraints(field)
    if meta:
        base = Annotated[base, msgspec.Meta(**meta)]
    if field.allow_none:
        base = base | None
    return base


def input_struct(schema: Schema) -> type[msgspec.Struct]:
    """A struct that accepts a subset of what `schema.load` accepts, with the same result."""
    if schema.many or schema.partial or schema.unknown != "raise" or any(schema._hooks.values()):
        raise Unsupported("schema options or hooks")
    members: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key != name or field.load_default is not missing:
            raise Unsupported(f"data_key or load_default on {name}")
        field_type = _field_type(field)
        members.append(
            (name, field_type) if field.required else (name, field_type | msgspec.UnsetType, _UNSET)
        )
    return msgspec.defstruct(
        f"Fast{type(schema).__name__}", members, forbid_unknown_fields=True, kw_only=True
    )


class FastIn:
    """The request body as `schema.load` would give it, decoded by msgspec when it can be."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.decoder = msgspec.json.Decoder(input_struct(schema))
        self.names = tuple(schema.load_fields)

    def decode(self, raw: bytes) -> dict[str, Any] | None:
        """The loaded body, or None to leave it to marshmallow (anything unusual, any error)."""
        if b"\\ud" in raw or b"\\uD" in raw:
            return None  # surrogate escapes: the JSON provider decides (lixi.parsing)
        try:
            decoded = self.decoder.decode(raw)
        except (msgspec.MsgspecError, ValueError):  # ValueError: bytes that are not UTF-8
            return None
        return {name: value for name in self.names if (value := getattr(decoded, name)) is not _UNSET}

    def load(self) -> dict[str, Any]:
        if is_json(request.mimetype):
            loaded = self.decode(request.get_data(cache=True))
            if loaded is not None:
                return loaded
        # The documented way: webargs and marshmallow, which refuse with their 422 (or 400).
        return ApiBlueprint.ARGUMENTS_PARSER.parse(self.schema, request, location="json")


# --- output: a dump function compiled from the schema ---------------------------------------------


def _read(attribute: str) -> Callable[[Any], Any]:
    """marshmallow's get_value for a plain attribute: a mapping's key or an object's attribute."""

    def read(obj: Any) -> Any:
        if isinstance(obj, Mapping):
            return obj.get(attribute, missing)
        return getattr(obj, attribute, missing)

    return read


def _nullable(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _converter(field: fields.Field) -> Callable[[Any], Any]:
    """What marshmallow's field does to a value it read (its _serialize), for the fields we use."""
    if isinstance(field, fields.Nested):
        if field.many:
            raise Unsupported("Nested(many=True)")
        return _nullable(compile_dump(field.schema))
    if isinstance(field, fields.DateTime):
        if field.format not in (None, "iso"):
            raise Unsupported(f"DateTime format {field.format}")
        return _nullable(lambda value: value.isoformat())
    if isinstance(field, fields.Integer):
        if field.as_string:
            raise Unsupported("Integer(as_string=True)")
        return _nullable(int)
    if isinstance(field, fields.String):
        return _nullable(str)
    if type(field) in (fields.Raw, fields.Dict, fields.Boolean):
        return lambda value: value  # marshmallow dumps these as they are
    raise Unsupported(f"field {field!r}")


def compile_dump(schema: Schema) -> Callable[[Any], dict[str, Any]]:
    """`schema.dump(obj)` as one function over its fields (keys sorted, as Flask's JSON sorts them)."""
    if schema.many or any(schema._hooks.values()):
        raise Unsupported("schema options or hooks")
    plan: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None]] = []
    for name, field in schema.dump_fields.items():
        key = field.data_key or name
        if field.dump_default is not missing:
            raise Unsupported(f"dump_default on {name}")
        if isinstance(field, fields.Function):
            function = field.serialize_func
            if function is None or len(inspect.signature(function).parameters) != 1:
                raise Unsupported(f"Function {name} without a one-argument serialize")
            plan.append((key, function, None))
            continue
        attribute = field.attribute or name
        if "." in attribute:
            raise Unsupported(f"dotted attribute {attribute}")
        plan.append((key, _read(attribute), _converter(field)))
    plan.sort(key=lambda step: step[0])

    def dump(obj: Any) -> dict[str, Any]:
        out = {}
        for key, read, convert in plan:
            value = read(obj)
            if value is missing:
                continue  # as marshmallow: an absent value is left out
            out[key] = convert(value) if convert is not None else value
        return out

    return dump


class FastOut:
    def __init__(self, schema: Schema) -> None:
        self.dump = compile_dump(schema)
        self.encode = msgspec.json.Encoder().encode

    def response(self, obj: Any, status: int) -> Response:
        return Response(self.encode(self.dump(obj)), status=status, mimetype="application/json")


# --- the route -------------------------------------------------------------------------------------


def _documented(documented: Callable) -> tuple[Schema, int, Schema]:
    """The input schema, success status and response schema flask-smorest recorded for the docs."""
    apidoc = documented._apidoc  # type: ignore[attr-defined]
    (parameter,) = apidoc["arguments"]["parameters"]
    assert parameter["in"] == "json", parameter
    (status,) = apidoc["success_status_codes"]
    (response,) = apidoc["response"]["responses"][status]
    return (
        resolve_schema_instance(parameter["schema"]),
        int(status),
        resolve_schema_instance(response["schema"]),
    )


def hot_route(limits: HotLimits) -> Callable[[Callable], Callable]:
    """Serve a documented API view (right under `blp.route`) with the generated parse and dump.

    The view's own function gets the loaded body (and the path's arguments) as before; an
    `@idempotent` view stays idempotent. The tenant is the authenticated key's brand.
    """

    def decorator(documented: Callable) -> Callable:
        in_schema, status, out_schema = _documented(documented)
        body, answer = FastIn(in_schema), FastOut(out_schema)
        view = inspect.unwrap(documented)

        def serve(*args: Any, **kwargs: Any) -> Response:
            data = body.load()
            limits.check(g.brand_id, data)
            try:
                result = view(data, *args, **kwargs)
            except (DomainError, HTTPException) as error:
                if (error.status if isinstance(error, DomainError) else error.code) == 404:
                    limits.count_failure(g.brand_id, data)
                raise
            return answer.response(result, status)

        fast = wraps(documented)(idempotent(serve) if is_idempotent(documented) else serve)
        fast.lixi_hot = True  # type: ignore[attr-defined] - Flask-Limiter skips it (lixi.hotlimits)
        return fast

    return decorator
