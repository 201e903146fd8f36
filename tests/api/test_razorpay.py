"""
The Razorpay provider end to end, against the local stand-in (razorpay_standin.py), on SQLite and
PostgreSQL: orders with the server's amount, checkout signatures, webhooks (signature before
anything, de-duplication, out-of-order events), refunds with idempotency keys, admin refund
retries, reconciliation, and what happens when Razorpay is down.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

from catalog_helpers import (
    DEFAULT_PRICES, cast, create_hall, create_movie, create_show, create_theatre, future,
    iso, make_user, ok,
)
from conftest import (
    BACKENDS, Server, _new_database, assert_error, call, clean_environ, free_port, server_env,
)
from razorpay_standin import RazorpayStandin, rzp_id
from test_reports import assert_summary_is_ledger

KEY_ID = "rzp_test_TicketdStandIn01"
KEY_SECRET = "standinKeySecret0123456789"
WEBHOOK_SECRET = "standin-webhook-secret-0123456789"


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def rzp():
    s = RazorpayStandin(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _no_leftover_faults(rzp):
    rzp.clear()
    yield
    rzp.clear()
    if rzp.httpd is None:  # a test that took it down and failed before bringing it up
        rzp.up()


def rzp_env(rzp, **extra) -> dict:
    return dict(RAZORPAY_KEY_ID=KEY_ID, RAZORPAY_KEY_SECRET=KEY_SECRET,
                RAZORPAY_WEBHOOK_SECRET=WEBHOOK_SECRET, RAZORPAY_API_BASE=rzp.base, **extra)


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request, tmp_path_factory, ticketd_bin, rzp):
    """One ticketd per database for this module, with Razorpay pointed at the stand-in."""
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"rzp-{backend}")
    pg = request.getfixturevalue("pg_cluster") if backend == "postgres" else None
    server = Server(backend, _new_database(backend, tmp, pg), tmp, **rzp_env(rzp))
    server.start()
    yield server
    server.assert_clean_exit(server.stop())


# --------------------------------------------------------------------------------------------
# Helpers


class Show:
    """A fresh show on a fresh hall (catalog_helpers.DEFAULT_LAYOUT: A1-A8 premium, B2-B8
    regular, B1 blocked)."""

    def __init__(self, server, starts_at=None):
        c = cast(server)
        self.server = server
        theatre = create_theatre(server, c.owner.token)
        hall = create_hall(server, theatre["id"], c.owner.token)
        movie = create_movie(server, c.admin.token)
        self.show = create_show(server, movie["id"], hall["id"], starts_at or future(days=2, hour=18),
                                token=c.owner.token)
        self.id = self.show["id"]
        seats = ok(call("GET", server, f"/shows/{self.id}/seats"))["seats"]
        self.by_label = {s["label"]: s for s in seats}

    def ids(self, *labels) -> list[str]:
        return [self.by_label[x]["id"] for x in labels]

    def status(self, label: str) -> str:
        seats = ok(call("GET", self.server, f"/shows/{self.id}/seats"))["seats"]
        return {s["label"]: s["status"] for s in seats}[label]

    def cancel(self) -> dict:
        return ok(call("POST", self.server, f"/shows/{self.id}/cancel",
                       token=cast(self.server).owner.token))


def hold(server, user, show: Show, *labels) -> dict:
    return ok(call("POST", server, f"/shows/{show.id}/holds", token=user.token,
                   json={"seat_ids": show.ids(*labels)}), 201)


def post_booking(server, user, hold_id: str, timeout: float = 20):
    return call("POST", server, "/bookings", token=user.token, json={"hold_id": hold_id},
                timeout=timeout)


def start(server, user, show: Show, *labels) -> tuple[dict, dict]:
    """Hold and book: returns (booking, payment) of the 201."""
    h = hold(server, user, show, *labels)
    body = ok(post_booking(server, user, h["hold_id"]), 201)
    return body["booking"], body["payment"]


def get_booking(server, user, booking_id: str) -> dict:
    return ok(call("GET", server, f"/bookings/{booking_id}", token=user.token))


def checkout(rzp, order_id: str, payment_id: str) -> dict:
    """What Razorpay's checkout hands the browser, signed with the key secret (computed here)."""
    return {"razorpay_order_id": order_id, "razorpay_payment_id": payment_id,
            "razorpay_signature": rzp.checkout_signature(order_id, payment_id)}


def confirm(server, user, booking_id: str, body: dict):
    return call("POST", server, f"/bookings/{booking_id}/confirm", token=user.token, json=body)


def hook_url(server) -> str:
    return server.api + "/payments/razorpay/webhook"


def captured(rzp, server, pay: dict, event_id=None, kind="payment.captured"):
    """Sends payment.captured (or order.paid) for a payment; returns the response."""
    order = dict(rzp.orders[pay["order_id"]])
    ev = rzp.event(kind, payment=pay, order=order if kind == "order.paid" else None)
    return rzp.send_webhook(hook_url(server), ev, event_id=event_id)


def hook_ok(resp, outcome: str | None = None, status: str = "processed") -> dict:
    assert resp.status_code == 200, (resp.status_code, resp.text)
    body = resp.json()
    assert body["status"] == status, body
    if outcome is not None:
        assert body["outcome"] == outcome, body
    return body


def assert_tickets(b: dict) -> None:
    assert b["status"] == "confirmed", b
    assert sorted(t["seat_id"] for t in b["tickets"]) == sorted(s["id"] for s in b["seats"]), b
    codes = [t["code"] for t in b["tickets"]]
    assert len(set(codes)) == len(codes), b


def paid_booking(rzp, server, user, show, *labels) -> tuple[dict, dict]:
    """A booking confirmed through the checkout: returns (booking, payment at the stand-in)."""
    b, p = start(server, user, show, *labels)
    pay = rzp.pay(p["order_id"])
    done = ok(confirm(server, user, b["id"], checkout(rzp, p["order_id"], pay["id"])))
    assert_tickets(done)
    return done, pay


# --------------------------------------------------------------------------------------------
# Orders and the checkout


