"""Rate limits: login per client IP and per e-mail (failures only; the e-mail's budget is per
client address too), change-password per user and per client IP (failures only), register per
client IP, holds per user.

Each test starts its own server with small limits and windows of a second or two (the limits do
not touch the database, so SQLite alone is used); the last tests count in a throwaway Redis shared
by two servers, and with that Redis killed: exceeding a limit gives 429 rate_limited with
Retry-After and details; other IPs, e-mails and users are counted apart; after the window the
same caller is let through again. The client IP comes from X-Forwarded-For only with
TRUST_PROXY=on and a trusted peer; otherwise the header cannot buy a fresh budget.
"""

from __future__ import annotations

import time

import requests

from booking_helpers import GRID_PRICES, Venue, hold, idem, post_hold
from catalog_helpers import describe, make_user, ok
from conftest import DEFAULT_PASSWORD, assert_error, call, register, unique_email
from redis_helpers import redis_server, wait_for  # noqa: F401  (fixture)

# Everything off but what a test turns on; a server started by the suite's fixtures may run with
# RATE_LIMIT=off, so each server here turns it on explicitly.
NO_LIMITS = dict(RATE_LIMIT="on", RATE_LIMIT_LOGIN_IP="0", RATE_LIMIT_LOGIN_EMAIL="0",
                 RATE_LIMIT_REGISTER_IP="0", RATE_LIMIT_HOLD_USER="0")


def limited(resp: requests.Response, action: str, scope: str, limit: int) -> int:
    """Asserts a 429 rate_limited answer for (action, scope); returns Retry-After in seconds."""
    err = assert_error(resp, 429, "rate_limited")
    retry = resp.headers.get("Retry-After")
    assert retry is not None and retry.isdigit(), describe(resp)
    d = err.get("details", {})
    assert d.get("action") == action and d.get("scope") == scope, describe(resp)
    assert d.get("limit") == limit, describe(resp)
    assert d.get("retry_after_seconds") == int(retry), describe(resp)
    assert 1 <= int(retry) <= d.get("window_seconds"), describe(resp)
    return int(retry)


def login_status(server, email: str, password: str = DEFAULT_PASSWORD, ip: str | None = None):
    headers = {"X-Forwarded-For": ip} if ip else None
    return call("POST", server, "/auth/login", json={"email": email, "password": password},
                headers=headers)


def register_as(server, ip: str | None = None) -> requests.Response:
    headers = {"X-Forwarded-For": ip} if ip else None
    body = {"email": unique_email("rl"), "password": DEFAULT_PASSWORD, "name": "Rate Limited"}
    return call("POST", server, "/auth/register", json=body, headers=headers)


def wait_out(seconds: float) -> None:
    time.sleep(seconds + 0.2)


# --------------------------------------------------------------------------------------------


def test_login_per_email(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_LOGIN_EMAIL": "3/2s"})
    email = register(srv)["user"]["email"]
    other = register(srv)["user"]["email"]
    for _ in range(3):
        assert_error(login_status(srv, email, "wrong-password"), 401, "invalid_credentials")
    # The fourth attempt in the window is refused, even with the right password, and the
    # e-mail is matched after normalisation.
    limited(login_status(srv, email), "login", "email", 3)
    retry = limited(login_status(srv, "  " + email.upper()), "login", "email", 3)
    # Another e-mail has its own budget.
    ok(login_status(srv, other), 200)
    # After the window, the right password works again.
    wait_out(retry)
    ok(login_status(srv, email), 200)


def test_login_per_ip_behind_a_trusted_proxy(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_LOGIN_IP": "3/2s",
                                   "TRUST_PROXY": "on", "TRUSTED_PROXIES": "127.0.0.1/32"})
    email = register(srv)["user"]["email"]
    for i in range(3):
        assert_error(login_status(srv, unique_email(f"x{i}"), "nope", ip="203.0.113.7"), 401,
                     "invalid_credentials")
    limited(login_status(srv, email, ip="203.0.113.7"), "login", "ip", 3)
    # The right-most hop is the client: a forged left part changes nothing.
    limited(login_status(srv, email, ip="198.51.100.1, 203.0.113.7"), "login", "ip", 3)
    # Another client address (as the proxy reports it) is counted apart.
    ok(login_status(srv, email, ip="203.0.113.8"), 200)
    ok(login_status(srv, email, ip="203.0.113.7, 203.0.113.9"), 200)


