"""Theatres (owner-owned, admin for all) and halls with generated seat layouts."""

import pytest

from catalog_helpers import (
    DEFAULT_LAYOUT, RFC3339_UTC_MS, approve_theatre, cast, create_hall, create_movie, create_show,
    create_theatre, describe, field_error, future, iso, list_ids, make_user, ok, param_error,
    theatre_body, uid, venue, walk,
)
from conftest import assert_error, call

THEATRE_KEYS = {"id", "owner_id", "name", "city", "address", "utc_offset_minutes", "geo",
                "created_at", "updated_at", "status", "rejection_reason", "submitted_at",
                "reviewed_at"}
HALL_KEYS = {"id", "theatre_id", "name", "seat_count", "layout", "seats", "created_at",
             "updated_at", "seat_pick"}
SEAT_KEYS = {"id", "label", "row", "number", "x", "y", "category", "blocked"}


def post_theatre(server, token, body):
    return call("POST", server, "/theatres", token=token, json=body)


def post_hall(server, token, theatre_id, body):
    return call("POST", server, f"/theatres/{theatre_id}/halls", token=token, json=body)


# ============================================================================================
# Theatres


def test_owner_creates_theatre_for_itself(server):
    c = cast(server)
    body = theatre_body(name="PVR Phoenix", address="Lower Parel, Mumbai")
    t = ok(post_theatre(server, c.owner.token, body), 201)
    assert set(t) == THEATRE_KEYS
    assert t["id"].startswith("thr_")
    assert t["owner_id"] == c.owner.id
    assert (t["name"], t["city"], t["address"]) == ("PVR Phoenix", body["city"],
                                                     "Lower Parel, Mumbai")
    assert t["utc_offset_minutes"] == 330
    assert t["geo"] is None
    assert RFC3339_UTC_MS.match(t["created_at"])
    # born pending (onboarding: test_theatre_approval.py): its owner sees it, the public not yet
    assert (t["status"], t["rejection_reason"], t["reviewed_at"]) == ("pending", None, None)
    assert t["submitted_at"] == t["created_at"]
    got = ok(call("GET", server, f"/theatres/{t['id']}", token=c.owner.token), 200)
    assert got == {**t, "halls": []}
    assert_error(call("GET", server, f"/theatres/{t['id']}"), 404, "not_found")


def test_owner_passing_own_id_as_owner_id_is_fine(server):
    c = cast(server)
    t = ok(post_theatre(server, c.owner.token, theatre_body(owner_id=c.owner.id)), 201)
    assert t["owner_id"] == c.owner.id


def test_owner_cannot_create_for_another_owner(server):
    c = cast(server)
    r = post_theatre(server, c.owner.token, theatre_body(owner_id=c.other_owner.id))
    assert_error(r, 403, "forbidden")


def test_admin_creates_theatre_for_an_owner(server):
    c = cast(server)
    t = ok(post_theatre(server, c.admin.token, theatre_body(owner_id=c.owner.id)), 201)
    assert t["owner_id"] == c.owner.id
    # the owner may then edit it; another owner may not (while it is pending it does not even
    # see it: 404; once approved it is public: 403)
    ok(call("PATCH", server, f"/theatres/{t['id']}", token=c.owner.token, json={"name": "Mine"}),
       200)
    assert_error(call("PATCH", server, f"/theatres/{t['id']}", token=c.other_owner.token,
                      json={"name": "Theirs"}), 404, "not_found")
    approve_theatre(server, t["id"])
    assert_error(call("PATCH", server, f"/theatres/{t['id']}", token=c.other_owner.token,
                      json={"name": "Theirs"}), 403, "forbidden")


def test_admin_without_owner_id_owns_it(server):
    c = cast(server)
    t = ok(post_theatre(server, c.admin.token, theatre_body()), 201)
    assert t["owner_id"] == c.admin.id


def test_user_cannot_create_theatre(server):
    c = cast(server)
    assert_error(post_theatre(server, c.user.token, theatre_body()), 403, "forbidden")


def test_anonymous_cannot_create_theatre(server):
    r = post_theatre(server, None, theatre_body())
    assert_error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("who", ["plain_user", "unknown"])
def test_admin_owner_id_must_be_an_owner(server, who):
    c = cast(server)
    owner_id = make_user(server).id if who == "plain_user" else "usr_doesnotexist"
    city = f"City-{uid()}"
    r = post_theatre(server, c.admin.token, theatre_body(owner_id=owner_id, city=city))
    field_error(r, 422, "validation_failed", "owner_id")
    assert list_ids(server, "/theatres", city=city) == []


