"""
Caching (docs/cache.md): the seat map's ETag and 304, exact invalidation (a hold is visible in
the very next seat-map read, with Redis and with the in-process cache), listings and a user's
bookings invalidated by their changes, and Redis going away and coming back: requests keep
working from the database, /readyz reports the cache down (still 200), and caching resumes by
itself, without serving anything that changed while Redis was unreachable.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from booking_helpers import Venue, api, book, buy, hold, release
from catalog_helpers import cast, create_movie, make_user, ok
from conftest import TIMEOUT, call
from redis_helpers import redis_server, wait_for  # noqa: F401  (fixture)


def seats(server, show_id, headers=None) -> requests.Response:
    return call("GET", server, f"/shows/{show_id}/seats", headers=headers or {})


def status_of(resp: requests.Response, seat_id: str) -> str:
    return {s["id"]: s["status"] for s in resp.json()["seats"]}[seat_id]


def readyz(server) -> dict:
    r = requests.get(server.url + "/readyz", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def redis_env(redis, **extra) -> dict:
    return {"REDIS_URL": redis.url, "CACHE_TIMEOUT": "200ms", **extra}


# ------------------------------------------------------------------------------ ETag and 304


def test_seat_map_etag_and_304(server):
    v = Venue(server)
    first = seats(server, v.show_id)
    assert first.status_code == 200
    etag = first.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"'), first.headers
    assert first.headers.get("Cache-Control") == "public, no-cache"
    again = seats(server, v.show_id)
    assert again.headers.get("X-Cache") == "hit", again.headers
    assert again.headers["ETag"] == etag and again.content == first.content

    r304 = seats(server, v.show_id, {"If-None-Match": etag})
    assert r304.status_code == 304, r304.text
    assert r304.content == b"" and r304.headers.get("ETag") == etag

    user = make_user(server)
    hold(server, user.token, v.show_id, seat_ids=v.ids("A1"))
    changed = seats(server, v.show_id, {"If-None-Match": etag})
    assert changed.status_code == 200, "a stale ETag must not match after a hold"
    assert changed.headers["ETag"] != etag
    assert status_of(changed, v.ids("A1")[0]) == "held"


def test_etag_is_the_same_from_cache_and_database(server):
    v = Venue(server)
    a = seats(server, v.show_id)
    b = seats(server, v.show_id)
    assert a.headers["ETag"] == b.headers["ETag"]
    assert {a.headers.get("X-Cache"), b.headers.get("X-Cache")} <= {"miss", "hit"}


# ------------------------------------------------------------------------------ exactness


def check_hold_is_visible_at_once(srv):
    v = Venue(srv)
    user, other = make_user(srv), make_user(srv)
    a1, a2 = v.ids("A1", "A2")
    for _ in range(2):  # warm: the second read comes from the cache
        assert status_of(seats(srv, v.show_id), a1) == "available"
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
    h = hold(srv, user.token, v.show_id, seat_ids=[a1])
    r = seats(srv, v.show_id)
    assert status_of(r, a1) == "held", "a hold must show in the very next seat-map read"
    assert r.headers.get("X-Cache") == "miss"
    # a replacing hold frees A1 and takes A2, both at once
    hold(srv, user.token, v.show_id, seat_ids=[a2])
    r = seats(srv, v.show_id)
    assert (status_of(r, a1), status_of(r, a2)) == ("available", "held")
    # another client sees the same, and cannot take A2
    h2 = hold(srv, other.token, v.show_id, seat_ids=[a1])
    assert status_of(seats(srv, v.show_id), a1) == "held"
    assert release(srv, other.token, h2["hold_id"]).status_code == 204
    assert status_of(seats(srv, v.show_id), a1) == "available"
    # a sale (the user's hold on A2 is replaced by the one buy() places on A1)
    buy(srv, user.token, v.show_id, [a1])
    r = seats(srv, v.show_id)
    assert (status_of(r, a1), status_of(r, a2)) == ("booked", "available")
    assert h["hold_id"]


def test_hold_visible_in_next_read_in_process(server):
    check_hold_is_visible_at_once(server)


def test_hold_visible_in_next_read_with_redis(make_server, backend, redis_server):
    srv = make_server(backend, **redis_env(redis_server))
    assert readyz(srv)["cache"] == "redis" and readyz(srv)["cache_state"] == "up"
    check_hold_is_visible_at_once(srv)
    keys = redis_server.command("KEYS", "ticketd:{show:*")
    assert any(k.endswith(":ver") for k in keys) and any(":seats:" in k for k in keys), keys


def test_hold_expiry_by_the_clock_is_not_hidden_by_the_cache(make_server, backend):
    srv = make_server(backend, HOLD_TTL="2s")
    v = Venue(srv)
    user = make_user(srv)
    a1 = v.ids("A1")[0]
    hold(srv, user.token, v.show_id, seat_ids=[a1])
    assert status_of(seats(srv, v.show_id), a1) == "held"
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
    wait_for(lambda: status_of(seats(srv, v.show_id), a1) == "available", timeout=6,
             what="the held seat to read available once the hold expired")


def test_cache_off_still_answers_with_etags(make_server, backend):
    srv = make_server(backend, CACHE="off")
    v = Venue(srv)
    a = seats(srv, v.show_id)
    b = seats(srv, v.show_id, {"If-None-Match": a.headers["ETag"]})
    assert a.headers.get("X-Cache") == "bypass" and b.status_code == 304


# ------------------------------------------------------------------------------ listings, bookings


def test_movie_listing_invalidated_by_a_catalogue_change(server):
    c = cast(server)
    q = {"q": "cache-listing", "limit": "50"}
    first = call("GET", server, "/movies", params=q)
    assert first.status_code == 200
    assert call("GET", server, "/movies", params=q).headers.get("X-Cache") == "hit"
    # the same query in another order is the same entry
    swapped = requests.get(server.api + "/movies?limit=50&q=cache-listing", timeout=TIMEOUT)
    assert swapped.headers.get("X-Cache") == "hit"
    m = create_movie(server, c.admin.token, title="cache-listing movie")
    after = call("GET", server, "/movies", params=q)
    assert after.headers.get("X-Cache") == "miss"
    assert m["id"] in [x["id"] for x in after.json()["items"]]
    ok(api("POST", server, f"/movies/{m['id']}/toggle-status", token=c.admin.token))
    assert m["id"] not in [x["id"] for x in call("GET", server, "/movies", params=q).json()["items"]]
    # an admin sees inactive movies: another entry, never the public one
    adm = call("GET", server, "/movies", params=q, token=c.admin.token)
    assert m["id"] in [x["id"] for x in adm.json()["items"]]


def test_show_listing_invalidated_by_a_new_show(server):
    v = Venue(server)
    q = {"hall_id": v.hall["id"]}
    ids = [s["id"] for s in call("GET", server, "/shows", params=q).json()["items"]]
    assert ids == [v.show_id]
    assert call("GET", server, "/shows", params=q).headers.get("X-Cache") == "hit"
    v.cancel_show()
    listed = call("GET", server, "/shows", params=q).json()["items"]
    assert [s["status"] for s in listed if s["id"] == v.show_id] in ([], ["cancelled"])


def test_every_catalogue_write_invalidates_cached_listings(server):
    """Each successful write of the catalogue (every route that changes it) bumps the
    catalogue version, so a cached listing misses on the next read; a refused write does not."""
    from catalog_helpers import create_hall, create_show, create_theatre, future, uid
    from test_media import png_bytes, upload

    c = cast(server)
    q = {"city": "probe-" + uid()}

    def cached_after(write) -> str:
        call("GET", server, "/theatres", params=q)
        assert call("GET", server, "/theatres", params=q).headers.get("X-Cache") == "hit"
        write()
        return call("GET", server, "/theatres", params=q).headers.get("X-Cache")

    v = {}
    writes = {
        "movie create": lambda: v.update(m=create_movie(server, c.admin.token)),
        "movie update": lambda: ok(api("PATCH", server, f"/movies/{v['m']['id']}",
                                       token=c.admin.token, json={"title": "t2"})),
        "movie toggle": lambda: ok(api("POST", server, f"/movies/{v['m']['id']}/toggle-status",
                                       token=c.admin.token)),
        "movie poster": lambda: ok(upload(server, v["m"]["id"], "poster", png_bytes(),
                                          c.admin.token), 200),
        "theatre create": lambda: v.update(t=create_theatre(server, c.owner.token)),
        "theatre update": lambda: ok(api("PATCH", server, f"/theatres/{v['t']['id']}",
                                         token=c.owner.token, json={"name": "n2"})),
        "hall create": lambda: v.update(h=create_hall(server, v["t"]["id"], c.owner.token)),
        "hall update": lambda: ok(api("PATCH", server, f"/halls/{v['h']['id']}",
                                      token=c.owner.token, json={"name": "n2"})),
        "movie toggle back": lambda: ok(api("POST", server,
                                            f"/movies/{v['m']['id']}/toggle-status",
                                            token=c.admin.token)),
        "show create": lambda: v.update(s=create_show(server, v["m"]["id"], v["h"]["id"],
                                                      future(days=4), token=c.owner.token)),
        "show cancel": lambda: ok(api("POST", server, f"/shows/{v['s']['id']}/cancel",
                                      token=c.owner.token)),
        "hall delete": lambda: ok(api("DELETE", server, f"/halls/{v['h']['id']}",
                                      token=c.owner.token), 204),
        "theatre delete": lambda: ok(api("DELETE", server, f"/theatres/{v['t']['id']}",
                                         token=c.owner.token), 204),
        "movie delete": lambda: ok(api("DELETE", server, f"/movies/{v['m']['id']}",
                                       token=c.admin.token), 204),
    }
    for name, write in writes.items():
        assert cached_after(write) == "miss", name
    # a refused write changes nothing and leaves the cache alone
    def refused():
        r = api("PATCH", server, f"/theatres/{v['t']['id']}", token=c.owner.token,
                json={"name": "gone"})
        assert r.status_code == 404, r.text

    assert cached_after(refused) == "hit"


def test_bookings_list_is_per_user_and_invalidated(server):
    v = Venue(server)
    user, other = make_user(server), make_user(server)
    assert call("GET", server, "/bookings", token=user.token).json()["items"] == []
    again = call("GET", server, "/bookings", token=user.token)
    assert again.headers.get("X-Cache") == "hit"
    assert again.headers.get("Cache-Control") == "private, no-cache"
    assert call("GET", server, "/bookings", token=other.token).headers.get("X-Cache") == "miss"
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("B1"))
    b = book(server, user.token, h["hold_id"])
    items = call("GET", server, "/bookings", token=user.token).json()["items"]
    assert [x["id"] for x in items] == [b["booking"]["id"]]
    assert call("GET", server, "/bookings", token=other.token).json()["items"] == []


# ------------------------------------------------------------------------------ Redis outages


def test_redis_killed_then_restarted(make_server, backend, redis_server):
    srv = make_server(backend, **redis_env(redis_server))
    v = Venue(srv)
    user = make_user(srv)
    a1, a2 = v.ids("C1", "C2")
    seats(srv, v.show_id)
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"

    redis_server.kill()
    t0 = time.monotonic()
    r = seats(srv, v.show_id)
    assert r.status_code == 200 and time.monotonic() - t0 < 2, "a dead Redis must not stall reads"
    h = hold(srv, user.token, v.show_id, seat_ids=[a1])
    r = seats(srv, v.show_id)
    assert r.status_code == 200 and status_of(r, a1) == "held"
    assert r.headers.get("X-Cache") == "bypass"
    state = wait_for(lambda: (lambda j: j if j["cache_state"] == "down" else None)(readyz(srv)),
                     what="/readyz to report the cache down")
    assert state["status"] == "ready" and state["database"] == "ok" and state["cache_error"]
    for _ in range(5):
        assert call("GET", srv, "/movies").status_code == 200
        assert call("GET", srv, "/bookings", token=user.token).status_code == 200

    redis_server.start()  # same port, empty
    wait_for(lambda: readyz(srv)["cache_state"] == "up", timeout=10,
             what="the cache to come back by itself")
    r = seats(srv, v.show_id)
    assert status_of(r, a1) == "held" and r.headers.get("X-Cache") in ("miss", "hit")
    wait_for(lambda: seats(srv, v.show_id).headers.get("X-Cache") == "hit",
             what="caching to resume")
    release(srv, user.token, h["hold_id"])
    hold(srv, user.token, v.show_id, seat_ids=[a2])
    r = seats(srv, v.show_id)
    assert (status_of(r, a1), status_of(r, a2)) == ("available", "held")
    assert srv.stderr_text().count("Redis is unreachable") == 1, "the outage is logged once"


def test_redis_partition_never_serves_a_stale_map(make_server, backend, redis_server):
    """Redis keeps its data but stops answering (SIGSTOP): a hold made meanwhile cannot bump
    the show's version in Redis; when Redis answers again the old cached map is still there,
    and the server must replay the bump before it reads the cache again."""
    srv = make_server(backend, **redis_env(redis_server))
    v = Venue(srv)
    user = make_user(srv)
    d1 = v.ids("D1")[0]
    seats(srv, v.show_id)
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
    redis_server.pause()
    try:
        hold(srv, user.token, v.show_id, seat_ids=[d1])
        assert status_of(seats(srv, v.show_id), d1) == "held"
        wait_for(lambda: readyz(srv)["cache_state"] == "down", what="cache down")
        assert readyz(srv)["cache_pending_invalidations"] >= 1
    finally:
        redis_server.resume()
    wait_for(lambda: readyz(srv)["cache_state"] == "up", timeout=10, what="cache back")
    for _ in range(3):
        assert status_of(seats(srv, v.show_id), d1) == "held", "stale map served after recovery"
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"


def test_redis_down_at_start(make_server, backend, redis_server):
    redis_server.kill()
    srv = make_server(backend, **redis_env(redis_server))
    assert readyz(srv)["cache_state"] == "down"
    v = Venue(srv)
    assert seats(srv, v.show_id).status_code == 200
    redis_server.start()
    wait_for(lambda: readyz(srv)["cache_state"] == "up", what="cache up")
    seats(srv, v.show_id)
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"


def test_two_servers_share_the_cache(make_server, redis_server, tmp_path):
    """Two servers on one PostgreSQL database and one Redis: a hold through one is visible at
    once in the other's (cached) seat map."""
    a = make_server("postgres", **redis_env(redis_server))
    b = make_server("postgres", database_url=a.database_url, **redis_env(redis_server))
    v = Venue(a)
    user = make_user(a)
    e1 = v.ids("E1")[0]
    seats(b, v.show_id)
    assert seats(b, v.show_id).headers.get("X-Cache") == "hit"
    hold(a, user.token, v.show_id, seat_ids=[e1])
    assert status_of(seats(b, v.show_id), e1) == "held"


