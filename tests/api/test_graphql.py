"""GraphQL at /api/v1/graphql (API.md "GraphQL and recommendations", docs/schema.graphql): queries
answer what the REST twins answer, variables, fragments, directives and aliases, errors with
extensions.code equal to the REST code, validation and limits, the GraphQL over HTTP rules, and
graphql-js (the reference implementation) checking the introspected schema and every query here.
Every test runs on SQLite and PostgreSQL; no answer may be a 5xx.

Every query a test sends is in QUERIES (valid) or BAD_QUERIES (must fail validation), so that
test_graphql_js can have graphql-js validate exactly the documents this file sends."""

import json
import shutil
import time
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from booking_helpers import GRID_PRICES, Venue, api, book, hold, seat_map, starts_in
from catalog_helpers import (cast, create_hall, create_movie, create_show, create_theatre,
                             make_owner, make_user, ok)
from conftest import TIMEOUT, assert_error, at_once, call

REPO = Path(__file__).resolve().parents[2]
GQL_RESPONSE = "application/graphql-response+json"

QUERIES = {
    "show_seats": """
        query ShowSeats($id: ID!) {
          show(id: $id) {
            id currency status hallName theatreName startsAt
            seats { id label row number x y category status price { amount currency } }
          }
        }""",
    "movie": """
        query Movie($id: ID!) {
          movie(id: $id) {
            id title description durationMinutes releaseDate languages genres certificate
            posterUrl trailerUrl status releaseStatus
          }
        }""",
    "catalogue": """
        query Catalogue($movie: ID, $city: String, $title: String) {
          theatres(city: $city, first: 5) { id name city address utcOffsetMinutes }
          shows(movieId: $movie) {
            id movieId city
            movie { id title }
            prices { category price { amount currency } }
          }
          movies(status: "all", q: $title, first: 100) { id }
        }""",
    "mergeable": """
        query M($id: ID!) {
          show(id: $id) { id movie { id } }
          show(id: $id) { movie { title } ...S }
          ... on Query { show(id: $id) { x: city } }
        }
        fragment S on Show { x: city }""",
    "fragments": """
        query Frags($id: ID!, $withSeats: Boolean = false, $noPrices: Boolean!) {
          first: show(id: $id) { ...ShowParts }
          second: show(id: $id) {
            ... on Show { id }
            ... @include(if: $withSeats) { seats { label } }
            prices @skip(if: $noPrices) { category }
            __typename
          }
        }
        fragment ShowParts on Show { id theatreName movie { ...MovieParts } }
        fragment MovieParts on Movie { title __typename }""",
    "all_shows_movies": "{ shows(first: 100) { id movieId movie { id title } } }",
    "me": "{ me { id email name role } }",
    "my_bookings": """
        query { me { id bookings(first: 10) {
          id showId status total { amount currency } expiresAt createdAt
          seats { id label category price { amount currency } }
        } } }""",
    "missing_movie": '{ movie(id: "mov_00000000000000000000000000") { id } }',
    "typename": "{ __typename }",
    "type_show": '{ __type(name: "Show") { name kind fields { name type { kind name ofType { name } } } } }',
    "first_too_big": "{ movies(first: 101) { id } }",
    "two_ops": "query A { __typename } query B { movies(first: 1) { id } }",
    "variable_positions": """
        query V($id: ID = "mov_x", $n: Int!, $one: ID!, $s: ID!) {
          movie(id: $id) { id }
          movies(first: $n) { id }
          hold: show(id: $one) { id }
          shows(movieId: $s) { id }
        }
        mutation M($show: ID!, $ids: [ID!], $one: ID!) {
          a: hold(showId: $show, seatIds: $ids) { id }
          b: hold(showId: $show, seatIds: [$one]) { id }
        }""",
    "costly_ok": """
        { a: shows(first: 100) { seats { id } } }""",
    "costly": """
        { a: shows(first: 100) { seats { id } } b: shows(first: 100) { seats { id } } }""",
    "hold": """
        mutation Hold($show: ID!, $seats: [ID!], $n: Int) {
          hold(showId: $show, seatIds: $seats, quantity: $n) {
            id showId expiresAt total { amount currency }
            seats { id label category price { amount currency } }
          }
        }""",
    "release": "mutation Release($id: ID!) { releaseHold(id: $id) }",
    "book": """
        mutation Book($hold: ID!) {
          book(holdId: $hold) {
            booking { id status showId total { amount currency } seats { label } }
            payment { provider orderId keyId amount { amount currency } }
          }
        }""",
    "cancel": "mutation Cancel($id: ID!) { cancelBooking(id: $id) { id status } }",
    "aliases": "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }",
    "city_shows": """
        query CityShows($city: String!) {
          shows(city: $city, first: 100) { id theatreName startsAt movie { id title } }
        }""",
}