def test_order_has_the_servers_amount_receipt_and_notes_and_checkout_confirms(rzp, srv):
    user = make_user(srv, "rzp-happy")
    show = Show(srv)
    b, p = start(srv, user, show, "A1", "A2", "B3")
    amount = 2 * DEFAULT_PRICES["premium"] + DEFAULT_PRICES["regular"]
    assert b["amount"] == amount and b["provider"] == "razorpay", b
    assert p == {"provider": "razorpay", "order_id": b["order_id"], "key_id": KEY_ID,
                 "amount": amount, "currency": "INR"}
    order = rzp.order_by_receipt(b["id"])
    assert order is not None and order["id"] == p["order_id"], order
    assert order["id"].startswith("order_") and len(order["id"]) == 20
    assert (order["amount"], order["currency"], order["receipt"]) == (amount, "INR", b["id"])
    assert order["notes"] == {"booking_id": b["id"], "show_id": show.id, "user_id": user.id}
    calls = [c for c in rzp.calls_to("POST", r"^/v1/orders$") if c["body"]["receipt"] == b["id"]]
    assert len(calls) == 1 and calls[0]["auth_ok"] and calls[0]["status"] == 200, calls

    pay = rzp.pay(p["order_id"])
    good = checkout(rzp, p["order_id"], pay["id"])
    # Nothing changes on a bad signature, a foreign order id or another payment id.
    for bad in ({**good, "razorpay_signature": "0" * 64},
                {**good, "razorpay_signature": rzp.checkout_signature(p["order_id"], "pay_X")},
                {**good, "razorpay_order_id": rzp_id("order")},
                {**good, "razorpay_signature": good["razorpay_signature"].upper()}):
        assert_error(confirm(srv, user, b["id"], bad), 400, "invalid_signature")
    assert get_booking(srv, user, b["id"])["status"] == "pending_payment"
    done = ok(confirm(srv, user, b["id"], good))
    assert_tickets(done)
    assert show.status("A1") == "booked"
    # The checkout again (a double click) is harmless: same tickets.
    again = ok(confirm(srv, user, b["id"], good))
    assert again["tickets"] == done["tickets"]
    assert rzp.refunds_of(pay["id"]) == []


def test_request_id_reaches_the_provider_and_the_webhook_log(rzp, srv):
    """The X-Request-Id of POST /bookings goes with its order to Razorpay (the provider's logs
    can name it); a webhook's own id is on the log lines of its handling (issue 17)."""
    user, show = make_user(srv), Show(srv)
    rid = f"trace-rzp-{srv.backend}-{time.monotonic_ns()}"  # the stand-in serves both databases
    h = hold(srv, user, show, "A3")
    r = call("POST", srv, "/bookings", token=user.token, json={"hold_id": h["hold_id"]},
             headers={"X-Request-Id": rid}, timeout=20)
    assert r.status_code == 201, r.text
    order_id = r.json()["payment"]["order_id"]
    calls = [c for c in rzp.calls_to("POST", r"/v1/orders$")
             if c["headers"].get("X-Request-Id") == rid]
    assert len(calls) == 1, rzp.calls_to("POST", r"/v1/orders$")[-1]["headers"]
    pay = rzp.pay(order_id)
    ev = rzp.event("payment.captured", payment=pay, order=None)
    body = json.dumps(ev).encode()
    sig = rzp.sign(body)
    resp = requests.post(hook_url(srv), data=body, timeout=10,
                         headers={"Content-Type": "application/json", "X-Razorpay-Signature": sig,
                                  "X-Razorpay-Event-Id": "evt_trace_1",
                                  "X-Request-Id": rid + "-hook"})
    hook_ok(resp)
    # the access log's line is written once the answer has gone out (MHD's completion callback),
    # so it may come a moment after the client has read the answer (ASan+PostgreSQL saw it late)
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(x) for x in srv.stderr_text().splitlines() if rid + "-hook" in x]
        logged = any(x.get("msg") == "request" and x.get("rid") == rid + "-hook" for x in lines)
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logged, lines


def test_checkout_and_webhook_racing_confirm_once(rzp, srv):
    user = make_user(srv, "rzp-race")
    show = Show(srv)
    for labels in (("A1",), ("A2", "A3"), ("A4",), ("B2", "B3"), ("B4",), ("B5", "B6")):
        b, p = start(srv, user, show, *labels)
        pay = rzp.pay(p["order_id"])
        results = {}
        go = threading.Barrier(2)

        def by_checkout():
            go.wait()
            results["checkout"] = confirm(srv, user, b["id"], checkout(rzp, p["order_id"],
                                                                       pay["id"]))

        def by_webhook():
            go.wait()
            results["webhook"] = captured(rzp, srv, pay)

        threads = [threading.Thread(target=by_checkout), threading.Thread(target=by_webhook)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["checkout"].status_code == 200, results["checkout"].text
        hook = hook_ok(results["webhook"])
        assert hook["outcome"] in ("confirmed", "already_confirmed"), hook
        final = get_booking(srv, user, b["id"])
        assert_tickets(final)
        assert len(final["tickets"]) == len(labels)
        assert final["refunds"] == []
        assert rzp.refunds_of(pay["id"]) == []


# --------------------------------------------------------------------------------------------
# Webhooks


def test_duplicated_and_reordered_webhooks_change_nothing(rzp, srv):
    user = make_user(srv, "rzp-dup")
    show = Show(srv)
    b, p = start(srv, user, show, "A5", "A6")
    failed = rzp.pay(p["order_id"], status="failed")
    pay = rzp.pay(p["order_id"])
    hook_ok(captured(rzp, srv, pay, event_id="EvtCapture0001"), "confirmed")
    first = get_booking(srv, user, b["id"])
    assert_tickets(first)
    # The same delivery again, a second time at once: acknowledged, not applied.
    hook_ok(captured(rzp, srv, pay, event_id="EvtCapture0001"), status="duplicate")
    # order.paid for the same payment, then the older payment.failed arriving last.
    hook_ok(captured(rzp, srv, pay, event_id="EvtOrderPaid01", kind="order.paid"),
            "already_confirmed")
    late = rzp.event("payment.failed", payment=failed)
    hook_ok(rzp.send_webhook(hook_url(srv), late, event_id="EvtFailedLate1"), "ignored_state")
    hook_ok(rzp.send_webhook(hook_url(srv), late, event_id="EvtFailedLate1"), status="duplicate")
    final = get_booking(srv, user, b["id"])
    assert final["status"] == "confirmed"
    assert final["tickets"] == first["tickets"]
    assert final["refunds"] == [] and rzp.refunds_of(pay["id"]) == []


def test_order_paid_before_payment_captured(rzp, srv):
    user = make_user(srv, "rzp-order-first")
    show = Show(srv)
    b, p = start(srv, user, show, "A7")
    pay = rzp.pay(p["order_id"])
    hook_ok(captured(rzp, srv, pay, kind="order.paid"), "confirmed")
    hook_ok(captured(rzp, srv, pay), "already_confirmed")
    assert_tickets(get_booking(srv, user, b["id"]))


def test_forged_webhooks_are_refused_and_not_recorded(rzp, srv):
    user = make_user(srv, "rzp-forged")
    show = Show(srv)
    b, p = start(srv, user, show, "B7")
    pay = rzp.pay(p["order_id"])
    ev = rzp.event("payment.captured", payment=pay)
    body = json.dumps(ev).encode()
    url = hook_url(srv)
    tampered = body.replace(b'"captured"', b'"captured" ', 1)
    attempts = [
        rzp.send_webhook(url, body, event_id="EvtForged00001", secret="not-the-webhook-secret"),
        rzp.send_webhook(url, tampered, event_id="EvtForged00001", signature=rzp.sign(body)),
        rzp.send_webhook(url, body, event_id="EvtForged00001", signature=""),
        rzp.send_webhook(url, body, event_id="EvtForged00001",
                         signature=rzp.checkout_signature(p["order_id"], pay["id"])),
        rzp.send_webhook(url, body, event_id="EvtForged00001", signature=rzp.sign(body).upper()),
        rzp.send_webhook(url, b"not json at all", event_id="EvtForged00001", secret="nope"),
    ]
    for resp in attempts:
        assert_error(resp, 400, "invalid_signature")
    assert get_booking(srv, user, b["id"])["status"] == "pending_payment"
    # The event id was never recorded: the genuine delivery with that id is applied.
    hook_ok(rzp.send_webhook(url, body, event_id="EvtForged00001"), "confirmed")
    assert_tickets(get_booking(srv, user, b["id"]))


def test_payment_failed_then_captured_confirms(rzp, srv):
    user = make_user(srv, "rzp-fail-capture")
    show = Show(srv)
    b, p = start(srv, user, show, "A8", "B8")
    failed = rzp.pay(p["order_id"], status="failed")
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("payment.failed", payment=failed)),
            "failed")
    assert get_booking(srv, user, b["id"])["status"] == "failed"
    assert show.status("A8") == "held"  # the customer may still pay this order
    pay = rzp.pay(p["order_id"])
    hook_ok(captured(rzp, srv, pay), "confirmed")
    final = get_booking(srv, user, b["id"])
    assert_tickets(final)
    assert final["refunds"] == []


