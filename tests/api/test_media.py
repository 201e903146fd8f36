"""Posters and trailers: POST /movies/{id}/poster and /trailer (multipart/form-data, admin), the
local media store served under /media/{kind}/{file}, and the Cloudinary store against a local
stand-in (cloudinary_standin.py) that checks signatures the way Cloudinary does.

Decided here (docs/errors.md): a file whose bytes are not an accepted type is 415
unsupported_media_type (details.field = "file"); a body that is not multipart/form-data is 415
too; a missing "file" part is 422 validation_failed; a file over its limit is 413
payload_too_large (details.limit_bytes); a provider failure is 503 upstream_error."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest
import requests

from cloudinary_standin import MIN_CHUNK, CloudinaryStandin, sign
from conftest import (
    TICKETD_BIN, TIMEOUT, RawConn, admin_tokens, assert_error, call, clean_environ, register,
    server_env,
)

MIB = 1 << 20
POSTER_LIMIT = 10 * MIB
LOCAL_NAME = re.compile(r"^/media/(poster|trailer)/[0-9a-f]{32}\.(jpg|png|webp|mp4|webm)$")
IMMUTABLE = "public, max-age=31536000, immutable"

# ------------------------------------------------------------------------------- test files


def png_bytes(width: int = 3, height: int = 2, seed: int = 0) -> bytes:
    """A real PNG (8-bit RGB), built with zlib; seed varies the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes((x * 40 + y * 7 + seed) % 256 for x in range(width * 3))
                   for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    """A baseline JPEG of one 8x8 mid-grey block: every DCT coefficient is zero, so the scan is
    one DC difference of 0 and an end-of-block, each coded with a one-code Huffman table."""
    def seg(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes([1] * 64)
    sof0 = b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"          # 8x8, 1 component, table 0
    dht_dc = b"\x00" + bytes([1] + [0] * 15) + b"\x00"     # one code "0" -> category 0
    dht_ac = b"\x10" + bytes([1] + [0] * 15) + b"\x00"     # one code "0" -> EOB
    sos = b"\x01\x01\x00\x00\x3f\x00"
    scan = b"\x3f"                                          # bits 0 (DC), 0 (EOB), 1-padding
    return (b"\xff\xd8" + seg(0xE0, app0) + seg(0xDB, dqt) + seg(0xC0, sof0) +
            seg(0xC4, dht_dc) + seg(0xC4, dht_ac) + seg(0xDA, sos) + scan + b"\xff\xd9")


# A 1x1 lossless WebP.
WEBP_BYTES = bytes.fromhex("524946461a000000574542505650384c0d0000002f00000010071011"
                           "118888fe0700")


def mp4_bytes(size: int) -> bytes:
    """An ISO base media file: an ftyp box, then an mdat box filling up to size bytes."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2"
    body = os.urandom(max(0, size - len(ftyp) - 8))
    return ftyp + struct.pack(">I", len(body) + 8) + b"mdat" + body


def webm_bytes() -> bytes:
    return bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d") + \
        os.urandom(2048)


# ---------------------------------------------------------------------------------- helpers


def admin(server) -> str:
    return admin_tokens(server)["access_token"]


def new_movie(server, token: str) -> dict:
    body = {"title": f"Media {os.urandom(4).hex()}", "duration_minutes": 100,
            "release_date": "2025-01-01", "certificate": "U"}
    r = call("POST", server, "/movies", token=token, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def upload(server, movie_id: str, kind: str, data: bytes, token: str | None,
           filename: str = "file.bin", content_type: str = "application/octet-stream",
           timeout: float = 60, **kwargs) -> requests.Response:
    return call("POST", server, f"/movies/{movie_id}/{kind}", token=token, timeout=timeout,
                files={"file": (filename, data, content_type)}, **kwargs)


def get_movie(server, movie_id: str) -> dict:
    r = call("GET", server, f"/movies/{movie_id}")
    assert r.status_code == 200, r.text
    return r.json()


def media_dir(server) -> Path:
    return server.workdir / "data" / "media"


def tmp_files(server) -> list[str]:
    return sorted(p.name for p in (media_dir(server) / "tmp").iterdir())


def no_temp_files(server) -> bool:
    """Whether MEDIA_DIR/tmp is empty (soon: the server removes a temp file in its completion
    callback, which may run just after the client has the answer)."""
    return wait_for(lambda: tmp_files(server) == [], 3.0)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def multipart_head(boundary: str, filename: str = "f.bin") -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()


def raw_upload_head(path: str, boundary: str, length: int, token: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Content-Type: multipart/form-data; boundary={boundary}",
             f"Content-Length: {length}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --------------------------------------------------------------------- local store: success


@pytest.mark.parametrize("maker,mime,ext", [
    (png_bytes, "image/png", "png"),
    (jpeg_bytes, "image/jpeg", "jpg"),
    (lambda: WEBP_BYTES, "image/webp", "webp"),
])
def test_poster_upload_is_served_back_byte_identical(server, maker, mime, ext):
    token = admin(server)
    movie = new_movie(server, token)
    data = maker()
    # The client's file name and part type are ignored: the bytes decide.
    r = upload(server, movie["id"], "poster", data, token, filename="x.gif",
               content_type="text/plain")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == movie["id"] and body["title"] == movie["title"]
    url = body["poster_url"]
    assert LOCAL_NAME.match(url) and url.startswith("/media/poster/") and url.endswith("." + ext)
    assert body["trailer_url"] is None
    assert get_movie(server, movie["id"])["poster_url"] == url

    got = requests.get(server.url + url, timeout=TIMEOUT)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["Content-Type"] == mime
    assert got.headers["Cache-Control"] == IMMUTABLE
    assert got.headers["Content-Length"] == str(len(data))
    head = requests.head(server.url + url, timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert head.headers["Content-Type"] == mime


@pytest.mark.parametrize("maker,mime,ext", [
    (lambda: mp4_bytes(3 * MIB + 12345), "video/mp4", "mp4"),
    (webm_bytes, "video/webm", "webm"),
])
def test_trailer_upload_streams_and_is_served(server, maker, mime, ext):
    token = admin(server)
    movie = new_movie(server, token)
    data = maker()
    r = upload(server, movie["id"], "trailer", data, token)
    assert r.status_code == 200, r.text
    url = r.json()["trailer_url"]
    assert LOCAL_NAME.match(url) and url.startswith("/media/trailer/") and url.endswith("." + ext)
    got = requests.get(server.url + url, timeout=TIMEOUT)
    assert got.status_code == 200 and got.headers["Content-Type"] == mime
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    assert no_temp_files(server)


def test_chunked_upload_without_content_length(server):
    """A body sent with Transfer-Encoding: chunked is streamed and limited the same way."""
    token = admin(server)
    movie = new_movie(server, token)
    data = mp4_bytes(2 * MIB)
    boundary = "chunkyboundary1234"

    def pieces():
        yield multipart_head(boundary)
        for i in range(0, len(data), 256 * 1024):
            yield data[i:i + 256 * 1024]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = call("POST", server, f"/movies/{movie['id']}/trailer", token=token, data=pieces(),
             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout=60)
    assert r.status_code == 200, r.text
    got = requests.get(server.url + r.json()["trailer_url"], timeout=TIMEOUT)
    assert got.content == data


def test_extra_form_fields_are_ignored(server):
    token = admin(server)
    movie = new_movie(server, token)
    data = png_bytes(seed=9)
    r = call("POST", server, f"/movies/{movie['id']}/poster", token=token,
             data={"caption": "hello", "alt": "x" * 1000},
             files={"file": ("p.png", data, "image/png")})
    assert r.status_code == 200, r.text
    assert requests.get(server.url + r.json()["poster_url"], timeout=TIMEOUT).content == data


def test_poster_exactly_at_the_limit_is_accepted(server):
    token = admin(server)
    movie = new_movie(server, token)
    data = png_bytes() + b"\0" * (POSTER_LIMIT - len(png_bytes()))
    assert len(data) == POSTER_LIMIT
    r = upload(server, movie["id"], "poster", data, token)
    assert r.status_code == 200, r.text


def test_replacing_a_poster_removes_the_old_file(server):
    token = admin(server)
    movie = new_movie(server, token)
    first = upload(server, movie["id"], "poster", png_bytes(seed=1), token).json()["poster_url"]
    old_file = media_dir(server) / first.removeprefix("/media/")
    assert old_file.is_file()
    r = upload(server, movie["id"], "poster", jpeg_bytes(), token)
    assert r.status_code == 200, r.text
    second = r.json()["poster_url"]
    assert second != first and second.endswith(".jpg")
    assert not old_file.exists()
    assert_error(requests.get(server.url + first, timeout=TIMEOUT), 404, "not_found")
    assert requests.get(server.url + second, timeout=TIMEOUT).content == jpeg_bytes()
    # The trailer is independent of the poster.
    t = upload(server, movie["id"], "trailer", webm_bytes(), token).json()
    assert t["poster_url"] == second and t["trailer_url"].endswith(".webm")


# ----------------------------------------------------------------------- local store: refusals


@pytest.mark.parametrize("kind,data", [
    ("poster", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ("poster", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ("poster", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\0" * 100),
    ("poster", b"\xff\xd8"),  # shorter than any JPEG
    ("trailer", None),        # a PNG is no trailer
    ("trailer", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + b"\0" * 100),
    ("trailer", b"RIFF\x24\x00\x00\x00AVI LIST" + b"\0" * 100),
])
def test_wrong_magic_bytes_are_415_and_change_nothing(server, kind, data):
    token = admin(server)
    movie = new_movie(server, token)
    data = png_bytes() if data is None else data
    r = upload(server, movie["id"], kind, data, token, filename="looks.png",
               content_type="image/png")
    err = assert_error(r, 415, "unsupported_media_type")
    assert err["details"]["field"] == "file"
    after = get_movie(server, movie["id"])
    assert after["poster_url"] is None and after["trailer_url"] is None
    assert no_temp_files(server)


def test_poster_over_the_limit_is_413(server):
    token = admin(server)
    movie = new_movie(server, token)
    data = png_bytes() + b"\0" * (POSTER_LIMIT + 1 - len(png_bytes()))
    r = upload(server, movie["id"], "poster", data, token)
    err = assert_error(r, 413, "payload_too_large")
    assert err["details"]["limit_bytes"] == POSTER_LIMIT
    assert get_movie(server, movie["id"])["poster_url"] is None
    assert no_temp_files(server)


def test_content_length_over_the_limit_is_413_before_the_body(server):
    token = admin(server)
    movie = new_movie(server, token)
    path = f"/api/v1/movies/{movie['id']}/poster"
    with RawConn(server.port) as c:
        c.send(raw_upload_head(path, "b0und", 50 * MIB, token))
        resp = c.read_response()  # answered without a byte of the body
    assert resp.status == 413, resp
    assert resp.json()["error"]["code"] == "payload_too_large"
    # The trailer limit is larger: 50 MiB is fine to start.
    r = requests.post(server.api + f"/movies/{movie['id']}/trailer",
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "multipart/form-data; boundary=x",
                               "Content-Length": str(300 * MIB)}, data=b"", timeout=TIMEOUT)
    assert_error(r, 413, "payload_too_large")


def test_anonymous_is_401_before_the_body_is_read(server):
    token = admin(server)
    movie = new_movie(server, token)
    with RawConn(server.port) as c:
        c.send(raw_upload_head(f"/api/v1/movies/{movie['id']}/poster", "b0und", 5 * MIB))
        resp = c.read_response()  # no body was sent at all
    assert resp.status == 401, resp
    assert resp.json()["error"]["code"] == "unauthorized"
    assert resp.headers.get("www-authenticate", "").startswith("Bearer")


def test_non_admin_is_403_before_the_body_is_read(server):
    user = register(server)["access_token"]
    movie = new_movie(server, admin(server))
    with RawConn(server.port) as c:
        c.send(raw_upload_head(f"/api/v1/movies/{movie['id']}/trailer", "b0und", 5 * MIB, user))
        resp = c.read_response()
    assert resp.status == 403, resp
    assert resp.json()["error"]["code"] == "forbidden"
    r = upload(server, movie["id"], "poster", png_bytes(), user)
    assert_error(r, 403, "forbidden")


def test_unknown_movie_is_404_before_the_body_is_read(server):
    token = admin(server)
    with RawConn(server.port) as c:
        c.send(raw_upload_head("/api/v1/movies/mov_nope/poster", "b0und", 5 * MIB, token))
        resp = c.read_response()
    assert resp.status == 404, resp
    assert_error(upload(server, "mov_nope", "trailer", webm_bytes(), token), 404, "not_found")


@pytest.mark.parametrize("content_type,data", [
    ("image/png", None),
    ("application/octet-stream", None),
    ("application/json", b'{"file": "x"}'),
    ("application/x-www-form-urlencoded", b"file=abc"),
    ("multipart/form-data", None),  # no boundary
    (None, None),
])
def test_a_body_that_is_not_multipart_is_415(server, content_type, data):
    token = admin(server)
    movie = new_movie(server, token)
    headers = {"Content-Type": content_type} if content_type else {}
    r = call("POST", server, f"/movies/{movie['id']}/poster", token=token,
             data=png_bytes() if data is None else data, headers=headers)
    assert_error(r, 415, "unsupported_media_type")


def test_missing_or_empty_file_part_is_422(server):
    token = admin(server)
    movie = new_movie(server, token)
    r = call("POST", server, f"/movies/{movie['id']}/poster", token=token,
             files={"picture": ("p.png", png_bytes(), "image/png")})
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "file"
    r = upload(server, movie["id"], "poster", b"", token)
    assert_error(r, 422, "validation_failed")


def test_two_file_parts_are_422(server):
    token = admin(server)
    movie = new_movie(server, token)
    r = call("POST", server, f"/movies/{movie['id']}/poster", token=token,
             files=[("file", ("a.png", png_bytes(), "image/png")),
                    ("file", ("b.png", png_bytes(seed=3), "image/png"))])
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "file"
    assert get_movie(server, movie["id"])["poster_url"] is None
    assert no_temp_files(server)


def test_truncated_multipart_is_400(server):
    token = admin(server)
    movie = new_movie(server, token)
    boundary = "trunc0123"
    body = multipart_head(boundary) + png_bytes()  # no closing boundary
    r = call("POST", server, f"/movies/{movie['id']}/poster", token=token, data=body,
             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(r, 400, "malformed_multipart")
    assert get_movie(server, movie["id"])["poster_url"] is None
    assert no_temp_files(server)


def test_a_client_that_goes_away_mid_upload_leaves_no_temp_file(make_server):
    # libmicrohttpd 0.9.75 (epoll) may notice a client that closed right after sending only at
    # the idle time-out (any body, not just uploads), so this server has a short one.
    srv = make_server("sqlite", CONNECTION_TIMEOUT="2s")
    token = admin(srv)
    movie = new_movie(srv, token)
    boundary = "gone0123"
    data = mp4_bytes(4 * MIB)
    with RawConn(srv.port) as c:
        c.send(raw_upload_head(f"/api/v1/movies/{movie['id']}/trailer", boundary, 8 * MIB, token))
        c.send(multipart_head(boundary) + data)
        assert wait_for(lambda: len(tmp_files(srv)) == 1), "the upload never reached disk"
    assert wait_for(lambda: tmp_files(srv) == [], timeout=10), tmp_files(srv)
    assert get_movie(srv, movie["id"])["trailer_url"] is None
    assert '"aborted":true' in srv.stderr_text()
    assert requests.get(srv.url + "/healthz", timeout=TIMEOUT).status_code == 200


def test_expect_100_continue_gets_checked_before_the_body_is_sent(server):
    token = admin(server)
    movie = new_movie(server, token)
    path = f"/api/v1/movies/{movie['id']}/poster"
    boundary = "expect0123"
    body = multipart_head(boundary) + png_bytes() + f"\r\n--{boundary}--\r\n".encode()
    expect = b"Expect: 100-continue\r\n"
    with RawConn(server.port) as c:  # refused: the answer comes instead of 100 Continue
        c.send(raw_upload_head(path, boundary, len(body))[:-2] + expect + b"\r\n")
        resp = c.read_response()
    assert resp.status == 401, resp
    with RawConn(server.port) as c:  # accepted: 100 Continue, then the body, then 200
        c.send(raw_upload_head(path, boundary, len(body), token)[:-2] + expect + b"\r\n")
        assert c._read_line().startswith(b"HTTP/1.1 100 ")  # an interim answer: no body
        while c._read_line():
            pass
        c.send(body)
        resp = c.read_response()
    assert resp.status == 200, resp
    assert resp.json()["poster_url"].endswith(".png")


def trickle(port: int, path: str, token: str, data: bytes, pieces: int, pause: float):
    """Sends an upload in pieces with pauses; returns the response (or None if cut off)."""
    boundary = "trickle0123"
    body = multipart_head(boundary) + data + f"\r\n--{boundary}--\r\n".encode()
    step = -(-len(body) // pieces)
    with RawConn(port, timeout=30) as c:
        c.send(raw_upload_head(path, boundary, len(body), token))
        for i in range(0, len(body), step):
            time.sleep(pause)
            if not c.send(body[i:i + step]):
                break
        try:
            return c.read_response()
        except ConnectionError:
            return None


def test_a_slow_upload_that_keeps_moving_outlives_request_timeout(make_server):
    """REQUEST_TIMEOUT bounds the silence between an upload's chunks, not the whole upload."""
    srv = make_server("sqlite", REQUEST_TIMEOUT="2s")
    token = admin(srv)
    movie = new_movie(srv, token)
    started = time.monotonic()
    resp = trickle(srv.port, f"/api/v1/movies/{movie['id']}/trailer", token, mp4_bytes(60000),
                   pieces=6, pause=0.8)
    assert time.monotonic() - started > 4
    assert resp is not None and resp.status == 200, resp
    assert resp.json()["trailer_url"].endswith(".mp4")


def test_an_upload_past_media_upload_timeout_is_408(make_server):
    srv = make_server("sqlite", REQUEST_TIMEOUT="2s", MEDIA_UPLOAD_TIMEOUT="3s")
    token = admin(srv)
    movie = new_movie(srv, token)
    resp = trickle(srv.port, f"/api/v1/movies/{movie['id']}/trailer", token, mp4_bytes(60000),
                   pieces=10, pause=0.8)
    assert resp is None or resp.status == 408, resp
    if resp is not None:
        assert resp.json()["error"]["code"] == "request_timeout"
    assert get_movie(srv, movie["id"])["trailer_url"] is None
    assert no_temp_files(srv)


# -------------------------------------------------------- two uploads to one movie at once


def stored_files(server, kind: str) -> set[str]:
    """The URLs of every file of kind in the local store (of every movie on this server)."""
    folder = media_dir(server) / kind
    return {f"/media/{kind}/{p.name}" for p in folder.iterdir()} if folder.is_dir() else set()


def start_upload(server, movie_id: str, kind: str, data: bytes, token: str, boundary: str):
    """Sends an upload's head and all of the file but its last byte; returns (conn, rest)."""
    body = multipart_head(boundary) + data + f"\r\n--{boundary}--\r\n".encode()
    c = RawConn(server.port)
    c.send(raw_upload_head(f"/api/v1/movies/{movie_id}/{kind}", boundary, len(body), token))
    cut = len(multipart_head(boundary)) + len(data) - 1
    c.send(body[:cut])
    return c, body[cut:]


def test_an_upload_overtaken_by_another_is_409_and_removes_its_own_file(server):
    """The first upload starts, a second one starts and finishes, then the first finishes: the
    movie keeps the second file, the first upload's file is removed (409), and the file both
    replaced is removed too. Exactly one poster file is left, the movie's."""
    token = admin(server)
    movie = new_movie(server, token)
    others = stored_files(server, "poster")  # other tests' movies on this server
    original = upload(server, movie["id"], "poster", png_bytes(seed=1), token).json()["poster_url"]
    slow, rest = start_upload(server, movie["id"], "poster", png_bytes(seed=2), token, "slow0123")
    with slow:
        assert wait_for(lambda: len(tmp_files(server)) == 1), "the first upload never started"
        r = upload(server, movie["id"], "poster", jpeg_bytes(), token)
        assert r.status_code == 200, r.text
        winner = r.json()["poster_url"]
        slow.send(rest)
        resp = slow.read_response()
    assert resp.status == 409, resp
    err = resp.json()["error"]
    assert err["code"] == "media_replaced" and "poster" in err["message"]
    assert get_movie(server, movie["id"])["poster_url"] == winner
    # Neither the original nor the loser's file is left.
    assert stored_files(server, "poster") - others == {winner}
    assert requests.get(server.url + winner, timeout=TIMEOUT).content == jpeg_bytes()
    assert_error(requests.get(server.url + original, timeout=TIMEOUT), 404, "not_found")
    assert no_temp_files(server)


def race(server, movie_id: str, kind: str, files: list[bytes], token: str) -> list:
    """Uploads files to one movie at once (one thread each, released together)."""
    gate = threading.Barrier(len(files))
    answers: list = [None] * len(files)

    def one(i: int) -> None:
        gate.wait()
        answers[i] = upload(server, movie_id, kind, files[i], token, timeout=120)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def check_race(answers: list, kind: str, final: str | None) -> None:
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {200, 409} and 200 in codes, [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:
            assert a.json()["error"]["code"] == "media_replaced"
    assert final in {a.json()[f"{kind}_url"] for a in answers if a.status_code == 200}


def test_concurrent_uploads_leave_exactly_the_movies_file(server):
    token = admin(server)
    movie = new_movie(server, token)
    others = stored_files(server, "poster")  # other tests' movies on this server
    for rnd in range(6):
        answers = race(server, movie["id"], "poster",
                       [png_bytes(seed=rnd * 10 + i) for i in range(4)], token)
        final = get_movie(server, movie["id"])["poster_url"]
        check_race(answers, "poster", final)
        assert stored_files(server, "poster") - others == {final}, f"round {rnd}"
    assert no_temp_files(server)


def test_cloudinary_concurrent_uploads_leave_exactly_the_movies_resource(make_server, backend,
                                                                         standin):
    srv = cloudinary_server(make_server, backend, standin, MEDIA_UPLOAD_CONCURRENCY="4")
    token = admin(srv)
    movie = new_movie(srv, token)
    for rnd in range(4):
        answers = race(srv, movie["id"], "trailer", [webm_bytes() for _ in range(4)], token)
        final = get_movie(srv, movie["id"])["trailer_url"]
        check_race(answers, "trailer", final)
        left = [a["response"]["secure_url"] for a in standin.assets.values()]
        assert left == [final], f"round {rnd}: {len(left)} resources in Cloudinary"
    assert standin.rejected == []


def test_cloudinary_an_overtaken_upload_destroys_its_own_resource(make_server, backend, standin):
    srv = cloudinary_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    upload(srv, movie["id"], "poster", png_bytes(seed=1), token)
    original = standin.uploads[0]["fields"]["public_id"]
    # The first upload's slot and temporary file go at its completion, just after its answer:
    # wait for that, so the one file counted below is the slow upload's and one slot is free.
    assert wait_for(lambda: len(tmp_files(srv)) == 0), "the first upload's file stayed"
    slow, rest = start_upload(srv, movie["id"], "poster", png_bytes(seed=2), token, "slow4567")
    with slow:
        assert wait_for(lambda: len(tmp_files(srv)) == 1), "the first upload never started"
        r = upload(srv, movie["id"], "poster", jpeg_bytes(), token)
        assert r.status_code == 200, r.text
        slow.send(rest)
        resp = slow.read_response()
    assert resp.status == 409, resp
    assert resp.json()["error"]["code"] == "media_replaced"
    winner, loser = standin.uploads[1]["fields"]["public_id"], standin.uploads[2]["fields"][
        "public_id"]
    assert standin.uploads[1]["data"] == jpeg_bytes()
    assert sorted(d["fields"]["public_id"] for d in standin.destroys) == sorted([original, loser])
    assert all(d["result"] == "ok" for d in standin.destroys)
    assert list(standin.assets) == [winner]
    assert get_movie(srv, movie["id"])["poster_url"] == standin.uploads[1]["response"]["secure_url"]


# --------------------------------------------------------------------------- serving /media


def test_media_paths_that_are_not_generated_names_are_404(server):
    token = admin(server)
    movie = new_movie(server, token)
    url = upload(server, movie["id"], "poster", png_bytes(), token).json()["poster_url"]
    name = url.rsplit("/", 1)[1]
    hexpart = name.split(".")[0]
    (media_dir(server) / "poster" / "notes.txt").write_text("not media")
    bad = [
        f"/media/poster/{name.upper()}",
        f"/media/poster/{hexpart}.jpg",         # right name, other type: no such file
        f"/media/trailer/{name}",               # a poster's name under trailers
        f"/media/poster/{hexpart}.png.bak",
        f"/media/poster/{hexpart[:-1]}.png",
        "/media/poster/notes.txt",
        "/media/poster/%2e%2e",
        "/media/poster/../../t.db",
        "/media/poster/..",
        "/media/posters/" + name,
        "/media/tmp/" + name,
        "/media/poster/",
        "/media/poster/" + name + "/x",
    ]
    # A control byte or an encoded slash anywhere in a path is refused before routing (400
    # invalid_path).
    refused = ["/media/poster/%00" + name, "/media/poster/%0a" + name,
               "/media/poster/..%2F..%2Fticketd.db", "/media/poster/.%2F" + name]
    for path in bad:
        with RawConn(server.port) as c:  # sent exactly as written, no client normalisation
            c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                   .encode())
            resp = c.read_response()
        assert resp.status == 404, (path, resp)
        assert b"not media" not in resp.body and b"SQLite" not in resp.body, path
    for path in refused:
        with RawConn(server.port) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                   .encode())
            resp = c.read_response()
        assert resp.status == 400 and b"invalid_path" in resp.body, (path, resp)
    assert requests.get(server.url + url, timeout=TIMEOUT).status_code == 200


