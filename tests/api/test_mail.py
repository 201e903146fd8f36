"""Mail (API.md "Mail"): the transactional outbox, its sender over a real SMTP server
(aiosmtpd on a loopback port: tests/api/smtp_sink.py) or into .eml files, the admin's view of
the outbox, and password reset.

Every test runs on SQLite and PostgreSQL, with its own server: a 100 ms tick and mail interval,
back-off of 100 ms doubling up to 400 ms, so retries take a fraction of a second."""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import time
from pathlib import Path

import pytest

from booking_helpers import Venue, api, book, buy, hold, pay, post_cancel, post_confirm
from conftest import (ADMIN_EMAIL, DEFAULT_PASSWORD, admin_tokens, assert_error, call, login,
                      refresh, register, unique_email)
from smtp_sink import CuttingProxy, SmtpSink, make_cert
from test_jobs import query

MAIL_ENV = {"JOB_TICK": "100ms", "JOB_LEASE": "2s", "JOB_INTERVAL_MAIL": "100ms",
            "MAIL_RETRY": "100ms", "MAIL_RETRY_MAX": "400ms", "MAIL_MAX_ATTEMPTS": "2",
            "MAIL_TIMEOUT": "1s"}
MSGID = re.compile(r"^<mail_[0-9a-z]+@ticketd>$")


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


def mail_server(make_server, backend, **env):
    return make_server(backend, **{**MAIL_ENV, **env})


def buyer(server) -> tuple[str, str]:
    """A new user: (email, access token)."""
    em = unique_email("buyer")
    return em, register(server, email=em, name="Asha Buyer")["access_token"]