PROXIED = dict(TRUST_PROXY="on", TRUSTED_PROXIES="127.0.0.1/32")


def test_only_failed_logins_count(make_server):
    """Signing in again and again is no attack: only wrong passwords use up the budget."""
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_LOGIN_EMAIL": "3/30s",
                                   "RATE_LIMIT_LOGIN_IP": "3/30s"})
    email = register(srv)["user"]["email"]
    for _ in range(5):
        ok(login_status(srv, email), 200)
    for _ in range(3):
        assert_error(login_status(srv, email, "wrong-password"), 401, "invalid_credentials")
    limited(login_status(srv, email), "login", "ip", 3)


def test_wrong_passwords_from_one_address_do_not_lock_out_another(make_server):
    """The per-e-mail budget is per client address too (GitHub, Auth0): an attacker can use up
    his own, never the account owner's."""
    srv = make_server("sqlite", **{**NO_LIMITS, **PROXIED, "RATE_LIMIT_LOGIN_EMAIL": "3/30s"})
    email = register(srv)["user"]["email"]
    for _ in range(3):
        assert_error(login_status(srv, email, "guess", ip="203.0.113.66"), 401,
                     "invalid_credentials")
    for _ in range(2):
        limited(login_status(srv, email, "guess", ip="203.0.113.66"), "login", "email", 3)
    # The owner, from her own address, signs in at once; the attacker's address stays refused.
    ok(login_status(srv, email, ip="198.51.100.23"), 200)
    limited(login_status(srv, email, ip="203.0.113.66"), "login", "email", 3)
    # ... while its budget for other accounts is its own (no per-IP limit configured here).
    other = register(srv)["user"]["email"]
    ok(login_status(srv, other, ip="203.0.113.66"), 200)


def test_refused_attempts_do_not_count(make_server):
    """A 429 is not a failure: after the window the budget is whole again, however many
    attempts were refused meanwhile."""
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_LOGIN_EMAIL": "2/2s"})
    email = register(srv)["user"]["email"]
    for _ in range(2):
        assert_error(login_status(srv, email, "wrong"), 401, "invalid_credentials")
    retry = 0
    for _ in range(5):
        retry = limited(login_status(srv, email, "wrong"), "login", "email", 2)
    wait_out(retry)
    for _ in range(2):
        assert_error(login_status(srv, email, "wrong"), 401, "invalid_credentials")
    limited(login_status(srv, email), "login", "email", 2)


def change_password(server, token, current, new="a-new-password-9", ip=None):
    headers = {"X-Forwarded-For": ip} if ip else None
    return call("POST", server, "/auth/change-password", token=token, headers=headers,
                json={"current_password": current, "new_password": new})


def test_change_password_guesses_are_limited_per_user(make_server):
    """A stolen access token cannot be used to guess the current password."""
    srv = make_server("sqlite", **{**NO_LIMITS, **PROXIED, "RATE_LIMIT_LOGIN_EMAIL": "3/30s"})
    victim, other = register(srv), register(srv)
    for i in range(3):
        assert_error(change_password(srv, victim["access_token"], f"guess-{i}",
                                     ip=f"203.0.113.{i}"), 403, "wrong_password")
    # The fourth guess is refused whatever the address, even the right password.
    limited(change_password(srv, victim["access_token"], "guess-4", ip="203.0.113.9"),
            "change_password", "user", 3)
    limited(change_password(srv, victim["access_token"], DEFAULT_PASSWORD),
            "change_password", "user", 3)
    # Another user is not affected.
    assert change_password(srv, other["access_token"], DEFAULT_PASSWORD).status_code == 204


