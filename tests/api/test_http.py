"""HTTP-level behaviour: routing, content types, body limits, request ids, keep-alive, health,
hostile JSON, and what the server writes to its log."""

import http.client
import json

import pytest
import requests

from conftest import (
    ADMIN_PASSWORD, DEFAULT_PASSWORD, JWT_ACCESS_SECRET, JWT_REFRESH_SECRET, TIMEOUT, RawConn,
    assert_error, call, raw_request, register, unique_email,
)

MIB = 1 << 20


def post_raw(server, path, data, content_type="application/json", **kwargs):
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return call("POST", server, path, data=data, headers=headers, **kwargs)


def register_body(**fields) -> dict:
    return {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "Http Test", **fields}


def contains_pair(tree, key, value) -> bool:
    if isinstance(tree, dict):
        return tree.get(key) == value or any(contains_pair(v, key, value) for v in tree.values())
    if isinstance(tree, list):
        return any(contains_pair(v, key, value) for v in tree)
    return False


# ----------------------------------------------------------------------------------- routing


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/no-such-route"),
    ("POST", "/api/v1/auth/no-such-route"),
    ("GET", "/no-such-route"),
    ("GET", "/api/v2/me"),
])
def test_unknown_route_is_404(server, method, path):
    r = requests.request(method, server.url + path, timeout=TIMEOUT)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/api/v1/auth/login", "POST"),
    ("GET", "/api/v1/auth/register", "POST"),
    ("POST", "/api/v1/me", "GET"),
])
def test_wrong_method_is_405_with_allow(server, method, path, allowed):
    r = requests.request(method, server.url + path, timeout=TIMEOUT)
    assert_error(r, 405, "method_not_allowed")
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert allowed in allow, r.headers.get("Allow")


# ------------------------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize("data", [b'{"email":', b"{email: 1}", b"not json", b'{"a":1}}',
                                  b"{'a': 1}"])
def test_malformed_json_is_400(server, data):
    assert_error(post_raw(server, "/auth/register", data), 400, "malformed_json")


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_empty_body_is_malformed_json(server, content_type):
    assert_error(post_raw(server, "/auth/register", b"", content_type), 400, "malformed_json")


@pytest.mark.parametrize("data", [b"[]", b'[{"email":"a@example.com"}]', b'"text"', b"42",
                                  b"null"])
def test_non_object_top_level_is_invalid_type(server, data):
    assert_error(post_raw(server, "/auth/register", data), 400, "invalid_type")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_wrong_content_type_is_415(server, content_type):
    data = json.dumps(register_body()).encode()
    assert_error(post_raw(server, "/auth/register", data, content_type), 415,
                 "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "application/json;charset=UTF-8",
                                          "Application/JSON"])
def test_json_content_type_variants_are_accepted(server, content_type):
    r = post_raw(server, "/auth/register", json.dumps(register_body()).encode(), content_type)
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------------------- body limits


