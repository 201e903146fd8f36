"""Holds refused before the handler queue (issue 13, booking/early.h): a hold for seats that the
show's CURRENT seat map shows claimed by someone else, or for more seats than it shows free, is
answered 409 on the network thread, with the body the database path gives, and never touches the
database (the access log's db_calls is 0). Only a current map counts: after a release, an expiry
or any other change the same request succeeds at once; with the cache off the database decides as
before. A keyed request is refused in the handler, its answer stored with its key (one INSERT). Bad input still gets its 400/401/415/422 first. Every test runs on
SQLite and PostgreSQL.

With Redis the network thread makes no round trip: the same refusals are made in the handler
(still without the database), and with Redis down the database decides; the claims view is kept
only for a show on sale with a claimed seat (no SET per build for the others).

The early path answers in the caller's language as every error is: Accept-Language's, else his
saved locale, which comes with the session check from the server's table (auth/revocation.h), so
a request without the header is refused early too, with no database read, in that locale."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid

import pytest
import requests

from booking_helpers import Venue, api, hold, post_hold, release, seat_map, unavailable_error
from catalog_helpers import make_user
from conftest import TIMEOUT, assert_error, auth_headers, call
from redis_helpers import redis_server, wait_for  # noqa: F401  (fixture)

EN = {"Accept-Language": "en"}
# One row of four seats: small enough to fill with three holds.
ROW_LAYOUT = {"rows": [{"label": "A", "seats": 4, "category": "regular"}]}
ROW_PRICES = {"regular": 10000}


def try_hold(server, token, show_id, headers=None, **body) -> tuple[requests.Response, int]:
    """POST a hold with a request id of its own: (answer, the store calls it made). Just before,
    a request of the same session, so its check is in the server's table (auth/revocation.h:
    2 s): the early path checks the session from the cache alone."""
    assert api("GET", server, "/me", token=token).status_code == 200
    rid = "early-" + uuid.uuid4().hex
    r = post_hold(server, token, show_id, headers={"X-Request-Id": rid, **(headers or {})},
                  **body)
    return r, server.access_line(rid)["db_calls"]


def early_total(server, path: str = "network_thread") -> float:
    """ticketd_holds_early_total{path}: refusals from the claims view, before the handler queue
    (network_thread) or in the handler (handler), neither with a hold transaction."""
    text = requests.get(server.url + "/metrics", timeout=TIMEOUT).text
    m = re.search(r'^ticketd_holds_early_total\{path="%s"\} (\S+)$' % path, text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def venue(server):
    return Venue(server)


# --------------------------------------------------------------------------------------------


def test_taken_seats_are_refused_without_the_database(server, venue):
    rival, user = make_user(server, "rival"), make_user(server, "late")
    hold(server, rival.token, venue.show_id, seat_ids=venue.ids("C5", "C6"))
    before, in_handler = early_total(server), early_total(server, "handler")
    asked = venue.ids("C6", "C5", "C6")

    # No seat map read since the rival's hold: no view is current, the database decides.
    slow, calls = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=asked)
    assert calls > 0
    assert early_total(server) == before and early_total(server, "handler") == in_handler

    seat_map(server, venue.show_id)  # the current map (and its claims view) is built
    fast, calls = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=asked)
    assert unavailable_error(fast) == sorted(venue.ids("C5", "C6"))
    assert calls == 0, "an early refusal touched the database"
    assert early_total(server) == before + 1
    assert fast.json() == slow.json(), (fast.text, slow.text)  # the database path's very 409

    # A keyed request is refused in the handler from the same view; its one store call is the
    # key's answer (a refusal wrote nothing, so it is stored on its own, as the database
    # path's refusals are).
    keyed, calls = try_hold(server, user.token, venue.show_id,
                            headers={**EN, "Idempotency-Key": uuid.uuid4().hex}, seat_ids=asked)
    assert keyed.status_code == 409 and keyed.json() == fast.json(), keyed.text
    assert calls == 1, f"a keyed early refusal made {calls} store calls"
    assert early_total(server) == before + 1
    assert early_total(server, "handler") == in_handler + 1

    # Without Accept-Language the saved locale (none: English) comes with the session check:
    # refused early all the same, with the same body.
    bare, calls = try_hold(server, user.token, venue.show_id, seat_ids=asked)
    assert bare.status_code == 409 and bare.json() == fast.json(), bare.text
    assert calls == 0, f"an early refusal without Accept-Language made {calls} store calls"
    assert early_total(server) == before + 2
    assert early_total(server, "handler") == in_handler + 1

    # A saved locale: the early refusal is in it (as the header would have it), still no query.
    hindi, calls = try_hold(server, user.token, venue.show_id, headers={"Accept-Language": "hi"},
                            seat_ids=asked)
    assert calls == 0 and hindi.json() != fast.json(), hindi.text
    assert call("PATCH", server, "/me", token=user.token, json={"locale": "hi"}).status_code == 200
    saved, calls = try_hold(server, user.token, venue.show_id, seat_ids=asked)
    assert saved.status_code == 409 and saved.json() == hindi.json(), saved.text
    assert calls == 0, f"an early refusal in the saved locale made {calls} store calls"
    assert early_total(server) == before + 4


def test_a_free_seat_among_them_goes_to_the_database(server, venue):
    rival, user = make_user(server, "rival"), make_user(server, "late")
    hold(server, rival.token, venue.show_id, seat_ids=venue.ids("D5"))
    seat_map(server, venue.show_id)
    r, calls = try_hold(server, user.token, venue.show_id, headers=EN,
                        seat_ids=venue.ids("D4", "D5"))
    assert unavailable_error(r) == venue.ids("D5")
    assert calls > 0, "a seat shown free proves nothing: the claim decides"


def test_after_a_release_the_same_request_succeeds_at_once(server, venue):
    rival, user = make_user(server, "rival"), make_user(server, "late")
    h = hold(server, rival.token, venue.show_id, seat_ids=venue.ids("E1", "E2"))
    seat_map(server, venue.show_id)
    r, calls = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=venue.ids("E2"))
    assert unavailable_error(r) == venue.ids("E2") and calls == 0
    assert release(server, rival.token, h["hold_id"]).status_code == 204
    # No seat map read in between: the view is outdated by the release's bump, never used.
    r, _ = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=venue.ids("E2"))
    assert r.status_code == 201, r.text


def test_after_an_expiry_the_same_request_succeeds_at_once(make_server, backend):
    # The expiry job never runs during the test: only the view's own instant ends it.
    srv = make_server(backend, HOLD_TTL="2s", JOB_INTERVAL_EXPIRE="1h")
    v = Venue(srv, layout=ROW_LAYOUT, prices=ROW_PRICES)
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    h = hold(srv, rival.token, v.show_id, seat_ids=v.ids("A2"))
    seat_map(srv, v.show_id)
    r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A2"))
    assert unavailable_error(r) == v.ids("A2") and calls == 0
    expires = time.time() + 2.2
    while time.time() < expires:
        time.sleep(0.1)
    r, _ = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A2"))
    assert r.status_code == 201, f"refused after {h['expires_at']}: {r.text}"


def test_own_held_seats_are_his_to_take(server, venue):
    """A hold replaces the user's own: seats the map shows held may be his."""
    user = make_user(server, "changer")
    hold(server, user.token, venue.show_id, seat_ids=venue.ids("F1", "F2"))
    seat_map(server, venue.show_id)
    r, _ = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=venue.ids("F2"))
    assert r.status_code == 201, r.text


