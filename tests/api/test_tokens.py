"""Access-token checks: every bad token is 401 invalid_token; a correctly forged one works."""

import json
import time
import uuid

import pytest

from conftest import (
    JWT_ACCESS_SECRET, JWT_REFRESH_SECRET, access_claims, assert_error, b64url, call, forge_jwt,
    jwt_payload, register,
)


@pytest.fixture
def user(server):
    """A registered user and the claims of its access token."""
    reg = register(server)
    return {"id": reg["user"]["id"], "claims": jwt_payload(reg["access_token"]), **reg}


def get_me(server, token):
    return call("GET", server, "/me", token=token)


def other_id(user_id: str) -> str:
    """An id of the same shape as a real one that no user has."""
    return user_id[:-1] + ("1" if user_id[-1] == "0" else "0")


def test_no_token_is_401_unauthorized(server):
    r = call("GET", server, "/me")
    assert_error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer"])
def test_non_bearer_authorization_is_401(server, header):
    r = call("GET", server, "/me", headers={"Authorization": header})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] in ("unauthorized", "invalid_token")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9.e30.", "..",
                                   ".e30.x", "eyJhbGciOiJIUzI1NiJ9..sig"])
def test_garbage_token_is_401(server, token):
    assert_error(get_me(server, token), 401, "invalid_token")


def test_valid_forged_token_is_accepted(server, user):
    claims = access_claims(user["id"], user["claims"]["sid"])
    r = get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user["id"]


def test_wrong_secret_is_401(server, user):
    claims = access_claims(user["id"], user["claims"]["sid"])
    token = forge_jwt("not-the-secret-" + "x" * 40, claims)
    assert_error(get_me(server, token), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_401(server, user, alg):
    claims = access_claims(user["id"], user["claims"]["sid"])
    assert_error(get_me(server, forge_jwt(None, claims, alg=alg)), 401, "invalid_token")


def test_alg_none_with_a_valid_signature_is_401(server, user):
    claims = access_claims(user["id"], user["claims"]["sid"])
    token = forge_jwt(JWT_ACCESS_SECRET, claims, header_overrides={"alg": "none"})
    assert_error(get_me(server, token), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_401(server, user, alg):
    claims = access_claims(user["id"], user["claims"]["sid"])
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims, alg=alg)), 401,
                 "invalid_token")


def test_expired_token_is_401(server, user):
    now = int(time.time())
    claims = access_claims(user["id"], user["claims"]["sid"], iat=now - 7200, nbf=now - 7200,
                           exp=now - 3600)
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims)), 401, "invalid_token")


def test_not_yet_valid_token_is_401(server, user):
    now = int(time.time())
    claims = access_claims(user["id"], user["claims"]["sid"], nbf=now + 3600, exp=now + 7200)
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims)), 401, "invalid_token")


def test_time_claims_have_30s_leeway(server, user):
    now = int(time.time())
    sid = user["claims"]["sid"]
    just_expired = access_claims(user["id"], sid, iat=now - 600, nbf=now - 600, exp=now - 5)
    almost_valid = access_claims(user["id"], sid, nbf=now + 5)
    for claims in (just_expired, almost_valid):
        r = get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims))
        assert r.status_code == 200, (claims, r.text)
    beyond = access_claims(user["id"], sid, iat=now - 600, nbf=now - 600, exp=now - 120)
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, beyond)), 401, "invalid_token")


def test_tampered_payload_is_401(server, user):
    header, _, signature = user["access_token"].split(".")
    claims = dict(user["claims"], role="admin")
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    tampered = f"{header}.{payload}.{signature}"
    assert_error(get_me(server, tampered), 401, "invalid_token")
    assert_error(call("GET", server, "/admin/users", token=tampered), 401, "invalid_token")


def test_refresh_token_as_access_token_is_401(server, user):
    assert_error(get_me(server, user["refresh_token"]), 401, "invalid_token")


def test_refresh_typed_token_signed_with_access_secret_is_401(server, user):
    claims = access_claims(user["id"], user["claims"]["sid"], typ="refresh")
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims)), 401, "invalid_token")


def test_access_token_signed_with_refresh_secret_is_401(server, user):
    claims = access_claims(user["id"], user["claims"]["sid"])
    assert_error(get_me(server, forge_jwt(JWT_REFRESH_SECRET, claims)), 401, "invalid_token")


@pytest.mark.parametrize("kind", ["same-shape", "uuid"])
def test_token_for_unknown_user_is_401(server, user, kind):
    sub = other_id(user["id"]) if kind == "same-shape" else str(uuid.uuid4())
    claims = access_claims(sub, user["claims"]["sid"])
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "exp", "typ"])
def test_token_missing_a_required_claim_is_401(server, user, claim):
    claims = access_claims(user["id"], user["claims"]["sid"])
    del claims[claim]
    assert_error(get_me(server, forge_jwt(JWT_ACCESS_SECRET, claims)), 401, "invalid_token")
