"""
Helpers for the catalogue tests (movies, theatres, halls, shows): the cast of callers, factories
for catalogue objects with unique names, time helpers and a pagination walker.

The cast (admin, two owners, a plain user) is made once per server and cached by database URL,
so every catalogue test on the shared `server` fixture reuses the same four accounts; every test
makes its own movies, theatres and halls (unique names and cities), so tests stay independent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import requests

from conftest import admin_tokens, assert_error, call, login, register, unique_email

RFC3339_UTC_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SHOW_BUFFER = timedelta(minutes=15)  # SHOW_CLEANING_BUFFER default

# A small hall: row A premium (8 seats, a gap after seat 4), row B regular (8 seats, B1 blocked).
DEFAULT_LAYOUT = {
    "rows": [
        {"label": "A", "seats": 8, "category": "premium", "gaps_after": [4]},
        {"label": "B", "seats": 8, "category": "regular", "blocked": [1]},
    ]
}
DEFAULT_PRICES = {"premium": 35000, "regular": 20000}


def uid() -> str:
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------------------------
# Responses


def describe(resp: requests.Response) -> str:
    return f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:800]!r}"


def ok(resp: requests.Response, status: int = 200):
    """Asserts the exact success status; returns the JSON body (None for 204)."""
    assert resp.status_code == status, describe(resp)
    if status == 204:
        assert resp.content == b"", describe(resp)
        return None
    assert resp.headers.get("Content-Type", "").startswith("application/json"), describe(resp)
    return resp.json()


def field_error(resp: requests.Response, status: int, code: str, field: str) -> dict:
    """assert_error plus details.field; returns the error object."""
    err = assert_error(resp, status, code)
    assert isinstance(err.get("details"), dict), describe(resp)
    assert err["details"].get("field") == field, describe(resp)
    return err


def param_error(resp: requests.Response, parameter: str) -> dict:
    err = assert_error(resp, 400, "invalid_parameter")
    assert err.get("details", {}).get("parameter") == parameter, describe(resp)
    return err


# --------------------------------------------------------------------------------------------
# The cast


@dataclass
class Actor:
    name: str
    id: str | None
    token: str | None
    role: str


@dataclass
class Cast:
    admin: Actor
    owner: Actor
    other_owner: Actor
    user: Actor
    anonymous: Actor


_CASTS: dict[str, Cast] = {}


def make_owner(server, admin_token: str | None = None, label: str = "owner") -> Actor:
    """Registers a user, has the admin make it an owner, logs in again for an owner token."""
    admin_token = admin_token or admin_tokens(server)["access_token"]
    email = unique_email(label)
    reg = register(server, email=email, name=f"Owner {label}")
    user_id = reg["user"]["id"]
    r = call("PATCH", server, f"/admin/users/{user_id}", token=admin_token, json={"role": "owner"})
    ok(r, 200)
    body = login(server, email)
    assert body["user"]["role"] == "owner", body
    return Actor(label, user_id, body["access_token"], "owner")


def make_user(server, label: str = "user") -> Actor:
    reg = register(server, email=unique_email(label))
    return Actor(label, reg["user"]["id"], reg["access_token"], "user")


def cast(server) -> Cast:
    """The admin, two owners, a user and anonymous, made once per server (database)."""
    c = _CASTS.get(server.database_url)
    if c is None:
        adm = admin_tokens(server)
        admin = Actor("admin", adm["user"]["id"], adm["access_token"], "admin")
        c = Cast(admin=admin,
                 owner=make_owner(server, admin.token, "owner"),
                 other_owner=make_owner(server, admin.token, "other_owner"),
                 user=make_user(server, "user"),
                 anonymous=Actor("anonymous", None, None, "anonymous"))
        _CASTS[server.database_url] = c
    return c


# --------------------------------------------------------------------------------------------
# Time


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def today_utc() -> date:
    return utcnow().date()


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str) -> datetime:
    assert isinstance(s, str) and s.endswith("Z"), s
    return datetime.fromisoformat(s[:-1] + "+00:00")


def future(days: int = 3, hour: int = 10, minute: int = 0) -> datetime:
    """A whole-minute UTC time `days` days from today at hour:minute."""
    d = today_utc() + timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------
# Factories (each asserts success and returns the created object's JSON)


def movie_body(**overrides) -> dict:
    body = {
        "title": f"Movie {uid()}",
        "description": "A test film.",
        "duration_minutes": 120,
        "release_date": (today_utc() - timedelta(days=30)).isoformat(),
        "languages": ["Hindi", "English"],
        "genres": ["Drama"],
        "certificate": "UA",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def create_movie(server, token: str | None = None, **overrides) -> dict:
    token = token or cast(server).admin.token
    return ok(call("POST", server, "/movies", token=token, json=movie_body(**overrides)), 201)


def theatre_body(**overrides) -> dict:
    body = {"name": f"Theatre {uid()}", "city": f"City-{uid()}", "address": "1 MG Road"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def approve_theatre(server, theatre_id: str) -> dict:
    """The cast's admin approves a pending theatre (onboarding); returns the approved theatre."""
    t = ok(call("POST", server, f"/admin/theatres/{theatre_id}/approve",
                token=cast(server).admin.token), 200)
    assert t["status"] == "approved", t
    return t