def test_unknown_events_and_orders_are_recorded_and_acknowledged(rzp, srv):
    url = hook_url(srv)
    other = rzp.event("payment.authorized", payment={"id": rzp_id("pay"), "entity": "payment"})
    hook_ok(rzp.send_webhook(url, other, event_id="EvtUnknown0001"), "ignored")
    hook_ok(rzp.send_webhook(url, other, event_id="EvtUnknown0001"), status="duplicate")
    stray = {"id": rzp_id("pay"), "entity": "payment", "amount": 10000, "currency": "INR",
             "status": "captured", "order_id": rzp_id("order")}
    hook_ok(rzp.send_webhook(url, rzp.event("payment.captured", payment=stray)), "unknown_order")
    refund = {"id": rzp_id("rfnd"), "entity": "refund", "payment_id": stray["id"],
              "amount": 10000, "status": "processed", "notes": {"refund_id": "ref_nothing_here"}}
    hook_ok(rzp.send_webhook(url, rzp.event("refund.processed", refund=refund)),
            "unknown_refund")
    # Signed but not an event: 400 (Razorpay would never send it).
    assert_error(rzp.send_webhook(url, b'{"no":"event"}'), 400, "malformed_json")


def test_webhook_without_event_id_is_deduplicated_by_body(rzp, srv):
    user = make_user(srv, "rzp-noid")
    show = Show(srv)
    b, p = start(srv, user, show, "B2")
    pay = rzp.pay(p["order_id"])
    body = json.dumps(rzp.event("payment.captured", payment=pay)).encode()
    headers = {"Content-Type": "application/json", "X-Razorpay-Signature": rzp.sign(body)}
    first = requests.post(hook_url(srv), data=body, headers=headers, timeout=10)
    hook_ok(first, "confirmed")
    hook_ok(requests.post(hook_url(srv), data=body, headers=headers, timeout=10),
            status="duplicate")


# --------------------------------------------------------------------------------------------
# Late captures and refunds


def test_capture_after_expiry_with_seats_gone_is_refunded(rzp, backend, make_server):
    server = make_server(backend, HOLD_TTL=2, **rzp_env(rzp))
    late, other = make_user(server, "rzp-late"), make_user(server, "rzp-other")
    show = Show(server)
    b, p = start(server, late, show, "A1", "A2")
    time.sleep(2.6)
    hold(server, other, show, "A2", "A3")  # takes A2 over from the expired hold
    pay = rzp.pay(p["order_id"])
    hook_ok(captured(rzp, server, pay), "refunded_seats_gone")
    final = get_booking(server, late, b["id"])
    assert final["status"] == "expired_refunded" and final["tickets"] == [], final
    refunds = rzp.refunds_of(pay["id"])
    assert len(refunds) == 1 and refunds[0]["amount"] == b["amount"], refunds
    assert [r["status"] for r in final["refunds"]] == ["processed"]
    assert refunds[0]["idempotency_key"] == final["refunds"][0]["id"]
    assert show.status("A2") == "held" and show.status("A1") == "available"
    # The same capture again (Razorpay retries): no second refund.
    hook_ok(captured(rzp, server, pay), "ignored_state")
    assert len(rzp.refunds_of(pay["id"])) == 1


def test_cancellation_refunds_through_razorpay_and_refund_webhooks(rzp, srv):
    user = make_user(srv, "rzp-cancel")
    show = Show(srv)
    b, pay = paid_booking(rzp, srv, user, show, "A3", "A4")
    rzp.refund_status = "pending"
    done = ok(call("POST", srv, f"/bookings/{b['id']}/cancel", token=user.token))
    assert done["status"] == "cancelled_refunded"
    [ours] = done["refunds"]
    assert ours["status"] == "pending" and ours["amount"] == b["amount"]
    [theirs] = rzp.refunds_of(pay["id"])
    assert theirs["amount"] == b["amount"] and theirs["idempotency_key"] == ours["id"]
    assert theirs["receipt"] == ours["id"] and theirs["notes"] == {"refund_id": ours["id"]}
    processed = rzp.settle_refund(theirs["id"], "processed")
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.processed", refund=processed)),
            "refund_processed")
    # the sales summary counted the refund once, also after a repeat with a new event id
    assert_summary_is_ledger(srv.database_url, {show.id})
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.processed", refund=processed)))
    assert_summary_is_ledger(srv.database_url, {show.id})
    # A stale refund.failed arriving afterwards does not move it back.
    stale = dict(processed, status="failed")
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.failed", refund=stale)),
            "ignored_state")
    final = get_booking(srv, user, b["id"])
    assert [r["status"] for r in final["refunds"]] == ["processed"]
    assert show.status("A3") == "available"


def test_refund_failed_webhook_lists_it_for_admins(rzp, srv):
    user = make_user(srv, "rzp-refund-failed")
    show = Show(srv)
    b, pay = paid_booking(rzp, srv, user, show, "A5")
    rzp.refund_status = "pending"
    done = ok(call("POST", srv, f"/bookings/{b['id']}/cancel", token=user.token))
    ours = done["refunds"][0]
    [theirs] = rzp.refunds_of(pay["id"])
    failed = rzp.settle_refund(theirs["id"], "failed")
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.failed", refund=failed)),
            "refund_failed")
    admin = cast(srv).admin.token
    listed = ok(call("GET", srv, "/admin/refunds", token=admin,
                     params={"status": "failed", "limit": 100}))
    row = next(r for r in listed["items"] if r["id"] == ours["id"])
    assert row["status"] == "failed" and row["provider_refund_id"] == theirs["id"]
    assert row["booking_id"] == b["id"] and row["payment_id"] == pay["id"]
    assert all(r["status"] == "failed" for r in listed["items"])


