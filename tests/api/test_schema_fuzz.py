"""docs/openapi.yaml as the oracle: a schema-driven fuzz of every operation, and the text rules the
schema states pinned one by one.

test_contract.py feeds wrong types and hostile strings field by field and checks "never a 5xx";
this file reads the schemas themselves. For each operation it builds requests from the schemas
(parameters and JSON body): mostly valid ones, and ones that break one documented constraint at a
time (wrong type, pattern, too short or long, out of range, not in the enum, a duplicate where
`uniqueItems`, a required field missing, control characters, Unicode oddities, huge numbers).
Every answer must then
  - never be a 5xx;
  - have a status documented for that operation;
  - if it is JSON, validate against the documented response schema (OpenAPI 3.0 schemas made
    JSON Schema: `nullable`, ECMA-262 `pattern`s);
  - be a 4xx when the request broke the schema: what the schema refuses the server refuses, so
    a generated client or an outside fuzzer sees the same rules as the server. (The converse is
    not required: a schema-valid request may still be refused for what a schema cannot say, such
    as an unknown id, a time in the past or a case-insensitive duplicate.)

Whether a request breaks the schema is decided by validating it (jsonschema, Draft 4 semantics as
OpenAPI 3.0 uses, patterns with ECMA-262 `$`), not by trusting the generator. Documented
conventions the schema language cannot carry are applied when converting: in a request body, an
optional property that is `null` counts as absent.

The run is seeded: SCHEMA_FUZZ_SEED (default: a fresh one, printed on failure) and
SCHEMA_FUZZ_N requests per database (default 400, a few seconds; raise it for a longer run).
Skipped operations, with the reason, are in SKIPPED.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import string
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
import requests
import yaml

from booking_helpers import Venue, hold
from catalog_helpers import cast, create_hall, create_movie, create_theatre, describe, future, \
    iso, make_user, ok, today_utc
from conftest import DEFAULT_PASSWORD, TIMEOUT, assert_error, call, unique_email

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")

# Operations the fuzz does not send, and why (anything else in the file is fuzzed, including
# operations added later).
SKIPPED = {
    ("POST", "/api/v1/movies/{id}/poster"): "multipart upload (test_media.py)",
    ("POST", "/api/v1/movies/{id}/trailer"): "multipart upload (test_media.py)",
    ("GET", "/api/v1/shows/{id}/events"): "a Server-Sent Events stream that stays open (test_sse.py)",
    ("POST", "/api/v1/payments/razorpay/webhook"):
        "needs an HMAC signature over the raw body; unsigned it is always 400 (test_razorpay.py)",
}

# What the server counts as white space in a "not blank" field (src/http/validate.c blank()).
UNICODE_BLANKS = "\u00a0\u2000\u2001\u2005\u200a\u200b\u202f\u205f\u3000\ufeff"
C0 = "".join(chr(c) for c in range(0x20))
C1 = "".join(chr(c) for c in range(0x80, 0xa0))
ODD = ["\u0000", "\u0001", "\u0007", "\t", "\n", "\r", "\u000b", "\u001b", "\u007f", "\u0085",
       "\u009b", " ", "\u00a0", "\u200b", "\u200c", "\u200d", "\u202e", "\u2028", "\ufeff",
       "\u3000", "\uffff", "\U0001f600", "\U0010ffff", "e\u0301", "\u0130", "\u00df", '"', "%",
       "\\", "'", "/", "<", "&", "?", "#", ".", "-", "_", "é", "ß", "İ", "𝔘"]


# --------------------------------------------------------------------------------------------
# OpenAPI 3.0 schema -> JSON Schema


def ecma_regex(pattern: str) -> re.Pattern:
    """An ECMA-262 pattern as Python re: `$` (outside a class, unescaped) means the very end
    (Python's `$` also matches before a final newline). The patterns of the file use no \\d,
    \\w, \\s or \\b, whose meaning differs (test_patterns_are_portable_ecma_262 checks)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "$" and not in_class:
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out))


_REGEX_CACHE: dict[str, re.Pattern] = {}


def ecma_search(pattern: str, s: str) -> bool:
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        rx = _REGEX_CACHE[pattern] = ecma_regex(pattern)
    return rx.search(s) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not ecma_search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _pattern})