def test_a_catalogue_write_on_one_server_invalidates_the_others_listing(make_server,
                                                                        redis_server):
    """Two servers on one database and one Redis: a theatre renamed through one is renamed in
    the other's (cached) listing at once."""
    from catalog_helpers import create_theatre, uid

    a = make_server("postgres", **redis_env(redis_server))
    b = make_server("postgres", database_url=a.database_url, **redis_env(redis_server))
    c = cast(a)
    city = "shared-" + uid()
    t = create_theatre(a, c.owner.token, city=city)
    q = {"city": city}
    call("GET", b, "/theatres", params=q)
    assert call("GET", b, "/theatres", params=q).headers.get("X-Cache") == "hit"
    ok(api("PATCH", a, f"/theatres/{t['id']}", token=c.owner.token, json={"name": "Renamed"}))
    after = call("GET", b, "/theatres", params=q)
    assert after.headers.get("X-Cache") == "miss"
    assert [x["name"] for x in after.json()["items"]] == ["Renamed"]


def test_metrics_count_cache_hits(server):
    v = Venue(server)
    seats(server, v.show_id)
    seats(server, v.show_id)
    text = requests.get(server.url + "/metrics", timeout=TIMEOUT).text
    hits = [ln for ln in text.splitlines() if ln.startswith("ticketd_cache_hits_total ")]
    assert hits and int(hits[0].split()[1]) >= 1, text
    assert "ticketd_sse_streams " in text


