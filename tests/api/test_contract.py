"""The contract kept true: docs/openapi.yaml against the route table and against the server, every
error code the code can send against docs/errors.md, and every documented JSON operation fed
wrong types, hostile strings and hostile ids field by field: always a JSON 4xx (or a success),
never a 5xx, and the server stays up.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
import yaml

from booking_helpers import Venue, hold
from catalog_helpers import cast, describe
from conftest import assert_error, call, register

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
METHODS = {"get", "post", "put", "patch", "delete"}


def documented_operations() -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in OPENAPI["paths"].items()
            for m in ops if m in METHODS}


def routed_operations() -> set[tuple[str, str]]:
    """(method, path) of every entry of src/api/routes.c's table, V1 expanded."""
    src = (ROOT / "src" / "api" / "routes.c").read_text()
    v1 = re.search(r'#define\s+V1\s+"([^"]+)"', src).group(1)
    table = src[src.index("tix_routes[]"):]
    out = set()
    for m in re.finditer(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*(V1\s+)?"([^"]*)"', table):
        out.add((m.group(1), (v1 if m.group(2) else "") + m.group(3)))
    return out


def test_openapi_documents_exactly_the_routes():
    documented, routed = documented_operations(), routed_operations()
    assert routed, "no routes parsed from src/api/routes.c"
    assert routed - documented == set(), "routed but not in docs/openapi.yaml"
    assert documented - routed == set(), "in docs/openapi.yaml but not routed"


def test_every_error_code_in_the_code_is_documented():
    docs = (ROOT / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"`([a-z][a-z0-9_]+)`", docs))
    sent = set()
    for f in (ROOT / "src").rglob("*.c"):
        text = f.read_text()
        sent |= set(re.findall(r'tix_reply_error\(\s*\w+,\s*\d{3},\s*"([a-z0-9_]+)"', text))
    assert len(sent) > 20, sent
    assert sent - documented == set(), "error codes sent but not in docs/errors.md"


def test_every_documented_operation_is_served(server):
    """No documented operation answers 'no such endpoint' (404 for the path) or 405."""
    for method, path in sorted(documented_operations()):
        url_path = re.sub(r"\{[^}]+\}", "x", path)
        r = requests.request(method, server.url + url_path, timeout=10,
                             headers={"Accept": "application/json"})
        assert r.status_code != 405, (method, path, describe(r))
        if r.status_code == 404:
            msg = r.json()["error"]["message"]
            assert "endpoint" not in msg and "route" not in msg, (method, path, msg)


# --------------------------------------------------------------------------------------------
# Type confusion, field by field

HOSTILE = [None, True, 0, -1, 1.5, 2 ** 63, -(2 ** 63) - 1, 1e308, "", " ", "x" * 5000,
           "\u0000", "'; DROP TABLE users; --", "😀" * 50, "../../../etc/passwd", [], [None],
           ["x"] * 300, {}, {"$ne": 1}, "2026-02-30T25:61:00Z", "-1", "NaN"]
HOSTILE_IDS = ["x", "0", "-1", "mov_", "mov_" + "z" * 300, "..", "%00", "%2e%2e%2fetc",
               "shw_01ARZ3NDEKTSV4RRFFQ69G5FA%27--"]


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = OPENAPI["components"]["schemas"][name]
    return schema


def properties(schema: dict) -> set[str]:
    schema = resolve(schema)
    props = set(schema.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            props |= properties(sub)
    return props


def json_operations():
    for path, ops in OPENAPI["paths"].items():
        for m, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}) if m in METHODS else {}
            if "application/json" in content:
                yield m.upper(), path, properties(content["application/json"]["schema"])


def assert_sane(resp: requests.Response, what) -> None:
    assert resp.status_code < 500, (what, describe(resp))
    if resp.status_code >= 400:
        body = resp.json()
        assert isinstance(body.get("error", {}).get("code"), str), (what, describe(resp))


@pytest.fixture
def world(server):
    """Real ids of every kind, so ids in paths reach the handlers' own checks."""
    v = Venue(server)
    c = cast(server)
    h = hold(server, c.user.token, v.show_id, seat_ids=v.ids("A1"))
    return {"movies": v.movie["id"], "theatres": v.theatre["id"], "halls": v.hall["id"],
            "shows": v.show_id, "holds": h["hold_id"],
            # a user of its own: PATCH /admin/users/{id} gets {"disabled": true} among the
            # hostile values, which would end the cast user's sessions for later tests
            "users": register(server)["user"]["id"],
            "bookings": "bkg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "refunds": "rfd_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "test": "order_x", "admin": c.admin.token, "owner": c.owner.token,
            "user": c.user.token}


def concrete(path: str, world: dict) -> str:
    parts = path.split("/")
    for i, p in enumerate(parts):
        if p.startswith("{"):
            parts[i] = world.get(parts[i - 1], "x")
    return "/".join(parts).removeprefix("/api/v1")


def test_wrong_types_in_every_field_are_4xx(server, world):
    for method, path, props in json_operations():
        url = concrete(path, world)
        token = world["user"] if "/holds" in path or path.endswith("/bookings") else world["admin"]
        for prop in sorted(props):
            for bad in HOSTILE:
                r = call(method, server, url, token=token, json={prop: bad})
                assert_sane(r, (method, path, prop, bad if not isinstance(bad, str) else bad[:40]))
        for body in (None, [], "x", 0, {p: None for p in props}, {"": 1, "\u0000": 2}):
            r = call(method, server, url, token=token, json=body)
            assert_sane(r, (method, path, body))
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_hostile_ids_in_every_path_are_4xx(server, world):
    for method, path in sorted(documented_operations()):
        if "{" not in path or path.startswith("/media/"):
            continue
        for bad in HOSTILE_IDS:
            url = re.sub(r"\{[^}]+\}", bad, path).removeprefix("/api/v1")
            r = call(method, server, url, token=world["admin"], json={} if method != "GET" else None)
            assert_sane(r, (method, path, bad))
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_blank_text_is_refused_and_changes_nothing(server, world):
    admin = world["admin"]
    movie = world["movies"]
    before = call("GET", server, f"/movies/{movie}").json()
    for body in ({"title": " "}, {"title": "\u00a0\u3000"}, {"certificate": "\t"}):
        field = next(iter(body))
        r = call("PATCH", server, f"/movies/{movie}", token=admin, json=body)
        err = assert_error(r, 422, "validation_failed")
        assert err["details"]["field"] == field, describe(r)
    assert call("GET", server, f"/movies/{movie}").json() == before
    r = call("POST", server, "/theatres", token=admin,
             json={"name": "  ", "city": "Pune", "address": "1 Road"})
    assert assert_error(r, 422, "validation_failed")["details"]["field"] == "name"
    r = call("POST", server, "/auth/register",
             json={"email": "blank-name@example.com", "password": "long-enough-1", "name": "\n"})
    assert assert_error(r, 422, "validation_failed")["details"]["field"] == "name"
    # Text around a name is the caller's to choose; only a blank one is refused.
    r = call("PATCH", server, f"/movies/{movie}", token=admin, json={"title": " Kantara 2 "})
    assert r.status_code == 200 and r.json()["title"] == " Kantara 2 ", describe(r)