def outbox(server, admin: str, status: str | None = None) -> list[dict]:
    q = f"?status={status}&limit=100" if status else "?limit=100"
    r = call("GET", server, "/admin/outbox" + q, token=admin)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def wait_until(pred, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def row_of(server, admin, ref_id: str, kind: str) -> dict | None:
    rows = [o for o in outbox(server, admin) if o.get("ref_id") == ref_id and o["kind"] == kind]
    return rows[0] if rows else None


def db_exec(database_url: str, sql: str) -> None:
    """Runs one statement straight on the server's database (committed)."""
    if database_url.startswith("sqlite://"):
        con = sqlite3.connect(database_url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        query(database_url, sql)  # psql: autocommit


def attachments(msg) -> dict[str, bytes]:
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}


# --------------------------------------------------------------------------------------------
# Booking mail over SMTP


def test_confirmed_and_cancelled_bookings_are_mailed(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    em, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A1", "A2"))
    got = sink.wait_for(1)[0]
    msg = got.msg
    assert got.rcpt_tos == [em]
    assert got.mail_from == "noreply@ticketd.local"
    assert msg["To"] == em
    assert msg["From"] == "ticketd <noreply@ticketd.local>"
    assert v.movie["title"] in msg["Subject"]
    assert MSGID.match(msg["Message-ID"]), msg["Message-ID"]
    assert msg["Date"] is not None and msg["Date"].datetime is not None
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("plain",)).get_content()
    assert b["id"] in body and "Asha Buyer" in body and "A1, A2" in body
    files = attachments(msg)
    assert b"BEGIN:VCALENDAR" in files["show.ics"] and b["id"].encode() in files["show.ics"]
    assert set(files) == {"show.ics", "tickets.pdf", "ticket-A1.png", "ticket-A2.png"}
    assert files["tickets.pdf"].startswith(b"%PDF-")

    admin = admin_tokens(server)["access_token"]
    row = wait_until(lambda: (r := row_of(server, admin, b["id"], "booking_confirmed"))
                     and r["status"] == "sent" and r, what="row sent")
    assert row["message_id"] == msg["Message-ID"] and row["attempts"] == 1
    assert row["subject"] == msg["Subject"] and "data" not in row

    r = post_cancel(server, tok, b["id"])
    assert r.status_code == 200, r.text
    got = sink.wait_for(2)[1].msg
    assert got["Subject"] == f"Booking {b['id']} cancelled"
    assert got["Message-ID"] != msg["Message-ID"]
    assert attachments(got) == {}


def test_show_cancelled_mails_every_confirmed_booking(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    buyers = [buyer(server) for _ in range(3)]
    for i, (_, tok) in enumerate(buyers):
        buy(server, tok, v.show_id, v.ids(f"A{i + 1}"))
    sink.wait_for(3)
    v.cancel_show()
    got = sink.wait_for(3, predicate=lambda m: "is cancelled" in m.msg["Subject"])
    assert sorted(m.rcpt_tos[0] for m in got) == sorted(e for e, _ in buyers)


def test_a_confirm_that_fails_leaves_no_mail(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    _, tok = buyer(server)
    h = hold(server, tok, v.show_id, seat_ids=v.ids("B1"))
    bk = book(server, tok, h["hold_id"])
    p = pay(server, tok, bk["payment"]["order_id"])
    bad = {**p, "razorpay_signature": "0" * len(p["razorpay_signature"])}
    r = post_confirm(server, tok, bk["booking"]["id"], bad)
    assert 400 <= r.status_code < 500, r.text
    admin = admin_tokens(server)["access_token"]
    time.sleep(0.5)
    assert row_of(server, admin, bk["booking"]["id"], "booking_confirmed") is None
    assert sink.messages == []


# --------------------------------------------------------------------------------------------
# Failures of the SMTP server


def test_4xx_is_retried_with_backoff_then_delivered_once(backend, make_server, sink):
    sink.mode = "refuse4xx"
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    admin = admin_tokens(server)["access_token"]
    v = Venue(server)
    _, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A3"))
    row = wait_until(lambda: (r := row_of(server, admin, b["id"], "booking_confirmed"))
                     and r["attempts"] >= 3 and r, what="three refused tries")
    assert row["status"] in ("pending", "sending") and "451" in row["last_error"]
    sink.mode = "ok"
    got = sink.wait_for(1)
    assert MSGID.match(got[0].msg["Message-ID"])
    time.sleep(0.5)
    assert len(sink.messages) == 1


def test_5xx_fails_after_max_attempts_and_admin_retry_resends(backend, make_server, sink):
    sink.mode = "refuse5xx"
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    admin = admin_tokens(server)["access_token"]
    v = Venue(server)
    _, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A4"))
    failed = wait_until(lambda: [o for o in outbox(server, admin, "failed")
                                 if o["ref_id"] == b["id"]], what="failed row")[0]
    assert failed["attempts"] == 2 and "550" in failed["last_error"]
    assert all(o["status"] == "failed" for o in outbox(server, admin, "failed"))
    time.sleep(0.4)
    assert row_of(server, admin, b["id"], "booking_confirmed")["attempts"] == 2  # no more tries

    sink.mode = "ok"
    r = call("POST", server, f"/admin/outbox/{failed['id']}/retry", token=admin)
    # the row as the retry left it, even when the mail job claims it at once (it did, under load)
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert r.json()["attempts"] == 0 and r.json()["id"] == failed["id"], r.text
    msg = sink.wait_for(1)[0].msg
    assert msg["Message-ID"] == failed["message_id"]
    wait_until(lambda: row_of(server, admin, b["id"], "booking_confirmed")["status"] == "sent")
    r = call("POST", server, f"/admin/outbox/{failed['id']}/retry", token=admin)
    assert_error(r, 409, "outbox_not_failed")
    assert_error(call("POST", server, "/admin/outbox/mail_nope/retry", token=admin), 404,
                 "not_found")
    assert_error(call("GET", server, "/admin/outbox?status=lost", token=admin), 400,
                 "invalid_parameter")
    assert call("GET", server, "/admin/outbox", token=tok).status_code == 403


@pytest.mark.parametrize("mode", ["hang", "drop"])
def test_hang_or_dropped_connection_is_retried_with_the_same_message_id(backend, make_server,
                                                                         sink, mode):
    sink.mode = mode
    sink.hang_seconds = 3
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    _, tok = buyer(server)
    buy(server, tok, v.show_id, v.ids("A5"))
    wait_until(lambda: len(sink.attempts) >= 1, what="a first try")
    sink.mode = "ok"
    got = sink.wait_for(1)[0].msg
    first = sink.attempts[0]
    assert got["Message-ID"] == first  # the same message, recognisable as such
    time.sleep(0.5)
    assert [m.msg["Message-ID"] for m in sink.messages] == [first]  # arrived once


def test_connection_dropped_mid_data_is_retried_and_delivered_once(backend, make_server, sink):
    """The connection closes after part of the DATA (never its final "."): the server never
    accepted the message, so the row is retried with back-off, and once the connection holds
    the message arrives once, with the Message-ID the cut tries carried."""
    with CuttingProxy(sink) as proxy:
        server = mail_server(make_server, backend, SMTP_URL=proxy.url)
        admin = admin_tokens(server)["access_token"]
        v = Venue(server)
        _, tok = buyer(server)
        b = buy(server, tok, v.show_id, v.ids("A6"))
        wait_until(lambda: proxy.cuts >= 2, what="two tries cut mid-DATA")
        row = row_of(server, admin, b["id"], "booking_confirmed")
        proxy.cutting = False
        assert row["attempts"] >= 1 and row["last_error"], row
        assert row["status"] in ("pending", "sending"), row  # a network error: retried
        assert sink.messages == [] and sink.attempts == []  # no partial message accepted
        got = sink.wait_for(1)[0].msg
        assert MSGID.match(got["Message-ID"])
        cut_ids = proxy.message_ids()
        assert len(cut_ids) >= 2 and set(cut_ids) == {got["Message-ID"]}, cut_ids
        assert got["Message-ID"] == row["message_id"]
        wait_until(lambda: row_of(server, admin, b["id"], "booking_confirmed")["status"] == "sent")
        time.sleep(0.5)
        assert [m.msg["Message-ID"] for m in sink.messages] == [got["Message-ID"]]
        assert sink.attempts == [got["Message-ID"]]


# --------------------------------------------------------------------------------------------
# TLS (STARTTLS and smtps://) with AUTH, against a throwaway certificate

SMTP_LOGIN = ("mailer", "s3cret-pass")


def reset_mail(server, admin) -> tuple[str, dict]:
    """Asks a password reset for a new account: (its e-mail, its outbox row once tried)."""
    em = unique_email("tls")
    register(server, email=em)
    assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    row = wait_until(lambda: [o for o in outbox(server, admin)
                              if o["kind"] == "password_reset" and o["to"] == em
                              and (o["attempts"] >= 1 or o["status"] == "sent")],
                     what="a try")[0]
    return em, row


# aiosmtpd 1.4 warns when AUTH is required without STARTTLS: the smtps sink (TLS throughout)
SMTPS_AUTH_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@pytest.fixture
def cert(tmp_path):
    return make_cert(tmp_path)


@pytest.mark.filterwarnings(SMTPS_AUTH_WARNING)
@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_tls_with_auth_delivers_to_a_verified_server(backend, make_server, cert, tls):
    with SmtpSink(tls=tls, cert=cert[0], key=cert[1], auth=SMTP_LOGIN) as sink:
        server = mail_server(make_server, backend, SMTP_URL=sink.url, SMTP_USER=SMTP_LOGIN[0],
                             SMTP_PASSWORD=SMTP_LOGIN[1], SMTP_CA_FILE=cert[0],
                             SMTP_STARTTLS="required" if tls == "starttls" else "try")
        admin = admin_tokens(server)["access_token"]
        em, _ = reset_mail(server, admin)
        got = sink.wait_for(1)[0]
        assert got.rcpt_tos == [em] and got.tls and got.login == SMTP_LOGIN[0]
        assert sink.logins == [(SMTP_LOGIN[0], True)]
        assert MSGID.match(got.msg["Message-ID"])


def test_tls_wrong_password_fails_with_the_error_visible(backend, make_server, cert):
    with SmtpSink(tls="starttls", cert=cert[0], key=cert[1], auth=SMTP_LOGIN) as sink:
        server = mail_server(make_server, backend, SMTP_URL=sink.url, SMTP_USER=SMTP_LOGIN[0],
                             SMTP_PASSWORD="wrong", SMTP_CA_FILE=cert[0])
        admin = admin_tokens(server)["access_token"]
        em = unique_email("tls")
        register(server, email=em)
        assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
        failed = wait_until(lambda: [o for o in outbox(server, admin, "failed") if o["to"] == em],
                            what="a failed row")[0]
        assert failed["attempts"] == 2 and "535" in failed["last_error"], failed  # 5xx: N tries
        assert "wrong" not in failed["last_error"]  # the password is never shown
        assert sink.messages == [] and sink.attempts == []
        assert sink.logins == [(SMTP_LOGIN[0], False)] * 2


@pytest.mark.filterwarnings(SMTPS_AUTH_WARNING)
def test_smtps_login_refused_mid_session_fails_then_admin_retry_delivers(backend, make_server,
                                                                         cert):
    """Over SMTPS (TLS from the first byte) the server accepts the login, then stops accepting
    it (its password rotated): what was sent stays sent, the next message fails for good with
    the 535 visible (never the password) after MAIL_MAX_ATTEMPTS tries, and once the password
    works again an admin retry delivers it once."""
    with SmtpSink(tls="smtps", cert=cert[0], key=cert[1], auth=SMTP_LOGIN) as sink:
        server = mail_server(make_server, backend, SMTP_URL=sink.url, SMTP_USER=SMTP_LOGIN[0],
                             SMTP_PASSWORD=SMTP_LOGIN[1], SMTP_CA_FILE=cert[0])
        admin = admin_tokens(server)["access_token"]
        first, _ = reset_mail(server, admin)
        got = sink.wait_for(1)[0]
        assert got.rcpt_tos == [first] and got.tls and got.login == SMTP_LOGIN[0]

        sink.auth = (SMTP_LOGIN[0], "rotated-pass")  # the server's side changed
        em = unique_email("rotated")
        register(server, email=em)
        assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
        failed = wait_until(lambda: [o for o in outbox(server, admin, "failed") if o["to"] == em],
                            what="a failed row")[0]
        assert failed["attempts"] == 2 and "535" in failed["last_error"], failed
        assert SMTP_LOGIN[1] not in failed["last_error"]
        assert [m.rcpt_tos for m in sink.messages] == [[first]]
        assert sink.logins[0] == (SMTP_LOGIN[0], True)
        assert sink.logins[1:] == [(SMTP_LOGIN[0], False)] * 2, sink.logins
        sent = [o for o in outbox(server, admin, "sent") if o["to"] == first]
        assert len(sent) == 1, sent

        sink.auth = SMTP_LOGIN  # fixed; an admin retries
        r = call("POST", server, f"/admin/outbox/{failed['id']}/retry", token=admin)
        assert r.status_code == 200, r.text
        sink.wait_for(2)
        time.sleep(0.4)
        assert [m.rcpt_tos for m in sink.messages] == [[first], [em]]
        row = wait_until(lambda: [o for o in outbox(server, admin, "sent") if o["to"] == em],
                         what="the retried row sent")[0]
        assert row["id"] == failed["id"]


@pytest.mark.filterwarnings(SMTPS_AUTH_WARNING)
@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_untrusted_certificate_sends_nothing(backend, make_server, cert, tls):
    """No SMTP_CA_FILE: the self-signed certificate is refused, even with SMTP_STARTTLS=try:
    no login, no message, in the clear or otherwise; the row waits with the reason."""
    with SmtpSink(tls=tls, cert=cert[0], key=cert[1], auth=SMTP_LOGIN) as sink:
        server = mail_server(make_server, backend, SMTP_URL=sink.url, SMTP_USER=SMTP_LOGIN[0],
                             SMTP_PASSWORD=SMTP_LOGIN[1])
        admin = admin_tokens(server)["access_token"]
        _, row = reset_mail(server, admin)
        row = wait_until(lambda: [o for o in outbox(server, admin) if o["id"] == row["id"]
                                  and o.get("last_error")], what="the error")[0]
        assert row["status"] in ("pending", "sending", "failed"), row
        err = row["last_error"].lower()
        assert "ssl" in err or "certificate" in err or "tls" in err, row
        time.sleep(0.3)
        assert sink.messages == [] and sink.attempts == [] and sink.logins == []


# --------------------------------------------------------------------------------------------
# Without SMTP_URL: .eml files


def test_without_smtp_url_messages_are_eml_files(backend, make_server, tmp_path):
    maildir = tmp_path / "mail"
    server = mail_server(make_server, backend, MAIL_DIR=str(maildir))
    v = Venue(server)
    em, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A6"))
    files = wait_until(lambda: list(maildir.glob("*.eml")), what=".eml file")
    assert len(files) == 1 and not list(maildir.glob(".*"))  # no temporary file left
    raw = files[0].read_bytes()
    assert b"\r\n" in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"] == em and MSGID.match(msg["Message-ID"])
    assert files[0].name == msg["Message-ID"][1:].split("@")[0] + ".eml"
    assert b["id"] in msg.get_body(("plain",)).get_content()
    assert set(attachments(msg)) == {"show.ics", "tickets.pdf", "ticket-A6.png"}


# --------------------------------------------------------------------------------------------
# Password reset


def token_of(msg) -> str:
    m = re.search(r"\b([0-9a-f]{64})\b", msg.get_body(("plain",)).get_content())
    assert m, msg.get_body(("plain",)).get_content()
    return m.group(1)


def test_password_reset_full_flow(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    em = unique_email("forgetful")
    register(server, email=em, name="Forgetful")
    s1, s2 = login(server, em), login(server, em)

    unknown = call("POST", server, "/auth/password-reset", json={"email": unique_email("nobody")})
    known = call("POST", server, "/auth/password-reset", json={"email": em.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    msg = sink.wait_for(1)[0].msg
    assert msg["To"] == em and "password" in msg["Subject"].lower()
    token = token_of(msg)
    time.sleep(0.4)
    assert len(sink.messages) == 1  # nothing for the unknown address

    admin = admin_tokens(server)["access_token"]
    row = [o for o in outbox(server, admin) if o["kind"] == "password_reset"][0]
    assert row["status"] == "sent"

    r = call("POST", server, "/auth/password-reset/confirm",
             json={"token": token, "new_password": "a-brand-new-pass"})
    assert r.status_code == 204, r.text
    for s in (s1, s2):
        assert_error(call("GET", server, "/me", token=s["access_token"]), 401, "token_revoked")
        assert refresh(server, s["refresh_token"]).status_code == 401
    assert call("POST", server, "/auth/login",
                json={"email": em, "password": DEFAULT_PASSWORD}).status_code == 401
    login(server, em, "a-brand-new-pass")

    again = call("POST", server, "/auth/password-reset/confirm",
                 json={"token": token, "new_password": "another-new-pass"})
    assert_error(again, 400, "invalid_token")
    assert_error(call("POST", server, "/auth/password-reset/confirm",
                      json={"token": "f" * 64, "new_password": "another-new-pass"}),
                 400, "invalid_token")
    assert_error(call("POST", server, "/auth/password-reset/confirm",
                      json={"token": token, "new_password": "short"}), 422, "validation_failed")
    assert_error(call("POST", server, "/auth/password-reset", json={"email": "not-an-email"}),
                 422, "validation_failed")


def test_password_reset_token_expires(backend, make_server, sink):
    """An expired token (its expires_at moved into the past in the database) is refused."""
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    em = unique_email("late")
    register(server, email=em)
    assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    token = token_of(sink.wait_for(1)[0].msg)
    db_exec(server.database_url, "UPDATE password_resets SET expires_at = 1")
    r = call("POST", server, "/auth/password-reset/confirm",
             json={"token": token, "new_password": "a-brand-new-pass"})
    assert_error(r, 400, "invalid_token")
    login(server, em)  # the old password still works


def test_password_reset_is_rate_limited_per_email_and_ip(backend, make_server, sink):
    server = mail_server(make_server, backend, SMTP_URL=sink.url, RATE_LIMIT="on",
                         RATE_LIMIT_RESET_EMAIL="2/1m", RATE_LIMIT_RESET_IP="4/1m")
    em = unique_email("target")
    for _ in range(2):
        assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    err = assert_error(call("POST", server, "/auth/password-reset", json={"email": em}), 429,
                       "rate_limited")
    assert err["details"]["scope"] == "email"
    for _ in range(2):  # the refused request above was not counted
        r = call("POST", server, "/auth/password-reset", json={"email": unique_email("x")})
        assert r.status_code == 202
    err = assert_error(call("POST", server, "/auth/password-reset",
                            json={"email": unique_email("y")}), 429, "rate_limited")
    assert err["details"]["scope"] == "ip"


def test_starttls_required_refuses_to_send_in_the_clear(backend, make_server, sink):
    """The sink offers no STARTTLS: with SMTP_STARTTLS=required nothing is sent, the message
    waits (a network-class error, retried) and says why; with the default it goes in the clear."""
    server = mail_server(make_server, backend, SMTP_URL=sink.url, SMTP_STARTTLS="required")
    admin = admin_tokens(server)["access_token"]
    em = unique_email("tls")
    register(server, email=em)
    assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    row = wait_until(lambda: [o for o in outbox(server, admin)
                              if o["kind"] == "password_reset" and o["attempts"] >= 1
                              and o.get("last_error")], what="a refused try")[0]
    assert row["status"] in ("pending", "sending"), row
    assert "smtp" in row["last_error"].lower(), row
    assert sink.messages == [] and sink.attempts == []


def test_a_deleted_account_gets_no_more_mail(backend, make_server, sink):
    """DELETE /me erases the address from the outbox too: what was not sent yet never is (failed
    rows are never claimed again). The back-off is long here so no try is in flight while the
    account goes: one that is may still deliver (store/outbox.h)."""
    sink.mode = "refuse4xx"
    # MAIL_RETRY_MAX too: it caps MAIL_RETRY (with MAIL_ENV's 400 ms a try could be in flight)
    server = mail_server(make_server, backend, SMTP_URL=sink.url, MAIL_RETRY="5s",
                         MAIL_RETRY_MAX="5s")
    admin = admin_tokens(server)["access_token"]
    v = Venue(server)
    em, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A7"))
    wait_until(lambda: (r := row_of(server, admin, b["id"], "booking_confirmed"))
               and r["attempts"] >= 1 and r["status"] == "pending" and r["last_error"],
               what="a refused try, over")
    r = call("DELETE", server, "/me", token=tok, json={"password": DEFAULT_PASSWORD})
    assert r.status_code == 204, r.text
    row = row_of(server, admin, b["id"], "booking_confirmed")
    assert row["status"] == "failed" and row["to"].startswith("deleted:"), row
    assert em not in str(outbox(server, admin))
    sink.mode = "ok"
    time.sleep(0.6)
    assert sink.messages == []


def test_ticket_mail_end_to_end_qr_token_and_door(backend, make_server, sink, tmp_path):
    """The issue's "done when": buy, receive the mail at the sink, decode the QR of the attached
    PNG with zbarimg, verify the token offline with the published key (python3-nacl), check it in
    at the door once (the second scan 409). The PDF has a page per ticket."""
    from booking_helpers import starts_in
    from test_tickets import key_of, pdf_text, verify_offline, zbar
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server, starts_at=starts_in(1))
    em, tok = buyer(server)
    b = buy(server, tok, v.show_id, v.ids("A1", "A2"))
    msg = sink.wait_for(1)[0].msg
    files = attachments(msg)
    assert set(files) == {"tickets.pdf", "ticket-A1.png", "ticket-A2.png", "show.ics"}, files.keys()
    assert files["ticket-A1.png"].startswith(b"\x89PNG\r\n\x1a\n")
    pages, text = pdf_text(files["tickets.pdf"], tmp_path, "mail.pdf")
    assert pages == 2 and b["id"] in text and "A1" in text and "A2" in text
    token = zbar(files["ticket-A1.png"], tmp_path)
    payload = verify_offline(token, key_of(server))  # offline: nothing but the public key
    assert payload, payload
    first = api("POST", server, f"/theatres/{v.theatre['id']}/check-ins", token=v.owner_token,
                json={"token": token})
    assert first.status_code == 200, first.text
    second = api("POST", server, f"/theatres/{v.theatre['id']}/check-ins", token=v.owner_token,
                 json={"token": token})
    assert_error(second, 409, "already_checked_in")


def test_run_once_mail_command_sends_signed_tickets(backend, make_server, sink, tmp_path):
    """`ticketd jobs run-once mail` sends a confirmed booking's mail like the server's job: with
    the tickets' QR PNGs carrying tokens signed by the server's key (the CLI opens the same
    keyring: the key file beside the SQLite database, the key row in PostgreSQL)."""
    from booking_helpers import starts_in
    from test_jobs import run_ticketd, sanitizer_report
    from test_tickets import key_of, verify_offline, zbar
    from conftest import server_env
    server = make_server(backend, JOBS="off", SMTP_URL=sink.url)
    v = Venue(server, starts_at=starts_in(1))
    em, tok = buyer(server)
    buy(server, tok, v.show_id, v.ids("B3"))
    time.sleep(0.3)
    assert sink.messages == []  # no job runs in the server

    env = server_env(server.database_url, SMTP_URL=sink.url)
    proc = run_ticketd(env, "jobs", "run-once", "mail", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not sanitizer_report(proc.stderr), proc.stderr
    msg = sink.wait_for(1)[0].msg
    assert msg["To"] == em
    files = attachments(msg)
    assert {"tickets.pdf", "ticket-B3.png"} <= set(files), files.keys()
    token = zbar(files["ticket-B3.png"], tmp_path)
    assert verify_offline(token, key_of(server)), token
    door = api("POST", server, f"/theatres/{v.theatre['id']}/check-ins", token=v.owner_token,
               json={"token": token})
    assert door.status_code == 200, door.text


def test_purge_deletes_old_mail_and_spent_reset_tokens(backend, make_server, tmp_path):
    """The purge job deletes outbox rows sent or failed more than MAIL_RETENTION ago and reset
    tokens that were used or expired; pending, sending and recent rows and live tokens stay.
    A token spent through the API is among those deleted, and stays refused."""
    import json as json_
    from test_jobs import query, run_ticketd, sanitizer_report
    from conftest import server_env
    server = make_server(backend, JOBS="off", MAIL_DIR=str(tmp_path / "mail"))
    url = server.database_url
    now = int(time.time() * 1000)
    day = 86400 * 1000
    rows = {  # id: (status, updated_at); MAIL_RETENTION is 2 days below
        "mail_oldsent": ("sent", now - 3 * day), "mail_oldfailed": ("failed", now - 3 * day),
        "mail_newsent": ("sent", now - 1 * day), "mail_oldpending": ("pending", now - 9 * day),
        "mail_oldsending": ("sending", now - 9 * day)}
    for mid, (status, at) in rows.items():
        db_exec(url, "INSERT INTO mail_outbox (id, kind, to_addr, template, data, status,"
                     " next_attempt_at, message_id, created_at, updated_at) VALUES"
                     f" ('{mid}', 'password_reset', 'x@example.org', 'password_reset', '{{}}',"
                     f" '{status}', {at}, '<{mid}@ticketd>', {at}, {at})")
    resets = {"h_live": (now + 600_000, "NULL"), "h_expired": (now - 1000, "NULL"),
              "h_used": (now + 600_000, str(now - 1000))}
    for h, (exp, used) in resets.items():
        db_exec(url, "INSERT INTO password_resets (token_hash, user_id, expires_at, used_at,"
                     f" created_at) VALUES ('{h}', NULL, {exp}, {used}, {now - 2000})")
    # a real reset, spent through the API
    em = unique_email("purge")
    register(server, email=em)
    assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    env = server_env(url, MAIL_DIR=str(tmp_path / "mail"), MAIL_RETENTION="2d")
    proc = run_ticketd(env, "jobs", "run-once", "mail", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    eml = list((tmp_path / "mail").glob("*.eml"))
    assert len(eml) == 1, eml
    token = token_of(email.message_from_bytes(eml[0].read_bytes(), policy=email.policy.default))
    r = call("POST", server, "/auth/password-reset/confirm",
             json={"token": token, "new_password": "a-brand-new-pass"})
    assert r.status_code == 204, r.text

    proc = run_ticketd(env, "jobs", "run-once", "purge", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not sanitizer_report(proc.stderr), proc.stderr
    counts = json_.loads(proc.stdout)
    assert counts["mail_outbox"] == 2 and counts["password_resets"] == 3, counts
    left = {r[0] for r in query(url, "SELECT id FROM mail_outbox")}
    assert {"mail_newsent", "mail_oldpending", "mail_oldsending"} <= left, left
    assert not {"mail_oldsent", "mail_oldfailed"} & left, left
    assert len(left) == 4, left  # and the reset mail just sent
    hashes = {r[0] for r in query(url, "SELECT token_hash FROM password_resets")}
    assert hashes == {"h_live"}, hashes
    again = call("POST", server, "/auth/password-reset/confirm",
                 json={"token": token, "new_password": "another-new-pass"})
    assert_error(again, 400, "invalid_token")

    # run again: nothing more to do
    proc = run_ticketd(env, "jobs", "run-once", "purge", cwd=tmp_path)
    counts = json_.loads(proc.stdout)
    assert counts["mail_outbox"] == 0 and counts["password_resets"] == 0, counts


def test_unknown_address_reset_leaves_no_outbox_row(backend, make_server):
    """A reset for an unknown address writes a same-sized decoy outbox row (so both commits
    write alike) and deletes it in the same transaction: no row is left, nothing is sent, the
    admin sees nothing; the known address gets exactly its one row."""
    from test_jobs import query
    server = make_server(backend, JOBS="off")
    em = unique_email("known")
    register(server, email=em)
    for _ in range(3):
        r = call("POST", server, "/auth/password-reset", json={"email": unique_email("nobody")})
        assert r.status_code == 202
    assert query(server.database_url, "SELECT COUNT(*) FROM mail_outbox") == [("0",)]
    assert call("POST", server, "/auth/password-reset", json={"email": em}).status_code == 202
    rows = query(server.database_url, "SELECT to_addr, ref_id, status FROM mail_outbox")
    assert len(rows) == 1 and rows[0][0] == em and rows[0][1] and rows[0][2] == "pending", rows
    assert query(server.database_url, "SELECT COUNT(*) FROM password_resets") == [("4",)]