BAD_QUERIES = {
    "unknown_field": "{ movies { id nope } }",
    "missing_arg": "{ movie { id } }",
    "leaf_selection": "{ movies { id { x } } }",
    "object_no_selection": "{ movies }",
    "wrong_literal": "{ movie(id: true) { id } }",
    "unknown_arg": "{ movies(sort: 1) { id } }",
    "undefined_variable": "query { movie(id: $id) { id } }",
    "unused_variable": "query Q($id: ID) { __typename }",
    "unknown_fragment": "{ ...Nope }",
    "unused_fragment": "{ __typename } fragment F on Query { __typename }",
    "fragment_cycle": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    "wrong_fragment_type": "{ ...M } fragment M on Movie { id }",
    "unknown_directive": "{ __typename @nope }",
    "variable_object_type": "query Q($m: Movie) { movie(id: $m) { id } }",
    # OverlappingFieldsCanBeMerged: one response key, two different fields (crashed the server)
    "conflicting_fields": "{ a: movies { id } a: theatres { name utcOffsetMinutes } }",
    "conflicting_args": "{ movies(first: 1) { id } movies(first: 2) { id } }",
    "conflicting_nested": """
        { shows { m: movie { id } } ...F }
        fragment F on Query { shows { m: movieId } }""",
    "conflicting_deep": "{ me { x: id } me { x: email } }",
    "variable_wrong_position": "query Q($s: [ID!]) { shows(movieId: $s) { id } }",
    "variable_nullable_in_non_null": "query Q($id: ID) { movie(id: $id) { id } }",
    "variable_wrong_scalar": "query Q($b: String!) { __typename @skip(if: $b) }",
}


def gql(server, query, variables=None, token=None, accept=GQL_RESPONSE, operation=None,
        status=200):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation is not None:
        body["operationName"] = operation
    headers = {"Accept": accept} if accept else {}
    r = api("POST", server, "/graphql", json=body, token=token, headers=headers)
    assert r.status_code == status, (r.status_code, r.text[:800])
    ctype = r.headers["Content-Type"]
    want = accept if accept in (GQL_RESPONSE, "application/json") else "application/json"
    assert ctype.startswith(want), ctype
    assert r.headers.get("Cache-Control") == "no-store"
    return r.json()


def codes(body):
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.fixture
def venue(server):
    return Venue(server)


# --------------------------------------------------------------------------------------------
# Queries answer what REST answers


def test_show_seats_match_rest_seat_map(server, venue):
    user = make_user(server, "gqlseats")
    hold(server, user.token, venue.show_id, seat_ids=venue.ids("A1", "A2"))
    body = gql(server, QUERIES["show_seats"], {"id": venue.show_id})
    assert "errors" not in body, body
    show = body["data"]["show"]
    rest = seat_map(server, venue.show_id)
    assert show["id"] == venue.show_id and show["currency"] == rest["currency"] == "INR"
    assert show["status"] == rest["status"]
    assert len(show["seats"]) == len(rest["seats"]) == 60
    for g, r in zip(show["seats"], rest["seats"]):
        assert (g["id"], g["label"], g["row"], g["number"], g["x"], g["y"], g["category"],
                g["status"]) == (r["id"], r["label"], r["row"], r["number"], r["x"], r["y"],
                                 r["category"], r["status"])
        assert g["price"] == {"amount": r["price"], "currency": "INR"}
    assert {s["label"]: s["status"] for s in show["seats"]}["A1"] == "held"


def test_movie_matches_rest(server, venue):
    body = gql(server, QUERIES["movie"], {"id": venue.movie["id"]})
    assert "errors" not in body, body
    m = body["data"]["movie"]
    rest = ok(api("GET", server, f"/movies/{venue.movie['id']}"))
    assert m == {
        "id": rest["id"], "title": rest["title"], "description": rest["description"],
        "durationMinutes": rest["duration_minutes"], "releaseDate": rest["release_date"],
        "languages": rest["languages"], "genres": rest["genres"],
        "certificate": rest["certificate"], "posterUrl": rest["poster_url"],
        "trailerUrl": rest["trailer_url"], "status": rest["status"],
        "releaseStatus": rest["release_status"]}