@pytest.mark.parametrize("overrides,status,code,field", [
    ({"name": ...}, 422, "validation_failed", "name"),
    ({"name": ""}, 422, "validation_failed", "name"),
    ({"name": "n" * 201}, 422, "validation_failed", "name"),
    ({"name": 3}, 400, "invalid_type", "name"),
    ({"city": ...}, 422, "validation_failed", "city"),
    ({"city": "c" * 101}, 422, "validation_failed", "city"),
    ({"address": ...}, 422, "validation_failed", "address"),
    ({"address": ""}, 422, "validation_failed", "address"),
    ({"utc_offset_minutes": 841}, 422, "validation_failed", "utc_offset_minutes"),
    ({"utc_offset_minutes": -721}, 422, "validation_failed", "utc_offset_minutes"),
    ({"utc_offset_minutes": "330"}, 400, "invalid_type", "utc_offset_minutes"),
    ({"latitude": 12.97}, 422, "validation_failed", "longitude"),
    ({"longitude": 77.59}, 422, "validation_failed", "latitude"),
    ({"latitude": 91, "longitude": 0}, 422, "validation_failed", "latitude"),
    ({"latitude": -90.5, "longitude": 0}, 422, "validation_failed", "latitude"),
    ({"latitude": 0, "longitude": 180.01}, 422, "validation_failed", "longitude"),
    ({"latitude": "12.9", "longitude": 77.5}, 400, "invalid_type", "latitude"),
    ({"owner_id": 7}, 400, "invalid_type", "owner_id"),
], ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_theatre_validation(server, overrides, status, code, field):
    r = post_theatre(server, cast(server).owner.token, theatre_body(**overrides))
    field_error(r, status, code, field)


def test_geo_and_offset_are_stored(server):
    t = create_theatre(server, latitude=19.0760, longitude=72.8777, utc_offset_minutes=-300)
    assert t["geo"] == {"latitude": pytest.approx(19.076), "longitude": pytest.approx(72.8777)}
    assert t["utc_offset_minutes"] == -300
    got = ok(call("GET", server, f"/theatres/{t['id']}"), 200)
    assert got["geo"] == {"latitude": pytest.approx(19.076), "longitude": pytest.approx(72.8777)}
    edge = create_theatre(server, latitude=-90, longitude=180)
    assert edge["geo"] == {"latitude": -90, "longitude": 180}


def test_list_by_city_is_case_insensitive(server):
    city = f"Pune-{uid()}"
    a = create_theatre(server, city=city)
    b = create_theatre(server, token=cast(server).other_owner.token, city=city.upper())
    create_theatre(server, city=city + "x")
    expected = sorted([a["id"], b["id"]])
    for q in (city, city.lower(), city.upper()):
        assert sorted(list_ids(server, "/theatres", city=q)) == expected
    items, _ = walk(server, "/theatres", 100, city=city)
    assert all(set(i) == THEATRE_KEYS for i in items)


def test_list_pagination_walks_every_theatre_once(server):
    city = f"Paged-{uid()}"
    made = {create_theatre(server, city=city)["id"] for _ in range(5)}
    items, pages = walk(server, "/theatres", 2, city=city)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 5 and set(ids) == made
    assert pages == 3
    every, _ = walk(server, "/theatres", 4)
    every_ids = [i["id"] for i in every]
    assert len(every_ids) == len(set(every_ids)) and made <= set(every_ids)


@pytest.mark.parametrize("params,parameter", [
    ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"cursor": "%%%"}, "cursor"),
])
def test_theatre_list_bad_parameters(server, params, parameter):
    param_error(call("GET", server, "/theatres", params=params), parameter)


def test_get_theatre_includes_halls(server):
    t = create_theatre(server)
    h1 = create_hall(server, t["id"], name="Audi 1")
    h2 = create_hall(server, t["id"], name="Audi 2",
                     layout={"rows": [{"label": "A", "seats": 3, "category": "regular"}]})
    got = ok(call("GET", server, f"/theatres/{t['id']}"), 200)
    halls = sorted(got["halls"], key=lambda h: h["name"])
    assert halls == [{"id": h1["id"], "name": "Audi 1", "seat_count": 16},
                     {"id": h2["id"], "name": "Audi 2", "seat_count": 3}]


def test_get_unknown_theatre_is_404(server):
    assert_error(call("GET", server, "/theatres/thr_nope"), 404, "not_found")


