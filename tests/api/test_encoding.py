"""Content-Encoding: big JSON answers go out gzip-compressed to clients that accept it.

Cached answers (the seat map) are stored compressed once and the stored bytes are sent as they
are; a client that does not accept gzip gets them inflated. Other JSON answers of 1 KiB or more
are compressed as they are sent. Every such answer says Vary: Accept-Encoding; an ETag names the
content, so If-None-Match with the ETag of either encoding gives 304.
"""

from __future__ import annotations

import gzip

import requests

from booking_helpers import Venue, hold
from catalog_helpers import cast, make_user
from conftest import TIMEOUT
from redis_helpers import redis_server  # noqa: F401  (fixture)


def raw_get(server, path: str, accept: str | None, **headers) -> tuple[requests.Response, bytes]:
    """GET with exactly this Accept-Encoding (None: no header); the body as sent, not decoded."""
    h = {"Accept-Encoding": accept, **headers} if accept is not None else dict(headers)
    s = requests.Session()
    if accept is None:
        s.headers.pop("Accept-Encoding", None)
    r = s.get(server.api + path, headers=h, stream=True, timeout=TIMEOUT)
    body = r.raw.read(decode_content=False)
    r.close()
    return r, body


def plain_and_gzip(server, path: str):
    plain_r, plain = raw_get(server, path, "identity")
    gz_r, gz = raw_get(server, path, "gzip")
    return plain_r, plain, gz_r, gz


def check_pair(plain_r, plain: bytes, gz_r, gz: bytes) -> None:
    assert plain_r.status_code == gz_r.status_code == 200
    assert "Content-Encoding" not in plain_r.headers, plain_r.headers
    assert gz_r.headers.get("Content-Encoding") == "gzip", gz_r.headers
    for r in (plain_r, gz_r):
        assert "Accept-Encoding" in r.headers.get("Vary", ""), r.headers
    assert gzip.decompress(gz) == plain
    assert len(gz) * 4 < len(plain), (len(gz), len(plain))


def test_seat_map_in_both_encodings_from_the_cache(server):
    v = Venue(server)
    path = f"/shows/{v.show_id}/seats"
    first = plain_and_gzip(server, path)
    check_pair(*first)
    second = plain_and_gzip(server, path)  # both from the cache now
    check_pair(*second)
    assert second[0].headers["X-Cache"] == second[2].headers["X-Cache"] == "hit"
    assert second[1] == first[1]
    plain_tag, gz_tag = second[0].headers["ETag"], second[2].headers["ETag"]
    assert plain_tag != gz_tag and gz_tag == plain_tag[:-1] + '-gzip"'
    for tag in (plain_tag, gz_tag):
        for accept in ("gzip", "identity"):
            r, body = raw_get(server, path, accept, **{"If-None-Match": tag})
            assert r.status_code == 304 and body == b"", (tag, accept, r.headers)
    # A change is seen in both encodings at once.
    hold(server, make_user(server).token, v.show_id, seat_ids=v.ids("A1"))
    plain_r, plain, gz_r, gz = plain_and_gzip(server, path)
    assert plain != first[1] and gzip.decompress(gz) == plain
    assert b'"held"' in plain


def test_negotiation(server):
    v = Venue(server)
    path = f"/shows/{v.show_id}/seats"
    for accept, encoded in [("gzip", True), ("GZIP", True), ("x-gzip", True),
                            ("br, gzip;q=0.5", True), ("*", True), ("identity", False),
                            ("gzip;q=0", False), ("gzip;q=0.000", False), ("*;q=0", False),
                            ("*, gzip;q=0", False), ("deflate, br", False), ("", False),
                            ("gzip;q=x", False), (None, False)]:
        r, body = raw_get(server, path, accept)
        assert r.status_code == 200
        assert (r.headers.get("Content-Encoding") == "gzip") == encoded, (accept, r.headers)
        data = gzip.decompress(body) if encoded else body
        assert data.startswith(b"{") and b'"seats"' in data, accept