def to_json_schema(schema, request: bool = False):
    """A copy of an OpenAPI schema as JSON Schema (Draft 4): $refs inlined, `nullable` as a null
    type, OpenAPI-only keywords dropped. With request, an optional property may be null (the
    documented convention: null counts as absent)."""
    if isinstance(schema, list):
        return [to_json_schema(s, request) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return to_json_schema(resolve(schema), request)
    out = {}
    for k, v in schema.items():
        if k in ("nullable", "example", "examples", "discriminator", "readOnly", "writeOnly",
                 "xml", "externalDocs", "deprecated", "description", "format", "default"):
            continue
        if k == "properties":
            out[k] = {p: to_json_schema(s, request) for p, s in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = to_json_schema(v, request)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_json_schema(s, request) for s in v]
        else:
            out[k] = copy.deepcopy(v)
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    if request and "properties" in schema:
        required = set(schema.get("required", []))
        for p in out["properties"]:
            if p not in required:
                out["properties"][p] = {"anyOf": [out["properties"][p], {"type": "null"}]}
    return out


def resolve(schema: dict) -> dict:
    """Follows $refs (to any component) to the schema, parameter or response they name."""
    while isinstance(schema, dict) and "$ref" in schema:
        node = OPENAPI
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def schema_errors(schema, value, request: bool = False) -> list[str]:
    v = Validator(to_json_schema(schema, request))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in v.iter_errors(value)]


def all_patterns() -> set[str]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "pattern" and isinstance(v, str):
                    found.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(OPENAPI)
    return found


def schema_pattern(name: str, prop: str | None = None) -> str:
    s = OPENAPI["components"]["schemas"][name]
    s = s["properties"][prop] if prop else s
    return resolve(s)["pattern"] if "pattern" in resolve(s) else s["items"]["pattern"]


# --------------------------------------------------------------------------------------------
# The patterns themselves


def test_patterns_are_portable_ecma_262():
    """Every pattern uses only syntax that means the same in ECMA-262 (what OpenAPI and JSON
    Schema specify), Python and PCRE: no \\d \\w \\s \\b (Unicode-aware in some engines), no
    lookbehind, named groups, possessive quantifiers, inline flags, \\A \\Z \\z or \\p{..}, and
    \\x/\\u escapes of the exact lengths ECMA-262 reads."""
    pats = all_patterns()
    assert len(pats) >= 8, pats
    for p in pats:
        re.compile(p)
        body = re.sub(r"\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|\\[\\\[\]^$.|?*+(){}/\"%tnr-]", "", p)
        assert "\\" not in body, f"escape that is not portable ECMA-262 in {p!r}: {body!r}"
        assert not re.search(r"\(\?[^:=!]|\(\?<[=!]|[*+?}][+]", p), f"non-portable construct in {p!r}"


def test_name_pattern_matches_the_servers_blank_rule():
    """The not-blank rule of src/http/validate.c, character for character: ASCII controls and
    space, DEL and the pasted Unicode spaces (NBSP, U+2000..U+200B, U+202F, U+205F, U+3000,
    U+FEFF) are blank; a name holds no control character (C0, DEL, C1)."""
    line = schema_pattern("RegisterRequest", "name")
    for blank in [" ", "\t", "\n", "\u00a0", "\u00a0\u3000", " \ufeff "] + list(UNICODE_BLANKS) \
            + [chr(c) for c in range(0x2000, 0x200c)]:
        assert not ecma_search(line, blank), repr(blank)
    for bad in ["Asha\u0007", "A\nB", "\u001b[31mX", "X\u0085", "X\u009f", "X\u007f", "\u0000A"]:
        assert not ecma_search(line, bad), repr(bad)
    for good in ["Asha", " Kantara 2 ", "\u00a0é", "😀", "\u200c", "\u2028x", "O'Brien \"Jr\""]:
        assert ecma_search(line, good), repr(good)
    multi = schema_pattern("TheatreCreateRequest", "address")
    assert ecma_search(multi, "1 MG Road,\r\n\tMumbai") and not ecma_search(multi, "\n\t\u00a0")
    assert not ecma_search(multi, "1 Road\u000b") and not ecma_search(multi, "1 Road\u0085")
    tag = schema_pattern("TagList")
    assert ecma_search(tag, "sci-fi") and ecma_search(tag, "हिन्दी")
    for bad in ['a"b', "50%", "a\\b", " ", "\u00a0", "x\u0001", "\t"]:
        assert not ecma_search(tag, bad), repr(bad)
    nb = schema_pattern("LoginRequest", "password")
    assert ecma_search(nb, "   x    ") and ecma_search(nb, "pass\u0001word")
    assert not ecma_search(nb, " " * 8) and not ecma_search(nb, "\u00a0" * 8)
    assert not ecma_search(nb, "pass\u0000word")


