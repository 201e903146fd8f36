"""Hostile input at the HTTP edge (issue 10, items 1, 2, 6 and 7).

- Cache keys are built from the parameters a cached route reads, each length-prefixed, so one
  parameter whose value holds an encoded `&` can never plant an answer for two parameters; a
  parameter the route does not read does not split the cache; a repeated parameter is 400.
- The access log stays one JSON object per line whatever the method or path: a forged method
  cannot add fields, a long one cannot break the line.
- A control byte (a percent-encoded NUL and the like) in the path or the query is 400 before
  routing, and the log shows the path as it was sent.
- JSON strings with U+0000 are valid JSON: a field holding one is 422 for that field, an unknown
  key holding one is ignored like any unknown key.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import requests

from booking_helpers import Venue
from catalog_helpers import cast, create_movie, movie_body
from conftest import DEFAULT_PASSWORD, TIMEOUT, RawConn, assert_error, call, unique_email


def get(server, path_and_query: str, **kwargs) -> requests.Response:
    """GET exactly this URL tail (percent-escapes are sent as written)."""
    return requests.get(server.api + path_and_query, timeout=TIMEOUT, **kwargs)


# ------------------------------------------------------------------------------ cache keys


def test_an_encoded_ampersand_cannot_poison_the_listing(server):
    v = Venue(server)
    city, movie = quote(v.theatre["city"]), v.movie["id"]
    # One parameter, city = "<city>&movie_id=<movie>": no theatre is in that city.
    poison = get(server, f"/shows?city={city}%26movie_id%3D{movie}")
    assert poison.status_code == 200, poison.text
    assert poison.json()["items"] == []
    # Two parameters: the show is listed, never the planted empty answer.
    real = get(server, f"/shows?movie_id={movie}&city={city}")
    assert real.status_code == 200, real.text
    assert [s["id"] for s in real.json()["items"]] == [v.show_id], real.headers
    assert real.headers.get("X-Cache") != "hit" or real.json()["items"]
    # The same two in another order are the same entry.
    again = get(server, f"/shows?city={city}&movie_id={movie}")
    assert again.headers.get("X-Cache") == "hit"
    assert [s["id"] for s in again.json()["items"]] == [v.show_id]


def test_an_encoded_ampersand_cannot_poison_the_movie_listing(server):
    c = cast(server)
    m = create_movie(server, c.admin.token, title="poison-eq movie", genres=["Drama"])
    # One parameter, genre = "drama&q=poison-eq": no movie has that genre.
    assert get(server, "/movies?genre=drama%26q%3Dpoison-eq").json()["items"] == []
    items = get(server, "/movies?q=poison-eq&genre=drama").json()["items"]
    assert m["id"] in [x["id"] for x in items]


def test_parameters_the_route_does_not_read_share_the_entry(server):
    create_movie(server, cast(server).admin.token, title="unread-param movie")
    first = get(server, "/movies?q=unread-param")
    assert first.status_code == 200
    other = get(server, "/movies?q=unread-param&utm_source=mail")
    assert other.status_code == 200
    assert other.headers.get("X-Cache") == "hit", other.headers
    assert other.content == first.content


@pytest.mark.parametrize("path", [
    "/movies?status=upcoming&status=released",  # cached
    "/shows?city=a&city=b",                      # cached
    "/movies?q=a&limit=5&q=b",
    "/healthz?x=1&x=2",                          # not cached: the rule is for every route
])
def test_a_repeated_parameter_is_400(server, path):
    name = path.split("?")[1].split("&")[0].split("=")[0]
    err = assert_error(get(server, path), 400, "invalid_parameter")
    assert err["details"]["parameter"] == name, err


# ------------------------------------------------------------------------------ control bytes


def test_control_bytes_in_the_path_are_400(server):
    m = create_movie(server, cast(server).admin.token)
    for path in (f"/movies/{m['id']}%00/no/such/route", f"/movies/{m['id']}%00",
                 f"/movies/{m['id']}%1f", f"/movies/{m['id']}%7F"):
        assert_error(get(server, path), 400, "invalid_path")
    r = requests.get(server.url + "/healthz%00x", timeout=TIMEOUT)
    assert_error(r, 400, "invalid_path")
    rid = "nul-in-path-" + m["id"][-8:]
    r = requests.post(server.api + "/bookings/x%00y/confirm", headers={"X-Request-Id": rid},
                      timeout=TIMEOUT)
    assert_error(r, 400, "invalid_path")
    # The log shows the path as it was sent, not as it was cut ("/api/v1/bookings/x").
    logged = wait_for_log(server, lambda line: line.get("rid") == rid)
    assert len(logged) == 1, logged
    assert logged[0]["path"] == "/api/v1/bookings/x%00y/confirm", logged
    assert logged[0]["status"] == 400 and logged[0]["method"] == "POST", logged


@pytest.mark.parametrize("query,name", [
    ("q=Iron%00zzz", "q"),
    ("q=Iron%0a", "q"),
    ("q%00x=Iron", "q"),
    ("limit=5&genre=a%7fb", "genre"),
])
def test_control_bytes_in_the_query_are_400(server, query, name):
    err = assert_error(get(server, "/movies?" + query), 400, "invalid_parameter")
    assert err["details"]["parameter"].startswith(name), err


def test_a_plus_and_ordinary_escapes_still_work(server):
    assert get(server, "/movies?q=Iron+Man%20x").status_code == 200
    assert get(server, "/movies?q=caf%C3%A9").status_code == 200


# ------------------------------------------------------------------------------------ logs


def log_lines(server) -> list[dict]:
    """Every line of the server's log, each of which must be one JSON object (strict UTF-8)."""
    raw = server.stderr_path.read_bytes()
    out = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            pytest.fail(f"log line is not a JSON object in UTF-8: {line[:300]!r}")
        assert isinstance(obj, dict), line[:300]
        out.append(obj)
    return out


