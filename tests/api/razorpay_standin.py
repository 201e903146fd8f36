"""
A local stand-in for Razorpay's REST API and webhooks, for the API tests (and by hand:
`python3 razorpay_standin.py --port 9000 --key-id rzp_test_x --key-secret s --webhook-secret w`).

It checks every request the way the real service does, as far as ticketd uses it:
- HTTP Basic auth with key_id:key_secret (401 and Razorpay's error shape otherwise);
- POST /v1/orders: a JSON object with only known fields; amount an integer >= 100 (paise);
  currency a known ISO code (the last digit 0 for KWD, BHD, OMR); receipt a string of at most 40 characters, unique (the stand-in is
  stricter than Razorpay here: the receipt is ticketd's booking id and must never repeat);
  notes an object of at most 15 pairs with short values;
- POST /v1/payments/{id}/refund: X-Refund-Idempotency of >= 10 letters, digits, '-' or '_'
  (required here); the same key with the same body returns the same refund as it is now, never
  a second one, even when that refund failed (the same key with another body is a 400); the
  amount at most what is left of the capture, where a failed refund does not count;
- GET /v1/orders/{id}, /v1/orders/{id}/payments, /v1/payments/{id}, /v1/refunds/{id} and
  /v1/payments/{payment id}/refunds/{refund id} (404 unless the refund is of that payment);
  refunds are served as they are now (settle_refund changes them without any webhook).
Errors are `{"error": {"code": "BAD_REQUEST_ERROR", "description": ...}}` with 400 (401 for
auth, 404 for unknown ids, 500 SERVER_ERROR for injected faults). Ids look like Razorpay's:
`order_`, `pay_`, `rfnd_` + 14 alphanumerics.

The tests play the customer (pay an order, fail a payment) and Razorpay's webhook sender
(signed envelopes with X-Razorpay-Signature and X-Razorpay-Event-Id), and inject faults:
`fail(target, mode, count)` where target is "orders", "refund", "payments" or "*" and mode is
"5xx" (answer 500, do nothing), "5xx_after" (do it, then answer 500: the ambiguous case),
"4xx", "timeout" (answer after `delay` seconds) or "reset" (close without answering); `down()` /
`up()` stop and restart listening on the same port (down() also closes every open connection,
as a server that goes away does). Connections are kept alive (HTTP/1.1) like Razorpay's;
`connections` counts the TCP connections accepted so far, and each call says whether it
came on a connection that had served an earlier request (`reused`). The same controls are reachable over HTTP at
POST /__control (no auth; loopback only) with {"action": "fail"|"clear"|"refund_status", ...}.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ALNUM = string.ascii_letters + string.digits
CURRENCIES = {"INR", "USD", "EUR", "GBP", "SGD", "AED", "MYR", "AUD", "CAD", "CHF", "HKD", "LKR",
              "NPR", "QAR", "SAR", "THB", "JPY", "KWD", "BHD", "OMR"}
# Razorpay takes three-decimal currencies only with the last digit of the amount 0 (docs:
# "Checkout parameters", "Currency Conversion", May 2024); JPY has no decimals.
THREE_DECIMAL = {"KWD", "BHD", "OMR"}
ORDER_FIELDS = {"amount", "currency", "receipt", "notes", "partial_payment",
                "first_payment_min_amount"}
REFUND_FIELDS = {"amount", "speed", "notes", "receipt"}
IDEM_RE = re.compile(r"^[A-Za-z0-9_-]{10,}$")


def rzp_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(ALNUM) for _ in range(14))


class ApiError(Exception):
    def __init__(self, status: int, description: str, field: str | None = None,
                 code: str = "BAD_REQUEST_ERROR"):
        super().__init__(description)
        self.status, self.description, self.field, self.code = status, description, field, code

    def body(self) -> dict:
        err = {"code": self.code, "description": self.description, "source": "business",
               "step": "payment_initiation", "reason": "input_validation_failed",
               "metadata": {}}
        if self.field:
            err["field"] = self.field
        return {"error": err}


class Fault:
    def __init__(self, target: str, mode: str, count: int, delay: float):
        self.target, self.mode, self.count, self.delay = target, mode, count, delay


class RazorpayStandin:
    def __init__(self, key_id: str, key_secret: str, webhook_secret: str, port: int = 0):
        self.key_id, self.key_secret, self.webhook_secret = key_id, key_secret, webhook_secret
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}
        self.receipts: dict[str, str] = {}
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.refund_keys: dict[str, tuple[str, str]] = {}  # key -> (body fingerprint, refund id)
        self.calls: list[dict] = []  # every request: method, path, auth_ok, status, headers, body
        self.faults: list[Fault] = []
        self.refund_status = "processed"  # what new refunds start as
        self.connections = 0  # TCP connections accepted (keep-alive makes this < requests)
        self.open_conns: set[socket.socket] = set()
        self.port = port
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "RazorpayStandin":
        standin = self

        class Handler(_Handler):
            owner = standin

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        with self.lock:
            conns = list(self.open_conns)
        for conn in conns:  # kept-alive connections go down with the server
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    down = stop  # connections are refused until up()

    def up(self) -> None:
        self.start()  # the same port (SO_REUSEADDR)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- control --------------------------------------------------------------------------

    def fail(self, target: str, mode: str, count: int = 1, delay: float = 12.0) -> None:
        assert target in ("orders", "refund", "payments", "*"), target
        assert mode in ("5xx", "5xx_after", "4xx", "timeout", "reset"), mode
        with self.lock:
            self.faults.append(Fault(target, mode, count, delay))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.refund_status = "processed"

    def take_fault(self, target: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.count > 0 and f.target in (target, "*"):
                    f.count -= 1
                    return f
        return None

    # ---- the customer's side --------------------------------------------------------------

    def order_by_receipt(self, receipt: str) -> dict | None:
        with self.lock:
            oid = self.receipts.get(receipt)
            return dict(self.orders[oid]) if oid else None

    def pay(self, order_id: str, status: str = "captured", amount: int | None = None) -> dict:
        """A customer's payment of an order: captured (the order becomes paid) or failed; of
        the order's amount unless `amount` says otherwise (what Razorpay should never do)."""
        with self.lock:
            order = self.orders[order_id]
            pay = {
                "id": rzp_id("pay"), "entity": "payment",
                "amount": order["amount"] if amount is None else amount,
                "currency": order["currency"], "status": status, "order_id": order_id,
                "invoice_id": None, "international": False, "method": "upi",
                "amount_refunded": 0, "refund_status": None, "captured": status == "captured",
                "description": None, "card_id": None, "bank": None, "wallet": None,
                "vpa": "success@razorpay", "email": "customer@example.com",
                "contact": "+919000090000", "notes": [], "fee": None, "tax": None,
                "error_code": None if status == "captured" else "BAD_REQUEST_ERROR",
                "error_description": None if status == "captured" else "Payment failed",
                "created_at": int(time.time()),
            }
            self.payments[pay["id"]] = pay
            order["attempts"] += 1
            if status == "captured":
                order.update(status="paid", amount_paid=order["amount"], amount_due=0)
            else:
                order["status"] = "attempted"
            return dict(pay)

    def checkout_signature(self, order_id: str, payment_id: str) -> str:
        return hmac.new(self.key_secret.encode(), f"{order_id}|{payment_id}".encode(),
                        hashlib.sha256).hexdigest()

    def refunds_of(self, payment_id: str) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.refunds.values() if r["payment_id"] == payment_id]

    def settle_refund(self, refund_id: str, status: str) -> dict:
        """Razorpay finishing a refund: processed, or failed (its amount is refundable again)."""
        with self.lock:
            refund = self.refunds[refund_id]
            if status == "failed" and refund["status"] != "failed":
                self._count_refund(self.payments[refund["payment_id"]], -refund["amount"])
            refund["status"] = status
            return dict(refund)

    def calls_to(self, method: str, path_re: str) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["method"] == method and re.search(path_re, c["path"])]

    # ---- webhooks -------------------------------------------------------------------------

    def event(self, event: str, payment: dict | None = None, order: dict | None = None,
              refund: dict | None = None) -> dict:
        """A webhook envelope as Razorpay sends it."""
        payload, contains = {}, []
        for name, ent in (("payment", payment), ("order", order), ("refund", refund)):
            if ent is not None:
                payload[name] = {"entity": ent}
                contains.append(name)
        return {"entity": "event", "account_id": "acc_" + "".join(secrets.choice(ALNUM)
                                                                    for _ in range(14)),
                "event": event, "contains": contains, "payload": payload,
                "created_at": int(time.time())}

    def sign(self, body: bytes, secret: str | None = None) -> str:
        return hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()

    def send_webhook(self, url: str, envelope: dict | bytes, event_id: str | None = None,
                     signature: str | None = None, secret: str | None = None,
                     timeout: float = 10) -> requests.Response:
        """POSTs a signed event to url; returns the response. event_id None = a fresh one."""
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json",
                   "X-Razorpay-Event-Id": event_id or rzp_id("evt")[4:],
                   "User-Agent": "Razorpay-Webhook/v1"}
        sig = signature if signature is not None else self.sign(body, secret)
        if sig:
            headers["X-Razorpay-Signature"] = sig
        return requests.post(url, data=body, headers=headers, timeout=timeout)

    # ---- the API (called by the handler with the lock NOT held) ---------------------------

    def create_order(self, body) -> tuple[int, dict]:
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")
        extra = set(body) - ORDER_FIELDS
        if extra:
            raise ApiError(400, f"{', '.join(sorted(extra))} is/are not required and should not "
                                "be sent", sorted(extra)[0])
        amount, currency, receipt = body.get("amount"), body.get("currency"), body.get("receipt")
        if type(amount) is not int:
            raise ApiError(400, "The amount must be an integer.", "amount")
        if amount < 100:
            raise ApiError(400, "The amount must be atleast INR 1.00", "amount")
        if currency not in CURRENCIES:
            raise ApiError(400, "The requested currency is invalid.", "currency")
        if currency in THREE_DECIMAL and amount % 10 != 0:
            raise ApiError(400, "The last digit of the amount must be 0 for this currency.",
                           "amount")
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            raise ApiError(400, "The receipt may not be greater than 40 characters.", "receipt")
        notes = body.get("notes", {})
        if not isinstance(notes, dict) or len(notes) > 15 or any(
                not isinstance(v, (str, int, float)) or len(str(v)) > 256 for v in notes.values()):
            raise ApiError(400, "The notes field must be an object of at most 15 short values.",
                           "notes")
        with self.lock:
            if receipt is not None and receipt in self.receipts:
                raise ApiError(400, "Order receipt should be unique.", "receipt")
            order = {"id": rzp_id("order"), "entity": "order", "amount": amount,
                     "amount_paid": 0, "amount_due": amount, "currency": currency,
                     "receipt": receipt, "offer_id": None, "status": "created", "attempts": 0,
                     "notes": notes or [], "created_at": int(time.time())}
            self.orders[order["id"]] = order
            if receipt is not None:
                self.receipts[receipt] = order["id"]
            return 200, dict(order)

    def create_refund(self, payment_id: str, body, idem: str | None) -> tuple[int, dict]:
        if idem is None or not IDEM_RE.match(idem):
            raise ApiError(400, "X-Refund-Idempotency must be at least 10 letters, digits, "
                                "'-' or '_'", "X-Refund-Idempotency")
        if not isinstance(body, dict) or set(body) - REFUND_FIELDS:
            raise ApiError(400, "Only amount, speed, notes and receipt may be sent")
        amount = body.get("amount")
        if amount is not None and (type(amount) is not int or amount < 100):
            raise ApiError(400, "The amount must be an integer of at least 100.", "amount")
        if body.get("speed", "normal") not in ("normal", "optimum"):
            raise ApiError(400, "The selected speed is invalid.", "speed")
        if "receipt" in body and (not isinstance(body["receipt"], str) or
                                  len(body["receipt"]) > 40):
            raise ApiError(400, "The receipt may not be greater than 40 characters.", "receipt")
        fingerprint = json.dumps([payment_id, body], sort_keys=True)
        with self.lock:
            if idem in self.refund_keys:
                fp, rid = self.refund_keys[idem]
                if fp != fingerprint:
                    raise ApiError(400, "The idempotency key was used with a different request")
                # Razorpay's answer to a repeated key: the refund it made the first time, as it
                # is now (a failed one stays failed: only a new key makes a new refund).
                return 200, self._public_refund(self.refunds[rid])
            pay = self.payments.get(payment_id)
            if pay is None:
                raise ApiError(404, "The id provided does not exist")
            if pay["status"] not in ("captured", "refunded"):
                raise ApiError(400, "Only captured payments can be refunded")
            left = pay["amount"] - pay["amount_refunded"]
            amount = left if amount is None else amount
            if amount > left or amount <= 0:
                raise ApiError(400, "The refund amount provided is greater than amount captured",
                               "amount")
            refund = {"id": rzp_id("rfnd"), "entity": "refund", "amount": amount,
                      "currency": pay["currency"], "payment_id": payment_id,
                      "notes": body.get("notes", []), "receipt": body.get("receipt"),
                      "acquirer_data": {"arn": None}, "created_at": int(time.time()),
                      "batch_id": None, "status": self.refund_status,
                      "speed_processed": "normal", "speed_requested": body.get("speed", "normal"),
                      "idempotency_key": idem}
            self.refunds[refund["id"]] = refund
            self.refund_keys[idem] = (fingerprint, refund["id"])
            if refund["status"] != "failed":
                self._count_refund(pay, amount)
            return 200, self._public_refund(refund)

    @staticmethod
    def _public_refund(refund: dict) -> dict:
        return {k: v for k, v in refund.items() if k != "idempotency_key"}

    @staticmethod
    def _count_refund(pay: dict, amount: int) -> None:
        """Adds (or with a negative amount, gives back) a refund to its payment's totals."""
        pay["amount_refunded"] += amount
        if pay["amount_refunded"] == 0:
            pay["refund_status"] = None
            pay["status"] = "captured"
        else:
            full = pay["amount_refunded"] == pay["amount"]
            pay["refund_status"] = "full" if full else "partial"
            pay["status"] = "refunded" if full else "captured"

    def get(self, path: str) -> tuple[int, dict]:
        with self.lock:
            m = re.fullmatch(r"/v1/payments/([^/]+)/refunds/([^/]+)", path)
            if m:
                refund = self.refunds.get(m.group(2))
                if refund is None or refund["payment_id"] != m.group(1):
                    raise ApiError(404, "The id provided does not exist")
                return 200, self._public_refund(refund)
            m = re.fullmatch(r"/v1/orders/([^/]+)/payments", path)
            if m and m.group(1) in self.orders:
                items = [dict(p) for p in self.payments.values() if p["order_id"] == m.group(1)]
                return 200, {"entity": "collection", "count": len(items), "items": items}
            for pattern, table in ((r"/v1/orders/([^/]+)", self.orders),
                                   (r"/v1/payments/([^/]+)", self.payments),
                                   (r"/v1/refunds/([^/]+)", self.refunds)):
                m = re.fullmatch(pattern, path)
                if m and m.group(1) in table:
                    return 200, self._public_refund(table[m.group(1)])  # a copy
        raise ApiError(404, "The id provided does not exist")