def test_change_password_guesses_are_limited_per_ip(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, **PROXIED, "RATE_LIMIT_LOGIN_IP": "3/30s"})
    users = [register(srv) for _ in range(5)]
    for u in users[:3]:
        assert_error(change_password(srv, u["access_token"], "guess", ip="203.0.113.77"), 403,
                     "wrong_password")
    limited(change_password(srv, users[3]["access_token"], "guess", ip="203.0.113.77"),
            "change_password", "ip", 3)
    r = change_password(srv, users[4]["access_token"], DEFAULT_PASSWORD, ip="203.0.113.78")
    assert r.status_code == 204, describe(r)


def test_forwarded_for_ignored_without_trust_proxy(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_REGISTER_IP": "2/2s"})
    ok(register_as(srv, ip="203.0.113.1"), 201)
    ok(register_as(srv, ip="203.0.113.2"), 201)
    # Every request came from 127.0.0.1; a made-up X-Forwarded-For buys no fresh budget.
    limited(register_as(srv, ip="203.0.113.3"), "register", "ip", 2)
    retry = limited(register_as(srv), "register", "ip", 2)
    wait_out(retry)
    ok(register_as(srv), 201)


def test_register_per_ip(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_REGISTER_IP": "2/2s",
                                   "TRUST_PROXY": "on"})
    for _ in range(2):
        ok(register_as(srv, ip="192.0.2.10"), 201)
    retry = limited(register_as(srv, ip="192.0.2.10"), "register", "ip", 2)
    ok(register_as(srv, ip="192.0.2.11"), 201)
    ok(register_as(srv), 201)  # the proxy's own address is yet another client
    wait_out(retry)
    ok(register_as(srv, ip="192.0.2.10"), 201)


def test_holds_per_user(make_server):
    srv = make_server("sqlite", **{**NO_LIMITS, "RATE_LIMIT_HOLD_USER": "3/2s"})
    v = Venue(srv, prices=GRID_PRICES)
    alice, bob = make_user(srv, "alice"), make_user(srv, "bob")
    seats = [v.ids(f"A{i}") for i in range(1, 5)]
    for i in range(3):
        hold(srv, alice.token, v.show_id, seat_ids=seats[i])  # each replaces the last
    r = post_hold(srv, alice.token, v.show_id, headers=idem("alice-4"), seat_ids=seats[3])
    retry = limited(r, "hold", "user", 3)
    # Bob's holds are his own.
    hold(srv, bob.token, v.show_id, seat_ids=v.ids("F1"))
    # The 429 was not stored under the Idempotency-Key: after the window the same request
    # runs for real.
    wait_out(retry)
    r = post_hold(srv, alice.token, v.show_id, headers=idem("alice-4"), seat_ids=seats[3])
    body = ok(r, 201)
    assert "Idempotent-Replayed" not in r.headers, describe(r)
    assert [s["id"] for s in body["seats"]] == seats[3]


def test_limits_off(make_server):
    srv = make_server("sqlite", RATE_LIMIT="off", RATE_LIMIT_REGISTER_IP="1/1m",
                      RATE_LIMIT_LOGIN_EMAIL="1/1m")
    email = register(srv)["user"]["email"]
    for _ in range(3):
        ok(register_as(srv), 201)
        ok(login_status(srv, email), 200)


def test_bad_configuration_is_refused(make_server):
    srv = make_server("sqlite", start=False, RATE_LIMIT_HOLD_USER="lots")
    try:
        srv.start(timeout=5)
    except RuntimeError as e:
        assert "RATE_LIMIT_HOLD_USER" in str(e)
    else:
        raise AssertionError("ticketd started with RATE_LIMIT_HOLD_USER=lots")


# --------------------------------------------------------------------------------------------
# Counters in Redis: one window for every server; per server while Redis is down.

SHARED_IP = dict(NO_LIMITS, RATE_LIMIT_LOGIN_IP="4/30s", CACHE_TIMEOUT="200ms",
                 TRUST_PROXY="on", TRUSTED_PROXIES="127.0.0.1/32")


def failed_login(server, ip: str) -> requests.Response:
    return login_status(server, unique_email("nobody"), "not-the-password", ip=ip)