def test_capture_of_the_wrong_amount_is_refunded_once(rzp, srv):
    user = make_user(srv, "rzp-wrong-amount")
    show = Show(srv)
    b, p = start(srv, user, show, "A1", "A2")
    pay = rzp.pay(p["order_id"], amount=b["amount"] - 500)
    hook_ok(captured(rzp, srv, pay), "amount_mismatch")
    # Reported again and again (a new delivery, order.paid, the checkout): never a second refund.
    hook_ok(captured(rzp, srv, pay), "amount_mismatch")
    hook_ok(captured(rzp, srv, pay, kind="order.paid"), "amount_mismatch")
    err = assert_error(confirm(srv, user, b["id"], checkout(rzp, p["order_id"], pay["id"])), 422,
                       "payment_amount_mismatch")
    assert err["details"] == {"payment_id": pay["id"], "payment_amount": b["amount"] - 500,
                              "amount": b["amount"]}, err
    [theirs] = rzp.refunds_of(pay["id"])
    assert theirs["amount"] == b["amount"] - 500 and theirs["status"] == "processed", theirs
    final = get_booking(srv, user, b["id"])
    assert final["status"] == "pending_payment" and final["tickets"] == [], final
    [ours] = final["refunds"]
    assert ours["amount"] == b["amount"] - 500 and ours["status"] == "processed", ours
    assert theirs["idempotency_key"] == ours["id"]
    assert show.status("A1") == "held"
    # A payment of the right amount still confirms the booking.
    good = rzp.pay(p["order_id"])
    assert_tickets(ok(confirm(srv, user, b["id"], checkout(rzp, p["order_id"], good["id"]))))
    assert rzp.refunds_of(good["id"]) == [] and len(rzp.refunds_of(pay["id"])) == 1


def test_wrong_amount_checkout_and_webhook_racing_refund_once(rzp, srv):
    user = make_user(srv, "rzp-wrong-race")
    show = Show(srv)
    for labels in (("B2",), ("B3", "B4"), ("B5",), ("B6", "B7")):
        b, p = start(srv, user, show, *labels)
        pay = rzp.pay(p["order_id"], amount=b["amount"] + 100)
        results = {}
        go = threading.Barrier(2)

        def by_checkout():
            go.wait()
            results["checkout"] = confirm(srv, user, b["id"],
                                          checkout(rzp, p["order_id"], pay["id"]))

        def by_webhook():
            go.wait()
            results["webhook"] = captured(rzp, srv, pay)

        threads = [threading.Thread(target=by_checkout), threading.Thread(target=by_webhook)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert_error(results["checkout"], 422, "payment_amount_mismatch")
        hook_ok(results["webhook"], "amount_mismatch")
        refunds = rzp.refunds_of(pay["id"])
        assert len(refunds) == 1 and refunds[0]["amount"] == b["amount"] + 100, refunds
        final = get_booking(srv, user, b["id"])
        assert final["status"] == "pending_payment" and final["tickets"] == [], final
        assert len(final["refunds"]) == 1, final


def test_reconcile_refunds_a_capture_of_the_wrong_amount(rzp, backend, make_server):
    server = make_server(backend, JOBS="off", **rzp_env(rzp))
    admin = cast(server).admin.token
    user = make_user(server, "rzp-rec-wrong")
    show = Show(server)
    b, p = start(server, user, show, "A3")
    pay = rzp.pay(p["order_id"], amount=b["amount"] * 2)
    res = ok(call("POST", server, "/admin/payments/reconcile", token=admin))
    assert res == {"checked": 1, "confirmed": 0, "refunded": 1, "errors": 0}, res
    assert ok(call("POST", server, "/admin/payments/reconcile", token=admin))["refunded"] == 0
    [theirs] = rzp.refunds_of(pay["id"])
    assert theirs["amount"] == b["amount"] * 2
    assert get_booking(server, user, b["id"])["status"] == "pending_payment"


def admin_refund(server, refund_id: str) -> dict:
    return ok(call("GET", server, f"/admin/refunds/{refund_id}", token=cast(server).admin.token))


def test_refund_failed_by_razorpay_is_retried_under_a_new_key(rzp, srv):
    user = make_user(srv, "rzp-refund-new-key")
    show = Show(srv)
    b, pay = paid_booking(rzp, srv, user, show, "A6")
    rzp.refund_status = "pending"
    ours = ok(call("POST", srv, f"/bookings/{b['id']}/cancel", token=user.token))["refunds"][0]
    [first] = rzp.refunds_of(pay["id"])
    failed = rzp.settle_refund(first["id"], "failed")
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.failed", refund=failed)),
            "refund_failed")
    rzp.refund_status = "processed"
    admin = cast(srv).admin.token
    retried = ok(call("POST", srv, f"/admin/refunds/{ours['id']}/retry", token=admin))
    # Sent with the same key, Razorpay would only have answered with the same failed refund.
    assert retried["status"] == "processed", retried
    assert retried["idempotency_key"] == ours["id"] + "-2", retried
    theirs = sorted(rzp.refunds_of(pay["id"]), key=lambda r: r["created_at"])
    assert [(r["idempotency_key"], r["status"]) for r in theirs] == \
        [(ours["id"], "failed"), (ours["id"] + "-2", "processed")], theirs
    assert theirs[1]["amount"] == b["amount"]
    assert retried["provider_refund_id"] == theirs[1]["id"]
    log = [(a["n"], a["idempotency_key"], a["status"], a["provider_refund_id"])
           for a in retried["attempt_log"]]
    assert log == [(1, ours["id"], "failed", first["id"]),
                   (2, ours["id"] + "-2", "processed", theirs[1]["id"])], log
    # A late refund.failed about the first attempt changes nothing.
    hook_ok(rzp.send_webhook(hook_url(srv), rzp.event("refund.failed", refund=failed)),
            "stale_attempt")
    assert admin_refund(srv, ours["id"])["status"] == "processed"
    assert_error(call("POST", srv, f"/admin/refunds/{ours['id']}/retry", token=admin), 409,
                 "refund_processed")
    assert len(rzp.refunds_of(pay["id"])) == 2
    assert_summary_is_ledger(srv.database_url, {show.id})


