"""The seat map's page paying through Razorpay Checkout (issue 17), in headless chromium, against
a server with Razorpay keys pointed at the API suite's stand-in (tests/api/razorpay_standin.py).

Razorpay's real Checkout cannot be reached from here, so RAZORPAY_CHECKOUT_URL points at a fake
checkout.js served by this module from another local origin (so the page's Content-Security-
Policy is really put to the test: the script, and the fake's call home, come from an origin that
is not the server's). The fake does what Checkout does for the page: `new Razorpay(options)`,
`.open()`, then the options' handler gets {razorpay_payment_id, razorpay_order_id,
razorpay_signature}. Its "payment" is made at the stand-in (rzp.pay) and signed the way Razorpay
signs a checkout (hex HMAC-SHA256 of order_id|payment_id with the key secret); the page must
post that to POST /bookings/{id}/confirm and land on the confirmed booking.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from booking_helpers import get_booking
from conftest import By, login, register, serve_web, sign_in_as, unique_email, wait
from razorpay_standin import RazorpayStandin

from test_web_app import PRICES, open_show, seat

KEY_ID = "rzp_test_TicketdWebPay01"
KEY_SECRET = "webpayKeySecret0123456789"
WEBHOOK_SECRET = "webpay-webhook-secret-0123456789"

FAKE_JS = """
/* A fake Razorpay Checkout for tests/browser/test_web_pay.py (never served by ticketd). */
(function () {
  const HOME = %(home)s;
  window.Razorpay = function (options) {
    const failed = [];
    window.tixFakeCheckout = { options: Object.assign({}, options, { handler: typeof options.handler }) };
    this.on = function (event, fn) { if (event === 'payment.failed') failed.push(fn); };
    this.open = function () {
      window.tixFakeCheckout.opened = true;
      fetch(HOME + '/pay', { method: 'POST', headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ key: options.key, order_id: options.order_id, amount: options.amount,
          currency: options.currency }) })
        .then((r) => r.json())
        .then((a) => {
          if (a.error) { for (const fn of failed) fn({ error: a.error }); return; }
          options.handler(a);
        });
    };
  };
})();
"""


class FakeCheckout:
    """checkout.js and its /pay endpoint on 127.0.0.1 (another origin than the server's)."""

    def __init__(self, rzp: RazorpayStandin):
        self.rzp = rzp
        self.paid: list[dict] = []
        self.refuse = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/v1/checkout.js":
                    self._send(404, "text/plain", b"no")
                    return
                js = FAKE_JS % {"home": json.dumps(fake.base)}
                self._send(200, "text/javascript", js.encode())

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(n) or b"{}")
                order = fake.rzp.orders.get(req.get("order_id"))
                if fake.refuse or order is None or req.get("key") != KEY_ID or \
                        req.get("amount") != order["amount"] or \
                        req.get("currency") != order["currency"]:
                    body = {"error": {"code": "BAD_REQUEST_ERROR",
                                      "description": "fake checkout refused the payment"}}
                    self._send(200, "application/json", json.dumps(body).encode())
                    return
                pay = fake.rzp.pay(order["id"])
                answer = {"razorpay_payment_id": pay["id"], "razorpay_order_id": order["id"],
                          "razorpay_signature": fake.rzp.checkout_signature(order["id"],
                                                                           pay["id"])}
                fake.paid.append(answer)
                self._send(200, "application/json", json.dumps(answer).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def rzp():
    s = RazorpayStandin(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fake_checkout(rzp):
    f = FakeCheckout(rzp)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def pay_server(tmp_path_factory, ticketd_bin, rzp, fake_checkout):
    yield from serve_web(tmp_path_factory, "web-pay",
                         RAZORPAY_KEY_ID=KEY_ID, RAZORPAY_KEY_SECRET=KEY_SECRET,
                         RAZORPAY_WEBHOOK_SECRET=WEBHOOK_SECRET, RAZORPAY_API_BASE=rzp.base,
                         RAZORPAY_CHECKOUT_URL=fake_checkout.base + "/v1/checkout.js")


@pytest.fixture(scope="module")
def venue(pay_server):
    from test_web_app import World
    return World(pay_server)


def new_buyer_holds(drv, srv, show_id: str, *labels) -> dict:
    """A new user, signed in on the page, holding labels on the show's page; the user's login."""
    email = unique_email("webpay")
    register(srv, email=email)
    user = login(srv, email)
    sign_in_as(drv, srv, user)
    open_show(drv, srv, show_id)
    hold_seats(drv, *labels)
    return user


def hold_seats(drv, *labels) -> None:
    for label in labels:
        seat(drv, label).click()
    drv.find_element(By.ID, "hold").click()
    wait(drv, lambda d: d.find_element(By.ID, "hold-panel").is_displayed(), what="no hold")


def test_pays_through_razorpay_checkout(pay_server, browser, venue, rzp, fake_checkout):
    drv, srv = browser, pay_server
    user = new_buyer_holds(drv, srv, venue.show_id, "C3", "C4")
    drv.find_element(By.ID, "pay").click()
    wait(drv, lambda d: "/bookings/" in d.current_url, timeout=20,
         what="Checkout's answer did not lead to the tickets")
    booking_id = drv.current_url.rsplit("/", 1)[1]
    wait(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "img[data-loaded=yes]")) == 2,
         what="the tickets' QR codes did not load")
    b = get_booking(srv, user["access_token"], booking_id)
    assert b["status"] == "confirmed", b
    assert sorted(t["label"] for t in b["tickets"]) == ["C3", "C4"]
    # Checkout was opened on the server's order, with its key and amount
    assert len(fake_checkout.paid) == 1
    order_id = fake_checkout.paid[0]["razorpay_order_id"]
    assert rzp.orders[order_id]["status"] == "paid"
    assert rzp.orders[order_id]["amount"] == b["amount"] == 2 * PRICES["regular"]
    # nothing the CSP refused, nothing else went wrong
    errors = [e for e in drv.get_log("browser")
              if e["level"] == "SEVERE" and "/favicon.ico" not in e["message"]]
    assert not errors, errors


def test_a_refused_payment_leaves_the_booking_waiting(pay_server, browser, venue, fake_checkout):
    """Checkout reports the payment failed: the page says so and stays; paying again reuses the
    same booking and order (no second order for one hold), and then confirms."""
    drv, srv = browser, pay_server
    user = new_buyer_holds(drv, srv, venue.show_id, "E5")
    fake_checkout.refuse = True
    try:
        drv.find_element(By.ID, "pay").click()
        status = drv.find_element(By.ID, "status")
        wait(drv, lambda d: "Payment failed" in status.text, what="the failure was not shown")
        assert "/shows/" in drv.current_url
        opened = drv.execute_script("return window.tixFakeCheckout.options")
        assert opened["key"] == KEY_ID and opened["order_id"].startswith("order_"), opened
        assert opened["handler"] == "function"
    finally:
        fake_checkout.refuse = False
    before = len(fake_checkout.paid)
    drv.find_element(By.ID, "pay").click()
    wait(drv, lambda d: "/bookings/" in d.current_url, timeout=20, what="the second try failed")
    assert fake_checkout.paid[before]["razorpay_order_id"] == opened["order_id"]
    b = get_booking(srv, user["access_token"], drv.current_url.rsplit("/", 1)[1])
    assert b["status"] == "confirmed" and [t["label"] for t in b["tickets"]] == ["E5"], b