def test_media_routes_refuse_other_methods(server):
    r = requests.post(server.url + "/media/poster/" + "0" * 32 + ".png", timeout=TIMEOUT)
    assert_error(r, 405, "method_not_allowed")
    r = call("GET", server, "/movies/whatever/poster")
    assert_error(r, 405, "method_not_allowed")


# ------------------------------------------------------------- memory: the body is streamed


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_large_trailer_is_never_held_in_memory(make_server):
    srv = make_server("sqlite")
    token = admin(srv)
    movie = new_movie(srv, token)
    for _ in range(3):  # warm up allocator and thread stacks
        upload(srv, movie["id"], "trailer", mp4_bytes(MIB), token)
    before = vm_hwm_kib(srv.proc.pid)
    data = mp4_bytes(96 * MIB)
    r = upload(srv, movie["id"], "trailer", data, token, timeout=120)
    assert r.status_code == 200, r.text
    grown_mib = (vm_hwm_kib(srv.proc.pid) - before) / 1024
    assert grown_mib < 32, f"peak memory grew by {grown_mib:.1f} MiB for a 96 MiB upload"
    stored = media_dir(srv) / r.json()["trailer_url"].removeprefix("/media/")
    assert stored.stat().st_size == len(data)


def test_media_limits_are_configurable(make_server):
    srv = make_server("sqlite", MEDIA_POSTER_MAX_BYTES=4096, MEDIA_TRAILER_MAX_BYTES=8192,
                      MEDIA_DIR="./elsewhere/media")
    token = admin(srv)
    movie = new_movie(srv, token)
    r = upload(srv, movie["id"], "poster", png_bytes() + b"\0" * 5000, token)
    assert assert_error(r, 413, "payload_too_large")["details"]["limit_bytes"] == 4096
    assert_error(upload(srv, movie["id"], "trailer", mp4_bytes(9000), token), 413,
                 "payload_too_large")
    r = upload(srv, movie["id"], "trailer", mp4_bytes(8000), token)
    assert r.status_code == 200, r.text
    assert (srv.workdir / "elsewhere" / "media" / r.json()["trailer_url"]
            .removeprefix("/media/")).is_file()