def test_patch_theatre_partial(server):
    c = cast(server)
    t = create_theatre(server, latitude=12.5, longitude=77.5)
    p = ok(call("PATCH", server, f"/theatres/{t['id']}", token=c.owner.token,
                json={"name": "Renamed"}), 200)
    assert p["name"] == "Renamed"
    for k in ("id", "owner_id", "city", "address", "utc_offset_minutes", "geo", "created_at"):
        assert p[k] == t[k], k
    p2 = ok(call("PATCH", server, f"/theatres/{t['id']}", token=c.owner.token,
                 json={"utc_offset_minutes": 0, "latitude": 1, "longitude": 2}), 200)
    assert p2["name"] == "Renamed" and p2["utc_offset_minutes"] == 0
    assert p2["geo"] == {"latitude": 1, "longitude": 2}
    got = ok(call("GET", server, f"/theatres/{t['id']}"), 200)
    assert {k: v for k, v in got.items() if k != "halls"} == p2


def test_patch_theatre_city_moves_it_between_city_lists(server):
    c = cast(server)
    old_city, new_city = f"Old-{uid()}", f"New-{uid()}"
    t = create_theatre(server, city=old_city)
    ok(call("PATCH", server, f"/theatres/{t['id']}", token=c.admin.token,
            json={"city": new_city}), 200)
    assert list_ids(server, "/theatres", city=old_city) == []
    assert list_ids(server, "/theatres", city=new_city.lower()) == [t["id"]]


@pytest.mark.parametrize("body,status,code,field", [
    ({"latitude": 10}, 422, "validation_failed", "longitude"),
    ({"latitude": 91, "longitude": 10}, 422, "validation_failed", "latitude"),
    ({"name": ""}, 422, "validation_failed", "name"),
    ({"city": 5}, 400, "invalid_type", "city"),
])
def test_patch_theatre_validation_changes_nothing(server, body, status, code, field):
    t = create_theatre(server)
    r = call("PATCH", server, f"/theatres/{t['id']}", token=cast(server).owner.token, json=body)
    field_error(r, status, code, field)
    got = ok(call("GET", server, f"/theatres/{t['id']}"), 200)
    assert {k: v for k, v in got.items() if k != "halls"} == t


def test_patch_unknown_theatre_is_404(server):
    r = call("PATCH", server, "/theatres/thr_nope", token=cast(server).owner.token,
             json={"name": "x"})
    assert_error(r, 404, "not_found")


def test_delete_theatre_cancels_future_shows_and_hides_halls(server):
    c = cast(server)
    t, h = venue(server)
    movie = create_movie(server)
    show = create_show(server, movie["id"], h["id"], future(days=4))
    ok(call("DELETE", server, f"/theatres/{t['id']}", token=c.owner.token), 204)
    assert_error(call("GET", server, f"/theatres/{t['id']}"), 404, "not_found")
    assert_error(call("GET", server, f"/halls/{h['id']}"), 404, "not_found")
    assert list_ids(server, "/theatres", city=t["city"]) == []
    assert ok(call("GET", server, f"/shows/{show['id']}"), 200)["status"] == "cancelled"
    assert_error(call("DELETE", server, f"/theatres/{t['id']}", token=c.owner.token), 404,
                 "not_found")
    assert_error(call("POST", server, f"/theatres/{t['id']}/halls", token=c.owner.token,
                      json={"name": "x", "layout": DEFAULT_LAYOUT}), 404, "not_found")


# ============================================================================================
# Halls


