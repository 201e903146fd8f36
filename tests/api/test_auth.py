"""Registration, login, refresh-token rotation, logout, change-password and /me."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from conftest import (
    DEFAULT_PASSWORD, RFC3339_UTC, TIMEOUT, assert_error, call, jwt_payload, login, refresh,
    register, unique_email,
)

USER_KEYS = {"id", "email", "name", "role", "created_at"}


def assert_user(user: dict, email: str, name: str, role: str = "user") -> None:
    assert set(user) >= USER_KEYS, user
    assert not {k for k in user if "password" in k or "hash" in k}, user
    assert isinstance(user["id"], str) and user["id"]
    assert user["email"] == email
    assert user["name"] == name
    assert user["role"] == role
    assert RFC3339_UTC.match(user["created_at"]), user["created_at"]
    created = datetime.fromisoformat(user["created_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 3600


# ---------------------------------------------------------------------------------- register


def test_register_returns_user_and_token_pair(server):
    email = unique_email()
    r = call("POST", server, "/auth/register",
             json={"email": email, "password": DEFAULT_PASSWORD, "name": "Asha Rao"})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) >= {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert_user(body["user"], email, "Asha Rao")
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 86400

    access = jwt_payload(body["access_token"])
    assert access["iss"] == "ticketd"
    assert access["typ"] == "access"
    assert access["sub"] == body["user"]["id"]
    assert access["role"] == "user"
    assert {"sid", "iat", "nbf", "exp", "jti"} <= set(access)
    assert access["exp"] - access["iat"] == body["expires_in"]
    assert abs(access["iat"] - time.time()) < 60

    rt = jwt_payload(body["refresh_token"])
    assert rt["typ"] == "refresh"
    assert rt["sub"] == body["user"]["id"]
    assert rt["sid"] == access["sid"]
    assert rt["exp"] > access["exp"]


def test_register_ignores_requested_role(server):
    body = register(server, role="admin")
    assert body["user"]["role"] == "user"
    assert jwt_payload(body["access_token"])["role"] == "user"
    me = call("GET", server, "/me", token=body["access_token"])
    assert me.status_code == 200 and me.json()["role"] == "user"


def test_register_normalises_email(server):
    local = f"Foo.{uuid.uuid4().hex[:10]}"
    body = register(server, email=f"  {local}@Example.COM ")
    normalised = f"{local.lower()}@example.com"
    assert body["user"]["email"] == normalised
    for variant in (normalised, normalised.upper(), f"{local}@EXAMPLE.com", f" {normalised}  "):
        assert login(server, variant)["user"]["id"] == body["user"]["id"], variant


def test_register_duplicate_email_is_409(server):
    email = unique_email()
    register(server, email=email)
    for again in (email, email.upper()):
        r = call("POST", server, "/auth/register",
                 json={"email": again, "password": DEFAULT_PASSWORD, "name": "Second"})
        assert_error(r, 409, "email_taken")


@pytest.mark.parametrize("password", ["", "1234567", "\u00e9" * 7])
def test_register_short_password_is_422(server, password):
    r = call("POST", server, "/auth/register",
             json={"email": unique_email(), "password": password, "name": "Short"})
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "password"


def test_register_password_of_exactly_8_characters_is_accepted(server):
    register(server, password="12345678")


@pytest.mark.parametrize("email", ["not-an-email", "@example.com", "user@", "a b@example.com", ""])
def test_register_bad_email_is_422(server, email):
    r = call("POST", server, "/auth/register",
             json={"email": email, "password": DEFAULT_PASSWORD, "name": "Bad Mail"})
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "email"


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_register_missing_field_is_422(server, missing):
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "Someone"}
    del body[missing]
    err = assert_error(call("POST", server, "/auth/register", json=body), 422, "validation_failed")
    assert err["details"]["field"] == missing


@pytest.mark.parametrize("field,value", [("email", 5), ("password", []), ("name", None),
                                         ("name", {"first": "x"}), ("password", 12345678)])
def test_register_wrong_type_is_400(server, field, value):
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "Typed", field: value}
    err = assert_error(call("POST", server, "/auth/register", json=body), 400, "invalid_type")
    assert err["details"]["field"] == field


# ------------------------------------------------------------------------------------- login


def test_login_returns_user_and_tokens(server):
    reg = register(server, name="Login Ok")
    body = login(server, reg["user"]["email"])
    assert body["user"] == reg["user"]
    assert body["token_type"] == "Bearer"
    assert body["access_token"] != reg["access_token"]
    assert body["refresh_token"] != reg["refresh_token"]
    # A login is a new session (a new refresh-token family).
    assert jwt_payload(body["access_token"])["sid"] != jwt_payload(reg["access_token"])["sid"]
    me = call("GET", server, "/me", token=body["access_token"])
    assert me.status_code == 200 and me.json()["id"] == reg["user"]["id"]


def test_login_failures_are_indistinguishable(server):
    reg = register(server)
    wrong_pw = call("POST", server, "/auth/login",
                    json={"email": reg["user"]["email"], "password": "wrong-password-9"})
    unknown = call("POST", server, "/auth/login",
                   json={"email": unique_email("nobody"), "password": "wrong-password-9"})
    err1 = assert_error(wrong_pw, 401, "invalid_credentials")
    err2 = assert_error(unknown, 401, "invalid_credentials")
    assert err1 == err2


# ----------------------------------------------------------------------------------- refresh


def test_refresh_rotates_the_pair(server):
    reg = register(server)
    r = refresh(server, reg["refresh_token"])
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["access_token"] != reg["access_token"]
    assert pair["refresh_token"] != reg["refresh_token"]
    assert jwt_payload(pair["access_token"])["sid"] == jwt_payload(reg["access_token"])["sid"]
    me = call("GET", server, "/me", token=pair["access_token"])
    assert me.status_code == 200 and me.json()["id"] == reg["user"]["id"]

    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")


def test_refresh_reuse_revokes_the_whole_family(server):
    reg = register(server)
    token_a = reg["refresh_token"]
    r = refresh(server, token_a)
    assert r.status_code == 200, r.text
    token_b = r.json()["refresh_token"]

    assert_error(refresh(server, token_a), 401, "invalid_token")  # theft detected
    assert_error(refresh(server, token_b), 401, "invalid_token")  # family revoked


def test_refresh_reuse_does_not_touch_other_sessions(server):
    reg = register(server)
    other = login(server, reg["user"]["email"])
    r = refresh(server, reg["refresh_token"])
    assert r.status_code == 200, r.text
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")
    assert refresh(server, other["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"])
def test_refresh_with_garbage_is_401(server, token):
    assert_error(refresh(server, token), 401, "invalid_token")


def test_refresh_with_an_access_token_is_401(server):
    reg = register(server)
    assert_error(refresh(server, reg["access_token"]), 401, "invalid_token")


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}])
def test_refresh_without_token_is_422(server, body):
    err = assert_error(call("POST", server, "/auth/refresh", json=body), 422, "validation_failed")
    assert err["details"]["field"] == "refresh_token"


def test_refresh_token_of_wrong_type_is_400(server):
    err = assert_error(call("POST", server, "/auth/refresh", json={"refresh_token": 42}), 400,
                       "invalid_type")
    assert err["details"]["field"] == "refresh_token"


# ------------------------------------------------------------------------------------ logout


def test_logout_revokes_the_refresh_token(server):
    reg = register(server)
    r = call("POST", server, "/auth/logout", token=reg["access_token"],
             json={"refresh_token": reg["refresh_token"]})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")


def test_logout_revokes_the_family_not_other_sessions(server):
    reg = register(server)
    r = refresh(server, reg["refresh_token"])
    assert r.status_code == 200
    rotated = r.json()
    other = login(server, reg["user"]["email"])
    r = call("POST", server, "/auth/logout", token=rotated["access_token"],
             json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 204, r.text
    assert_error(refresh(server, rotated["refresh_token"]), 401, "invalid_token")
    assert refresh(server, other["refresh_token"]).status_code == 200


# --------------------------------------------------------------------------- change-password


def change_password(server, token, current, new):
    return call("POST", server, "/auth/change-password", token=token,
                json={"current_password": current, "new_password": new})


def test_change_password_with_wrong_current_is_403(server):
    reg = register(server)
    r = change_password(server, reg["access_token"], "not-my-password", "new-password-22")
    assert_error(r, 403, "wrong_password")
    login(server, reg["user"]["email"])  # unchanged


def test_change_password_needs_a_token(server):
    r = call("POST", server, "/auth/change-password",
             json={"current_password": DEFAULT_PASSWORD, "new_password": "new-password-22"})
    assert_error(r, 401, "unauthorized")


def test_change_password_rejects_a_short_new_password(server):
    reg = register(server)
    err = assert_error(change_password(server, reg["access_token"], DEFAULT_PASSWORD, "short"),
                       422, "validation_failed")
    assert err["details"]["field"] == "new_password"


def test_change_password_revokes_other_sessions_only(server):
    reg = register(server)
    email = reg["user"]["email"]
    session1 = login(server, email)
    session2 = login(server, email)

    r = change_password(server, session1["access_token"], DEFAULT_PASSWORD, "brand-new-pass-7")
    assert r.status_code == 204, r.text
    assert r.content == b""

    assert_error(refresh(server, session2["refresh_token"]), 401, "invalid_token")
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")
    r = refresh(server, session1["refresh_token"])
    assert r.status_code == 200, r.text

    old = call("POST", server, "/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert_error(old, 401, "invalid_credentials")
    assert login(server, email, "brand-new-pass-7")["user"]["id"] == reg["user"]["id"]


# ---------------------------------------------------------------------------------------- me


def test_me_returns_the_user_object(server):
    reg = register(server, name="Me Myself")
    r = call("GET", server, "/me", token=reg["access_token"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    me = r.json()
    assert_user(me, reg["user"]["email"], "Me Myself")
    assert me == reg["user"]


# ------------------------------------------------------------------------------------- races


def run_concurrently(n, fn):
    """Runs fn(i) for i in range(n) on n threads released together; returns the results."""
    barrier = threading.Barrier(n)

    def task(i):
        barrier.wait(TIMEOUT)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(task, range(n)))


def test_concurrent_registration_of_one_email(server):
    email = unique_email("race")
    results = run_concurrently(8, lambda i: call(
        "POST", server, "/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "name": f"Racer {i}"}))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 7, [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "email_taken")


def test_concurrent_refresh_with_one_token_succeeds_at_most_once(server):
    reg = register(server)
    results = run_concurrently(8, lambda i: refresh(server, reg["refresh_token"]))
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) <= 1, f"one refresh token was exchanged {len(ok)} times"
    for r in results:
        if r.status_code != 200:
            assert_error(r, 401, "invalid_token")
    # Presenting a used token revoked the family, so whatever was issued is dead too.
    for r in ok:
        assert_error(refresh(server, r.json()["refresh_token"]), 401, "invalid_token")


def test_access_token_ttl_is_configurable(make_server):
    srv = make_server("sqlite", ACCESS_TOKEN_TTL="2m")
    body = register(srv)
    assert body["expires_in"] == 120
    claims = jwt_payload(body["access_token"])
    assert claims["exp"] - claims["iat"] == 120
