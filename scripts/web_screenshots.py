#!/usr/bin/env python3
"""Screenshots of every page of the web app, for the README: docs/screenshots/<page>.png.

Starts the release server (TICKETD_BIN, default build/ticketd) on a throwaway SQLite file with
the demo data (DEMO_DATA=1, as `make run` does), buys two seats as the demo user through the
API, and photographs each page in headless chromium (the browser tests' helpers): the listing,
a seat map with a hold (desktop and phone), the tickets with their QR codes, the door after a
check-in, the sales report and the API docs.

    /usr/bin/python3 scripts/web_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
import conftest as web  # noqa: E402  (the browser tests' helpers and the API suite's)
from booking_helpers import buy  # noqa: E402
from conftest import By, call, login, wait  # noqa: E402

OUT = REPO / "docs" / "screenshots"


def shot(drv, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(OUT / f"{name}.png"))
    print(OUT / f"{name}.png")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="web-shots-"))
    srv = web.Server("sqlite", f"sqlite://{tmp / 't.db'}", tmp, WEB_DIR=str(REPO / "web"),
                     DEMO_DATA="1")
    srv.start()
    desk = phone = None
    try:
        user = login(srv, "user@ticketd.local", "user-password")
        owner = login(srv, "owner@ticketd.local", "owner-password")
        shows = call("GET", srv, "/shows?city=Mumbai&limit=20").json()["items"]
        show = max(shows, key=lambda s: len(call("GET", srv, f"/shows/{s['id']}/seats")
                                            .json()["seats"]))  # the 330-seat hall
        seats = call("GET", srv, f"/shows/{show['id']}/seats").json()["seats"]
        by_label = {s["label"]: s["id"] for s in seats}
        bk = buy(srv, user["access_token"], show["id"], [by_label["F8"], by_label["F9"]])
        other = login(srv, "owner@ticketd.local", "owner-password")  # someone else's hold
        call("POST", srv, f"/shows/{show['id']}/holds", token=other["access_token"],
             json={"seat_ids": [by_label["E5"], by_label["E6"], by_label["E7"]]})

        desk = web.new_browser(1280, 900)
        desk.get(f"{srv.url}/?city=Mumbai&date={show['starts_at'][:10]}")
        wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, ".movie a"))
        shot(desk, "home")

        web.sign_in_as(desk, srv, user)
        desk.get(f"{srv.url}/shows/{show['id']}")
        wait(desk, lambda d: d.execute_script("return document.body.dataset.live === 'yes'"))
        desk.find_element(By.ID, "best").click()
        wait(desk, lambda d: d.find_element(By.ID, "hold-panel").is_displayed())
        desk.set_window_size(1280, 1500)
        shot(desk, "show")

        phone = web.new_browser(412, 915)
        web.sign_in_as(phone, srv, user)
        phone.get(f"{srv.url}/shows/{show['id']}")
        wait(phone, lambda d: d.execute_script("return document.body.dataset.live === 'yes'"))
        shot(phone, "show-phone")

        desk.set_window_size(1280, 900)
        desk.get(f"{srv.url}/bookings/{bk['id']}")
        wait(desk, lambda d: len(d.find_elements(By.CSS_SELECTOR, "img[data-loaded=yes]")) == 2)
        shot(desk, "booking")

        web.sign_in_as(desk, srv, owner)
        desk.get(f"{srv.url}/door")
        wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#theatre option"))
        desk.execute_script("const s = document.getElementById('theatre'); s.value = arguments[0];",
                            show["theatre_id"])
        desk.find_element(By.ID, "code").send_keys(bk["tickets"][0]["code"] + "\n")
        wait(desk, lambda d: d.find_element(By.ID, "verdict").text)
        shot(desk, "door")

        desk.get(f"{srv.url}/sales")
        wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#table table, #status.error"))
        shot(desk, "sales")

        desk.get(f"{srv.url}/docs")
        wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, ".api-content"), 60)
        shot(desk, "docs")
    finally:
        for d in (desk, phone):
            if d:
                d.quit()
        srv.stop()


if __name__ == "__main__":
    main()