def test_big_uncached_answers_are_compressed_small_ones_are_not(server):
    v = Venue(server)
    hall = f"/halls/{v.hall['id']}"  # the hall with its seats: not a cached route
    check_pair(*plain_and_gzip(server, hall))
    r, body = raw_get(server, "/me", "gzip",
                      Authorization="Bearer " + cast(server).user.token)
    assert r.status_code == 200 and len(body) < 1024
    assert "Content-Encoding" not in r.headers and "Vary" not in r.headers


def test_stored_compressed_in_redis(make_server, redis_server):
    srv = make_server("postgres", REDIS_URL=redis_server.url)
    # started before anything is cached: a start bumps the catalogue version
    other = make_server("postgres", REDIS_URL=redis_server.url, database_url=srv.database_url)
    v = Venue(srv)
    path = f"/shows/{v.show_id}/seats"
    _, plain, _, _ = plain_and_gzip(srv, path)
    keys = [k for k in redis_server.command("KEYS", f"ticketd:{{show:{v.show_id}}}:seats:*")]
    assert len(keys) == 1, keys
    entry_len = redis_server.command("STRLEN", keys[0])
    assert entry_len * 4 < len(plain), (entry_len, len(plain))
    # A second server (an empty store of answers) serves the Redis entry in both encodings.
    plain_r, plain2, gz_r, gz = plain_and_gzip(other, path)
    assert plain_r.headers["X-Cache"] == "hit" and plain2 == plain
    assert gz_r.headers["X-Cache"] == "hit" and gzip.decompress(gz) == plain


def metric(server, name: str) -> int:
    text = requests.get(server.url + "/metrics", timeout=TIMEOUT).text
    lines = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    assert lines, (name, text)
    return int(lines[0].split()[1])


def test_plain_hits_never_inflate_and_match_the_miss(server):
    """A cached answer is kept in both forms: a client without gzip gets, on the miss and on
    every hit, the same bytes, and no hit costs an inflate (issue 13)."""
    v = Venue(server)
    path = f"/shows/{v.show_id}/seats"
    hold(server, make_user(server).token, v.show_id, seat_ids=v.ids("A1"))  # a new version
    before = metric(server, "ticketd_cache_inflates_total")
    miss_r, miss = raw_get(server, path, None)
    assert miss_r.headers["X-Cache"] == "miss"
    for accept in (None, "identity", "gzip;q=0", None, "identity"):
        r, body = raw_get(server, path, accept)
        assert r.status_code == 200 and r.headers["X-Cache"] == "hit"
        assert "Content-Encoding" not in r.headers
        assert "Accept-Encoding" in r.headers.get("Vary", "")
        assert r.headers["ETag"] == miss_r.headers["ETag"]
        assert body == miss
        r304, empty = raw_get(server, path, accept, **{"If-None-Match": r.headers["ETag"]})
        assert r304.status_code == 304 and empty == b""
    gz_r, gz = raw_get(server, path, "gzip")
    assert gz_r.headers["X-Cache"] == "hit" and gzip.decompress(gz) == miss
    assert metric(server, "ticketd_cache_inflates_total") == before


def test_redis_entry_inflated_once_per_version_per_server(make_server, redis_server):
    """A server that finds the answer in Redis (another server built it) fetches and inflates it
    once for that version, then serves both forms from memory."""
    srv = make_server("postgres", REDIS_URL=redis_server.url)
    other = make_server("postgres", REDIS_URL=redis_server.url, database_url=srv.database_url)
    v = Venue(srv)
    path = f"/shows/{v.show_id}/seats"
    _, plain = raw_get(srv, path, "identity")
    before = metric(other, "ticketd_cache_inflates_total")
    for accept in ("identity", None, "gzip", "identity", None, "gzip"):
        r, body = raw_get(other, path, accept)
        assert r.headers["X-Cache"] == "hit", r.headers
        assert (gzip.decompress(body) if accept == "gzip" else body) == plain
    assert metric(other, "ticketd_cache_inflates_total") == before + 1
    # a change on the first server is seen at once on the other, in both forms
    hold(srv, make_user(srv).token, v.show_id, seat_ids=v.ids("A1"))
    r, body = raw_get(other, path, "identity")
    assert b'"held"' in body
    r, gz = raw_get(other, path, "gzip")
    assert gzip.decompress(gz) == body
