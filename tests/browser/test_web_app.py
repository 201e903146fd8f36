"""The web app in a real browser (headless chromium): a whole purchase through the pages, two
browsers seeing each other's holds live, the door admitting a ticket once, and axe-core finding
no serious or critical accessibility violation on any page."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest

from booking_helpers import Venue, buy, get_booking, starts_in
from catalog_helpers import ok
from conftest import (DEFAULT_PASSWORD, By, Keys, admin_tokens, axe_violations, call, login,
                      new_browser, register, sign_in_as, sign_out, unique_email, wait)

LAYOUT = {"rows": [{"label": lbl, "seats": 12, "category": "premium" if lbl in "AB" else "regular",
                    "gaps_after": [6]} for lbl in "ABCDEFGH"]}
PRICES = {"premium": 40000, "regular": 25000}


class World:
    """An owner (signed in through the API), a theatre with a show starting within the door's
    window, and a customer with a known password for the sign-in form."""

    def __init__(self, server):
        self.server = server
        adm = admin_tokens(server)
        self.owner_email = unique_email("webowner")
        reg = register(server, email=self.owner_email, name="Web Owner")
        ok(call("PATCH", server, f"/admin/users/{reg['user']['id']}", token=adm["access_token"],
                json={"role": "owner"}), 200)
        self.owner = login(server, self.owner_email)
        self.venue = Venue(server, layout=LAYOUT, prices=PRICES, starts_at=starts_in(1),
                           owner_token=self.owner["access_token"])
        self.show_id = self.venue.show_id
        self.user_email = unique_email("webuser")
        register(server, email=self.user_email, name="Web User")

    def new_user(self) -> dict:
        email = unique_email("webuser")
        register(self.server, email=email)
        return login(self.server, email)


@pytest.fixture(scope="module")
def world(web_server):
    return World(web_server)


def seat(drv, label: str):
    return drv.find_element(By.CSS_SELECTOR, f'button.seat[data-label="{label}"]')


def open_show(drv, server, show_id: str) -> None:
    drv.get(f"{server.url}/shows/{show_id}")
    wait(drv, lambda d: d.execute_script("return document.body.dataset.seatmap === 'painted' && "
                                         "document.body.dataset.live === 'yes'"),
         what="the seat map was not painted or its event stream did not start")


def test_a_whole_purchase(web_server, browser, world):
    drv, srv = browser, web_server
    sign_out(drv, srv)
    t = world.venue.theatre
    starts = datetime.fromisoformat(world.venue.show["starts_at"].replace("Z", "+00:00"))
    local = starts + timedelta(minutes=t.get("utc_offset_minutes") or 0)  # the theatre's date
    drv.get(f"{srv.url}/?city={t['city']}&date={local.date().isoformat()}")
    # sign in through the header's form
    drv.find_element(By.ID, "email").send_keys(world.user_email)
    drv.find_element(By.ID, "password").send_keys(DEFAULT_PASSWORD)
    drv.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    wait(drv, lambda d: d.find_elements(By.ID, "signed-in"), what="sign-in did not take")
    link = wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, f'a[href="/shows/{world.show_id}"]'),
                what="the show is not listed for its city and date")[0]
    link.click()
    wait(drv, lambda d: d.execute_script("return document.body.dataset.seatmap === 'painted'"))
    # every seat is a labelled button; status is in words, not colour alone
    buttons = drv.find_elements(By.CSS_SELECTOR, "button.seat")
    assert len(buttons) == 96
    # laid out by the seats' x/y (the gap after seat 6 included), without breaking the CSP
    d1, d7 = seat(drv, "D1").location, seat(drv, "D7").location
    assert d7["y"] == d1["y"] and d7["x"] > d1["x"], (d1, d7)
    assert seat(drv, "E1").location["y"] > d1["y"]
    # (the browser asks for /favicon.ico by itself on pages without an icon link, such as the
    # stylesheet sign_out() opens; that 404 is none of the pages' doing)
    errors = [e for e in drv.get_log("browser")
              if e["level"] == "SEVERE" and "/favicon.ico" not in e["message"]]
    assert not errors, errors
    a1 = seat(drv, "D5")
    assert a1.text.startswith("D5") and "available" in a1.get_attribute("aria-label")
    # by keyboard: the map is one tab stop, arrows move between seats, Space picks
    assert len(drv.find_elements(By.CSS_SELECTOR, 'button.seat[tabindex="0"]')) == 1
    seat(drv, "D5").click()
    focused = drv.switch_to.active_element
    assert focused.get_attribute("data-label") == "D5"
    focused.send_keys(Keys.ARROW_RIGHT)
    assert drv.switch_to.active_element.get_attribute("data-label") == "D6"
    drv.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    assert drv.switch_to.active_element.get_attribute("data-label") == "E6"
    drv.switch_to.active_element.send_keys(Keys.ARROW_UP)
    drv.switch_to.active_element.send_keys(" ")  # picks D6
    assert seat(drv, "D5").get_attribute("aria-pressed") == "true"
    assert "selected" in seat(drv, "D6").get_attribute("aria-label")
    drv.find_element(By.ID, "hold").click()
    wait(drv, lambda d: d.find_element(By.ID, "hold-panel").is_displayed(), what="no hold")
    assert re.fullmatch(r"[0-9]+:[0-5][0-9]", drv.find_element(By.ID, "countdown").text)
    assert "held for you" in seat(drv, "D5").get_attribute("aria-label")
    drv.find_element(By.ID, "pay").click()
    wait(drv, lambda d: "/bookings/" in d.current_url, what="payment did not lead to the tickets")
    booking_id = drv.current_url.rsplit("/", 1)[1]
    wait(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "img[data-loaded=yes]")) == 2,
         what="the tickets' QR codes did not load")
    sizes = drv.execute_script("return [...document.querySelectorAll('.ticket img')]"
                               ".map(i => i.naturalWidth)")
    assert all(w > 20 for w in sizes), sizes
    text = drv.find_element(By.ID, "tickets").text
    assert "Seat D5" in text and "Seat D6" in text
    user = login(srv, world.user_email)
    b = get_booking(srv, user["access_token"], booking_id)
    assert b["status"] == "confirmed"
    assert sorted(t["label"] for t in b["tickets"]) == ["D5", "D6"]
    codes = {t["code"] for t in b["tickets"]}
    assert all(c in text for c in codes)


def test_two_browsers_see_each_others_holds(web_server, browser, world):
    srv = web_server
    a, b = browser, new_browser()
    try:
        sign_in_as(a, srv, world.new_user())
        sign_in_as(b, srv, world.new_user())
        open_show(a, srv, world.show_id)
        open_show(b, srv, world.show_id)
        seat(a, "F1").click()
        seat(a, "F2").click()
        a.find_element(By.ID, "hold").click()
        for label in ("F1", "F2"):
            wait(b, lambda d: seat(d, label).get_attribute("data-status") == "held",
                 what=f"browser B did not see {label} held")
            assert seat(b, label).get_attribute("disabled") is not None
            assert "held" in seat(b, label).get_attribute("aria-label")
        # B holds the best available 3; A sees them go
        b.find_element(By.ID, "quantity").send_keys("3")
        b.find_element(By.ID, "best").click()
        wait(b, lambda d: d.find_element(By.ID, "hold-panel").is_displayed())
        mine = b.execute_script("return [...document.querySelectorAll('button.seat.mine')]"
                                ".map(e => e.dataset.label)")
        assert len(mine) == 3 and not {"F1", "F2"} & set(mine), mine
        for label in mine:
            wait(a, lambda d: seat(d, label).get_attribute("data-status") == "held",
                 what=f"browser A did not see {label} held")
        # A releases; B sees the seats free again
        a.find_element(By.ID, "release").click()
        for label in ("F1", "F2"):
            wait(b, lambda d: seat(d, label).get_attribute("data-status") == "available",
                 what=f"browser B did not see {label} released")
            assert seat(b, label).get_attribute("disabled") is None
    finally:
        b.quit()


def test_the_door_admits_a_ticket_once(web_server, browser, world):
    srv, drv = web_server, browser
    user = world.new_user()
    bk = buy(srv, user["access_token"], world.show_id, world.venue.ids("H12"))
    code = bk["tickets"][0]["code"]
    theatre_id = world.venue.theatre["id"]
    # door staff see only the theatre they staff (GET /me/theatres), not every theatre
    other = Venue(srv, layout=LAYOUT, prices=PRICES, starts_at=starts_in(1),
                  owner_token=world.owner["access_token"])
    staff_email = unique_email("webdoor")
    register(srv, email=staff_email)
    ok(call("POST", srv, f"/theatres/{theatre_id}/staff", token=world.owner["access_token"],
            json={"email": staff_email}), 201)
    sign_out(drv, srv)
    sign_in_as(drv, srv, login(srv, staff_email))
    drv.get(srv.url + "/door")
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, f'#theatre option[value="{theatre_id}"]'))
    time.sleep(0.3)  # (the list is complete once its only page is in; nothing else may follow)
    options = drv.execute_script("return [...document.querySelectorAll('#theatre option')]"
                                 ".map(o => o.value)")
    assert options == [theatre_id], options
    # the owner sees both of its theatres
    sign_in_as(drv, srv, world.owner)
    drv.get(srv.url + "/door")
    wait(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#theatre option")) == 2,
         what="the owner's door does not list its two theatres")
    assert other.theatre["id"] in drv.execute_script(
        "return [...document.querySelectorAll('#theatre option')].map(o => o.value)")
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, f'#theatre option[value="{theatre_id}"]'))
    drv.execute_script("const s = document.getElementById('theatre'); s.value = arguments[0];"
                       "s.dispatchEvent(new Event('change'));", theatre_id)
    verdict = drv.find_element(By.ID, "verdict")
    drv.find_element(By.ID, "code").send_keys(code + "\n")
    wait(drv, lambda d: "Admitted" in verdict.text, what="the first scan was not admitted")
    assert "H12" in verdict.text
    drv.find_element(By.ID, "code").send_keys(code + "\n")
    wait(drv, lambda d: "Already checked in" in verdict.text,
         what="the second scan was not refused")
    drv.find_element(By.ID, "code").send_keys("0" * 32 + "\n")
    wait(drv, lambda d: "Unknown ticket" in verdict.text)
    counts = ok(call("GET", srv, f"/shows/{world.show_id}/check-ins",
                     token=world.owner["access_token"]), 200)
    assert counts["counts"]["admitted"] == 1, counts
    assert [k["seat_label"] for k in counts["items"]] == ["H12"], counts


def test_no_serious_accessibility_violations(web_server, browser, world):
    srv, drv = web_server, browser
    user = world.new_user()
    bk = buy(srv, user["access_token"], world.show_id, world.venue.ids("G1"))
    pages = {
        "home": ("/", None),
        "show": (f"/shows/{world.show_id}", user),
        "booking": (f"/bookings/{bk['id']}", user),
        "door": ("/door", world.owner),
        "sales": ("/sales", world.owner),
        "docs": ("/docs", None),
    }
    found = {}
    for name, (path, who) in pages.items():
        sign_out(drv, srv)
        if who:
            sign_in_as(drv, srv, who)
        drv.get(srv.url + path)
        if name == "show":
            wait(drv, lambda d: d.execute_script("return document.body.dataset.seatmap"))
        elif name == "booking":
            wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "img[data-loaded=yes]"))
        elif name == "docs":
            wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, ".api-content"), timeout=30,
                 what="Redoc did not render docs/openapi.yaml")
        else:
            wait(drv, lambda d: d.execute_script("return document.readyState") == "complete")
        include = None
        if name == "docs":
            # Redoc renders the whole contract (25,000 elements, 30 s of axe): its menu, the
            # API's introduction and two operations stand for the rest, whose parts repeat.
            include = [".menu-content", ".api-info", '[data-section-id="operation/healthz"]',
                       '[data-section-id="operation/register"]']
            assert drv.execute_script("return document.querySelectorAll("
                                      "'#redoc pre:not([tabindex])').length") == 0
        started = time.monotonic()
        v = axe_violations(drv, include)
        print(f"axe {name}: {time.monotonic() - started:.1f} s")
        if v:
            found[name] = v
    assert not found, found
