"""Signed tickets, QR codes and the ticket PDF (API.md second part, "Tickets at the door";
docs/tickets.md).

A ticket bought through the test provider carries a token next to its code. The tests check the
token offline the way a scanner would (python3-nacl with the key from
/.well-known/ticketd-ticket-key, nothing else from the server), decode the QR PNG with a real
decoder (zbarimg), check the SVG's module grid, and read the PDF back with poppler (pdfinfo,
pdftotext). Who may fetch what: the booking's holder, the theatre's owner (QR only), an admin.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import stat
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from booking_helpers import GRID_LAYOUT, GRID_PRICES, Venue, api, buy, get_booking, post_cancel
from catalog_helpers import cast, create_hall, create_movie, create_show, create_theatre, \
    future, make_user, ok
from conftest import TIMEOUT, assert_error
from test_checkins import staff_member

pytestmark = pytest.mark.skipif(shutil.which("zbarimg") is None or shutil.which("pdftotext") is None,
                                reason="zbar-tools and poppler-utils are needed (scripts/deps.sh test)")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def published_key(server) -> dict:
    r = requests.get(server.url + "/.well-known/ticketd-ticket-key", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert "public" in r.headers.get("Cache-Control", ""), r.headers
    return r.json()


def verify_offline(token: str, keys: dict[str, bytes]) -> dict:
    """What a scanner does (docs/tickets.md): split, pick the key by kid, check the Ed25519
    signature over everything before the last dot, then read the payload. Raises on failure."""
    assert token.startswith("t1."), token
    signed, _, sig = token.rpartition(".")
    _, kid, payload = signed.split(".")
    if kid not in keys:
        raise BadSignatureError("unknown kid")
    VerifyKey(keys[kid]).verify(signed.encode(), b64url_decode(sig))
    return json.loads(b64url_decode(payload))


def key_of(server) -> dict[str, bytes]:
    k = published_key(server)
    return {k["kid"]: b64url_decode(k["public_key"])}


def zbar(png: bytes, tmp_path) -> str:
    f = tmp_path / "qr.png"
    f.write_bytes(png)
    out = subprocess.run(["zbarimg", "--raw", "-q", str(f)], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode().strip()


def show_start(server, show_id: str) -> int:
    s = ok(api("GET", server, f"/shows/{show_id}"), 200)
    return int(datetime.fromisoformat(s["starts_at"].replace("Z", "+00:00")).timestamp())


def get_bytes(server, path: str, token: str | None) -> requests.Response:
    return api("GET", server, path, token=token)


# --------------------------------------------------------------------------------------------


def test_public_key_is_published(server):
    k = published_key(server)
    assert set(k) >= {"kid", "public_key"}, k
    pk = b64url_decode(k["public_key"])
    assert len(pk) == 32
    assert k["kid"] == b64url(hashlib.sha256(pk).digest()[:8])
    # outside /api/v1, public: no token needed, and the same key on every call
    assert published_key(server)["public_key"] == k["public_key"]


def test_tokens_verify_offline(server):
    c = cast(server)
    v = Venue(server)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("C3", "C4"))
    keys = key_of(server)
    start = show_start(server, v.show_id)
    assert len(b["tickets"]) == 2
    for t in b["tickets"]:
        assert t["token"].startswith("t1.") and t["id"], t
        claims = verify_offline(t["token"], keys)
        assert claims == {"tid": t["id"], "sid": v.show_id, "seat": t["label"], "start": start,
                          "bid": b["id"]}, claims
    # GET /bookings/{id} shows the same tokens (Ed25519 is deterministic)
    again = get_booking(server, user.token, b["id"])
    assert sorted(t["token"] for t in again["tickets"]) == sorted(t["token"] for t in b["tickets"])
    # the theatre's owner reading the booking sees them too
    owner_view = get_booking(server, c.owner.token, b["id"])
    assert len(owner_view["tickets"]) == 2


def test_tampered_tokens_fail(server):
    v = Venue(server)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("D1"))
    keys = key_of(server)
    token = b["tickets"][0]["token"]
    verify_offline(token, keys)
    signed, _, sig = token.rpartition(".")
    prefix, kid, payload = signed.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["seat"] = "A1"
    forged = ".".join([prefix, kid, b64url(json.dumps(claims, separators=(",", ":")).encode()), sig])
    with pytest.raises(BadSignatureError):
        verify_offline(forged, keys)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(Exception):
        verify_offline(flipped, keys)
    # a kid the scanner does not know
    with pytest.raises(BadSignatureError):
        verify_offline(token, {"AAAAAAAAAAA": keys[kid]})


def test_qr_png_decodes_to_the_token(server, tmp_path):
    v = Venue(server)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("E5"))
    t = b["tickets"][0]
    r = get_bytes(server, f"/tickets/{t['id']}/qr.png", user.token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert zbar(r.content, tmp_path) == t["token"]


def test_qr_svg_has_the_module_grid(server, tmp_path):
    v = Venue(server)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("E6"))
    t = b["tickets"][0]
    r = get_bytes(server, f"/tickets/{t['id']}/qr.svg", user.token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = int(root.attrib["viewBox"].split()[2])
    modules = side - 8  # 4-module quiet zone on each side
    assert modules >= 21 and (modules - 17) % 4 == 0, modules  # a QR version's width
    path = root.find("{http://www.w3.org/2000/svg}path").attrib["d"]
    runs = re.findall(r"M(\d+) (\d+)h(\d+)", path)
    assert runs
    for x, y, w in runs:  # every dark module inside the quiet zone
        assert 4 <= int(x) and int(x) + int(w) <= side - 4 and 4 <= int(y) < side - 4
    if shutil.which("rsvg-convert"):
        png = subprocess.run(["rsvg-convert", "-w", str(side * 8)], input=r.content,
                             capture_output=True, timeout=30).stdout
        assert zbar(png, tmp_path) == t["token"]


def test_access_rules(server):
    c = cast(server)
    v = Venue(server)
    user = make_user(server)
    stranger = make_user(server, "stranger")
    b = buy(server, user.token, v.show_id, v.ids("F1"))
    tid = b["tickets"][0]["id"]
    door = staff_member(server, v)  # door staff of this theatre
    elsewhere = staff_member(server, Venue(server), "elsewhere")  # of another theatre
    for kind in ("qr.png", "qr.svg"):
        path = f"/tickets/{tid}/{kind}"
        assert get_bytes(server, path, user.token).status_code == 200
        assert get_bytes(server, path, c.owner.token).status_code == 200  # the theatre's owner
        assert get_bytes(server, path, door.token).status_code == 200
        assert_error(get_bytes(server, path, elsewhere.token), 404, "not_found")
        assert get_bytes(server, path, c.admin.token).status_code == 200
        assert_error(get_bytes(server, path, stranger.token), 404, "not_found")
        assert_error(get_bytes(server, path, c.other_owner.token), 404, "not_found")
        assert_error(get_bytes(server, path, None), 401, "unauthorized")
        assert_error(get_bytes(server, f"/tickets/tkt_nope/{kind}", user.token), 404, "not_found")
    pdf = f"/bookings/{b['id']}/tickets.pdf"
    assert get_bytes(server, pdf, user.token).status_code == 200
    assert get_bytes(server, pdf, c.admin.token).status_code == 200
    assert_error(get_bytes(server, pdf, c.owner.token), 404, "not_found")
    assert_error(get_bytes(server, pdf, door.token), 404, "not_found")
    assert_error(get_bytes(server, pdf, stranger.token), 404, "not_found")
    assert_error(get_bytes(server, pdf, None), 401, "unauthorized")
    assert_error(get_bytes(server, "/bookings/bkg_nope/tickets.pdf", user.token), 404, "not_found")


def pdf_text(content: bytes, tmp_path, name: str) -> tuple[int, str]:
    f = tmp_path / name
    f.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(f)], capture_output=True, text=True, timeout=30)
    assert info.returncode == 0, info.stderr
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    text = subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True,
                          timeout=30).stdout
    return pages, text


def test_pdf_one_page_per_ticket(server, tmp_path):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token, utc_offset_minutes=330, city="Pune")
    hall = create_hall(server, theatre["id"], c.owner.token, GRID_LAYOUT, name="Audi Seven")
    movie = create_movie(server, c.admin.token, title="The Ticket Test", duration_minutes=100)
    starts = future(days=3, hour=13)
    show = create_show(server, movie["id"], hall["id"], starts, token=c.owner.token,
                       prices=GRID_PRICES)
    seats = {s["label"]: s["id"] for s in ok(api("GET", server, f"/shows/{show['id']}/seats"),
                                             200)["seats"]}
    user = make_user(server)
    one = buy(server, user.token, show["id"], [seats["A1"]])
    four = buy(server, user.token, show["id"], [seats[x] for x in ("B1", "B2", "B3", "B4")])
    start_utc = datetime.fromtimestamp(show_start(server, show["id"]), timezone.utc)
    local = (start_utc + timedelta(minutes=330)).strftime("%H:%M")
    sizes = {}
    for b, labels in ((one, ["A1"]), (four, ["B1", "B2", "B3", "B4"])):
        t0 = time.monotonic()
        r = get_bytes(server, f"/bookings/{b['id']}/tickets.pdf", user.token)
        elapsed = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.content.startswith(b"%PDF-")
        sizes[len(labels)] = (len(r.content), round(elapsed * 1000, 1))
        pages, text = pdf_text(r.content, tmp_path, f"{b['id']}.pdf")
        assert pages == len(labels), text
        assert "The Ticket Test" in text and "Audi Seven" in text and "Pune" in text, text
        assert theatre["name"] in text, text
        assert local in text and "UTC+05:30" in text, (local, text)
        assert b["id"] in text, text
        for lbl in labels:
            assert f"Seat {lbl}" in text, text
    print(f"\nticket PDF ({server.backend}): bytes, ms by ticket count: {sizes}")


def test_pdf_with_a_title_helvetica_cannot_show(server, tmp_path):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token, GRID_LAYOUT)
    movie = create_movie(server, c.admin.token, title="Ποιος 映画 Café Film",
                         duration_minutes=100)
    show = create_show(server, movie["id"], hall["id"], future(days=3, hour=20),
                       token=c.owner.token, prices=GRID_PRICES)
    seats = ok(api("GET", server, f"/shows/{show['id']}/seats"), 200)["seats"]
    user = make_user(server)
    b = buy(server, user.token, show["id"], [seats[0]["id"]])
    r = get_bytes(server, f"/bookings/{b['id']}/tickets.pdf", user.token)
    assert r.status_code == 200, r.text
    pages, text = pdf_text(r.content, tmp_path, "intl.pdf")
    assert pages == 1
    assert "Café Film" in text, text  # Latin-1 kept, the rest written as '?'


def test_cancelled_booking(server, tmp_path):
    v = Venue(server)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("A9"))
    t = b["tickets"][0]
    keys = key_of(server)
    r = post_cancel(server, user.token, b["id"])
    assert r.status_code == 200, r.text
    after = get_booking(server, user.token, b["id"])
    assert after["tickets"] == []
    # offline the token still verifies (the check-in refuses it online: 410 there)
    assert verify_offline(t["token"], keys)["tid"] == t["id"]
    assert_error(get_bytes(server, f"/tickets/{t['id']}/qr.png", user.token), 410, "ticket_void")
    assert_error(get_bytes(server, f"/bookings/{b['id']}/tickets.pdf", user.token), 409,
                 "booking_not_confirmed")


def test_pending_booking_has_no_pdf(server):
    v = Venue(server)
    user = make_user(server)
    from booking_helpers import book, hold
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("A2"))
    body = book(server, user.token, h["hold_id"])
    assert_error(get_bytes(server, f"/bookings/{body['booking']['id']}/tickets.pdf", user.token),
                 409, "booking_not_confirmed")


# --------------------------------------------------------------------------------------------
# Where the signing key comes from (servers of their own)


def test_sqlite_key_file_survives_a_restart(make_server):
    srv = make_server("sqlite")
    key = published_key(srv)
    path = Path(srv.database_url.removeprefix("sqlite://")).parent / "ticket_signing.key"
    assert path.exists(), path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert srv.stop() == 0
    srv.start()
    assert published_key(srv) == key


def test_postgres_servers_share_one_key(make_server, new_database_url):
    url = new_database_url("postgres")
    a = make_server("postgres", database_url=url)
    b = make_server("postgres", database_url=url)
    assert published_key(a)["public_key"] == published_key(b)["public_key"]
    assert a.stop() == 0
    a.start()
    assert published_key(a)["public_key"] == published_key(b)["public_key"]


def test_signing_key_from_the_environment(make_server, backend):
    seed = bytes(range(32))
    old = SigningKey(bytes(range(1, 33))).verify_key.encode()
    srv = make_server(backend, TICKET_SIGNING_KEY=b64url(seed), TICKET_VERIFY_KEYS=b64url(old))
    k = published_key(srv)
    pk = SigningKey(seed).verify_key.encode()
    assert k["public_key"] == b64url(pk)
    assert k["verify_kids"] == [b64url(hashlib.sha256(old).digest()[:8])]
    # the 64-byte form, standard base64 with padding, is the same key
    srv2 = make_server(backend, TICKET_SIGNING_KEY=base64.b64encode(seed + pk).decode())
    assert published_key(srv2)["public_key"] == k["public_key"]


@pytest.mark.parametrize("env", [{"TICKET_SIGNING_KEY": "short"},
                                 {"TICKET_SIGNING_KEY": b64url(b"x" * 33)},
                                 {"TICKET_VERIFY_KEYS": "nope"},
                                 {"TICKET_VERIFY_KEYS": ",".join([b64url(bytes([i]) * 32)
                                                                  for i in range(8)])}])
def test_bad_keys_refuse_to_start(make_server, env):
    srv = make_server("sqlite", start=False, **env)
    with pytest.raises(RuntimeError, match="exited with 2"):
        srv.start()
    assert "TICKET_" in srv.stderr_text()