def test_in_process_cache_keeps_one_copy_of_an_answer(make_server, backend):
    """Without Redis the answers store (http/answers.c, both forms of each answer) is the only
    in-process copy of a cached answer: the in-process cache holds just the version counters,
    not a second copy of every body (issue 13: it used to hold the gzip entry as well, up to
    twice CACHE_MAX_BYTES in all)."""
    srv = make_server(backend)
    big = {"rows": [{"label": lbl, "seats": 30, "category": "regular"}
                    for lbl in "ABCDEFGHJKLMNPQRSTUV"]}
    v = Venue(srv, layout=big, prices={"regular": 25000})
    plain = seats(srv, v.show_id, {"Accept-Encoding": "identity"})
    gz = requests.get(f"{srv.url}/api/v1/shows/{v.show_id}/seats", timeout=TIMEOUT,
                      headers={"Accept-Encoding": "gzip"}, stream=True)
    gz_len = len(gz.raw.read(decode_content=False))
    assert gz.headers.get("Content-Encoding") == "gzip" and gz_len > 4096, gz.headers
    assert plain.headers.get("X-Cache") == "hit" and gz.headers.get("X-Cache") == "hit"
    answers = metric(srv, "ticketd_cache_answers_bytes")
    cache_bytes = metric(srv, "ticketd_cache_bytes")
    assert answers >= len(plain.content) + gz_len, (answers, len(plain.content), gz_len)
    assert cache_bytes < gz_len / 2, (cache_bytes, gz_len)