def padded_register_body(size: int) -> bytes:
    """A valid register body padded with JSON whitespace to exactly size bytes."""
    body = json.dumps(register_body()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_body_of_exactly_1_mib_is_accepted(server):
    data = padded_register_body(MIB)
    assert len(data) == MIB
    r = post_raw(server, "/auth/register", data)
    assert r.status_code == 201, r.text[:500]


def body_pieces(data: bytes, chunked: bool, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_above_1_mib_is_413(server, framing):
    # A raw socket, so the test sees what the server sends even if it answers before the whole
    # body is sent (with chunked framing it can only tell while reading).
    data = padded_register_body(MIB + 1)
    if framing == "chunked":
        head = (b"POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    else:
        head = raw_request("POST", "/api/v1/auth/register", data)[:-len(data)]
    with RawConn(server.port) as conn:
        assert conn.send(head)
        conn.send_until_answered(body_pieces(data, framing == "chunked"))
        resp = conn.read_response()  # raises if the server closed without an answer
    assert resp.status == 413, resp
    assert resp.headers.get("content-type", "").startswith("application/json"), resp
    assert resp.json()["error"]["code"] == "payload_too_large", resp
    assert resp.headers.get("x-request-id"), resp
    assert requests.get(server.url + "/healthz", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_above_1_mib_is_413_for_requests(server, framing):
    data = padded_register_body(MIB + 1)
    if framing == "chunked":  # a generator body: requests sends it chunked
        r = post_raw(server, "/auth/register", body_pieces(data, chunked=False))
    else:
        r = post_raw(server, "/auth/register", data)
    assert (r.request.headers.get("Transfer-Encoding") == "chunked") == (framing == "chunked")
    assert_error(r, 413, "payload_too_large")


def test_small_chunked_body_is_accepted(server):
    data = json.dumps(register_body()).encode()
    r = post_raw(server, "/auth/register", iter([data[:10], data[10:]]))
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------------------- request ids


def test_every_response_has_a_request_id(server):
    responses = [
        requests.get(server.url + "/healthz", timeout=TIMEOUT),
        requests.get(server.url + "/readyz", timeout=TIMEOUT),
        call("GET", server, "/no-such-route"),
        call("GET", server, "/me"),
        call("DELETE", server, "/auth/login"),
        post_raw(server, "/auth/register", b"{"),
        call("POST", server, "/auth/register", json=register_body()),
    ]
    ids = []
    for r in responses:
        rid = r.headers.get("X-Request-Id")
        assert rid, f"{r.request.method} {r.request.url} -> {r.status_code} without X-Request-Id"
        ids.append(rid)
    assert len(set(ids)) == len(ids), "request ids are not unique"


@pytest.mark.parametrize("rid", ["abc-123", "A.b_C-9", "x" * 64])
def test_sane_inbound_request_id_is_echoed(server, rid):
    for r in (requests.get(server.url + "/healthz", headers={"X-Request-Id": rid},
                           timeout=TIMEOUT),
              call("GET", server, "/me", headers={"X-Request-Id": rid})):
        assert r.headers.get("X-Request-Id") == rid


@pytest.mark.parametrize("rid", ["x" * 65, "has space", "semi;colon", "<script>", "a/b"])
def test_insane_inbound_request_id_is_replaced(server, rid):
    r = requests.get(server.url + "/healthz", headers={"X-Request-Id": rid}, timeout=TIMEOUT)
    new = r.headers.get("X-Request-Id")
    assert new and new != rid
    assert len(new) <= 64 and all(c.isalnum() or c in "._-" for c in new), new


def test_error_responses_are_json(server):
    for r in (call("GET", server, "/no-such-route"), call("GET", server, "/me"),
              call("PUT", server, "/me"), post_raw(server, "/auth/register", b"[", "text/plain")):
        assert r.status_code >= 400
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
        assert isinstance(r.json()["error"]["code"], str)


# -------------------------------------------------------------------------------- keep-alive


def test_keep_alive_with_a_session(server):
    reg = register(server)
    with requests.Session() as s:
        for i in range(50):
            if i % 2:
                r = s.get(server.api + "/me", headers={"Authorization":
                                                      f"Bearer {reg['access_token']}"},
                          timeout=TIMEOUT)
            else:
                r = s.get(server.url + "/healthz", timeout=TIMEOUT)
            assert r.status_code == 200, (i, r.text)
            assert r.headers.get("Connection", "").lower() != "close", (i, r.headers)


def test_keep_alive_survives_errors_on_one_connection(server):
    reg = register(server)
    auth = {"Authorization": f"Bearer {reg['access_token']}"}
    bad_login = json.dumps({"email": unique_email(), "password": "whatever-123"})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.connect()
        sock = conn.sock
        for i in range(50):
            kind = i % 4
            if kind == 0:
                conn.request("GET", "/healthz")
                expected = 200
            elif kind == 1:
                conn.request("GET", "/api/v1/me", headers=auth)
                expected = 200
            elif kind == 2:
                conn.request("POST", "/api/v1/auth/login", body=bad_login,
                             headers={"Content-Type": "application/json"})
                expected = 401
            else:
                conn.request("GET", "/api/v1/no-such-route")
                expected = 404
            resp = conn.getresponse()
            resp.read()
            assert resp.status == expected, (i, resp.status)
            assert conn.sock is sock, f"the server closed the connection after request {i}"
    finally:
        conn.close()


def test_head_is_answered_without_a_body(server):
    r = requests.head(server.url + "/healthz", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.content == b""


# MAX_HEADER_BYTES (default 8192): the request line and header fields together, which is also
# what sizes each connection's buffer (an idle event stream keeps one; bench/sse_memory.py).
MAX_HEADER_BYTES = 8192


def request_of(size: int, token: str, fields: int) -> bytes:
    """GET /api/v1/me of exactly size bytes (request line, headers, blank line), padded over
    `fields` extra header fields of equal length."""
    head = b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % token.encode()
    names = [b"X-Pad-%02d: " % i for i in range(fields)]
    room = size - len(head) - 2 - sum(len(n) + 2 for n in names)
    assert room >= fields
    values = [b"v" * (room // fields + (1 if i < room % fields else 0)) for i in range(fields)]
    data = head + b"".join(n + v + b"\r\n" for n, v in zip(names, values)) + b"\r\n"
    assert len(data) == size
    return data


@pytest.mark.parametrize("fields", [1, 32])
def test_headers_up_to_max_header_bytes_are_answered(server, fields):
    token = register(server, email=unique_email("hdr"))["access_token"]
    with RawConn(server.port) as conn:
        conn.send(request_of(MAX_HEADER_BYTES, token, fields))
        resp = conn.read_response()
    assert resp.status == 200, resp
    assert resp.json()["email"].startswith("hdr"), resp


@pytest.mark.parametrize("name,request_bytes", [
    ("long-url", b"GET /api/v1/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("huge-header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 +
     b"\r\n\r\n"),
    ("many-headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
     b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
    ("bad-content-length", b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}"),
    ("garbage-request-line", b"HELLO THERE\r\n\r\n"),
    ("nul-in-path", b"GET /api/v1/me\x00x HTTP/1.1\r\nHost: x\r\n\r\n"),
])
def test_hostile_requests_are_refused_and_server_survives(server, name, request_bytes):
    with RawConn(server.port) as conn:
        conn.send(request_bytes)
        try:
            resp = conn.read_response()
        except ConnectionError:
            resp = None  # closing the connection is an acceptable answer
    if resp is not None:
        assert 400 <= resp.status < 500, resp
    assert requests.get(server.url + "/healthz", timeout=TIMEOUT).status_code == 200


# ------------------------------------------------------------------------------------ health


def test_healthz(server):
    r = requests.get(server.url + "/healthz", timeout=TIMEOUT)
    assert r.status_code == 200
    assert requests.get(server.api + "/healthz", timeout=TIMEOUT).status_code == 200


def test_readyz_reports_database_ok(server):
    r = requests.get(server.url + "/readyz", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert contains_pair(r.json(), "database", "ok"), r.text


# ------------------------------------------------------------------------------ hostile JSON

HOSTILE_BODIES = {
    "deep-arrays": b"[" * 10000 + b"]" * 10000,
    "deep-objects": b'{"a":' * 10000 + b"1" + b"}" * 10000,
    "deep-inside-field": b'{"email":' + b"[" * 10000 + b"]" * 10000 + b"}",
    "invalid-utf8": b'{"email":"\xff\xfe@example.com","password":"password-123","name":"x"}',
    "overlong-utf8": b'{"email":"a@example.com","password":"password-123","name":"\xc0\xaf"}',
    "escaped-nul": b'{"email":"nul@example.com","password":"password-123","name":"a\\u0000b"}',
    "raw-nul": b'{"email":"nul@example.com","password":"password-123","name":"a\x00b"}',
    "lone-surrogate": b'{"email":"s@example.com","password":"password-123","name":"\\ud800"}',
    "huge-number": b'{"email":1e999999,"password":"password-123","name":"x"}',
    "huge-integer": b'{"email":' + b"9" * 5000 + b',"password":"password-123","name":"x"}',
    "long-email": b'{"email":"' + b"a" * 500000 + b'@example.com","password":"password-123",'
                  b'"name":"x"}',
    "truncated-escape": b'{"email":"\\u12',
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_json_is_4xx_and_server_survives(server, name):
    r = post_raw(server, "/auth/register", HOSTILE_BODIES[name])
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert requests.get(server.url + "/healthz", timeout=TIMEOUT).status_code == 200


# -------------------------------------------------------------------------------------- logs


def test_log_lines_are_json_without_secrets(server):
    password = "log-canary-password-42"
    reg = register(server, password=password)
    call("POST", server, "/auth/login", json={"email": reg["user"]["email"], "password": password})
    call("POST", server, "/auth/refresh", json={"refresh_token": reg["refresh_token"]})
    call("GET", server, "/me", token=reg["access_token"])
    call("GET", server, "/me", token=reg["access_token"] + "x")
    assert requests.get(server.url + "/healthz", timeout=TIMEOUT).status_code == 200

    text = server.stderr_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict)
        except ValueError:
            pytest.fail(f"log line is not a JSON object: {line[:300]!r}")
    for secret in (password, ADMIN_PASSWORD, reg["access_token"], reg["refresh_token"],
                   reg["refresh_token"].split(".")[2], JWT_ACCESS_SECRET, JWT_REFRESH_SECRET):
        assert secret not in text, f"the log contains a secret ({secret[:12]}...)"