def create_theatre(server, token: str | None = None, *, approve: bool = True,
                   **overrides) -> dict:
    """A new theatre, approved by the admin unless approve=False (then it stays pending, as
    POST /theatres leaves it: not public, no shows). Returns the theatre as it is now."""
    token = token or cast(server).owner.token
    t = ok(call("POST", server, "/theatres", token=token, json=theatre_body(**overrides)), 201)
    assert t["status"] == "pending", t
    return approve_theatre(server, t["id"]) if approve else t


def create_hall(server, theatre_id: str, token: str | None = None, layout: dict | None = None,
                name: str | None = None) -> dict:
    token = token or cast(server).owner.token
    body = {"name": name or f"Hall {uid()}", "layout": layout or DEFAULT_LAYOUT}
    return ok(call("POST", server, f"/theatres/{theatre_id}/halls", token=token, json=body), 201)


def venue(server, token: str | None = None, layout: dict | None = None, *, approve: bool = True,
          **theatre_overrides):
    """A new theatre (approved unless approve=False) with one hall: returns (theatre, hall)."""
    theatre = create_theatre(server, token, approve=approve, **theatre_overrides)
    hall = create_hall(server, theatre["id"], token, layout)
    return theatre, hall


def show_body(movie_id: str, hall_id: str, starts_at, prices: dict | None = None,
              currency: str = "INR") -> dict:
    return {"movie_id": movie_id, "hall_id": hall_id,
            "starts_at": starts_at if isinstance(starts_at, str) else iso(starts_at),
            "prices": DEFAULT_PRICES if prices is None else prices, "currency": currency}


def post_show(server, token: str | None, movie_id: str, hall_id: str, starts_at,
              prices: dict | None = None, currency: str = "INR") -> requests.Response:
    return call("POST", server, "/shows", token=token,
                json=show_body(movie_id, hall_id, starts_at, prices, currency))


def create_show(server, movie_id: str, hall_id: str, starts_at, token: str | None = None,
                prices: dict | None = None, currency: str = "INR") -> dict:
    token = token or cast(server).owner.token
    return ok(post_show(server, token, movie_id, hall_id, starts_at, prices, currency), 201)


# --------------------------------------------------------------------------------------------
# Lists


def walk(server, path: str, limit: int, token: str | None = None, **params):
    """Follows next_cursor to the end; returns (items in order, number of pages)."""
    items, pages, cursor = [], 0, None
    while True:
        query = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        body = ok(call("GET", server, path, token=token, params=query), 200)
        assert set(body) == {"items", "next_cursor"}, body
        assert len(body["items"]) <= limit, body
        items += body["items"]
        pages += 1
        assert pages < 1000, "pagination does not end"
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert isinstance(cursor, str) and cursor, body


def list_ids(server, path: str, token: str | None = None, **params) -> list[str]:
    """Every id of a (filtered) list, all pages."""
    items, _ = walk(server, path, 100, token=token, **params)
    return [i["id"] for i in items]