def test_create_hall_generates_seats(server):
    t = create_theatre(server)
    layout = {"rows": [
        {"label": "A", "seats": 14, "category": "premium", "gaps_after": [4, 10], "blocked": [1]},
        {"label": "b", "seats": 3, "category": "Regular"},
    ]}
    h = ok(post_hall(server, cast(server).owner.token, t["id"],
                     {"name": "Audi 1", "layout": layout}), 201)
    assert set(h) == HALL_KEYS
    assert h["id"].startswith("hal_")
    assert h["theatre_id"] == t["id"] and h["name"] == "Audi 1"
    assert h["seat_count"] == 17 == len(h["seats"])
    assert h["layout"] == {"rows": [
        {"label": "A", "seats": 14, "category": "premium", "gaps_after": [4, 10], "blocked": [1]},
        {"label": "B", "seats": 3, "category": "regular", "gaps_after": [], "blocked": []},
    ]}
    seats = h["seats"]
    assert all(set(s) == SEAT_KEYS for s in seats)
    assert len({s["id"] for s in seats}) == 17
    assert [s["label"] for s in seats] == [f"A{i}" for i in range(1, 15)] + ["B1", "B2", "B3"]
    row_a = seats[:14]
    assert [s["x"] for s in row_a] == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]
    assert all(s["y"] == 0 and s["row"] == "A" and s["category"] == "premium" for s in row_a)
    assert [s["number"] for s in row_a] == list(range(1, 15))
    assert [s["blocked"] for s in row_a] == [True] + [False] * 13
    row_b = seats[14:]
    assert [(s["x"], s["y"], s["row"], s["number"], s["category"], s["blocked"]) for s in row_b] \
        == [(0, 1, "B", 1, "regular", False), (1, 1, "B", 2, "regular", False),
            (2, 1, "B", 3, "regular", False)]

    got = ok(call("GET", server, f"/halls/{h['id']}"), 200)  # public, no token
    assert got == h


def test_multichar_row_labels(server):
    t = create_theatre(server)
    layout = {"rows": [{"label": "AA", "seats": 12, "category": "c1"},
                       {"label": "A1", "seats": 2, "category": "c-2"},
                       {"label": "10", "seats": 1, "category": "c_3"}]}
    h = create_hall(server, t["id"], layout=layout)
    labels = [s["label"] for s in h["seats"]]
    assert labels[:2] == ["AA1", "AA2"] and labels[11:] == ["AA12", "A11", "A12", "101"]


def _rows(*rows):
    return {"rows": list(rows)}


def _row(label="A", seats=10, category="regular", **extra):
    return {"label": label, "seats": seats, "category": category, **extra}


LAYOUT_ERRORS = [
    # (layout, status, code, field)
    ("not-an-object", 400, "invalid_type", "layout"),
    ({}, 422, "validation_failed", "layout.rows"),
    ({"rows": "A"}, 400, "invalid_type", "layout.rows"),
    ({"rows": []}, 422, "validation_failed", "layout.rows"),
    ({"rows": [_row(label=f"R{i}", seats=1) for i in range(101)]}, 422, "validation_failed",
     "layout.rows"),
    (_rows(5), 400, "invalid_type", "layout.rows[0]"),
    (_rows(_row(), _row()), 422, "validation_failed", "layout.rows[1].label"),
    (_rows(_row(), _row(label="a")), 422, "validation_failed", "layout.rows[1].label"),
    (_rows(_row(), _row(label="B-1")), 422, "validation_failed", "layout.rows[1].label"),
    (_rows(_row(), _row(label="")), 422, "validation_failed", "layout.rows[1].label"),
    (_rows(_row(label="ABCDE")), 422, "validation_failed", "layout.rows[0].label"),
    (_rows(_row(label=1)), 400, "invalid_type", "layout.rows[0].label"),
    (_rows({"seats": 3, "category": "x"}), 422, "validation_failed", "layout.rows[0].label"),
    # "A" with 12 seats has A11 and A12; a row "A1" would give A11 again
    (_rows(_row(label="A", seats=12), _row(label="A1", seats=1)), 422, "validation_failed",
     "layout.rows[1].label"),
    (_rows(_row(seats=0)), 422, "validation_failed", "layout.rows[0].seats"),
    (_rows(_row(seats=101)), 422, "validation_failed", "layout.rows[0].seats"),
    (_rows(_row(seats="10")), 400, "invalid_type", "layout.rows[0].seats"),
    (_rows(_row(), {"label": "B", "category": "x"}), 422, "validation_failed",
     "layout.rows[1].seats"),
    (_rows({"label": "A", "seats": 3}), 422, "validation_failed", "layout.rows[0].category"),
    (_rows(_row(category="vip!")), 422, "validation_failed", "layout.rows[0].category"),
    (_rows(_row(category="c" * 33)), 422, "validation_failed", "layout.rows[0].category"),
    (_rows(_row(category=["vip"])), 400, "invalid_type", "layout.rows[0].category"),
    (_rows(_row(seats=10, gaps_after=[10])), 422, "validation_failed",
     "layout.rows[0].gaps_after[0]"),
    (_rows(_row(gaps_after=[2, 0])), 422, "validation_failed", "layout.rows[0].gaps_after[1]"),
    (_rows(_row(gaps_after=[3, 5, 3])), 422, "validation_failed",
     "layout.rows[0].gaps_after[2]"),
    (_rows(_row(gaps_after="4")), 400, "invalid_type", "layout.rows[0].gaps_after"),
    (_rows(_row(gaps_after=["4"])), 400, "invalid_type", "layout.rows[0].gaps_after[0]"),
    (_rows(_row(), _row(label="B", blocked=[11])), 422, "validation_failed",
     "layout.rows[1].blocked[0]"),
    (_rows(_row(blocked=[0])), 422, "validation_failed", "layout.rows[0].blocked[0]"),
    (_rows(_row(blocked=[1, 1])), 422, "validation_failed", "layout.rows[0].blocked[1]"),
    (_rows(_row(blocked=1)), 400, "invalid_type", "layout.rows[0].blocked"),
    (_rows(_row(seats=2, blocked=[1, 2])), 422, "validation_failed", "layout.rows"),
]


