"""
What the Python benches share: a keep-alive API client, a percentile, a free loopback port, and
the venue every bench sets up before it measures anything (an owner, an approved theatre with
one hall, a movie, shows on demand). Used by bench/checkin.py, promo.py and sse_memory.py; the
benches import it from their own directory (`bench/x.py` puts bench/ first on sys.path).

Set-up calls go through Api.ok(), which ends the bench (SystemExit) on any status but the one
expected: a bench whose set-up failed has nothing to measure. Only the standard library.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import threading
import time
import uuid
from datetime import datetime


class Api:
    """One keep-alive connection to 127.0.0.1:port; call() returns (status, JSON or None).
    A connection the server closed is opened again once per call. Not for sharing between
    threads: each thread makes its own."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        tok = token or self.token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
                if attempt:
                    raise
        try:
            return r.status, json.loads(payload) if payload else None
        except ValueError:
            return r.status, None

    def ok(self, method: str, path: str, body=None, status: int = 200, token=None):
        """call(), and the answer's JSON when its status is `status`; else ends the bench."""
        s, j = self.call(method, path, body, token)
        if s != status:
            raise SystemExit(f"set-up: {method} {path} -> {s} {j}")
        return j

    def close(self) -> None:
        self.conn.close()


def server_args() -> argparse.ArgumentParser:
    """An argument parser with what a bench against a running server needs: --port,
    --admin-email and --admin-password (the server's ADMIN_EMAIL / ADMIN_PASSWORD)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password", required=True)
    return ap


def run_threads(target, n: int) -> float:
    """Runs target(0) .. target(n - 1) in n threads at once; the wall seconds until all end."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.monotonic() - t0


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile of xs (nearest rank), 0 for none."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Venue:
    """Logs in as the admin (self.at), registers an owner (self.ot) and makes, as them, an
    approved theatre (self.theatre) with one hall of `rows` rows of `seats` regular seats
    (self.hall) and a movie (self.movie). Accounts get `password` and addresses @`domain`."""

    def __init__(self, api: Api, admin_email: str, admin_password: str, *, password: str,
                 domain: str, theatre: str, address: str, rows: list[str], seats: int,
                 movie: str, minutes: int = 120):
        self.a, self.password, self.domain = api, password, domain
        a = api
        self.at = a.ok("POST", "/auth/login", {"email": admin_email,
                                               "password": admin_password})["access_token"]
        owner = self.account("owner")
        a.ok("PATCH", f"/admin/users/{owner['user']['id']}", {"role": "owner"}, token=self.at)
        self.ot = a.ok("POST", "/auth/login", {"email": owner["email"], "password": password})[
            "access_token"]
        self.theatre = a.ok("POST", "/theatres", {"name": theatre, "city": "Pune",
                                                  "address": address}, 201, self.ot)
        if self.theatre.get("status") == "pending":  # onboarding: shows need an approved one
            a.ok("POST", f"/admin/theatres/{self.theatre['id']}/approve", None, 200, self.at)
        self.hall = a.ok("POST", f"/theatres/{self.theatre['id']}/halls",
                         {"name": "Audi 1", "layout": {"rows": [
                             {"label": r, "seats": seats, "category": "regular"}
                             for r in rows]}}, 201, self.ot)
        self.movie = a.ok("POST", "/movies", {"title": movie, "duration_minutes": minutes,
                                              "release_date": "2026-01-01", "certificate": "U",
                                              "languages": ["en"], "genres": ["drama"]}, 201,
                          self.at)

    def account(self, label: str) -> dict:
        """Registers a new user; the register answer (user, tokens) plus its email."""
        email = f"{label}-{uuid.uuid4().hex[:10]}@{self.domain}"
        return self.a.ok("POST", "/auth/register", {"email": email, "password": self.password,
                                                    "name": label}, 201) | {"email": email}

    def show(self, starts_at: datetime) -> tuple[str, list[str]]:
        """A show of the movie in the hall at starts_at (UTC, regular seats at 200.00 INR);
        returns its id and its seat ids."""
        show = self.a.ok("POST", "/shows", {"movie_id": self.movie["id"],
                                            "hall_id": self.hall["id"],
                                            "starts_at": starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "prices": {"regular": 20000}, "currency": "INR"},
                         201, self.ot)
        seats = [s["id"] for s in self.a.ok("GET", f"/shows/{show['id']}/seats")["seats"]]
        return show["id"], seats