def test_refund_answered_failed_is_retried_by_the_job_under_a_new_key(rzp, backend,
                                                                      make_server, tmp_path):
    from test_jobs import query, run_ticketd
    server = make_server(backend, JOBS="off", **rzp_env(rzp))
    user = make_user(server, "rzp-refund-job")
    show = Show(server)
    b, pay = paid_booking(rzp, server, user, show, "A7")
    rzp.refund_status = "failed"  # Razorpay answers the refund call with a failed refund
    ours = ok(call("POST", server, f"/bookings/{b['id']}/cancel", token=user.token))["refunds"][0]
    assert ours["status"] == "failed"
    [first] = rzp.refunds_of(pay["id"])
    assert first["status"] == "failed" and first["idempotency_key"] == ours["id"]
    # The admin retries while Razorpay is erring: attempt 2 begins (a new key), gets no answer.
    rzp.refund_status = "processed"
    rzp.fail("refund", "5xx", count=3)
    resp = call("POST", server, f"/admin/refunds/{ours['id']}/retry",
                token=cast(server).admin.token)
    assert_error(resp, 503, "unavailable")
    rzp.clear()
    keys = [c["headers"]["X-Refund-Idempotency"]
            for c in rzp.calls_to("POST", rf"/v1/payments/{pay['id']}/refund$")]
    assert keys == [ours["id"]] + [ours["id"] + "-2"] * 3, keys
    # The job's turn (its back-off waited out by moving the refund's clock back): no answer
    # came for attempt 2, so the same key again, never a third one.
    backdate = f"UPDATE refunds SET updated_at = 0 WHERE id = '{ours['id']}'"
    if server.database_url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(server.database_url[len("sqlite://"):])) as con:
            with con:  # commits
                con.execute(backdate)
    else:
        query(server.database_url, backdate)  # psql commits each statement
    env = server_env(server.database_url, **rzp_env(rzp))
    proc = run_ticketd(env, "jobs", "run-once", "refunds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["processed"] == 1, proc.stdout
    after = admin_refund(server, ours["id"])
    assert after["status"] == "processed" and after["idempotency_key"] == ours["id"] + "-2"
    assert [(a["n"], a["status"], a["calls"]) for a in after["attempt_log"]] == \
        [(1, "failed", 1), (2, "processed", 2)], after
    assert after["attempts"] == 3, after
    theirs = rzp.refunds_of(pay["id"])
    assert sorted(r["status"] for r in theirs) == ["failed", "processed"], theirs


def set_sql(server, sql: str) -> None:
    """Runs one statement on the server's database, committed."""
    from test_jobs import query
    if server.database_url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(server.database_url[len("sqlite://"):])) as con:
            with con:  # commits
                con.execute(sql)
    else:
        query(server.database_url, sql)  # psql commits each statement