def test_catalogue_lists_and_batched_movie(server, venue):
    body = gql(server, QUERIES["catalogue"],
               {"movie": venue.movie["id"], "city": venue.theatre["city"].upper(),
                "title": venue.movie["title"]})
    assert "errors" not in body, body
    d = body["data"]
    assert [t["id"] for t in d["theatres"]] == [venue.theatre["id"]]
    assert d["theatres"][0]["utcOffsetMinutes"] == venue.theatre["utc_offset_minutes"]
    assert [s["id"] for s in d["shows"]] == [venue.show_id]
    s = d["shows"][0]
    assert s["movie"] == {"id": venue.movie["id"], "title": venue.movie["title"]}
    assert sorted((p["category"], p["price"]["amount"]) for p in s["prices"]) == \
        sorted(GRID_PRICES.items())
    assert venue.movie["id"] in [m["id"] for m in d["movies"]]


def test_batched_movies_of_many_shows(server, venue):
    """Show.movie is read for the whole list at once (one store call, api/graphql_resolve.c):
    each show still gets its own movie."""
    Venue(server)  # a second show, of another movie
    body = gql(server, QUERIES["all_shows_movies"])
    assert "errors" not in body, body
    shows = body["data"]["shows"]
    assert len({s["movieId"] for s in shows}) >= 2, shows
    rest = {s["id"]: s for s in ok(api("GET", server, "/shows?limit=100"))["items"]}
    for s in shows:
        assert s["movie"]["id"] == s["movieId"] == rest[s["id"]]["movie_id"]
        assert s["movie"]["title"] == rest[s["id"]]["movie_title"]


def test_same_fields_merge(server, venue):
    body = gql(server, QUERIES["mergeable"], {"id": venue.show_id})
    assert "errors" not in body, body
    assert body["data"]["show"] == {"id": venue.show_id, "movie": {
        "id": venue.movie["id"], "title": venue.movie["title"]}, "x": venue.theatre["city"]}


def test_variables_fragments_directives_aliases(server, venue):
    body = gql(server, QUERIES["fragments"], {"id": venue.show_id, "noPrices": True})
    assert "errors" not in body, body
    first, second = body["data"]["first"], body["data"]["second"]
    assert first == {"id": venue.show_id, "theatreName": venue.theatre["name"],
                     "movie": {"title": venue.movie["title"], "__typename": "Movie"}}
    assert second == {"id": venue.show_id, "__typename": "Show"}  # no seats, no prices
    body = gql(server, QUERIES["fragments"],
               {"id": venue.show_id, "withSeats": True, "noPrices": False})
    second = body["data"]["second"]
    assert list(second) == ["id", "seats", "prices", "__typename"]
    assert len(second["seats"]) == 60 and len(second["prices"]) == 2
    # a required variable missing, or of the wrong type: a request error, nothing runs
    body = gql(server, QUERIES["fragments"], {"id": venue.show_id}, status=400)
    assert "data" not in body and codes(body) == ["graphql_variable_invalid"]
    body = gql(server, QUERIES["fragments"], {"id": venue.show_id, "noPrices": "yes"},
               status=400)
    assert codes(body) == ["graphql_variable_invalid"]


# --------------------------------------------------------------------------------------------
# Errors and access


def test_not_found_is_a_field_error_with_the_rest_code(server):
    body = gql(server, QUERIES["missing_movie"])
    assert body["data"] == {"movie": None}
    [e] = body["errors"]
    assert e["extensions"]["code"] == "not_found" and e["path"] == ["movie"]
    assert e["locations"] == [{"line": 1, "column": 3}]
    body = gql(server, QUERIES["first_too_big"])
    assert body["data"] is None and codes(body) == ["invalid_parameter"]


def test_me_needs_a_token_and_shows_own_bookings(server, venue):
    body = gql(server, QUERIES["me"])
    assert body["data"] == {"me": None} and codes(body) == ["unauthorized"]
    body = gql(server, QUERIES["me"], token="not-a-token")
    assert codes(body) == ["unauthorized"]
    user = make_user(server, "gqlme")
    other = make_user(server, "gqlother")
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("C3", "C4"))
    b = book(server, user.token, h["hold_id"])["booking"]
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("D1"))
    body = gql(server, QUERIES["my_bookings"], token=user.token)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["id"] == user.id
    rest = ok(api("GET", server, "/bookings", token=user.token))["items"]
    assert [x["id"] for x in me["bookings"]] == [x["id"] for x in rest] == [b["id"]]
    g = me["bookings"][0]
    assert g["status"] == "pending_payment" and g["showId"] == venue.show_id
    assert g["total"] == {"amount": b["amount"], "currency": "INR"}
    assert sorted(s["label"] for s in g["seats"]) == ["C3", "C4"]
    assert all(s["price"]["currency"] == "INR" for s in g["seats"])
    body = gql(server, QUERIES["my_bookings"], token=other.token)
    assert body["data"]["me"]["bookings"] == []