class _Handler(BaseHTTPRequestHandler):
    owner: RazorpayStandin
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY a kept-alive connection waits
    # for the client's delayed ACK (40 ms) between them, which no real server makes you do.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.served = 0  # requests answered on this connection so far
        with self.owner.lock:
            self.owner.connections += 1
            self.owner.open_conns.add(self.connection)

    def finish(self) -> None:
        with self.owner.lock:
            self.owner.open_conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a time-out test)

    def _auth_ok(self) -> bool:
        want = "Basic " + base64.b64encode(
            f"{self.owner.key_id}:{self.owner.key_secret}".encode()).decode()
        return hmac.compare_digest(self.headers.get("Authorization", ""), want)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        return json.loads(raw)

    def _target(self, method: str, path: str) -> str:
        if method == "POST" and path == "/v1/orders":
            return "orders"
        if method == "POST" and re.fullmatch(r"/v1/payments/[^/]+/refund", path):
            return "refund"
        return "payments"

    def _route(self, method: str, path: str, body):
        o = self.owner
        if method == "POST" and path == "/v1/orders":
            return o.create_order(body)
        m = re.fullmatch(r"/v1/payments/([^/]+)/refund", path)
        if method == "POST" and m:
            return o.create_refund(m.group(1), body, self.headers.get("X-Refund-Idempotency"))
        if method == "GET":
            return o.get(path)
        raise ApiError(404, "The requested URL was not found on the server.")

    def _control(self, body) -> None:
        o = self.owner
        action = (body or {}).get("action")
        if action == "fail":
            o.fail(body["target"], body["mode"], int(body.get("count", 1)),
                   float(body.get("delay", 12)))
        elif action == "clear":
            o.clear()
        elif action == "refund_status":
            o.refund_status = body["status"]
        else:
            self._send(400, {"error": "unknown action"})
            return
        self._send(200, {"ok": True})

    def _handle(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._body()
        except (ValueError, UnicodeDecodeError):
            body = ValueError
        if path == "/__control":
            self._control(body if isinstance(body, dict) else None)
            return
        call = {"method": method, "path": path, "auth_ok": self._auth_ok(), "status": None,
                "headers": dict(self.headers), "body": body if body is not ValueError else None,
                "reused": self.served > 0}  # came on a kept-alive connection
        self.served += 1
        with self.owner.lock:
            self.owner.calls.append(call)
        status, resp = self._dispatch(method, path, body, call)
        call["status"] = status
        if status is not None:
            self._send(status, resp)

    def _dispatch(self, method, path, body, call):
        fault = self.owner.take_fault(self._target(method, path))
        if fault is not None and fault.mode == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None, None
        if fault is not None and fault.mode == "timeout":
            time.sleep(fault.delay)
            return 504, ApiError(504, "Gateway time-out", code="GATEWAY_ERROR").body()
        if fault is not None and fault.mode == "5xx":
            return 500, ApiError(500, "We are facing some trouble completing your request at "
                                 "the moment. Please try again shortly.", code="SERVER_ERROR").body()
        if fault is not None and fault.mode == "4xx":
            return 400, ApiError(400, "Injected bad request").body()
        if not call["auth_ok"]:
            return 401, ApiError(401, "Authentication failed").body()
        if body is ValueError:
            return 400, ApiError(400, "The request body is not valid JSON").body()
        if method == "POST" and "json" not in self.headers.get("Content-Type", ""):
            return 400, ApiError(400, "Content-Type must be application/json").body()
        try:
            status, resp = self._route(method, path, body)
        except ApiError as e:
            return e.status, e.body()
        if fault is not None and fault.mode == "5xx_after":
            return 500, ApiError(500, "We are facing some trouble completing your request at "
                                 "the moment. Please try again shortly.", code="SERVER_ERROR").body()
        return status, resp

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key-id", default="rzp_test_standin0001")
    ap.add_argument("--key-secret", default="standin-key-secret")
    ap.add_argument("--webhook-secret", default="standin-webhook-secret")
    args = ap.parse_args()
    s = RazorpayStandin(args.key_id, args.key_secret, args.webhook_secret, args.port).start()
    print(f"Razorpay stand-in on {s.base}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()


if __name__ == "__main__":
    main()
