"""Languages (API.md "Real time for people", issue 15): error messages and mails in English, Hindi
and Tamil from the gettext catalogues in po/ (core/i18n.h).

The language of a request's error messages: the best supported language of Accept-Language
(q-values; "hi-IN" is Hindi; "*" and q=0 pick nothing; a header that does not parse is ignored),
else the signed-in user's saved locale (PATCH /me {locale}), else English. Error codes never
change with the language. Mails use the recipient's saved locale, their dates the theatre's time
zone written the reader's way.

Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from booking_helpers import Venue, buy
from conftest import DEFAULT_PASSWORD, assert_error, call, register, unique_email
from smtp_sink import SmtpSink
from test_mail import mail_server

EN_NOT_FOUND = "not found"
HI_NOT_FOUND = "नहीं मिला"
TA_NOT_FOUND = "கிடைக்கவில்லை"
EN_FORBIDDEN = "your role may not do this"
HI_FORBIDDEN = "आपकी भूमिका यह नहीं कर सकती"
HI_MONTHS = ["जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर",
             "अक्टूबर", "नवंबर", "दिसंबर"]


def missing_movie(server, token: str | None = None, lang: str | None = None):
    headers = {"Accept-Language": lang} if lang is not None else {}
    return call("GET", server, "/movies/mov_doesnotexist", token=token, headers=headers)


def forbidden(server, token: str, rid: str | None = None):
    """A user asks for an admin's list: 403 from the route's role check, before any handler."""
    headers = {"X-Request-Id": rid} if rid is not None else {}
    return call("GET", server, "/admin/users", token=token, headers=headers)


def message(resp, status: int, code: str) -> str:
    return assert_error(resp, status, code)["message"]


# --------------------------------------------------------------------------------------------
# Accept-Language


@pytest.mark.parametrize("header, expected", [
    (None, EN_NOT_FOUND),
    ("hi", HI_NOT_FOUND),
    ("ta", TA_NOT_FOUND),
    ("ta-IN", TA_NOT_FOUND),                      # a region picks its language
    ("HI-in", HI_NOT_FOUND),                      # tags are case-insensitive
    ("ta-IN,hi;q=0.8,en;q=0.5", TA_NOT_FOUND),
    ("en;q=0.5, hi;q=0.9, ta;q=0.7", HI_NOT_FOUND),  # the highest weight, not the first
    ("fr-FR, de;q=0.9, ta;q=0.1", TA_NOT_FOUND),  # unsupported ones are skipped
    ("hi;q=0.8, ta;q=0.8", HI_NOT_FOUND),         # equal weights: the first listed
    ("hi;q=0, ta;q=0.001", TA_NOT_FOUND),         # q=0: not this one
    ("hi;q=0", EN_NOT_FOUND),
    ("*", EN_NOT_FOUND),                          # any: English (no saved locale)
    ("*;q=0.5, ta", TA_NOT_FOUND),
    ("fr", EN_NOT_FOUND),
    ("hi;q=2", EN_NOT_FOUND),                     # invalid weight: the header is ignored
    ("hi;q=0.1234", EN_NOT_FOUND),
    ("hi;level=1", EN_NOT_FOUND),
    ("hi ta", EN_NOT_FOUND),
    ("h!", EN_NOT_FOUND),
    ("hindi-language-tag", EN_NOT_FOUND),         # a subtag longer than 8 letters
    (",, hi ,", HI_NOT_FOUND),                    # empty list elements are allowed
    ("ta;Q=1.000", TA_NOT_FOUND),
])
def test_accept_language_picks_the_language_of_error_messages(server, header, expected):
    r = missing_movie(server, lang=header)
    assert message(r, 404, "not_found") == expected


def test_validation_messages_translate_the_reason_and_keep_the_field(server):
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD}  # no name
    r = call("POST", server, "/auth/register", json=body, headers={"Accept-Language": "hi"})
    err = assert_error(r, 422, "validation_failed")
    assert err["message"] == "name आवश्यक है"
    assert err["details"]["field"] == "name" and err["details"]["reason"] == "is required"
    r = call("POST", server, "/auth/register", json=body, headers={"Accept-Language": "ta"})
    assert message(r, 422, "validation_failed") == "name தேவை"


def test_a_bad_body_and_a_bad_token_are_translated(server):
    r = call("POST", server, "/auth/login", data="{", headers={"Accept-Language": "ta",
                                                                "Content-Type": "application/json"})
    assert message(r, 400, "malformed_json") == "உடல் சரியான JSON அல்ல"
    r = call("GET", server, "/me", token="not-a-token", headers={"Accept-Language": "hi"})
    assert message(r, 401, "invalid_token") == "access token अमान्य है या समाप्त हो चुका है"


# --------------------------------------------------------------------------------------------
# The saved locale: PATCH /me


def test_me_has_no_locale_until_one_is_saved(server):
    tok = register(server)["access_token"]
    me = call("GET", server, "/me", token=tok).json()
    assert me["locale"] is None


def test_patch_me_saves_name_and_locale_and_messages_follow_it(server):
    tok = register(server, name="Ravi")["access_token"]
    r = call("PATCH", server, "/me", token=tok, json={"locale": "hi"})
    assert r.status_code == 200, r.text
    assert r.json()["locale"] == "hi" and r.json()["name"] == "Ravi"
    assert call("GET", server, "/me", token=tok).json()["locale"] == "hi"

    # no Accept-Language: the saved locale; a header that names a language wins over it
    assert message(missing_movie(server, tok), 404, "not_found") == HI_NOT_FOUND
    assert message(missing_movie(server, tok, "ta"), 404, "not_found") == TA_NOT_FOUND
    assert message(missing_movie(server, tok, "en"), 404, "not_found") == EN_NOT_FOUND
    # one that names none (unsupported, "*", invalid) leaves the saved locale
    for h in ("fr", "*", "hi;q=7"):
        assert message(missing_movie(server, tok, h), 404, "not_found") == HI_NOT_FOUND, h

    r = call("PATCH", server, "/me", token=tok, json={"name": "Ravi Kumar", "locale": "TA"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["locale"]) == ("Ravi Kumar", "ta")  # stored canonical
    r = call("PATCH", server, "/me", token=tok, json={"name": "Ravi K"})
    assert (r.json()["name"], r.json()["locale"]) == ("Ravi K", "ta")  # locale unchanged
    assert message(missing_movie(server, tok), 404, "not_found") == TA_NOT_FOUND


def test_a_changed_locale_is_in_force_from_the_very_next_request(server):
    """The saved locale comes with the session check, whose answer the server keeps (auth/
    revocation.h); PATCH /me announces the change, so the kept one is never the old locale."""
    tok = register(server)["access_token"]
    # errors first, so the check's answer (no locale saved) is in the server's table
    assert message(missing_movie(server, tok), 404, "not_found") == EN_NOT_FOUND
    assert message(forbidden(server, tok), 403, "forbidden") == EN_FORBIDDEN
    assert call("PATCH", server, "/me", token=tok, json={"locale": "hi"}).status_code == 200
    assert message(forbidden(server, tok), 403, "forbidden") == HI_FORBIDDEN
    assert message(missing_movie(server, tok), 404, "not_found") == HI_NOT_FOUND
    assert call("PATCH", server, "/me", token=tok, json={"locale": "en"}).status_code == 200
    assert message(forbidden(server, tok), 403, "forbidden") == EN_FORBIDDEN
    assert message(missing_movie(server, tok), 404, "not_found") == EN_NOT_FOUND
    # a name alone changes no language
    assert call("PATCH", server, "/me", token=tok, json={"name": "Someone"}).status_code == 200
    assert message(forbidden(server, tok), 403, "forbidden") == EN_FORBIDDEN


def test_the_saved_locale_costs_no_query(server):
    """An error answered in the saved locale reads nothing more than the session check, which
    the server kept from the request before: a 403 from the role check makes no store call."""
    tok = register(server)["access_token"]
    assert call("PATCH", server, "/me", token=tok, json={"locale": "hi"}).status_code == 200
    assert call("GET", server, "/me", token=tok).status_code == 200  # the check, kept
    rid = "locale-" + uuid.uuid4().hex
    assert message(forbidden(server, tok, rid), 403, "forbidden") == HI_FORBIDDEN
    assert server.access_line(rid)["db_calls"] == 0


@pytest.mark.parametrize("body, status, code", [
    ({"locale": "fr"}, 422, "unsupported_locale"),
    ({"locale": "hi-IN"}, 422, "unsupported_locale"),
    ({"locale": ""}, 422, "validation_failed"),
    ({"locale": 7}, 400, "invalid_type"),
    ({"name": ""}, 422, "validation_failed"),
    ({"name": "a\nb"}, 422, "validation_failed"),
    ({}, 422, "validation_failed"),
])
def test_patch_me_refuses_bad_input_and_changes_nothing(server, body, status, code):
    tok = register(server, name="Meena")["access_token"]
    assert call("PATCH", server, "/me", token=tok, json={"locale": "ta"}).status_code == 200
    r = call("PATCH", server, "/me", token=tok, json=body)
    err = assert_error(r, status, code)
    if code == "unsupported_locale":
        assert err["details"] == {"field": "locale", "supported": ["en", "hi", "ta"]}
    me = call("GET", server, "/me", token=tok).json()
    assert (me["name"], me["locale"]) == ("Meena", "ta")


def test_patch_me_needs_a_session(server):
    assert_error(call("PATCH", server, "/me", json={"locale": "hi"}), 401, "unauthorized")


def test_error_codes_never_change_with_the_language(server):
    codes = set()
    for lang in ("en", "hi", "ta"):
        r = call("POST", server, "/auth/login", json={"email": unique_email(), "password": "x"},
                 headers={"Accept-Language": lang})
        codes.add((r.status_code, r.json()["error"]["code"]))
    assert len(codes) == 1, codes


# --------------------------------------------------------------------------------------------
# Mail in the recipient's language


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


def test_a_booking_mail_in_hindi_with_the_date_in_the_theatres_zone(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    em = unique_email("hindi")
    tok = register(server, email=em, name="Asha")["access_token"]
    assert call("PATCH", server, "/me", token=tok, json={"locale": "hi"}).status_code == 200
    b = buy(server, tok, v.show_id, v.ids("A1"))
    msg = sink.wait_for(1)[0].msg
    assert msg["Subject"] == f"{v.movie['title']} के लिए आपके टिकट"
    body = msg.get_body(("plain",)).get_content()
    assert "नमस्ते Asha," in body and f"आपकी बुकिंग {b['id']} की पुष्टि हो गई है" in body
    offset = v.theatre.get("utc_offset_minutes", 330)
    starts = datetime.fromisoformat(v.show["starts_at"].replace("Z", "+00:00"))
    local = starts.astimezone(timezone(timedelta(minutes=offset)))
    sign, off = ("+" if offset >= 0 else "-"), abs(offset)
    when = (f"{local.day} {HI_MONTHS[local.month - 1]} {local.year}, {local:%H:%M} "
            f"(UTC{sign}{off // 60:02d}:{off % 60:02d})")
    assert f"शुरुआत:   {when}" in body, body


def test_mail_without_a_saved_locale_stays_english(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    tok = register(server, name="Asha")["access_token"]
    # Accept-Language decides a request's messages, never the mail: the mail has no request
    call("GET", server, "/me", token=tok, headers={"Accept-Language": "ta"})
    buy(server, tok, v.show_id, v.ids("A1"))
    msg = sink.wait_for(1)[0].msg
    assert msg["Subject"] == f"Your tickets for {v.movie['title']}"
    body = msg.get_body(("plain",)).get_content()
    assert "Hello Asha," in body


def test_messages_chosen_at_run_time_are_translated_too(server):
    # a query parameter's reason comes from a table (N_ in the source), not a literal argument
    r = call("GET", server, "/movies?q=%FF", headers={"Accept-Language": "hi"})
    err = assert_error(r, 400, "invalid_parameter")
    assert err["message"] == "query पैरामीटर UTF-8 पाठ होने चाहिए"
    assert err["details"]["parameter"] == "q"
    r = call("GET", server, "/movies?status=a&status=b", headers={"Accept-Language": "ta"})
    assert message(r, 400, "invalid_parameter") == \
        "ஒரு query அளவுருவை ஒரு முறை மட்டுமே கொடுக்கலாம்"