# --------------------------------------------------------------------------------------------
# Mutations: the REST routes' rules and errors


def test_hold_and_book_match_rest(server, venue):
    user = make_user(server, "gqlhold")
    body = gql(server, QUERIES["hold"], {"show": venue.show_id,
                                         "seats": venue.ids("B2", "B3")}, token=user.token)
    assert "errors" not in body, body
    h = body["data"]["hold"]
    assert h["id"].startswith("hld_") and h["showId"] == venue.show_id
    assert sorted(s["label"] for s in h["seats"]) == ["B2", "B3"]
    assert h["total"] == {"amount": 2 * GRID_PRICES["premium"], "currency": "INR"}
    assert all(s["price"] == {"amount": GRID_PRICES["premium"], "currency": "INR"}
               for s in h["seats"])
    statuses = {s["label"]: s["status"] for s in seat_map(server, venue.show_id)["seats"]}
    assert statuses["B2"] == statuses["B3"] == "held"
    # the same refusal as REST, with its code: a held seat, another user
    other = make_user(server, "gqlhold2")
    body = gql(server, QUERIES["hold"], {"show": venue.show_id, "seats": venue.ids("B3")},
               token=other.token)
    assert body["data"] is None and codes(body) == ["seat_unavailable"]
    rest = api("POST", server, f"/shows/{venue.show_id}/holds", token=other.token,
               json={"seat_ids": venue.ids("B3")})
    assert rest.status_code == 409 and rest.json()["error"]["code"] == "seat_unavailable"
    body = gql(server, QUERIES["hold"], {"show": venue.show_id}, token=other.token)
    assert codes(body) == ["validation_failed"]  # neither seatIds nor quantity, as REST
    # anonymous: unauthorized, nothing held
    body = gql(server, QUERIES["hold"], {"show": venue.show_id, "n": 2})
    assert body["data"] is None and codes(body) == ["unauthorized"]
    # someone else's hold is not found; the owner releases it
    body = gql(server, QUERIES["release"], {"id": h["id"]}, token=other.token)
    assert codes(body) == ["not_found"]
    body = gql(server, QUERIES["release"], {"id": h["id"]}, token=user.token)
    assert body == {"data": {"releaseHold": True}}
    statuses = {s["label"]: s["status"] for s in seat_map(server, venue.show_id)["seats"]}
    assert statuses["B2"] == statuses["B3"] == "available"
    # best available, then book: the booking REST shows
    body = gql(server, QUERIES["hold"], {"show": venue.show_id, "n": 2}, token=user.token)
    h = body["data"]["hold"]
    assert len(h["seats"]) == 2
    body = gql(server, QUERIES["book"], {"hold": h["id"]}, token=user.token)
    assert "errors" not in body, body
    b, p = body["data"]["book"]["booking"], body["data"]["book"]["payment"]
    assert b["status"] == "pending_payment" and b["total"] == h["total"]
    assert p["provider"] == "test" and p["amount"] == h["total"]
    rest = ok(api("GET", server, f"/bookings/{b['id']}", token=user.token))
    assert (rest["amount"], rest["status"]) == (b["total"]["amount"], "pending_payment")
    assert sorted(s["label"] for s in rest["seats"]) == sorted(s["label"] for s in b["seats"])
    # booking the same hold again, and cancelling an unpaid booking: REST's 409 codes
    body = gql(server, QUERIES["book"], {"hold": h["id"]}, token=user.token)
    again = api("POST", server, "/bookings", token=user.token, json={"hold_id": h["id"]})
    assert codes(body) == [again.json()["error"]["code"]]
    body = gql(server, QUERIES["cancel"], {"id": b["id"]}, token=user.token)
    rest = api("POST", server, f"/bookings/{b['id']}/cancel", token=user.token)
    assert rest.status_code == 409 and codes(body) == [rest.json()["error"]["code"]]


# --------------------------------------------------------------------------------------------
# Validation and limits


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_invalid_documents_are_refused_before_running(server, name):
    body = gql(server, BAD_QUERIES[name], status=400)
    assert "data" not in body, body
    assert body["errors"] and set(codes(body)) == {"graphql_validation_failed"}, body
    assert all(e.get("locations") for e in body["errors"]), body
    # application/json: the same errors with 200 (the spec's compatibility rule)
    body = gql(server, BAD_QUERIES[name], accept="application/json")
    assert "data" not in body and set(codes(body)) == {"graphql_validation_failed"}