# ------------------------------------------------------------------------------ Cloudinary

CLOUD = "demo-cloud"
API_KEY = "123456789012345"
API_SECRET = "standin-Secret_0123456789abcdef"


@pytest.fixture
def standin():
    s = CloudinaryStandin(CLOUD, API_KEY, API_SECRET).start()
    yield s
    s.stop()


def cloudinary_server(make_server, backend, standin, secret=None, **env):
    return make_server(backend, CLOUDINARY_URL=standin.cloudinary_url(secret),
                       CLOUDINARY_API_BASE=standin.base, **env)


def signature_ok(fields: dict) -> bool:
    return sign(fields, API_SECRET) == fields.get("signature")


def test_cloudinary_upload_replace_and_destroy(make_server, backend, standin):
    srv = cloudinary_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    data = png_bytes(7, 5)
    r = upload(srv, movie["id"], "poster", data, token)
    assert r.status_code == 200, r.text
    assert len(standin.uploads) == 1, standin.rejected
    up = standin.uploads[0]
    assert up["resource_type"] == "image" and up["data"] == data
    assert up["fields"]["api_key"] == API_KEY and signature_ok(up["fields"])
    assert up["fields"]["public_id"].startswith(f"ticketd/posters/{movie['id']}_")
    assert abs(int(up["fields"]["timestamp"]) - time.time()) < 120
    assert r.json()["poster_url"] == up["response"]["secure_url"]
    assert r.json()["poster_url"].startswith(f"https://res.cloudinary.com/{CLOUD}/image/upload/")
    assert get_movie(srv, movie["id"])["poster_url"] == up["response"]["secure_url"]
    assert not (media_dir(srv) / "poster").exists()  # nothing stored locally
    assert no_temp_files(srv)

    r = upload(srv, movie["id"], "poster", jpeg_bytes(), token)
    assert r.status_code == 200, r.text
    assert r.json()["poster_url"] == standin.uploads[1]["response"]["secure_url"]
    assert len(standin.destroys) == 1
    d = standin.destroys[0]
    assert d["resource_type"] == "image" and d["result"] == "ok"
    assert d["fields"]["public_id"] == up["response"]["public_id"]
    assert d["fields"]["invalidate"] == "true" and signature_ok(d["fields"])
    assert standin.rejected == []
    log = srv.stderr_text()
    assert API_SECRET not in log
    assert all(u["fields"]["signature"] not in log for u in standin.uploads)