def test_best_available_refused_early_only_when_fewer_seats_are_free(server):
    v = Venue(server, layout=ROW_LAYOUT, prices=ROW_PRICES)
    rivals = [make_user(server, f"rival{i}") for i in range(3)]
    for rival, lbl in zip(rivals, ("A1", "A2", "A3")):
        hold(server, rival.token, v.show_id, seat_ids=v.ids(lbl))
    seat_map(server, v.show_id)
    user = make_user(server, "late")
    before = early_total(server)

    r, calls = try_hold(server, user.token, v.show_id, headers=EN, quantity=2)
    err = assert_error(r, 409, "no_seats_available")
    assert err["details"] == {"unavailable": []} and calls == 0
    assert early_total(server) == before + 1
    slow, calls = try_hold(server, user.token, v.show_id,
                           headers={**EN, "Idempotency-Key": uuid.uuid4().hex}, quantity=2)
    assert calls > 0 and slow.status_code == 409 and slow.json() == r.json(), slow.text
    r, calls = try_hold(server, user.token, v.show_id, headers=EN, quantity=2,
                        category="no-such-category")
    assert_error(r, 409, "no_seats_available")

    # One seat is free: the database decides, and gives it.
    got = r = post_hold(server, user.token, v.show_id, headers=EN, quantity=1)
    assert r.status_code == 201, r.text
    # Now every seat is claimed, one by him: his replacement may take his own seat again.
    seat_map(server, v.show_id)
    r, calls = try_hold(server, user.token, v.show_id, headers=EN, quantity=1)
    assert r.status_code == 201, r.text
    assert [s["id"] for s in r.json()["seats"]] == [s["id"] for s in got.json()["seats"]]