def test_limits(server):
    body = gql(server, QUERIES["costly_ok"])
    assert "errors" not in body, body
    body = gql(server, QUERIES["costly"], status=400)
    assert codes(body) == ["graphql_query_too_costly"]
    body = gql(server, QUERIES["aliases"], status=400)
    assert "more than 30 aliases" in body["errors"][0]["message"]
    deep = "{ movies(q: " + "[" * 60 + "]" * 60 + ") { id } }"
    body = gql(server, deep, status=400)
    assert codes(body) == ["graphql_parse_failed"] and "deeper" in body["errors"][0]["message"]
    big = "{ __typename " + "#" * 70000 + "\n}"
    body = gql(server, big, status=400)
    assert "larger than" in body["errors"][0]["message"]


def test_hostile_documents_are_refused_quickly(server):
    """A fragment bomb (each fragment spreads the next one twice: 2^25 selections expanded) is
    refused by validation's expansion bound, in bounded time; other hostile shapes get clean
    errors, never a 5xx."""
    frags = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(25))
    bomb = "{ ...F0 } " + frags + " fragment F25 on Query { __typename }"
    t0 = time.monotonic()
    body = gql(server, bomb, status=400)
    assert time.monotonic() - t0 < 5
    assert any("too complex" in e["message"] for e in body["errors"]), body
    hostile = [
        "{ " + "__typename " * 5000 + "}",  # many selections of one key: merged
        '{ __type(name: "' + "\\u0000" + '") { name } }',
        '{ movie(id: "' + "x" * 5000 + '") { id } }',
        "{ movies(first: 99999999999999999999) { id } }",
        "query($a: [[[ID!]!]!]!) { __typename }",
        '{ movie(id: """\n  block\n""") { id } }',
        "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }",
    ]
    for doc in hostile:
        r = api("POST", server, "/graphql", json={"query": doc},
                headers={"Accept": GQL_RESPONSE})
        assert r.status_code in (200, 400), (doc[:80], r.status_code, r.text[:300])
        b = r.json()
        assert "data" in b or b.get("errors"), b
    # variables of hostile shapes: a clean variable error, nothing runs
    q = "query($s: [ID!]) { hold: __typename movies(first: 1) { id } }"
    for v in ([[["x"]]], {"a": 1}, [None], 1.5, True):
        body = gql(server, q.replace("hold: __typename", "__typename") + "", {"s": v},
                   status=400)
        assert codes(body) == ["graphql_validation_failed"], (v, body)  # $s unused
    q = "query($s: [ID!]) { a: __typename } query B($s: ID) { shows(movieId: $s) { id } }"
    for v in ([[["x"]]], {"a": 1}, [None], 1.5, True):
        body = gql(server, "query($s: ID) { shows(movieId: $s) { id } }", {"s": v}, status=400)
        assert codes(body) == ["graphql_variable_invalid"], (v, body)
    body = gql(server, "query($s: ID) { shows(movieId: $s) { id } }", {"s": "x" * 100000})
    assert body == {"data": {"shows": []}}


def test_variable_positions(server, venue):
    """Variables where their types allow (a nullable one with a default in a non-null position,
    a non-null one in a nullable position, an item of a list): validation passes, both
    operations of one document run by name."""
    body = gql(server, QUERIES["variable_positions"], {"n": 1, "one": venue.show_id,
                                                      "s": venue.movie["id"]}, operation="V")
    assert body["data"]["hold"] == {"id": venue.show_id}
    assert body["data"]["shows"] == [{"id": venue.show_id}]
    assert codes(body) == ["not_found"]  # movie(id: "mov_x"), the default
    user = make_user(server, "gqlvars")
    body = gql(server, QUERIES["variable_positions"],
               {"show": venue.show_id, "ids": venue.ids("E1"), "one": venue.ids("E2")[0]},
               token=user.token, operation="M")
    # the second hold replaces the first (one hold per user and show), as over REST
    assert "errors" not in body, body
    assert [s["label"] for s in seat_map(server, venue.show_id)["seats"]
            if s["status"] == "held"] == ["E2"]


def test_operation_name(server):
    body = gql(server, QUERIES["two_ops"], operation="A")
    assert body == {"data": {"__typename": "Query"}}
    body = gql(server, QUERIES["two_ops"], status=400)
    assert codes(body) == ["graphql_operation_unknown"]
    body = gql(server, QUERIES["two_ops"], operation="C", status=400)
    assert codes(body) == ["graphql_operation_unknown"]