def test_cloudinary_trailer_goes_to_the_video_endpoint(make_server, backend, standin):
    srv = cloudinary_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    data = mp4_bytes(2 * MIB)
    r = upload(srv, movie["id"], "trailer", data, token)
    assert r.status_code == 200, r.text
    up = standin.uploads[-1]
    assert up["resource_type"] == "video" and up["data"] == data and signature_ok(up["fields"])
    assert up["fields"]["public_id"].startswith(f"ticketd/trailers/{movie['id']}_")
    assert r.json()["trailer_url"] == up["response"]["secure_url"]
    upload(srv, movie["id"], "trailer", webm_bytes(), token)
    assert standin.destroys[-1]["resource_type"] == "video"
    assert standin.destroys[-1]["fields"]["public_id"] == up["fields"]["public_id"]


def test_cloudinary_calls_reuse_one_kept_alive_connection(make_server, backend, standin):
    srv = cloudinary_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    conns, requests_before = standin.connections, standin.requests
    for seed in range(4):  # every upload after the first also destroys the poster it replaced
        r = upload(srv, movie["id"], "poster", png_bytes(seed=seed), token)
        assert r.status_code == 200, r.text
    assert standin.requests - requests_before == 4 + 3
    assert len(standin.destroys) == 3 and standin.rejected == []
    # One connection for all seven requests (none when an earlier one was still open).
    assert standin.connections - conns <= 1, standin.connections - conns