def wait_for_log(server, match, timeout: float = 10.0) -> list[dict]:
    """The log lines that match, once there is one (the access log is written when the
    request completes, a moment after the client has its answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in log_lines(server) if match(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def raw_request(server, line: bytes) -> int | None:
    with RawConn(server.port) as conn:
        conn.send(line + b"\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        try:
            return conn.read_response().status
        except ConnectionError:
            return None


def test_a_forged_method_cannot_forge_log_fields(server):
    forged = b'X","level":"error","msg":"admin_login_ok'
    for method in (forged, b"PURGE", forged + b"A" * 3000, b"X\\\x01Y"):
        for path in (b"/api/v1/me", b"/api/v1/no-such-route"):
            status = raw_request(server, method + b" " + path + b" HTTP/1.1")
            assert status is None or 400 <= status < 500, (method[:40], status)
    requests.get(server.url + "/healthz", timeout=TIMEOUT)
    assert wait_for_log(server, lambda x: x.get("method") == "OTHER" and
                        x.get("path") == "/api/v1/me")
    lines = log_lines(server)
    assert not [x for x in lines if x.get("msg") == "admin_login_ok"]
    reqs = [x for x in lines if x.get("msg") == "request"]
    for x in reqs:
        for field in ("rid", "method", "path", "status", "dur_us", "ip", "user", "error"):
            assert field in x, x
        assert x["method"] in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                               "OTHER"), x


def test_long_and_odd_paths_keep_the_log_line_whole(server):
    paths = [
        "/api/v1/" + "a" * 3000,
        "/api/v1/" + '"\\' * 700,
        "/api/v1/" + "%C3%A9" * 400,          # two bytes each, cut anywhere
        "/api/v1/" + "%E2%82%AC" * 300,       # three bytes each
        "/api/v1/" + "%F0%9F%8E%AC" * 200,    # four bytes each
        "/api/v1/%FF%FEx",                    # not UTF-8 at all
    ]
    rids = [f"long-path-{i}" for i in range(len(paths))]
    for p, rid in zip(paths, rids):
        r = requests.get(server.url + p, headers={"X-Request-Id": rid}, timeout=TIMEOUT)
        assert 400 <= r.status_code < 500, (p[:40], r.status_code)
    # every line parses (log_lines), and each request has its line with its path's start
    for rid in rids:
        assert wait_for_log(server, lambda x, rid=rid: x.get("rid") == rid), rid
    by_rid = {x["rid"]: x for x in log_lines(server) if x.get("msg") == "request"}
    assert by_rid[rids[-1]]["path"] == "/api/v1/\ufffd\ufffdx", by_rid[rids[-1]]
    for rid in rids:
        assert by_rid[rid]["path"].startswith("/api/v1/"), by_rid.get(rid)
        assert len(by_rid[rid]["path"].encode()) < 512, by_rid[rid]


# ------------------------------------------------------------------------------ U+0000 in JSON


def post_json_text(server, path: str, text: str, token: str | None = None) -> requests.Response:
    return call("POST", server, path, data=text.encode(), token=token,
                headers={"Content-Type": "application/json"})


def test_a_nul_in_a_field_is_422_for_that_field(server):
    r = post_json_text(server, "/auth/refresh", '{"refresh_token":"x\\u0000y"}')
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "refresh_token", err
    body = ('{"email":"%s","password":"%s","name":"a\\u0000b"}'
            % (unique_email("nul"), DEFAULT_PASSWORD))
    err = assert_error(post_json_text(server, "/auth/register", body), 422, "validation_failed")
    assert err["details"]["field"] == "name", err
    # an e-mail cut at the NUL would be a valid address: it must not be taken
    body = ('{"email":"%s\\u0000junk","password":"%s","name":"Nul"}'
            % (unique_email("nul"), DEFAULT_PASSWORD))
    err = assert_error(post_json_text(server, "/auth/register", body), 422, "validation_failed")
    assert err["details"]["field"] == "email", err


def test_a_nul_in_a_list_item_is_422(server):
    body = json.dumps(movie_body(genres=["drama"])).replace('"drama"', '"dra\\u0000ma"')
    r = post_json_text(server, "/movies", body, token=cast(server).admin.token)
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "genres", err


def test_an_unknown_key_with_a_nul_is_ignored(server):
    email = unique_email("nulkey")
    body = ('{"email":"%s","password":"%s","name":"Nul Key","x\\u0000y":1,"z\\u0000":"a\\u0000"}'
            % (email, DEFAULT_PASSWORD))
    r = post_json_text(server, "/auth/register", body)
    assert r.status_code == 201, r.text
    assert r.json()["user"]["email"] == email