def run_job(server, rzp, name: str, cwd, **env) -> dict:
    """`ticketd jobs run-once name` against the server's database; returns its counts."""
    from test_jobs import run_ticketd
    proc = run_ticketd(server_env(server.database_url, **rzp_env(rzp), **env), "jobs",
                       "run-once", name, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("outcome", ["processed", "failed"])
def test_refund_whose_webhook_never_came_is_settled_by_the_poll_job(rzp, backend, make_server,
                                                                    tmp_path, outcome):
    server = make_server(backend, JOBS="off", **rzp_env(rzp))
    user = make_user(server, f"rzp-poll-{outcome}")
    show = Show(server)
    b, pay = paid_booking(rzp, server, user, show, "A8")
    rzp.refund_status = "pending"
    ours = ok(call("POST", server, f"/bookings/{b['id']}/cancel", token=user.token))["refunds"][0]
    [theirs] = rzp.refunds_of(pay["id"])
    assert ours["status"] == "pending"
    assert admin_refund(server, ours["id"])["provider_refund_id"] == theirs["id"]
    polled = rf"^/v1/payments/{pay['id']}/refunds/{theirs['id']}$"
    # Younger than REFUND_POLL_AGE (1 h by default): not asked about yet.
    counts = run_job(server, rzp, "refund_poll", tmp_path)
    assert counts == {"checked": 0, "processed": 0, "failed": 0, "pending": 0, "errors": 0}
    assert rzp.calls_to("GET", polled) == []
    # Old enough, still pending at Razorpay: asked, nothing changes.
    counts = run_job(server, rzp, "refund_poll", tmp_path, REFUND_POLL_AGE="0s")
    assert (counts["checked"], counts["pending"]) == (1, 1), counts
    assert admin_refund(server, ours["id"])["status"] == "pending"
    # Razorpay settles it and its webhook is lost: the next run learns it.
    rzp.settle_refund(theirs["id"], outcome)
    counts = run_job(server, rzp, "refund_poll", tmp_path, REFUND_POLL_AGE="0s")
    assert (counts["checked"], counts[outcome], counts["errors"]) == (1, 1, 0), counts
    assert [c["auth_ok"] for c in rzp.calls_to("GET", polled)] == [True, True]
    after = admin_refund(server, ours["id"])
    assert after["status"] == outcome, after
    assert [(a["n"], a["status"], a["detail"]) for a in after["attempt_log"]] == \
        [(1, outcome, f"{outcome} (poll)")], after
    # Settled refunds are not asked about again.
    assert run_job(server, rzp, "refund_poll", tmp_path, REFUND_POLL_AGE="0s")["checked"] == 0
    if outcome == "failed":
        # The refunds job (its back-off waited out) sends attempt 2 under a new key.
        rzp.refund_status = "processed"
        set_sql(server, f"UPDATE refunds SET updated_at = 0 WHERE id = '{ours['id']}'")
        assert run_job(server, rzp, "refunds", tmp_path)["processed"] == 1
        after = admin_refund(server, ours["id"])
        assert after["status"] == "processed" and after["idempotency_key"] == ours["id"] + "-2"
        assert sorted(r["status"] for r in rzp.refunds_of(pay["id"])) == ["failed", "processed"]
    final = get_booking(server, user, b["id"])
    assert [r["status"] for r in final["refunds"]] == ["processed"]


def test_refund_poll_asks_at_most_a_batch_and_stops_when_razorpay_is_down(rzp, backend,
                                                                          make_server, tmp_path):
    server = make_server(backend, JOBS="off", **rzp_env(rzp))
    user = make_user(server, "rzp-poll-batch")
    show = Show(server)
    refunds = []
    for label in ("A1", "A2", "A3"):
        b, pay = paid_booking(rzp, server, user, show, label)
        rzp.refund_status = "pending"
        refunds.append(ok(call("POST", server, f"/bookings/{b['id']}/cancel",
                               token=user.token))["refunds"][0])
        rzp.refund_status = "processed"
    # Razorpay down: the run fails at the first refund instead of waiting on each one.
    gets = len(rzp.calls_to("GET", r"/refunds/"))
    rzp.fail("payments", "5xx", count=100)
    from test_jobs import run_ticketd
    proc = run_ticketd(server_env(server.database_url, **rzp_env(rzp), REFUND_POLL_AGE="0s"),
                       "jobs", "run-once", "refund_poll", cwd=tmp_path)
    rzp.clear()
    assert proc.returncode == 1 and "unavailable" in proc.stderr, proc.stderr
    asked = {c["path"] for c in rzp.calls_to("GET", r"/refunds/")[gets:]}
    assert len(asked) == 1, asked
    assert all(admin_refund(server, r["id"])["status"] == "pending" for r in refunds)
    # A batch of two, then the one left: least recently asked first, each asked once.
    for ours in refunds:
        rzp.settle_refund(admin_refund(server, ours["id"])["provider_refund_id"], "processed")
    counts = run_job(server, rzp, "refund_poll", tmp_path, REFUND_POLL_AGE="0s",
                     REFUND_POLL_BATCH="2")
    assert (counts["checked"], counts["processed"]) == (2, 2), counts
    counts = run_job(server, rzp, "refund_poll", tmp_path, REFUND_POLL_AGE="0s",
                     REFUND_POLL_BATCH="2")
    assert (counts["checked"], counts["processed"]) == (1, 1), counts
    assert all(admin_refund(server, r["id"])["status"] == "processed" for r in refunds)


@pytest.mark.parametrize("mode", ["5xx", "5xx_after", "reset"])
def test_refund_retry_after_provider_errors_refunds_exactly_once(rzp, srv, mode):
    user = make_user(srv, f"rzp-retry-{mode}")
    show = Show(srv)
    b, pay = paid_booking(rzp, srv, user, show, "B6")
    rzp.fail("refund", mode, count=10)  # every attempt of the first call fails
    done = ok(call("POST", srv, f"/bookings/{b['id']}/cancel", token=user.token))
    rzp.clear()
    assert done["status"] == "cancelled_refunded"
    [ours] = done["refunds"]
    assert ours["status"] == "failed"
    admin = cast(srv).admin.token
    failed = ok(call("GET", srv, "/admin/refunds", token=admin,
                     params={"status": "failed", "limit": 100}))
    assert ours["id"] in [r["id"] for r in failed["items"]]
    attempts = rzp.calls_to("POST", rf"/v1/payments/{pay['id']}/refund$")
    # Retried with back-off (3 attempts), one idempotency key. A kept-alive connection that dies
    # without an answer makes curl re-send once on a fresh one: one more request then.
    assert len(attempts) == 3 + (mode == "reset" and attempts[0]["reused"]), attempts
    assert {c["headers"]["X-Refund-Idempotency"] for c in attempts} == {ours["id"]}
    # The admin re-sends it: the same key, so one refund at Razorpay whatever happened before.
    retried = ok(call("POST", srv, f"/admin/refunds/{ours['id']}/retry", token=admin))
    assert retried["status"] == "processed" and retried["attempts"] == 2, retried
    refunds = rzp.refunds_of(pay["id"])
    assert len(refunds) == 1 and refunds[0]["amount"] == b["amount"], refunds
    assert retried["provider_refund_id"] == refunds[0]["id"]
    assert_error(call("POST", srv, f"/admin/refunds/{ours['id']}/retry", token=admin), 409,
                 "refund_processed")
    assert len(rzp.refunds_of(pay["id"])) == 1
    assert get_booking(srv, user, b["id"])["refunds"][0]["status"] == "processed"


def test_refund_retry_while_razorpay_is_still_failing(rzp, srv):
    user = make_user(srv, "rzp-retry-fails")
    show = Show(srv)
    b, pay = paid_booking(rzp, srv, user, show, "B7")
    rzp.fail("refund", "5xx", count=6)
    ours = ok(call("POST", srv, f"/bookings/{b['id']}/cancel", token=user.token))["refunds"][0]
    admin = cast(srv).admin.token
    resp = call("POST", srv, f"/admin/refunds/{ours['id']}/retry", token=admin)
    err = assert_error(resp, 503, "unavailable")
    assert err["details"]["refund"]["status"] == "failed"
    assert rzp.refunds_of(pay["id"]) == []
    assert ok(call("POST", srv, f"/admin/refunds/{ours['id']}/retry",
                   token=admin))["status"] == "processed"
    assert len(rzp.refunds_of(pay["id"])) == 1


def test_admin_refund_endpoints_are_admin_only_and_validated(rzp, srv):
    user = make_user(srv, "rzp-nonadmin")
    owner = cast(srv).owner
    for who in (user.token, owner.token):
        assert_error(call("GET", srv, "/admin/refunds", token=who), 403, "forbidden")
        assert_error(call("POST", srv, "/admin/refunds/ref_x/retry", token=who), 403,
                     "forbidden")
        assert_error(call("POST", srv, "/admin/payments/reconcile", token=who), 403, "forbidden")
    assert_error(call("GET", srv, "/admin/refunds"), 401, "unauthorized")
    admin = cast(srv).admin.token
    resp = call("GET", srv, "/admin/refunds", token=admin, params={"status": "lost"})
    assert_error(resp, 400, "invalid_parameter")
    assert_error(call("POST", srv, "/admin/refunds/ref_nope/retry", token=admin), 404,
                 "not_found")
    page = ok(call("GET", srv, "/admin/refunds", token=admin, params={"limit": 1}))
    assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= 1


def test_show_cancellation_refunds_every_booking(rzp, srv):
    show = Show(srv)
    buyers = [make_user(srv, f"rzp-show-{i}") for i in range(3)]
    paid = [paid_booking(rzp, srv, buyers[0], show, "A1", "A2"),
            paid_booking(rzp, srv, buyers[1], show, "B2")]
    pending, _ = start(srv, buyers[2], show, "B3")
    show.cancel()
    for (b, pay), user in zip(paid, buyers):
        final = get_booking(srv, user, b["id"])
        assert final["status"] == "cancelled_refunded"
        refunds = rzp.refunds_of(pay["id"])
        assert len(refunds) == 1 and refunds[0]["amount"] == b["amount"], refunds
        assert [r["status"] for r in final["refunds"]] == ["processed"]
    assert get_booking(srv, buyers[2], pending["id"])["refunds"] == []


# --------------------------------------------------------------------------------------------
# Razorpay down


@pytest.mark.parametrize("how", ["5xx", "reset", "4xx", "down"])
def test_provider_down_at_order_time_keeps_the_hold(rzp, srv, how):
    user = make_user(srv, f"rzp-down-{how}")
    show = Show(srv)
    h = hold(srv, user, show, "A6", "A7")
    before = len(rzp.calls_to("POST", r"^/v1/orders$"))
    if how == "down":
        rzp.down()
    else:
        rzp.fail("orders", how, count=1 if how == "4xx" else 10)
    try:
        started = time.monotonic()
        resp = post_booking(srv, user, h["hold_id"])
        elapsed = time.monotonic() - started
    finally:
        rzp.clear()
        if how == "down":
            rzp.up()
    code = "upstream_error" if how == "4xx" else "unavailable"
    assert_error(resp, 503, code)
    assert resp.headers.get("Retry-After"), resp.headers
    assert elapsed < 11, elapsed
    calls = rzp.calls_to("POST", r"^/v1/orders$")[before:]
    # No retry on 4xx; curl re-sends once when a kept-alive connection dies without an answer.
    want = {"5xx": 3, "reset": 3, "4xx": 1, "down": 0}[how]
    assert len(calls) == want + (how == "reset" and calls[0]["reused"]), calls
    assert show.status("A6") == "held" and show.status("A7") == "held"
    assert ok(call("GET", srv, "/bookings", token=user.token))["items"] == []
    # Razorpay is back: the same hold books.
    body = ok(post_booking(srv, user, h["hold_id"]), 201)
    assert body["payment"]["order_id"] == rzp.order_by_receipt(body["booking"]["id"])["id"]


def test_provider_calls_reuse_one_kept_alive_connection(rzp, backend, make_server):
    # JOBS=off: no job calls Razorpay in between, so every call here is one of ours, in order.
    server = make_server(backend, JOBS="off", **rzp_env(rzp))
    user = make_user(server, "rzp-keepalive")
    show = Show(server)
    conns = rzp.connections
    orders = len(rzp.calls_to("POST", r"^/v1/orders$"))
    labels = ("A1", "A2", "A3", "A4", "A5", "A6")
    for label in labels:
        start(server, user, show, label)
    assert len(rzp.calls_to("POST", r"^/v1/orders$")) - orders == len(labels)
    # One connection for all of them (none when an earlier one was still open).
    assert rzp.connections - conns <= 1, rzp.connections - conns
    # A connection the server resets is not reused: the next call connects afresh and works.
    rzp.fail("orders", "reset", count=1)
    start(server, user, show, "A7")
    conns = rzp.connections
    start(server, user, show, "A8")
    assert rzp.connections == conns


def test_provider_time_out_at_order_time(rzp, srv):
    if srv.backend != "sqlite":
        pytest.skip("the time-out path does not depend on the database; once is enough")
    user = make_user(srv, "rzp-timeout")
    show = Show(srv)
    h = hold(srv, user, show, "B4")
    rzp.fail("orders", "timeout", count=1, delay=12)
    started = time.monotonic()
    resp = post_booking(srv, user, h["hold_id"])
    elapsed = time.monotonic() - started
    assert_error(resp, 503, "unavailable")
    assert 9 <= elapsed < 12, elapsed  # the 10 s deadline, no retry after it
    assert show.status("B4") == "held"
    ok(post_booking(srv, user, h["hold_id"]), 201)


# --------------------------------------------------------------------------------------------
# Reconciliation


def test_reconcile_confirms_captured_but_unnotified_bookings(rzp, backend, make_server):
    server = make_server(backend, HOLD_TTL=3, **rzp_env(rzp))
    admin = cast(server).admin.token
    show = Show(server)
    u1, u2, u3, u4 = (make_user(server, f"rzp-rec-{i}") for i in range(4))
    quiet, _ = start(server, u1, show, "A1")        # paid, nobody told us
    unpaid, _ = start(server, u2, show, "A2")       # never paid
    gone, gone_p = start(server, u3, show, "A3")    # paid after its seat went elsewhere
    rzp.pay(rzp.orders[gone_p["order_id"]]["id"], status="failed")
    assert ok(call("POST", server, "/admin/payments/reconcile", token=admin)) == \
        {"checked": 3, "confirmed": 0, "refunded": 0, "errors": 0}
    time.sleep(3.6)
    hold(server, u4, show, "A3")
    quiet_pay = rzp.pay(rzp.order_by_receipt(quiet["id"])["id"])
    gone_pay = rzp.pay(gone_p["order_id"])
    # quiet's seat was not taken: its late capture still confirms it.
    result = ok(call("POST", server, "/admin/payments/reconcile", token=admin))
    assert result == {"checked": 3, "confirmed": 1, "refunded": 1, "errors": 0}, result
    assert_tickets(get_booking(server, u1, quiet["id"]))
    assert get_booking(server, u3, gone["id"])["status"] == "expired_refunded"
    assert len(rzp.refunds_of(gone_pay["id"])) == 1
    assert rzp.refunds_of(quiet_pay["id"]) == []
    again = ok(call("POST", server, "/admin/payments/reconcile", token=admin))
    assert again == {"checked": 1, "confirmed": 0, "refunded": 0, "errors": 0}, again
    assert get_booking(server, u2, unpaid["id"])["status"] == "expired"
    # Razorpay down: 503 with what was done so far.
    rzp.fail("payments", "5xx", count=3)
    err = assert_error(call("POST", server, "/admin/payments/reconcile", token=admin), 503,
                       "unavailable")
    assert err["details"] == {"checked": 1, "confirmed": 0, "refunded": 0, "errors": 1}


# --------------------------------------------------------------------------------------------
# Configuration


def test_payments_config_and_the_seat_maps_csp(srv, rzp):
    """The page learns Razorpay is on from GET /payments/config (no secret in it), and only the
    seat map's page (the one that pays) lets Checkout's script, frame and connections in: the
    script's origin (the default URL here) and RAZORPAY_API_BASE's, nothing more."""
    cfg = ok(call("GET", srv, "/payments/config"))
    assert cfg == {"provider": "razorpay", "key_id": KEY_ID,
                   "checkout_url": "https://checkout.razorpay.com/v1/checkout.js"}, cfg
    api_origin = rzp.base.split("/v1")[0].rstrip("/")
    assert api_origin.startswith("http://127.0.0.1:"), api_origin
    csp = requests.get(srv.url + "/shows/shw_x", timeout=10).headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'", "https://checkout.razorpay.com"], csp
    assert directives["frame-src"] == [api_origin], csp
    assert directives["connect-src"] == ["'self'", "https://checkout.razorpay.com", api_origin], csp
    assert directives["default-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
    for path in ("/", "/bookings/bkg_x", "/door", "/sales", "/web/show.js"):
        other = requests.get(srv.url + path, timeout=10).headers["Content-Security-Policy"]
        assert "razorpay" not in other and "frame-src" not in other and api_origin not in other, \
            (path, other)


def test_webhook_is_404_with_the_test_provider(server):
    resp = call("POST", server, "/payments/razorpay/webhook", data=b"{}",
                headers={"X-Razorpay-Signature": "0" * 64, "Content-Type": "application/json"})
    assert_error(resp, 404, "not_found")


@pytest.mark.parametrize("env,name", [
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID}, "RAZORPAY_KEY_SECRET", id="id-only"),
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_KEY_SECRET": KEY_SECRET},
                 "RAZORPAY_WEBHOOK_SECRET", id="no-webhook-secret"),
    pytest.param({"RAZORPAY_KEY_SECRET": KEY_SECRET}, "RAZORPAY_KEY_ID", id="secret-only"),
    pytest.param({"RAZORPAY_KEY_ID": "key_123456789", "RAZORPAY_KEY_SECRET": KEY_SECRET,
                  "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET}, "RAZORPAY_KEY_ID", id="bad-key-id"),
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_KEY_SECRET": "has space secret",
                  "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET}, "RAZORPAY_KEY_SECRET",
                 id="bad-secret"),
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_KEY_SECRET": KEY_SECRET,
                  "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                  "RAZORPAY_API_BASE": "http://api.razorpay.com/v1"}, "RAZORPAY_API_BASE",
                 id="plain-http-remote"),
    pytest.param({"RAZORPAY_API_BASE": "https://api.razorpay.com/v1"}, "RAZORPAY_API_BASE",
                 id="base-without-keys"),
    pytest.param({"RAZORPAY_CHECKOUT_URL": "https://checkout.razorpay.com/v1/checkout.js"},
                 "RAZORPAY_CHECKOUT_URL", id="checkout-without-keys"),
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_KEY_SECRET": KEY_SECRET,
                  "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                  "RAZORPAY_CHECKOUT_URL": "http://checkout.razorpay.com/v1/checkout.js"},
                 "RAZORPAY_CHECKOUT_URL", id="checkout-plain-http-remote"),
    pytest.param({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_KEY_SECRET": KEY_SECRET,
                  "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                  "RAZORPAY_CHECKOUT_URL": "https://x.example/c.js; script-src *"},
                 "RAZORPAY_CHECKOUT_URL", id="checkout-csp-injection"),
])
def test_razorpay_config_errors_exit_2(ticketd_bin, tmp_path, env, name):
    full = clean_environ()
    full.update({"DATABASE_URL": f"sqlite://{tmp_path / 't.db'}", "PORT": str(free_port()),
                 "BIND_ADDRESS": "127.0.0.1", **env})
    proc = subprocess.run([str(ticketd_bin)], env=full, cwd=tmp_path, capture_output=True,
                          text=True, timeout=10)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert name in proc.stderr, proc.stderr
    for secret in (KEY_SECRET, WEBHOOK_SECRET):
        assert secret not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------------------------