def test_cloudinary_uploads_beyond_the_limit_are_503_before_the_body(make_server, backend,
                                                                     standin):
    """Two uploads stuck in Cloudinary block two of the three workers; a third upload is 503
    too_many_uploads before any of its body is sent, the third worker keeps serving, and the
    slots come back when the uploads end, however they end."""
    # CONNECTION_TIMEOUT: MHD may notice a client gone mid-body only then (see above).
    srv = cloudinary_server(make_server, backend, standin, WORKERS="3",
                            MEDIA_UPLOAD_CONCURRENCY="2", CONNECTION_TIMEOUT="2s")
    token = admin(srv)
    movies = [new_movie(srv, token) for _ in range(3)]
    standin.hold()
    answers: list = [None, None]

    def one(i: int) -> None:
        answers[i] = upload(srv, movies[i]["id"], "poster", png_bytes(seed=i), token, timeout=120)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    try:
        # One after the other: a worker blocked in the first upload accepts no connection, so
        # the second lands on another worker (two on one worker would wait for each other).
        for i, t in enumerate(threads):
            t.start()
            assert wait_for(lambda: standin.held == i + 1, 30), "the upload never reached it"
        boundary = "third0123"
        body = multipart_head(boundary) + png_bytes(seed=3) + f"\r\n--{boundary}--\r\n".encode()
        path = f"/api/v1/movies/{movies[2]['id']}/poster"
        with RawConn(srv.port) as c:  # the head only: the answer comes without the body
            c.send(raw_upload_head(path, boundary, len(body), token))
            resp = c.read_response()
        assert resp.status == 503, resp
        assert resp.json()["error"]["code"] == "too_many_uploads"
        assert resp.json()["error"]["details"] == {"limit": 2}
        assert resp.headers.get("retry-after") == "30", resp.headers
        assert len(tmp_files(srv)) == 2  # the two held uploads' files; nothing of the third
        # The free worker serves everyone else meanwhile.
        for _ in range(5):
            assert call("GET", srv, f"/movies/{movies[2]['id']}").status_code == 200
        assert standin.held == 2
    finally:
        standin.release()
        for t in threads:
            t.join()
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    # A client that goes away mid-body gives its slot back too.
    # Each waits for its own temp file: the last one's may still be there (MHD notices a client
    # gone mid-body only at CONNECTION_TIMEOUT), and so may the held uploads' (completion callback).
    for _ in range(2):
        before = set(tmp_files(srv))
        with RawConn(srv.port) as c:
            c.send(raw_upload_head(path, boundary, len(body), token))
            c.send(body[:len(multipart_head(boundary)) + 50])
            assert wait_for(lambda: set(tmp_files(srv)) - before, 15), \
                f"the upload never started: {tmp_files(srv)}\n{srv.stderr_text()[-3000:]}"
    # Gone in the completion callback, after the slot.
    assert wait_for(lambda: tmp_files(srv) == [], 15), srv.stderr_text()[-3000:]
    for seed in (4, 5, 6):  # more uploads, one after another, than the limit: all served
        r = upload(srv, movies[2]["id"], "poster", png_bytes(seed=seed), token)
        assert r.status_code == 200, r.text


