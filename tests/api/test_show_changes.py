"""Changing a show (API.md "Running a cinema"): PATCH /shows/{id} {starts_at?, prices?}.

A new time is checked like a new show (overlap under the hall's lock: of two moves into one slot
exactly one wins; not in the past; not for a cancelled or ended show), keeps the show's length,
mails every confirmed booking through the outbox and, after a move of more than
RESCHEDULE_FREE_CANCEL_MINUTES, lets those bookings be cancelled with a full refund until the new
start. New prices apply to seats not held or sold: a live hold and a booking keep the price they
were given. Cached seat maps and listings follow at once on every server. Every test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from booking_helpers import (Venue, api, book, buy, confirm, get_booking, hold, pay, post_cancel,
                             seat_map, starts_in)
from catalog_helpers import create_movie, create_show, iso, parse_time, utcnow
from conftest import assert_error, call
from test_jobs import query
from test_mail import db_exec


def patch_show(server, token, show_id: str, body) -> "requests.Response":
    return api("PATCH", server, f"/shows/{show_id}", token=token, json=body)


# --------------------------------------------------------------------------------------------
# Prices: a hold keeps the price it was given


def test_a_booking_charges_the_price_its_hold_was_given(server):
    """The price changes between the hold and the booking (here straight in the database):
    the booking charges what the hold said, seat by seat."""
    v = Venue(server)
    tok = v.owner_token
    h = hold(server, tok, v.show_id, seat_ids=v.ids("A1", "C1"))
    assert h["amount"] == 40000 + 25000
    db_exec(server.database_url,
            f"UPDATE show_prices SET amount = amount + 1000 WHERE show_id = '{v.show_id}'")
    body = book(server, tok, h["hold_id"])
    b = body["booking"]
    assert b["amount"] == h["amount"] == body["payment"]["amount"], body
    assert sorted(s["price"] for s in b["seats"]) == [25000, 40000], b["seats"]
    # a new hold gets the new price
    h2 = hold(server, tok, v.show_id, seat_ids=v.ids("A2"))
    assert h2["amount"] == 41000