def test_bad_input_is_answered_as_before(server, venue):
    rival, user = make_user(server, "rival"), make_user(server, "late")
    taken = venue.ids("B7")
    hold(server, rival.token, venue.show_id, seat_ids=taken)
    seat_map(server, venue.show_id)
    url = f"{server.url}/api/v1/shows/{venue.show_id}/holds"
    h = {**EN, **auth_headers(user.token)}

    assert_error(requests.post(url, json={"seat_ids": taken}, headers=EN, timeout=TIMEOUT),
                 401, "unauthorized")
    assert_error(requests.post(url, json={"seat_ids": taken},
                               headers={**EN, "Authorization": "Bearer x.y.z"}, timeout=TIMEOUT),
                 401, "invalid_token")
    r = requests.post(url, data='{"seat_ids": [', headers={**h, "Content-Type": "application/json"},
                      timeout=TIMEOUT)
    assert_error(r, 400, "malformed_json")
    r = requests.post(url, data=json.dumps({"seat_ids": taken}),
                      headers={**h, "Content-Type": "text/plain"}, timeout=TIMEOUT)
    assert r.status_code == 415, r.text
    assert requests.post(url, json={"seat_ids": taken, "quantity": 1}, headers=h,
                         timeout=TIMEOUT).status_code == 422
    assert requests.post(url, json={"seat_ids": taken + ["no-such-seat"]}, headers=h,
                         timeout=TIMEOUT).status_code == 422
    assert requests.post(url, json={"seat_ids": taken * 20}, headers=h,
                         timeout=TIMEOUT).status_code == 422
    assert requests.post(url, json=[taken], headers=h, timeout=TIMEOUT).status_code == 400
    assert_error(post_hold(server, user.token, "shw_none", headers=EN, seat_ids=taken),
                 404, "not_found")
    # And the sound request after all that is still refused early.
    r, calls = try_hold(server, user.token, venue.show_id, headers=EN, seat_ids=taken)
    assert unavailable_error(r) == taken and calls == 0


def test_a_keyed_refusal_is_stored_with_its_key(server, venue):
    rival, user = make_user(server, "rival"), make_user(server, "late")
    hold(server, rival.token, venue.show_id, seat_ids=venue.ids("A9"))
    seat_map(server, venue.show_id)
    in_handler = early_total(server, "handler")
    key = {**EN, "Idempotency-Key": uuid.uuid4().hex}
    r, calls = try_hold(server, user.token, venue.show_id, headers=key, seat_ids=venue.ids("A9"))
    assert unavailable_error(r) == venue.ids("A9") and calls == 1
    assert early_total(server, "handler") == in_handler + 1
    again, _ = try_hold(server, user.token, venue.show_id, headers=key, seat_ids=venue.ids("A9"))
    assert again.json() == r.json() and again.headers.get("Idempotent-Replayed") == "true"

    # A key that holds a placed hold gets that hold back, even when the view now refuses the
    # request: the key's answer is the reply, as the hold's transaction would have found it.
    placed_key = {**EN, "Idempotency-Key": uuid.uuid4().hex}
    first, _ = try_hold(server, user.token, venue.show_id, headers=placed_key,
                        seat_ids=venue.ids("A10"))
    assert first.status_code == 201, first.text
    assert release(server, user.token, first.json()["hold_id"]).status_code == 204
    hold(server, make_user(server, "rival2").token, venue.show_id, seat_ids=venue.ids("A10"))
    seat_map(server, venue.show_id)
    refused, _ = try_hold(server, user.token, venue.show_id, headers=EN,
                          seat_ids=venue.ids("A10"))
    assert unavailable_error(refused) == venue.ids("A10")  # the view refuses it ...
    replay, _ = try_hold(server, user.token, venue.show_id, headers=placed_key,
                         seat_ids=venue.ids("A10"))
    assert replay.status_code == 201, replay.text  # ... but the key's answer stands
    assert replay.json() == first.json() and replay.headers.get("Idempotent-Replayed") == "true"
    # The same key for another request: 422, whatever the view says.
    other, _ = try_hold(server, user.token, venue.show_id, headers=placed_key,
                        seat_ids=venue.ids("A9"))
    assert_error(other, 422, "idempotency_key_reused")