def test_local_uploads_are_not_limited(make_server, backend):
    """The local store only moves a file: MEDIA_UPLOAD_CONCURRENCY does not apply."""
    srv = make_server(backend, MEDIA_UPLOAD_CONCURRENCY="1")
    token = admin(srv)
    movie = new_movie(srv, token)
    slow, rest = start_upload(srv, movie["id"], "poster", png_bytes(seed=1), token, "local0123")
    with slow:
        assert wait_for(lambda: len(tmp_files(srv)) == 1), "the first upload never started"
        r = upload(srv, movie["id"], "poster", png_bytes(seed=2), token)
        assert r.status_code == 200, r.text
        slow.send(rest)
        assert slow.read_response().status in (200, 409)


def test_cloudinary_down_is_503_and_the_movie_is_unchanged(make_server, backend, standin):
    srv = cloudinary_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    first = upload(srv, movie["id"], "poster", png_bytes(), token).json()["poster_url"]
    standin.stop()
    r = upload(srv, movie["id"], "poster", jpeg_bytes(), token)
    assert_error(r, 503, "upstream_error")
    assert r.headers.get("Retry-After")
    assert get_movie(srv, movie["id"])["poster_url"] == first
    assert no_temp_files(srv)


def test_cloudinary_wrong_secret_is_503_and_nothing_is_stored(make_server, backend, standin):
    wrong = "not-the-Secret_0123456789abcdef"
    srv = cloudinary_server(make_server, backend, standin, secret=wrong)
    token = admin(srv)
    movie = new_movie(srv, token)
    r = upload(srv, movie["id"], "poster", png_bytes(), token)
    assert_error(r, 503, "upstream_error")
    assert standin.uploads == [] and standin.assets == {}
    assert len(standin.rejected) == 1 and standin.rejected[0]["status"] == 401
    assert standin.rejected[0]["message"].startswith("Invalid Signature ")
    assert get_movie(srv, movie["id"])["poster_url"] is None
    log = srv.stderr_text()
    assert "HTTP 401" in log and "Invalid Signature" in log
    assert wrong not in log and API_SECRET not in log
    assert not re.search(r"[0-9a-f]{40}", log), "a signature reached the log"