# Currencies: Razorpay takes the amount in the currency's subunit (JPY: yen, KWD: fils in steps
# of 10); a show in a currency it cannot charge is refused when it is created.


def _venue_movie(server):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token)
    movie = create_movie(server, c.admin.token)
    return c, hall, movie


@pytest.mark.parametrize("currency,prices", [
    ("JPY", {"premium": 1800, "regular": 1200}),       # 0 decimals: whole yen
    ("KWD", {"premium": 3650, "regular": 2250}),       # 3 decimals: fils, last digit 0
])
def test_order_amount_in_the_shows_minor_units(rzp, srv, currency, prices):
    c, hall, movie = _venue_movie(srv)
    s = create_show(srv, movie["id"], hall["id"], future(days=3, hour=18), token=c.owner.token,
                    prices=prices, currency=currency)
    seats = {x["label"]: x["id"] for x in ok(call("GET", srv, f"/shows/{s['id']}/seats"))["seats"]}
    user = make_user(srv, f"rzp-{currency}")
    h = ok(call("POST", srv, f"/shows/{s['id']}/holds", token=user.token,
                json={"seat_ids": [seats["A1"], seats["B3"]]}), 201)
    body = ok(post_booking(srv, user, h["hold_id"]), 201)
    amount = prices["premium"] + prices["regular"]
    assert body["payment"]["amount"] == amount and body["payment"]["currency"] == currency
    order = rzp.order_by_receipt(body["booking"]["id"])
    assert (order["amount"], order["currency"]) == (amount, currency), order