def test_with_the_cache_off_the_database_decides(make_server, backend):
    srv = make_server(backend, CACHE="off")
    v = Venue(srv)
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    hold(srv, rival.token, v.show_id, seat_ids=v.ids("C3"))
    seat_map(srv, v.show_id)
    r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("C3"))
    assert unavailable_error(r) == v.ids("C3") and calls > 0
    assert early_total(srv) == 0 and early_total(srv, "handler") == 0
    r = api("POST", srv, f"/shows/{v.show_id}/holds", token=user.token, headers=EN,
            json={"seat_ids": v.ids("C4")})
    assert r.status_code == 201, r.text


def test_the_hold_rate_limit_counts_early_refusals(make_server, backend):
    srv = make_server(backend, RATE_LIMIT="on", RATE_LIMIT_LOGIN_IP="0",
                      RATE_LIMIT_LOGIN_EMAIL="0", RATE_LIMIT_REGISTER_IP="0",
                      RATE_LIMIT_HOLD_USER="2/1m")
    v = Venue(srv)
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    hold(srv, rival.token, v.show_id, seat_ids=v.ids("A1"))
    seat_map(srv, v.show_id)
    for _ in range(2):
        r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
        assert unavailable_error(r) == v.ids("A1") and calls == 0
    r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    err = assert_error(r, 429, "rate_limited")
    assert err["details"]["action"] == "hold" and calls == 0, err
    assert early_total(srv) == 2


# ------------------------------------------------------------------------------------- Redis


def redis_env(redis, **extra) -> dict:
    return {"REDIS_URL": redis.url, "CACHE_TIMEOUT": "200ms", **extra}


def claims_kept(redis, show_id: str) -> bool:
    """Whether the show's claims view is in Redis (http/aside.h; one SET per map build)."""
    return redis.command("EXISTS", "ticketd:{show:%s}:claims" % show_id) == 1


def cache_state(server) -> str:
    return requests.get(server.url + "/readyz", timeout=TIMEOUT).json()["cache_state"]


def test_no_claims_view_is_kept_for_a_show_without_claims(make_server, backend, redis_server):
    """booking/early.h, tix_early_useful: a view that could refuse nothing costs no SET."""
    srv = make_server(backend, **redis_env(redis_server))
    v = Venue(srv, layout=ROW_LAYOUT, prices=ROW_PRICES)
    seat_map(srv, v.show_id)
    # The map was built and kept in Redis; its claims view was not.
    assert redis_server.command("KEYS", "ticketd:{show:%s}:seats:*" % v.show_id)
    assert not claims_kept(redis_server, v.show_id), "a view kept for a show nobody holds"
    # A hold changes that: the map's next build keeps the view, and refusals use it.
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    hold(srv, rival.token, v.show_id, seat_ids=v.ids("A1"))
    seat_map(srv, v.show_id)
    assert claims_kept(redis_server, v.show_id)
    before = early_total(srv, "handler")
    r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert unavailable_error(r) == v.ids("A1") and calls == 0
    assert early_total(srv, "handler") == before + 1