def test_cloudinary_three_variables_work_too(make_server, standin):
    srv = make_server("sqlite", CLOUDINARY_CLOUD_NAME=CLOUD, CLOUDINARY_API_KEY=API_KEY,
                      CLOUDINARY_API_SECRET=API_SECRET, CLOUDINARY_API_BASE=standin.base + "/")
    token = admin(srv)
    movie = new_movie(srv, token)
    r = upload(srv, movie["id"], "poster", WEBP_BYTES, token)
    assert r.status_code == 200, r.text
    assert r.json()["poster_url"].endswith(".webp")
    assert signature_ok(standin.uploads[-1]["fields"])


# ------------------------------------------------------------- Cloudinary: chunked uploads

CHUNK = 5 * MIB  # the smallest CLOUDINARY_CHUNK_SIZE, so test files stay small


def chunked_server(make_server, backend, standin, **env):
    return cloudinary_server(make_server, backend, standin, CLOUDINARY_CHUNK_SIZE=str(CHUNK),
                             **env)


def chunk_ranges(total: int) -> list[str]:
    return [f"bytes {a}-{min(a + CHUNK, total) - 1}/{total}" for a in range(0, total, CHUNK)]


def test_cloudinary_trailer_above_the_chunk_size_goes_up_in_chunks(make_server, backend,
                                                                   standin):
    # One request may carry at most 6 MiB here: only chunks can bring 12 MiB across.
    standin.max_file_bytes = 6 * MIB
    srv = chunked_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    data = mp4_bytes(2 * CHUNK + 12345)
    r = upload(srv, movie["id"], "trailer", data, token)
    assert r.status_code == 200, (r.text, standin.rejected)
    assert standin.rejected == [] and standin.partials == {}
    assert len(standin.uploads) == 1
    up = standin.uploads[0]
    assert up["chunks"] == 3 and up["resource_type"] == "video"
    assert len(up["data"]) == len(data)
    assert hashlib.sha256(up["data"]).digest() == hashlib.sha256(data).digest()
    assert up["response"]["bytes"] == len(data)
    assert up["response"]["etag"] == hashlib.md5(data).hexdigest()
    assert up["fields"]["public_id"].startswith(f"ticketd/trailers/{movie['id']}_")
    assert signature_ok(up["fields"])
    assert [c["range"] for c in standin.chunks] == chunk_ranges(len(data))
    assert [c["status"] for c in standin.chunks] == [200, 200, 200]
    ids = {c["upload_id"] for c in standin.chunks}
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", ids.pop())
    assert r.json()["trailer_url"] == up["response"]["secure_url"]
    assert get_movie(srv, movie["id"])["trailer_url"] == up["response"]["secure_url"]
    assert no_temp_files(srv)

    # A file of exactly the chunk size is one plain request; the chunked one it replaces goes.
    data = mp4_bytes(CHUNK)
    r = upload(srv, movie["id"], "trailer", data, token)
    assert r.status_code == 200, (r.text, standin.rejected)
    assert len(standin.chunks) == 3 and standin.uploads[-1]["chunks"] == 0
    assert standin.uploads[-1]["data"] == data
    assert [d["fields"]["public_id"] for d in standin.destroys] == [up["fields"]["public_id"]]
    assert standin.destroys[0]["result"] == "ok"


def test_cloudinary_a_chunk_answered_5xx_is_sent_again(make_server, backend, standin):
    srv = chunked_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    standin.fail_chunk(1, times=1, status=502)
    data = mp4_bytes(2 * CHUNK + 1)
    r = upload(srv, movie["id"], "trailer", data, token)
    assert r.status_code == 200, (r.text, standin.rejected)
    ranges = chunk_ranges(len(data))
    assert [(c["range"], c["status"]) for c in standin.chunks] == [
        (ranges[0], 200), (ranges[1], 502), (ranges[1], 200), (ranges[2], 200)]
    up = standin.uploads[-1]
    assert up["chunks"] == 3 and up["data"] == data
    assert r.json()["trailer_url"] == up["response"]["secure_url"]