@pytest.mark.parametrize("value", ["maybe", "a b", "x" * 41, "{x}"])
def test_bad_cache_settings_are_refused(make_server, backend, value):
    srv = make_server(backend, start=False, CACHE_PREFIX=value) if value != "maybe" else \
        make_server(backend, start=False, CACHE=value)
    with pytest.raises(RuntimeError, match="exited with 2"):
        srv.start(timeout=5)
    assert "CACHE" in srv.stderr_text()


# ------------------------------------------------------------------------- coalesced misses


def metric(server, name: str) -> float:
    text = requests.get(server.url + "/metrics", timeout=TIMEOUT).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_concurrent_misses_build_the_seat_map_once(own_pg_cluster, make_server):
    """A stampede of seat-map reads right after a change: one request reads the database, the
    others wait for its answer and are served it from the cache (X-Cache: hit).

    A psql session locks seat_claims, so the first reader's build stops inside the database
    while the others arrive; without coalescing each of them would be a miss of its own. With
    SEATMAP_STALE=0: otherwise they would be answered with the map Venue read, stale (see
    test_readers_during_a_slow_build_get_the_stale_map_within_the_bound)."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=16, SEATMAP_STALE="0")
    v = Venue(srv)
    hold(srv, make_user(srv).token, v.show_id, seat_ids=v.ids("A1"))  # a new version: a miss
    dbname = srv.database_url.rsplit("/", 1)[1]
    before = metric(srv, "ticketd_cache_coalesced_total")
    locker = pg.session(dbname)
    answers: list = []
    threads = []
    try:
        pg.lock_table(locker, dbname, "seat_claims")
        for _ in range(8):
            t = threading.Thread(target=lambda: answers.append(seats(srv, v.show_id)))
            t.start()
            threads.append(t)
        wait_for(lambda: int(pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock' AND client_addr IS NOT NULL")) >= 1,
                 what="the first reader blocked in the database")
        # Let the other seven reach the server (in flight: 8 readers + this /metrics call),
        # well within the server's 5 s lock_timeout.
        try:
            wait_for(lambda: metric(srv, "ticketd_requests_in_flight") >= 9, timeout=2,
                     what="every reader in flight")
        except AssertionError:
            pass  # some share a worker thread with the blocked one: they arrive later
    finally:
        locker.stdin.close()  # the lock goes with the session
        locker.wait(10)
    for t in threads:
        t.join(30)
    assert len(answers) == 8 and all(r.status_code == 200 for r in answers)
    how = sorted(r.headers["X-Cache"] for r in answers)
    assert how == ["hit"] * 7 + ["miss"], how
    assert len({r.content for r in answers}) == 1
    assert status_of(answers[0], v.ids("A1")[0]) == "held"
    assert metric(srv, "ticketd_cache_coalesced_total") > before


def test_cache_hits_do_not_wait_behind_blocked_handlers(own_pg_cluster, make_server):
    """A seat-map hit is answered before the handler queue (issue 13): with one handler thread
    stuck in the database (a psql session locks seat_claims while another show's map is
    built), a read of a cached map still answers at once, from the cache."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=1)
    cached, other = Venue(srv), Venue(srv)
    seats(srv, cached.show_id)
    assert seats(srv, cached.show_id).headers["X-Cache"] == "hit"
    hold(srv, make_user(srv).token, other.show_id, seat_ids=other.ids("A1"))  # its next read misses
    dbname = srv.database_url.rsplit("/", 1)[1]
    locker = pg.session(dbname)
    blocked: list = []
    t = threading.Thread(target=lambda: blocked.append(seats(srv, other.show_id)))
    try:
        pg.lock_table(locker, dbname, "seat_claims")
        t.start()
        wait_for(lambda: int(pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock' AND client_addr IS NOT NULL")) >= 1,
                 what="the only handler blocked in the database")
        started = time.monotonic()
        for accept in ("gzip", "identity"):
            r = requests.get(f"{srv.api}/shows/{cached.show_id}/seats", timeout=2,
                             headers={"Accept-Encoding": accept})
            assert r.status_code == 200 and r.headers["X-Cache"] == "hit", r.headers
            assert r.json()["seats"]
        assert time.monotonic() - started < 2
        assert not blocked  # still waiting for the lock: the hits went past it
    finally:
        locker.stdin.close()
        locker.wait(10)
    t.join(30)
    assert len(blocked) == 1 and blocked[0].status_code == 200


def test_seat_map_builds_do_not_wait_behind_blocked_handlers(own_pg_cluster, make_server):
    """A seat-map read that misses runs on the read lane (server_int.h), not in the handler
    queue (issue 13: in a stampede the maps queued for seconds behind holds): with the only
    handler thread stuck in a hold (a psql session locks the holds table), a map whose version
    a hold just moved is still built and answered, and shows that hold's seat."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=1)
    v = Venue(srv)
    assert seats(srv, v.show_id).status_code == 200
    hold(srv, make_user(srv).token, v.show_id, seat_ids=v.ids("A1"))  # the next read misses
    dbname = srv.database_url.rsplit("/", 1)[1]
    locker = pg.session(dbname)
    stuck: list = []
    buyer = make_user(srv).token
    t = threading.Thread(target=lambda: stuck.append(call(
        "POST", srv, f"/shows/{v.show_id}/holds", token=buyer, json={"seat_ids": v.ids("A2")},
        timeout=60)))
    try:
        pg.lock_table(locker, dbname, "holds")
        t.start()
        wait_for(lambda: int(pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock' AND client_addr IS NOT NULL")) >= 1,
                 what="the only handler blocked in the database")
        r = requests.get(f"{srv.api}/shows/{v.show_id}/seats", timeout=TIMEOUT)
        assert r.status_code == 200 and r.headers["X-Cache"] == "miss", r.headers
        assert status_of(r, v.ids("A1")[0]) == "held"
        assert status_of(r, v.ids("A2")[0]) == "available"
        assert not stuck  # the hold still waits for the lock: the read went past it
    finally:
        locker.stdin.close()
        locker.wait(10)
    t.join(30)
    assert len(stuck) == 1 and stuck[0].status_code == 201, stuck[0].text


def test_misses_under_newer_versions_share_the_next_build(own_pg_cluster, make_server,
                                                          redis_server):
    """In a stampede every hold bumps the show's version, so each seat-map read misses with a
    version of its own. A read that arrives while a build runs waits for the next build (begun
    after it arrived) instead of building its own: with the first build stuck in the database
    (a psql session locks seat_claims) and four reads arriving under four newer versions, the
    database is read twice, not five times, and every answer is the same map (SEATMAP_STALE=0:
    otherwise the reads would be answered stale with the map Venue read)."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=32, SEATMAP_STALE="0", **redis_env(redis_server))
    v = Venue(srv)
    hold(srv, make_user(srv).token, v.show_id, seat_ids=v.ids("A1"))  # a new version: a miss
    ver = [k for k in redis_server.command("KEYS", "*") if f"{{show:{v.show_id}}}:ver" in k]
    assert len(ver) == 1, ver
    dbname = srv.database_url.rsplit("/", 1)[1]
    before = metric(srv, "ticketd_cache_coalesced_total")
    locker = pg.session(dbname)
    answers: list = []
    threads = []

    def read():
        t = threading.Thread(target=lambda: answers.append(seats(srv, v.show_id)))
        t.start()
        threads.append(t)

    try:
        pg.lock_table(locker, dbname, "seat_claims")
        read()
        wait_for(lambda: int(pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock' AND client_addr IS NOT NULL")) >= 1,
                 what="the first build blocked in the database")
        for i in range(4):
            redis_server.command("INCR", ver[0])  # as a hold of another server would
            read()
            wait_for(lambda: metric(srv, "ticketd_requests_in_flight") >= i + 3,
                     what="the read in flight")
    finally:
        locker.stdin.close()  # the lock goes with the session
        locker.wait(10)
    for t in threads:
        t.join(30)
    assert len(answers) == 5 and all(r.status_code == 200 for r in answers)
    assert sorted(r.headers["X-Cache"] for r in answers) == ["hit"] * 3 + ["miss"] * 2, \
        [r.headers["X-Cache"] for r in answers]
    assert len({r.content for r in answers}) == 1
    assert metric(srv, "ticketd_cache_coalesced_total") == before + 3


# ------------------------------------------------------------------- stale while revalidating


def blocked_in_database(pg, dbname) -> int:
    return int(pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                               "wait_event_type = 'Lock' AND client_addr IS NOT NULL"))


def in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    return t, out


@pytest.mark.parametrize("cache", ["in-process", "redis"])
def test_readers_during_a_slow_build_get_the_stale_map_within_the_bound(
        own_pg_cluster, make_server, redis_server, cache):
    """SEATMAP_STALE (cached.c, "stale while revalidating"): while one reader's build of a
    seat map is stuck in the database (a psql session locks seat_claims), other readers are
    answered at once with the last stored map, marked X-Cache: stale with an Age and the old
    map's ETag (If-None-Match with it: 304; with another tag: no stale answer, it waits), but
    only until the map has been out of date for the bound; past it, readers wait for the build,
    and every answer after the build shows the hold that made the map out of date."""
    pg = own_pg_cluster
    bound = 2.0  # the leader's wait must end within the server's 5 s lock_timeout
    env = redis_env(redis_server) if cache == "redis" else {}
    srv = make_server("postgres", pg=pg, WORKERS=8, SEATMAP_STALE=f"{int(bound * 1000)}ms",
                      **env)
    v = Venue(srv)
    a1 = v.ids("A1")[0]
    old = seats(srv, v.show_id)
    assert seats(srv, v.show_id).headers["X-Cache"] == "hit"
    old_tag = old.headers["ETag"]  # "<hex>-gzip" (requests asks for gzip)
    hold(srv, make_user(srv).token, v.show_id, seat_ids=[a1])  # the stored map is out of date
    dbname = srv.database_url.rsplit("/", 1)[1]
    before = metric(srv, "ticketd_cache_stale_total")
    locker = pg.session(dbname)
    waiting: list = []
    try:
        pg.lock_table(locker, dbname, "seat_claims")
        waiting.append(in_thread(lambda: seats(srv, v.show_id)))  # leads the build: blocked
        wait_for(lambda: blocked_in_database(pg, dbname) >= 1, what="the build blocked")
        blocked_at = time.monotonic()
        for accept in ("gzip", "identity", "gzip", "identity"):
            r = requests.get(f"{srv.api}/shows/{v.show_id}/seats", timeout=2,
                             headers={"Accept-Encoding": accept})
            assert r.status_code == 200 and r.headers["X-Cache"] == "stale", r.headers
            assert r.headers["ETag"].replace("-gzip", "") == old_tag.replace("-gzip", "")
            assert r.content == old.content and status_of(r, a1) == "available"
            assert 0 <= int(r.headers["Age"]) <= bound, r.headers
            assert r.headers.get("Content-Encoding") == ("gzip" if accept == "gzip" else None)
        r = seats(srv, v.show_id, {"If-None-Match": old_tag})
        assert r.status_code == 304 and r.headers["X-Cache"] == "stale", r.headers
        # a client with another copy (perhaps newer) is never sent the old one: it waits
        other = in_thread(lambda: seats(srv, v.show_id, {"If-None-Match": '"' + "0" * 20 + '"'}))
        waiting.append(other)
        assert time.monotonic() - blocked_at < bound - 0.5, "the machine is too slow for this test"
        assert metric(srv, "ticketd_cache_stale_total") >= before + 5
        # past the bound (measured from the leader's read, before blocked_at): no stale answer
        time.sleep(max(0.0, blocked_at + bound + 0.2 - time.monotonic()))
        late = in_thread(lambda: seats(srv, v.show_id))
        waiting.append(late)
        late[0].join(1.0)
        assert not late[1], f"answered while the build still waits: {late[1][0].headers}"
        assert not other[1]
    finally:
        locker.stdin.close()  # the lock goes with the session
        locker.wait(10)
    for t, out in waiting:
        t.join(30)
        assert len(out) == 1 and out[0].status_code == 200, out
        assert out[0].headers["X-Cache"] in ("miss", "hit"), out[0].headers
        assert status_of(out[0], a1) == "held"
    r = seats(srv, v.show_id)
    assert r.headers["X-Cache"] == "hit" and status_of(r, a1) == "held"


def test_no_stale_map_when_off_or_when_nobody_saw_it_current_lately(own_pg_cluster, make_server):
    """SEATMAP_STALE=0 keeps every reader waiting for the build; and with the bound on, a map
    stored long before the change that made it out of date (no read for longer than the bound)
    is never served stale, however recently the change was first noticed."""
    pg = own_pg_cluster
    for stale_ms, pause in (("0", 0.0), ("1000ms", 1.5)):
        srv = make_server("postgres", pg=pg, WORKERS=8, SEATMAP_STALE=stale_ms)
        v = Venue(srv)
        a1 = v.ids("A1")[0]
        assert seats(srv, v.show_id).status_code == 200
        time.sleep(pause)
        hold(srv, make_user(srv).token, v.show_id, seat_ids=[a1])
        dbname = srv.database_url.rsplit("/", 1)[1]
        locker = pg.session(dbname)
        waiting: list = []
        try:
            pg.lock_table(locker, dbname, "seat_claims")
            waiting.append(in_thread(lambda: seats(srv, v.show_id)))
            wait_for(lambda: blocked_in_database(pg, dbname) >= 1, what="the build blocked")
            second = in_thread(lambda: seats(srv, v.show_id))
            waiting.append(second)
            second[0].join(1.0)
            assert not second[1], f"SEATMAP_STALE={stale_ms}: {second[1][0].headers}"
        finally:
            locker.stdin.close()
            locker.wait(10)
        for t, out in waiting:
            t.join(30)
            assert len(out) == 1 and out[0].status_code == 200
            assert status_of(out[0], a1) == "held"
        assert metric(srv, "ticketd_cache_stale_total") == 0