def test_introspection(server):
    body = gql(server, QUERIES["typename"])
    assert body == {"data": {"__typename": "Query"}}
    body = gql(server, QUERIES["type_show"])
    t = body["data"]["__type"]
    assert t["name"] == "Show" and t["kind"] == "OBJECT"
    seats = next(f for f in t["fields"] if f["name"] == "seats")
    assert seats["type"] == {"kind": "NON_NULL", "name": None,
                             "ofType": {"name": None}}  # [Seat!]!


# --------------------------------------------------------------------------------------------
# GraphQL over HTTP


def test_http_rules(server):
    url = server.api + "/graphql"
    r = requests.get(url, params={"query": "{ __typename }"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}
    assert r.headers["Content-Type"].startswith("application/json")
    r = requests.get(url, params={"query": "query($n: Int) { movies(first: $n) { id } }",
                                  "variables": '{"n": 1}'}, timeout=10)
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    r = requests.get(url, params={"query": 'mutation { releaseHold(id: "x") }'}, timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert_error(requests.get(url, timeout=10), 400, "invalid_parameter")
    assert_error(requests.get(url, params={"query": "{ __typename }", "variables": "[1"},
                              timeout=10), 400, "invalid_parameter")
    r = requests.post(url, data="{ __typename }", headers={"Content-Type": "text/plain"},
                      timeout=10)
    assert r.status_code == 415
    r = requests.post(url, json={"query": "{ __typename }"}, headers={"Accept": "text/html"},
                      timeout=10)
    assert r.status_code == 406
    # not a well-formed GraphQL-over-HTTP request: the API's own 400 (no GraphQL response)
    for bad, code in ((b"{", "malformed_json"), (b"[]", "invalid_type"),
                      (b'{"query": 1}', "invalid_type"), (b'{"variables": {}}', "invalid_type"),
                      (b'{"query": "{a}", "variables": [1]}', "invalid_type"),
                      (b'{"query": "{a}", "operationName": 5}', "invalid_type"),
                      (b'{"query": "{a}", "extensions": []}', "invalid_type")):
        r = requests.post(url, data=bad, headers={"Content-Type": "application/json",
                                                  "Accept": GQL_RESPONSE}, timeout=10)
        assert_error(r, 400, code)
    assert_error(requests.post(url, timeout=10), 400, "malformed_json")
    # a syntax error: 400 under graphql-response+json, 200 under application/json
    body = gql(server, "{ movies(", status=400)
    assert codes(body) == ["graphql_parse_failed"]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 10}]
    body = gql(server, "{ movies(", accept="application/json")
    assert codes(body) == ["graphql_parse_failed"] and "data" not in body
    body = gql(server, "{ __typename }", accept=None)  # no Accept: application/json
    assert body == {"data": {"__typename": "Query"}}


# --------------------------------------------------------------------------------------------
# graphql-js, the reference implementation