@pytest.mark.parametrize("failing", [1, 2])  # a middle chunk; the last one (makes the resource)
def test_cloudinary_a_chunk_that_keeps_failing_is_503_and_leaves_nothing(
        make_server, backend, standin, failing):
    srv = chunked_server(make_server, backend, standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    first = upload(srv, movie["id"], "trailer", webm_bytes(), token).json()["trailer_url"]
    standin.fail_chunk(failing, times=100, status=503)
    data = mp4_bytes(2 * CHUNK + 1)
    r = upload(srv, movie["id"], "trailer", data, token)
    assert_error(r, 503, "upstream_error")
    statuses = [c["status"] for c in standin.chunks]
    assert statuses == [200] * failing + [503] * 3  # three tries, then it gives up
    assert get_movie(srv, movie["id"])["trailer_url"] == first
    assert [a["response"]["secure_url"] for a in standin.assets.values()] == [first]
    assert len(standin.uploads) == 1
    first_id = standin.uploads[0]["fields"]["public_id"]
    if failing == 2:
        # The request that would have made the resource failed without a clear answer: its
        # public id is destroyed in case the resource was made after all.
        assert len(standin.destroys) == 1
        assert standin.destroys[0]["fields"]["public_id"] != first_id
        assert standin.destroys[0]["fields"]["public_id"].startswith(
            f"ticketd/trailers/{movie['id']}_")
        assert standin.destroys[0]["result"] == "not found"
    else:
        assert standin.destroys == []
    assert no_temp_files(srv)


def test_a_large_chunked_trailer_is_never_held_in_memory(make_server, standin):
    srv = chunked_server(make_server, "sqlite", standin)
    token = admin(srv)
    movie = new_movie(srv, token)
    for _ in range(2):  # warm up allocator, thread stacks and curl
        upload(srv, movie["id"], "trailer", mp4_bytes(CHUNK + 1), token)
    before = vm_hwm_kib(srv.proc.pid)
    data = mp4_bytes(8 * CHUNK + 3)
    r = upload(srv, movie["id"], "trailer", data, token, timeout=120)
    assert r.status_code == 200, r.text
    grown_mib = (vm_hwm_kib(srv.proc.pid) - before) / 1024
    assert grown_mib < 32, f"peak memory grew by {grown_mib:.1f} MiB for a 40 MiB upload"
    assert standin.uploads[-1]["chunks"] == 9
    assert hashlib.sha256(standin.uploads[-1]["data"]).digest() == hashlib.sha256(data).digest()


# ------------------------------------------------- the stand-in checks chunks as Cloudinary


def standin_chunk(standin, upload_id: str, first: int, data: bytes, total: int,
                  fields: dict | None = None, rtype: str = "video") -> requests.Response:
    fields = dict(fields or {"public_id": "ticketd/trailers/x", "timestamp": str(int(time.time()))})
    fields["signature"] = sign(fields, API_SECRET)
    fields["api_key"] = API_KEY
    headers = {"X-Unique-Upload-Id": upload_id,
               "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"}
    return requests.post(f"{standin.base}/{CLOUD}/{rtype}/upload", data=fields, headers=headers,
                         files={"file": ("t.mp4", data, "video/mp4")}, timeout=TIMEOUT)


def test_the_standin_refuses_chunks_the_way_cloudinary_does(standin):
    data = mp4_bytes(MIN_CHUNK + 100)
    total = len(data)
    head, tail = data[:MIN_CHUNK], data[MIN_CHUNK:]

    def refused(resp, status=400, text=""):
        assert resp.status_code == status, resp.text
        assert text in resp.json()["error"]["message"]
        return True

    # A chunk but the last below the minimum; a first chunk not at byte 0; a bad range.
    assert refused(standin_chunk(standin, "u1", 0, head[:-1], total), text="Chunk too small")
    assert refused(standin_chunk(standin, "u2", MIN_CHUNK, tail, total), text="first chunk")
    r = requests.post(f"{standin.base}/{CLOUD}/video/upload", headers={
        "X-Unique-Upload-Id": "u3", "Content-Range": "0-9/10"}, files={"file": ("t", b"x")},
        timeout=TIMEOUT)
    assert refused(r, text="Content-Range")
    # A good first chunk, then: a gap, another total, another public_id, a bad signature.
    assert standin_chunk(standin, "u4", 0, head, total).json() == {
        "done": False, "bytes": MIN_CHUNK, "resource_type": "video",
        "public_id": "ticketd/trailers/x"}
    assert refused(standin_chunk(standin, "u4", MIN_CHUNK + 1, tail[1:], total),
                   text="out of order")
    assert refused(standin_chunk(standin, "u4", MIN_CHUNK, tail + b"\0", total + 1),
                   text="total")
    other = {"public_id": "ticketd/trailers/y", "timestamp": str(int(time.time()))}
    assert refused(standin_chunk(standin, "u4", MIN_CHUNK, tail, total, other), text="public_id")
    r = requests.post(f"{standin.base}/{CLOUD}/video/upload", headers={
        "X-Unique-Upload-Id": "u4", "Content-Range": f"bytes {MIN_CHUNK}-{total - 1}/{total}"},
        data={"public_id": "ticketd/trailers/x", "timestamp": str(int(time.time())),
              "api_key": API_KEY, "signature": "0" * 40},
        files={"file": ("t.mp4", tail, "video/mp4")}, timeout=TIMEOUT)
    assert refused(r, 401, "Invalid Signature")
    assert standin.assets == {}
    # The right last chunk completes it: the assembled file is the original.
    r = standin_chunk(standin, "u4", MIN_CHUNK, tail, total)
    assert r.status_code == 200, r.text
    assert r.json()["bytes"] == total and r.json()["etag"] == hashlib.md5(data).hexdigest()
    assert standin.uploads[-1]["data"] == data and standin.partials == {}
    # And one plain request above the per-request limit is refused.
    standin.max_file_bytes = MIN_CHUNK
    fields = {"public_id": "p", "timestamp": str(int(time.time()))}
    fields.update(signature=sign(fields, API_SECRET), api_key=API_KEY)
    r = requests.post(f"{standin.base}/{CLOUD}/video/upload", data=fields,
                      files={"file": ("t.mp4", data, "video/mp4")}, timeout=TIMEOUT)
    assert refused(r, text="File size too large")


@pytest.mark.parametrize("env,names", [
    ({"CLOUDINARY_URL": "cloudinary://key-only@demo"}, "CLOUDINARY_URL"),
    ({"CLOUDINARY_URL": "https://k:s3cretvalue@demo"}, "CLOUDINARY_URL"),
    ({"CLOUDINARY_CLOUD_NAME": "demo", "CLOUDINARY_API_KEY": "k"}, "CLOUDINARY_API_SECRET"),
    ({"CLOUDINARY_URL": "cloudinary://k:s3cretvalue@demo", "CLOUDINARY_API_SECRET": "s3cretvalue"},
     "CLOUDINARY_URL"),
    ({"CLOUDINARY_URL": "cloudinary://k:s3cretvalue@demo", "CLOUDINARY_API_BASE": "api.example"},
     "CLOUDINARY_API_BASE"),
    ({"MEDIA_POSTER_MAX_BYTES": "ten"}, "MEDIA_POSTER_MAX_BYTES"),
    ({"CLOUDINARY_CHUNK_SIZE": str(5 * MIB - 1)}, "CLOUDINARY_CHUNK_SIZE"),
    ({"CLOUDINARY_CHUNK_SIZE": str(100 * MIB + 1)}, "CLOUDINARY_CHUNK_SIZE"),
])
def test_bad_media_configuration_stops_the_start(tmp_path, env, names):
    full = server_env(f"sqlite://{tmp_path / 't.db'}", PORT="1", **env)
    proc = subprocess.run([str(TICKETD_BIN)], env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert names in proc.stderr
    assert "s3cretvalue" not in proc.stderr


def test_unwritable_media_dir_stops_the_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    full = server_env(f"sqlite://{tmp_path / 't.db'}", PORT="1", MEDIA_DIR=str(blocker / "media"))
    proc = subprocess.run([str(TICKETD_BIN)], env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode != 0
    assert "MEDIA_DIR" in proc.stderr


def test_help_lists_the_media_settings():
    out = subprocess.run([str(TICKETD_BIN), "--help"], env=clean_environ(), capture_output=True,
                         text=True, timeout=10).stdout
    for name in ("MEDIA_DIR", "CLOUDINARY_URL", "CLOUDINARY_API_BASE", "CLOUDINARY_CLOUD_NAME",
                 "MEDIA_POSTER_MAX_BYTES", "MEDIA_TRAILER_MAX_BYTES", "MEDIA_UPLOAD_TIMEOUT",
                 "CLOUDINARY_CHUNK_SIZE"):
        assert name in out, name