def test_two_servers_count_one_window_in_redis(make_server, redis_server):
    a = make_server("sqlite", REDIS_URL=redis_server.url, **SHARED_IP)
    b = make_server("sqlite", REDIS_URL=redis_server.url, **SHARED_IP)
    for srv in (a, b, a, b):
        assert_error(failed_login(srv, "203.0.113.20"), 401, "invalid_credentials")
    # Four attempts spread over two servers use up the one budget of 4, on either server.
    limited(failed_login(a, "203.0.113.20"), "login", "ip", 4)
    limited(failed_login(b, "203.0.113.20"), "login", "ip", 4)
    assert_error(failed_login(b, "203.0.113.21"), 401, "invalid_credentials")
    key = "ticketd:rl:login:ip:203.0.113.20"
    # Only the four failures count; the two refused attempts gave their count back.
    assert redis_server.command("GET", key) == "4"
    assert 0 < redis_server.command("PTTL", key) <= 30_000


def test_a_counter_without_expiry_gets_one(make_server, redis_server):
    """A counter left without a TTL (restored from a dump, set by hand) must not count forever."""
    srv = make_server("sqlite", REDIS_URL=redis_server.url, **SHARED_IP)
    key = "ticketd:rl:login:ip:203.0.113.30"
    assert redis_server.command("SET", key, "100") == "OK"
    limited(failed_login(srv, "203.0.113.30"), "login", "ip", 4)
    assert 0 < redis_server.command("PTTL", key) <= 30_000


def test_limits_hold_per_server_while_redis_is_down(make_server, redis_server):
    srv = make_server("sqlite", REDIS_URL=redis_server.url, **SHARED_IP)
    redis_server.kill()
    for _ in range(4):
        assert_error(failed_login(srv, "203.0.113.40"), 401, "invalid_credentials")
    # No Redis: this server still counts on its own rather than letting everything through.
    limited(failed_login(srv, "203.0.113.40"), "login", "ip", 4)
    redis_server.start()  # empty: the shared window starts again once the cache is back

    def counted_in_redis():
        failed_login(srv, "203.0.113.41")
        return redis_server.command("GET", "ticketd:rl:login:ip:203.0.113.41") is not None

    wait_for(counted_in_redis, what="rate-limit counters back in Redis")


class RoundTripProxy:
    """A TCP proxy in front of Redis that counts the client's writes carrying a rate-limit
    counter script (an EVAL on an rl: key): one write per round trip, since a client waits for
    the answer before it writes again (a pipeline is one write)."""

    def __init__(self, upstream_port: int):
        import socket
        import threading
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.evals = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        import socket
        import threading
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and b"EVAL" in data and b":rl:" in data:
                    with self.lock:
                        self.evals += 1
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def count(self) -> int:
        with self.lock:
            return self.evals

    def close(self) -> None:
        self.listener.close()


def test_login_counts_in_one_round_trip_each_way(make_server, redis_server):
    """A login is counted against both its limits (client IP, e-mail and IP) in one round trip
    to Redis, and a successful one gives both counts back in one more: two in all (it was four,
    one per key each way). A failed login: the one that counts."""
    from urllib.parse import urlparse
    proxy = RoundTripProxy(urlparse(redis_server.url).port)
    try:
        srv = make_server("sqlite", REDIS_URL=proxy.url,
                          **dict(NO_LIMITS, RATE_LIMIT_LOGIN_IP="50/30s",
                                 RATE_LIMIT_LOGIN_EMAIL="50/30s"))
        em = unique_email("rt")
        register(srv, email=em)
        for _ in range(3):
            before = proxy.count()
            assert login_status(srv, em).status_code == 200
            assert proxy.count() - before == 2, proxy.count() - before
            before = proxy.count()
            assert_error(login_status(srv, em, "not-the-password"), 401, "invalid_credentials")
            assert proxy.count() - before == 1, proxy.count() - before
        # the counts are right: three failures on each key, the successes given back
        keys = {"ticketd:rl:login:ip:127.0.0.1", f"ticketd:rl:login:email:{em} 127.0.0.1"}
        assert {k: redis_server.command("GET", k) for k in keys} == {k: "3" for k in keys}
    finally:
        proxy.close()