def test_graphql_js(server, tmp_path):
    node = shutil.which("node")
    assert node, "nodejs is missing: scripts/deps.sh test installs it"
    assert (REPO / "tests/graphql/node_modules/graphql/package.json").exists(), \
        "graphql-js is missing: scripts/deps.sh test runs npm ci in tests/graphql"
    queries = {name: {"query": q, "valid": True} for name, q in QUERIES.items()}
    queries.update({name: {"query": q, "valid": False} for name, q in BAD_QUERIES.items()})
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(queries))
    out = subprocess.run([node, str(REPO / "tests/graphql/check.mjs"), server.api + "/graphql",
                          str(path), str(REPO / "docs/schema.graphql")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert json.loads(out.stdout) == {"ok": True, "problems": []}


def test_an_owners_mutations_leave_the_rest_routes_audit_rows(server, venue):
    """An owner's writes are in the audit trail whichever door they came through: a mutation runs
    its REST route's handler as a sub-request and leaves that route's row (http/audit.h)."""
    owner = make_owner(server, label="gql-audited-owner")
    body = gql(server, QUERIES["hold"], {"show": venue.show_id, "n": 1}, token=owner.token)
    assert "errors" not in body, body
    h = body["data"]["hold"]
    body = gql(server, QUERIES["book"], {"hold": h["id"]}, token=owner.token)
    assert "errors" not in body, body
    b = body["data"]["book"]["booking"]
    trail = ok(api("GET", server, "/admin/audit", token=cast(server).admin.token,
                   params={"actor_id": owner.id, "limit": 100}))["items"]
    got = {r["action"]: r for r in trail}
    assert got["hold.create"]["target_id"] == h["id"], trail
    assert got["booking.create"]["target_id"] == b["id"], trail
    assert got["booking.create"]["route"] == "/api/v1/bookings", trail


# --------------------------------------------------------------------------------------------
# Idempotency-Key on mutations (API.md: honoured on every POST that creates money-related state)


def gql_post(server, query, variables, token, key=None, accept=GQL_RESPONSE, fn=api):
    headers = {"Accept": accept}
    if key is not None:
        headers["Idempotency-Key"] = key
    return fn("POST", server, "/graphql", json={"query": query, "variables": variables},
              token=token, headers=headers)


def held_labels(server, venue):
    return sorted(s["label"] for s in seat_map(server, venue.show_id)["seats"]
                  if s["status"] == "held")


def test_idempotency_key_replays_a_mutation(server, venue):
    """A retried mutation with the same key and body gets the first answer (no second hold, no
    second booking); the same key with another body is REST's 422; a query's key is ignored."""
    user = make_user(server, "gqlidem")
    key = f"gql-{uuid.uuid4().hex}"
    variables = {"show": venue.show_id, "n": 2}  # best available: a second run picks anew
    first = gql_post(server, QUERIES["hold"], variables, user.token, key)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    h = first.json()["data"]["hold"]
    assert "Idempotent-Replayed" not in first.headers
    again = gql_post(server, QUERIES["hold"], variables, user.token, key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json(), "the retry made a second hold"
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.headers["Content-Type"].startswith(GQL_RESPONSE)
    assert again.headers.get("Cache-Control") == "no-store"
    assert held_labels(server, venue) == sorted(s["label"] for s in h["seats"])
    # the same key, another body: REST's 422, nothing held anew
    other = gql_post(server, QUERIES["hold"], {"show": venue.show_id, "n": 3}, user.token, key)
    assert_error(other, 422, "idempotency_key_reused")
    assert held_labels(server, venue) == sorted(s["label"] for s in h["seats"])
    # a key used over REST is the same key here (one key space per user, as REST)
    rest_key = f"rest-{uuid.uuid4().hex}"
    ok(api("POST", server, f"/shows/{venue.show_id}/holds", token=user.token,
           json={"quantity": 1}, headers={"Idempotency-Key": rest_key}), 201)
    assert_error(gql_post(server, QUERIES["hold"], variables, user.token, rest_key), 422,
                 "idempotency_key_reused")
    h = gql_post(server, QUERIES["hold"], variables, user.token).json()["data"]["hold"]
    # book: the retry replays the booking instead of REST's 409 for a hold booked already
    book_key = f"gql-{uuid.uuid4().hex}"
    b1 = gql_post(server, QUERIES["book"], {"hold": h["id"]}, user.token, book_key)
    assert "errors" not in b1.json(), b1.text
    b2 = gql_post(server, QUERIES["book"], {"hold": h["id"]}, user.token, book_key)
    assert b2.json() == b1.json() and b2.headers.get("Idempotent-Replayed") == "true"
    mine = ok(api("GET", server, "/bookings", token=user.token))["items"]
    assert [x["id"] for x in mine] == [b1.json()["data"]["book"]["booking"]["id"]]
    # a query's key is ignored (as a GET's): another query with it runs
    q1 = gql_post(server, QUERIES["typename"], None, user.token, book_key)
    assert q1.json() == {"data": {"__typename": "Query"}} and "Idempotent-Replayed" not in \
        q1.headers


def test_idempotency_key_concurrent_duplicates_make_one_hold(server, venue):
    """Duplicates sent at once: one does the work; the others wait for it (its answer) or get
    409 idempotency_in_progress, as POST /bookings's duplicates do. One hold in the end."""
    user = make_user(server, "gqlidemrace")
    key = f"gql-{uuid.uuid4().hex}"
    variables = {"show": venue.show_id, "n": 1}
    answers = at_once(4, lambda i: lambda: gql_post(server, QUERIES["hold"], variables,
                                                    user.token, key))
    ids = set()
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "idempotency_in_progress")
            assert r.headers.get("Retry-After"), r.headers
        else:
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            ids.add(r.json()["data"]["hold"]["id"])
    assert len(ids) == 1, f"duplicates made {len(ids)} holds"
    retry = gql_post(server, QUERIES["hold"], variables, user.token, key)
    assert retry.json()["data"]["hold"]["id"] in ids
    assert len(held_labels(server, venue)) == 1


# --------------------------------------------------------------------------------------------
# A database outage: field errors in a 200, never the sub-request's 503 headers


def test_outage_errors_do_not_leak_retry_after(own_pg_cluster, make_server):
    """With PostgreSQL down a query is answered 200 with `unavailable` field errors: the 503 and
    Retry-After that the store call set on the request must not reach that 200 (nor its access
    log's error code). A keyed mutation is REST's 503 then, and its retry after the outage does
    the work (a failure is never stored under the key)."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg)
    user = make_user(srv, "gqloutage")
    venue = Venue(srv)
    key = f"gql-{uuid.uuid4().hex}"
    pg.stop()
    try:
        for _ in range(2):  # a pooled connection that just died, then a failed connect
            rid = f"gql-outage-{uuid.uuid4().hex}"
            r = requests.post(srv.api + "/graphql", json={"query": QUERIES["all_shows_movies"]},
                              headers={"Accept": "application/json", "X-Request-Id": rid},
                              timeout=TIMEOUT)
            assert r.status_code == 200, r.text
            assert r.json()["data"] is None and codes(r.json()) == ["unavailable"], r.text
            assert "Retry-After" not in r.headers, r.headers
            assert r.headers.get("Cache-Control") == "no-store"
            line = srv.access_line(rid)
            assert line["status"] == 200 and line["error"] == "", line
        r = gql_post(srv, QUERIES["hold"], {"show": venue.show_id, "n": 1}, user.token, key,
                     fn=call)
        assert_error(r, 503, "unavailable")
    finally:
        pg.start()
    deadline = time.monotonic() + 10
    while True:
        r = gql_post(srv, QUERIES["hold"], {"show": venue.show_id, "n": 1}, user.token, key,
                     fn=call)
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert "Idempotent-Replayed" not in r.headers
    assert len(held_labels(srv, venue)) == 1


# --------------------------------------------------------------------------------------------
# N+1: a list's movies are read once per level, not once per show


def test_a_list_of_shows_reads_the_store_a_constant_number_of_times(server):
    """One show, then six (each of its own movie, in one theatre): the query listing them with
    their movie and theatre makes the same number of store calls (the access log's db_calls,
    store/db.h tix_db_calls) either way. Without Show.movie's batch each show would read its
    movie alone: five calls more for six shows."""
    owner = cast(server).owner.token
    theatre = create_theatre(server, owner)
    hall = create_hall(server, theatre["id"], owner)

    def add_show(i):
        movie = create_movie(server, cast(server).admin.token, duration_minutes=90)
        create_show(server, movie["id"], hall["id"], starts_in(24 + 3 * i), token=owner)
        return movie

    def listed():
        rid = f"gql-n1-{uuid.uuid4().hex}"
        r = api("POST", server, "/graphql", json={"query": QUERIES["city_shows"],
                                                  "variables": {"city": theatre["city"]}},
                headers={"Accept": GQL_RESPONSE, "X-Request-Id": rid})
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        return r.json()["data"]["shows"], server.access_line(rid)["db_calls"]

    movies = [add_show(0)]
    shows, one = listed()
    assert [s["movie"]["id"] for s in shows] == [movies[0]["id"]]
    movies += [add_show(i) for i in range(1, 6)]
    shows, six = listed()
    assert [(s["movie"]["id"], s["movie"]["title"], s["theatreName"]) for s in shows] == \
        [(m["id"], m["title"], theatre["name"]) for m in movies]
    assert one >= 2, one  # the shows, then their movies
    assert six == one, f"{one} store calls for one show, {six} for six"


def test_a_rate_limited_keyed_mutation_is_not_stored(make_server):
    """REST checks the rate limit before the key, so a 429 is never the key's answer; a mutation's
    sub-request meets the limit after the key was claimed: its `rate_limited` answer must not be
    stored either, or the retry after the window would get it replayed for a day."""
    srv = make_server("sqlite", RATE_LIMIT="on", RATE_LIMIT_HOLD_USER="2/2s")
    venue = Venue(srv)
    user = make_user(srv, "gqlidemrl")
    for _ in range(2):
        hold(srv, user.token, venue.show_id, quantity=1)
    key = f"gql-{uuid.uuid4().hex}"
    variables = {"show": venue.show_id, "seats": venue.ids("F6")}
    r = gql_post(srv, QUERIES["hold"], variables, user.token, key)
    assert codes(r.json()) == ["rate_limited"], r.text
    deadline = time.monotonic() + 10
    while True:  # the window passes
        time.sleep(0.5)
        r = gql_post(srv, QUERIES["hold"], variables, user.token, key)
        if codes(r.json()) != ["rate_limited"] or time.monotonic() > deadline:
            break
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert "Idempotent-Replayed" not in r.headers
    assert [s["label"] for s in r.json()["data"]["hold"]["seats"]] == ["F6"]