def test_request_id_is_documented_as_the_server_treats_it(server):
    """A malformed X-Request-Id is replaced, not refused: the request parameter takes any
    string; the response header always matches the documented pattern."""
    param = OPENAPI["components"]["parameters"]["XRequestId"]
    assert "pattern" not in param["schema"], "the server does not refuse any X-Request-Id"
    header = OPENAPI["components"]["headers"]["X-Request-Id"]["schema"]
    for sent in ["ok-id.1_2", "has space", "x" * 65, "ünï", "", "a/b"]:
        r = requests.get(server.url + "/healthz", headers={"X-Request-Id": sent.encode()},
                         timeout=TIMEOUT)
        assert r.status_code == 200, describe(r)
        rid = r.headers["X-Request-Id"]
        assert ecma_search(header["pattern"], rid), rid
        assert (rid == sent) == ecma_search(header["pattern"], sent), (sent, rid)


# --------------------------------------------------------------------------------------------
# The rules, pinned against the server


def _field(r, status, field):
    err = assert_error(r, status, "validation_failed")
    assert err["details"]["field"] == field, describe(r)


def test_control_characters_in_names_are_refused(server):
    c = cast(server)
    for name in ["Asha\u0007", "A\nB", "\u001b[31mRed", "X\u0085", "X\u009b", "X\u007f"]:
        r = call("POST", server, "/auth/register",
                 json={"email": unique_email("ctl"), "password": DEFAULT_PASSWORD, "name": name})
        _field(r, 422, "name")
    movie = create_movie(server, c.admin.token)
    for body in ({"title": "Tab\tTitle"}, {"title": "Line\nbreak"}, {"description": "a\u0001b"},
                 {"description": "a\u0085"}, {"genres": ["dra\u0001ma"]}, {"languages": [" "]},
                 {"genres": ["\u00a0"]}):
        r = call("PATCH", server, f"/movies/{movie['id']}", token=c.admin.token, json=body)
        _field(r, 422, next(iter(body)))
    assert call("GET", server, f"/movies/{movie['id']}").json() == movie
    theatre = create_theatre(server, c.owner.token)
    for body in ({"name": "Regal\r"}, {"city": "Pune\u009f"},
                 {"address": "1 Road\u000b"}, {"address": "\u001b"}):
        r = call("PATCH", server, f"/theatres/{theatre['id']}", token=c.owner.token, json=body)
        assert r.status_code == 422, describe(r)
    hall = create_hall(server, theatre["id"], c.owner.token)
    r = call("PATCH", server, f"/halls/{hall['id']}", token=c.owner.token, json={"name": "Audi\n1"})
    _field(r, 422, "name")
    r = call("POST", server, f"/theatres/{theatre['id']}/halls", token=c.owner.token,
             json={"name": "Audi\u0002", "layout": hall["layout"]})
    _field(r, 422, "name")


def test_free_text_keeps_tabs_and_line_breaks(server):
    c = cast(server)
    movie = create_movie(server, c.admin.token, description="Line one.\r\n\tLine two.")
    assert movie["description"] == "Line one.\r\n\tLine two."
    theatre = create_theatre(server, c.owner.token, address="1 MG Road,\nMumbai 400001")
    assert theatre["address"] == "1 MG Road,\nMumbai 400001"
    # Unicode that is not a control character stays welcome.
    r = call("PATCH", server, f"/movies/{movie['id']}", token=c.admin.token,
             json={"title": "\u00a0Amélie \U0001f600\u200d", "genres": ["Sci-Fi", "हिन्दी"]})
    assert ok(r)["genres"] == ["sci-fi", "हिन्दी"]


def test_search_length_is_counted_in_characters(server):
    """q is at most 200 characters, as documented (it was 200 bytes)."""
    r = call("GET", server, "/movies", params={"q": "é" * 200})
    assert r.status_code == 200, describe(r)
    r = call("GET", server, "/movies", params={"q": "e" * 201})
    assert_error(r, 400, "invalid_parameter")