@pytest.mark.parametrize("layout,status,code,field", LAYOUT_ERRORS,
                         ids=[f"{i}-{e[3]}" for i, e in enumerate(LAYOUT_ERRORS)])
def test_invalid_layout(server, layout, status, code, field):
    t = create_theatre(server)
    r = post_hall(server, cast(server).owner.token, t["id"], {"name": "H", "layout": layout})
    field_error(r, status, code, field)
    assert ok(call("GET", server, f"/theatres/{t['id']}"), 200)["halls"] == []


@pytest.mark.parametrize("body,status,code,field", [
    ({"layout": DEFAULT_LAYOUT}, 422, "validation_failed", "name"),
    ({"name": "", "layout": DEFAULT_LAYOUT}, 422, "validation_failed", "name"),
    ({"name": "n" * 101, "layout": DEFAULT_LAYOUT}, 422, "validation_failed", "name"),
    ({"name": 1, "layout": DEFAULT_LAYOUT}, 400, "invalid_type", "name"),
    ({"name": "H"}, 422, "validation_failed", "layout"),
])
def test_hall_body_validation(server, body, status, code, field):
    t = create_theatre(server)
    field_error(post_hall(server, cast(server).owner.token, t["id"], body), status, code, field)


def test_largest_layout(server):
    t = create_theatre(server)
    labels = [chr(65 + i // 26) + chr(65 + i % 26) for i in range(100)]  # AA .. DV
    layout = {"rows": [_row(label=lab, seats=100, category=f"c{i % 3}")
                       for i, lab in enumerate(labels)]}
    h = create_hall(server, t["id"], layout=layout)
    assert h["seat_count"] == 10000 == len(h["seats"])


def test_hall_in_unknown_theatre_is_404(server):
    c = cast(server)
    for token in (c.owner.token, c.admin.token):
        r = post_hall(server, token, "thr_nope", {"name": "H", "layout": DEFAULT_LAYOUT})
        assert_error(r, 404, "not_found")


def test_get_unknown_hall_is_404(server):
    assert_error(call("GET", server, "/halls/hal_nope"), 404, "not_found")


def test_patch_hall_name_keeps_seats(server):
    t, h = venue(server)
    p = ok(call("PATCH", server, f"/halls/{h['id']}", token=cast(server).owner.token,
                json={"name": "Renamed"}), 200)
    assert p["name"] == "Renamed"
    assert p["seats"] == h["seats"] and p["layout"] == h["layout"]
    assert p["seat_count"] == h["seat_count"]
    got = ok(call("GET", server, f"/halls/{h['id']}"), 200)
    assert got == p
    assert ok(call("GET", server, f"/theatres/{t['id']}"), 200)["halls"][0]["name"] == "Renamed"


def test_patch_hall_layout_regenerates_seats_with_stable_ids(server):
    t = create_theatre(server)
    h = create_hall(server, t["id"], layout={"rows": [_row("A", 5, "premium"),
                                                      _row("B", 5, "regular")]})
    before = {s["label"]: s["id"] for s in h["seats"]}
    new_layout = {"rows": [_row("A", 6, "gold", gaps_after=[3], blocked=[6]),
                           _row("C", 2, "regular")]}
    p = ok(call("PATCH", server, f"/halls/{h['id']}", token=cast(server).admin.token,
                json={"layout": new_layout}), 200)
    assert p["name"] == h["name"]
    assert p["seat_count"] == 8 == len(p["seats"])
    assert [s["label"] for s in p["seats"]] == ["A1", "A2", "A3", "A4", "A5", "A6", "C1", "C2"]
    after = {s["label"]: s for s in p["seats"]}
    for label in ("A1", "A2", "A3", "A4", "A5"):
        assert after[label]["id"] == before[label], label
    assert after["A6"]["id"] not in before.values()
    assert not {"B1", "B2", "B3", "B4", "B5"} & set(after)
    assert [after[f"A{i}"]["x"] for i in range(1, 7)] == [0, 1, 2, 4, 5, 6]
    assert after["A6"]["blocked"] is True and after["A1"]["category"] == "gold"
    assert (after["C1"]["y"], after["C1"]["x"]) == (1, 0)
    assert p["layout"]["rows"][0] == {"label": "A", "seats": 6, "category": "gold",
                                      "gaps_after": [3], "blocked": [6]}
    assert ok(call("GET", server, f"/halls/{h['id']}"), 200) == p
    assert ok(call("GET", server, f"/theatres/{t['id']}"), 200)["halls"][0]["seat_count"] == 8

    # back to the original: B seats get their old ids again
    back = ok(call("PATCH", server, f"/halls/{h['id']}", token=cast(server).owner.token,
                   json={"layout": {"rows": [_row("A", 5, "premium"),
                                             _row("B", 5, "regular")]}}), 200)
    assert {s["label"]: s["id"] for s in back["seats"]} == before


def test_patch_hall_invalid_layout_changes_nothing(server):
    _, h = venue(server)
    r = call("PATCH", server, f"/halls/{h['id']}", token=cast(server).owner.token,
             json={"name": "New", "layout": _rows(_row(), _row(label="A"))})
    field_error(r, 422, "validation_failed", "layout.rows[1].label")
    assert ok(call("GET", server, f"/halls/{h['id']}"), 200) == h


def test_delete_hall_cancels_its_future_shows(server):
    c = cast(server)
    t = create_theatre(server)
    h = create_hall(server, t["id"])
    other = create_hall(server, t["id"])
    movie = create_movie(server)
    s1 = create_show(server, movie["id"], h["id"], future(days=3, hour=10))
    s2 = create_show(server, movie["id"], h["id"], future(days=9, hour=10))
    s3 = create_show(server, movie["id"], other["id"], future(days=3, hour=10))
    ok(call("DELETE", server, f"/halls/{h['id']}", token=c.owner.token), 204)
    assert_error(call("GET", server, f"/halls/{h['id']}"), 404, "not_found")
    for s in (s1, s2):
        assert ok(call("GET", server, f"/shows/{s['id']}"), 200)["status"] == "cancelled"
    assert ok(call("GET", server, f"/shows/{s3['id']}"), 200)["status"] == "scheduled"
    assert [x["id"] for x in ok(call("GET", server, f"/theatres/{t['id']}"), 200)["halls"]] == \
        [other["id"]]
    assert list_ids(server, "/shows", theatre_id=t["id"]) == [s3["id"]]
    assert_error(call("DELETE", server, f"/halls/{h['id']}", token=c.owner.token), 404,
                 "not_found")
    assert_error(call("PATCH", server, f"/halls/{h['id']}", token=c.owner.token,
                      json={"name": "x"}), 404, "not_found")
    # no new shows in a deleted hall
    r = call("POST", server, "/shows", token=c.owner.token,
             json={"movie_id": movie["id"], "hall_id": h["id"],
                   "starts_at": iso(future(days=20)),
                   "prices": {"premium": 1, "regular": 1}, "currency": "INR"})
    field_error(r, 422, "validation_failed", "hall_id")


def test_layout_change_with_an_unpriced_category_for_a_scheduled_show_is_409(server):
    c = cast(server)
    _, hall = venue(server)
    movie = create_movie(server, c.admin.token)
    show = create_show(server, movie["id"], hall["id"], future(days=5))
    vip_only = {"rows": [{"label": "A", "seats": 4, "category": "vip"}]}
    r = call("PATCH", server, f"/halls/{hall['id']}", token=c.owner.token,
             json={"layout": vip_only})
    err = assert_error(r, 409, "hall_category_unpriced")
    assert err["details"] == {"category": "vip"}, describe(r)
    # Nothing changed: the hall keeps its seats, and after cancelling the show it is allowed.
    assert call("GET", server, f"/halls/{hall['id']}").json()["seat_count"] == hall["seat_count"]
    ok(call("POST", server, f"/shows/{show['id']}/cancel", token=c.owner.token), 200)
    h = ok(call("PATCH", server, f"/halls/{hall['id']}", token=c.owner.token,
                json={"layout": vip_only}), 200)
    assert h["seat_count"] == 4