def test_with_redis_refusals_are_made_in_the_handler(make_server, backend, redis_server):
    """The network thread reads only process memory: with Redis the session check and the
    view's versions are round trips, so the handler queue refuses (still without a hold
    transaction), the view fetched into the server's store once per version."""
    srv = make_server(backend, **redis_env(redis_server))
    v = Venue(srv, layout=ROW_LAYOUT, prices=ROW_PRICES)
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    hold(srv, rival.token, v.show_id, seat_ids=v.ids("A2", "A3"))
    seat_map(srv, v.show_id)
    for n in (1, 2):  # a repeat at the same version too
        r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A3"))
        assert unavailable_error(r) == v.ids("A3") and calls == 0
        assert early_total(srv, "handler") == n
        assert early_total(srv) == 0, "a refusal on the network thread, with Redis"


def test_redis_down_mid_stampede_holds_fall_back_to_the_database(make_server, backend,
                                                                 redis_server):
    """Views are stored, then Redis is killed (by pid) while buyers keep asking: every hold is
    answered by the database (201 or 409, never a 5xx, never a refusal of a free seat), and the
    early refusals come back with Redis."""
    srv = make_server(backend, **redis_env(redis_server))
    layout = {"rows": [{"label": "A", "seats": 8, "category": "regular"}]}
    v = Venue(srv, layout=layout, prices=ROW_PRICES)
    rivals = [make_user(srv, f"rival{i}") for i in range(3)]
    held = [hold(srv, rv.token, v.show_id, seat_ids=v.ids(lbl))
            for rv, lbl in zip(rivals, ("A1", "A2", "A3"))]
    seat_map(srv, v.show_id)
    assert claims_kept(redis_server, v.show_id)
    taken, free = v.ids("A1", "A2", "A3"), v.ids("A4", "A5", "A6", "A7", "A8")
    # Two buyers per free seat, one per taken seat: each asks for his seat again and again.
    buyers = [(make_user(srv, f"buyer{i}"), seat) for i, seat in
              enumerate(taken + free + free)]
    answers: dict[int, list[tuple[float, int, dict]]] = {i: [] for i in range(len(buyers))}
    stop = threading.Event()

    def buyer(i: int) -> None:
        user, seat = buyers[i]
        while not stop.is_set():
            try:  # no assertion here: a failing thread would just stop asking
                r = call("POST", srv, f"/shows/{v.show_id}/holds", token=user.token,
                         headers=EN, json={"seat_ids": [seat]})
                status, text = r.status_code, r.text
            except requests.RequestException as e:
                status, text = 0, repr(e)
            answers[i].append((time.monotonic(), status, text))

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(len(buyers))]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        early_before = early_total(srv, "handler")
        assert early_before > 0, "no refusal from the view before the outage"
        redis_server.kill()
        killed = time.monotonic()
        wait_for(lambda: cache_state(srv) == "down", what="the cache to be down")
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    winners: dict[str, str] = {}
    for i, (user, seat) in enumerate(buyers):
        got = answers[i]
        assert got and any(t > killed for t, _, _ in got), f"buyer {i} asked nothing after"
        for _, status, text in got:
            assert status in (201, 409), (i, seat, status, text)
            if status == 409:
                err = json.loads(text)["error"]
                assert err["code"] == "seat_unavailable", text
                assert err["details"]["unavailable"] == [seat], text
            else:
                assert seat in free, f"a rival's seat {seat} given to buyer {i}"
                assert winners.setdefault(seat, user.token) == user.token, \
                    f"{seat} held by two buyers"
        # A buyer who got his seat keeps getting it (his hold is replaced): never refused after.
        firsts = [k for k, (_, st, _) in enumerate(got) if st == 201]
        if firsts:
            assert all(st == 201 for _, st, _ in got[firsts[0]:]), \
                f"buyer {i} refused the seat he holds: {[st for _, st, _ in got]}"
    assert sorted(winners) == sorted(free), winners

    # Down: the database decides, whatever the views in the server's store say.
    early_down = early_total(srv, "handler")
    other = make_user(srv, "other")
    r, calls = try_hold(srv, other.token, v.show_id, headers=EN, seat_ids=v.ids("A2"))
    assert unavailable_error(r) == v.ids("A2") and calls > 0
    assert release(srv, rivals[0].token, held[0]["hold_id"]).status_code == 204
    r, _ = try_hold(srv, other.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert r.status_code == 201, f"a freed seat refused while Redis is down: {r.text}"
    assert early_total(srv, "handler") == early_down and early_total(srv) == 0

    # Back: the old views (in the server's store) never serve; a new map's view does.
    redis_server.start()
    wait_for(lambda: cache_state(srv) == "up", what="the cache to come back")
    late = make_user(srv, "late")
    r, calls = try_hold(srv, late.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert unavailable_error(r) == v.ids("A1") and calls > 0
    seat_map(srv, v.show_id)
    r, calls = try_hold(srv, late.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert unavailable_error(r) == v.ids("A1") and calls == 0
    assert early_total(srv, "handler") == early_down + 1


def test_a_release_during_a_redis_partition_is_never_refused_after(make_server, backend,
                                                                   redis_server):
    """Redis stops answering (SIGSTOP, by pid) but keeps the view and the versions it was kept
    under: a release meanwhile cannot bump the show's version there. Its bump is replayed before
    the cache is read again, so the view of the seat as claimed is never used after."""
    srv = make_server(backend, **redis_env(redis_server))
    v = Venue(srv, layout=ROW_LAYOUT, prices=ROW_PRICES)
    rival, user = make_user(srv, "rival"), make_user(srv, "late")
    h = hold(srv, rival.token, v.show_id, seat_ids=v.ids("A1"))
    hold(srv, make_user(srv, "rival2").token, v.show_id, seat_ids=v.ids("A2"))
    seat_map(srv, v.show_id)
    r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert unavailable_error(r) == v.ids("A1") and calls == 0
    redis_server.pause()
    try:
        assert release(srv, rival.token, h["hold_id"]).status_code == 204
        wait_for(lambda: cache_state(srv) == "down", what="the cache to be down")
    finally:
        redis_server.resume()
    wait_for(lambda: cache_state(srv) == "up", what="the cache to come back")
    assert claims_kept(redis_server, v.show_id)  # the old view is still there
    r, _ = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A1"))
    assert r.status_code == 201, f"refused from the view of before the release: {r.text}"
    # And the view works again from the next map on.
    seat_map(srv, v.show_id)
    r, calls = try_hold(srv, make_user(srv, "third").token, v.show_id, headers=EN,
                        seat_ids=v.ids("A2"))
    assert unavailable_error(r) == v.ids("A2") and calls == 0


class Monitor:
    """Redis's MONITOR on a connection of its own: every command any client sends, as text."""

    def __init__(self, redis):
        self.sock = socket.create_connection(("127.0.0.1", redis.port), timeout=TIMEOUT)
        self.sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
        self.f = self.sock.makefile("rb")
        assert self.f.readline().startswith(b"+OK")
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.f:
                self.lines.append(line.decode(errors="replace"))
        except (OSError, ValueError):
            pass

    def count(self, needle: str) -> int:
        time.sleep(0.3)  # what the last request sent reaches us
        return sum(needle in line for line in self.lines)

    def close(self) -> None:
        self.sock.close()


def test_with_redis_a_view_is_fetched_once_per_version_per_server(make_server, backend,
                                                                  redis_server):
    """A view another server built (one database, one Redis) is read from Redis by this
    server's first refusal at its version, then only from this server's store."""
    builder = make_server(backend, **redis_env(redis_server))
    srv = make_server(backend, database_url=builder.database_url, **redis_env(redis_server))
    v = Venue(builder, layout=ROW_LAYOUT, prices=ROW_PRICES)
    rival, user = make_user(builder, "rival"), make_user(builder, "late")
    hold(builder, rival.token, v.show_id, seat_ids=v.ids("A4"))
    seat_map(builder, v.show_id)
    key = '"ticketd:{show:%s}:claims"' % v.show_id
    mon = Monitor(redis_server)
    try:
        for n in (1, 2, 3):
            r, calls = try_hold(srv, user.token, v.show_id, headers=EN, seat_ids=v.ids("A4"))
            assert unavailable_error(r) == v.ids("A4") and calls == 0
            assert early_total(srv, "handler") == n
            assert mon.count(key) == 1, [ln for ln in mon.lines if key in ln]
    finally:
        mon.close()