@pytest.mark.parametrize("currency", ["JOD", "TND", "KRW"])
def test_show_in_a_currency_razorpay_cannot_charge_is_refused(srv, currency):
    c, hall, movie = _venue_movie(srv)
    r = call("POST", srv, "/shows", token=c.owner.token,
             json={"movie_id": movie["id"], "hall_id": hall["id"], "currency": currency,
                   "starts_at": iso(future(days=5, hour=10)), "prices": DEFAULT_PRICES})
    body = assert_error(r, 422, "currency_not_chargeable")
    assert body["details"]["field"] == "currency"
    listed = ok(call("GET", srv, f"/shows?movie_id={movie['id']}"))["items"]
    assert listed == []


def test_three_decimal_price_not_in_steps_of_ten_fils_is_refused(srv):
    c, hall, movie = _venue_movie(srv)
    r = call("POST", srv, "/shows", token=c.owner.token,
             json={"movie_id": movie["id"], "hall_id": hall["id"], "currency": "BHD",
                   "starts_at": iso(future(days=6, hour=10)),
                   "prices": {"premium": 3655, "regular": 2250}})
    body = assert_error(r, 422, "price_not_chargeable")
    assert body["details"] == {"field": "prices", "category": "premium"}
    assert ok(call("GET", srv, f"/shows?movie_id={movie['id']}"))["items"] == []


def test_percent_discount_on_a_three_decimal_show_charges_whole_steps(rzp, srv):
    """7% off 5.900 KWD is 0.413; Razorpay takes only a last digit 0, so the discount becomes
    0.420 (the buyer's favour) and 5.480 is charged, booked and ordered alike."""
    c, hall, movie = _venue_movie(srv)
    prices = {"premium": 3650, "regular": 2250}
    s = create_show(srv, movie["id"], hall["id"], future(days=4, hour=18), token=c.owner.token,
                    prices=prices, currency="KWD")
    code = f"KWD7{rzp_id('x')[-8:].upper()}".replace("_", "")
    ok(call("POST", srv, "/promo-codes", token=c.admin.token,
            json={"code": code, "kind": "percent", "value": 7}), 201)
    seats = {x["label"]: x["id"] for x in ok(call("GET", srv, f"/shows/{s['id']}/seats"))["seats"]}
    user = make_user(srv, "rzp-kwd-promo")
    h = ok(call("POST", srv, f"/shows/{s['id']}/holds", token=user.token,
                json={"seat_ids": [seats["A1"], seats["B3"]]}), 201)
    body = ok(call("POST", srv, "/bookings", token=user.token,
                   json={"hold_id": h["hold_id"], "promo_code": code}, timeout=20), 201)
    b = body["booking"]
    assert (b["amount_before_discount"], b["discount"], b["amount"]) == (5900, 420, 5480), b
    assert body["payment"]["amount"] == 5480
    order = rzp.order_by_receipt(b["id"])
    assert (order["amount"], order["currency"]) == (5480, "KWD"), order


def test_changing_a_three_decimal_price_to_an_odd_fils_is_refused(srv):
    c, hall, movie = _venue_movie(srv)
    prices = {"premium": 3650, "regular": 2250}
    s = create_show(srv, movie["id"], hall["id"], future(days=7, hour=18), token=c.owner.token,
                    prices=prices, currency="OMR")
    r = call("PATCH", srv, f"/shows/{s['id']}", token=c.owner.token,
             json={"prices": {"premium": 3651, "regular": 2250}})
    body = assert_error(r, 422, "price_not_chargeable")
    assert body["details"] == {"field": "prices", "category": "premium"}
    got = ok(call("GET", srv, f"/shows/{s['id']}/seats"))["seats"]
    assert {x["category"]: x["price"] for x in got} == prices
    ok(call("PATCH", srv, f"/shows/{s['id']}", token=c.owner.token,
            json={"prices": {"premium": 3660, "regular": 2250}}))
