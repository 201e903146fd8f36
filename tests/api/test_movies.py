"""Movies: admin writes (create, partial update, toggle, delete), public reads with filters."""

from datetime import timedelta

import pytest

from catalog_helpers import (
    RFC3339_UTC_MS, cast, create_hall, create_movie, create_show, create_theatre, field_error,
    future, iso, list_ids, movie_body, ok, param_error, today_utc, uid, walk,
)
from conftest import assert_error, call

MOVIE_KEYS = {"id", "title", "description", "duration_minutes", "release_date", "languages",
              "genres", "certificate", "poster_url", "trailer_url", "status", "release_status",
              "created_at", "updated_at"}


def post_movie(server, body, token=None):
    return call("POST", server, "/movies", token=token or cast(server).admin.token, json=body)


def patch_movie(server, movie_id, body, token=None):
    return call("PATCH", server, f"/movies/{movie_id}", token=token or cast(server).admin.token,
                json=body)


def get_movie(server, movie_id, token=None):
    return call("GET", server, f"/movies/{movie_id}", token=token)


# --------------------------------------------------------------------------------------------
# Create, read


def test_create_echoes_every_field(server):
    released = (today_utc() - timedelta(days=10)).isoformat()
    body = movie_body(title="Ek Tha Tiger Returns", description="Spies, again.",
                      duration_minutes=148, release_date=released,
                      languages=["Hindi", "ENGLISH", "tamil"], genres=["Action", "Thriller"],
                      certificate="UA")
    m = ok(post_movie(server, body), 201)
    assert set(m) == MOVIE_KEYS, m
    assert m["id"].startswith("mov_")
    assert m["title"] == "Ek Tha Tiger Returns"
    assert m["description"] == "Spies, again."
    assert m["duration_minutes"] == 148
    assert m["release_date"] == released
    assert m["languages"] == ["hindi", "english", "tamil"]
    assert m["genres"] == ["action", "thriller"]
    assert m["certificate"] == "UA"
    assert m["poster_url"] is None and m["trailer_url"] is None
    assert m["status"] == "active"
    assert m["release_status"] == "released"
    assert RFC3339_UTC_MS.match(m["created_at"]) and m["created_at"] == m["updated_at"]

    got = ok(get_movie(server, m["id"]), 200)
    assert got == m


def test_create_minimal_defaults(server):
    body = movie_body(description=..., languages=..., genres=...)
    m = ok(post_movie(server, body), 201)
    assert m["description"] == "" and m["languages"] == [] and m["genres"] == []
    assert m["status"] == "active"


@pytest.mark.parametrize("offset_days,expected", [(30, "upcoming"), (1, "upcoming"),
                                                  (0, "released"), (-1, "released")])
def test_release_status_follows_release_date(server, offset_days, expected):
    d = (today_utc() + timedelta(days=offset_days)).isoformat()
    m = create_movie(server, release_date=d)
    assert m["release_status"] == expected
    assert ok(get_movie(server, m["id"]), 200)["release_status"] == expected


def test_create_with_status_inactive(server):
    m = create_movie(server, status="inactive")
    assert m["status"] == "inactive"


@pytest.mark.parametrize("title", ["x", "é" * 200, "t" * 200])
def test_title_length_bounds_accepted(server, title):
    m = create_movie(server, title=title)
    assert m["title"] == title


def test_get_unknown_movie_is_404(server):
    assert_error(get_movie(server, "mov_doesnotexist"), 404, "not_found")


# --------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize("overrides,status,code,field", [
    ({"title": ""}, 422, "validation_failed", "title"),
    ({"title": "t" * 201}, 422, "validation_failed", "title"),
    ({"title": 5}, 400, "invalid_type", "title"),
    ({"title": ...}, 422, "validation_failed", "title"),
    ({"description": "d" * 5001}, 422, "validation_failed", "description"),
    ({"duration_minutes": 0}, 422, "validation_failed", "duration_minutes"),
    ({"duration_minutes": 601}, 422, "validation_failed", "duration_minutes"),
    ({"duration_minutes": -5}, 422, "validation_failed", "duration_minutes"),
    ({"duration_minutes": "90"}, 400, "invalid_type", "duration_minutes"),
    ({"duration_minutes": 90.5}, 400, "invalid_type", "duration_minutes"),
    ({"duration_minutes": ...}, 422, "validation_failed", "duration_minutes"),
    ({"release_date": "2026-02-30"}, 422, "validation_failed", "release_date"),
    ({"release_date": "2026-13-01"}, 422, "validation_failed", "release_date"),
    ({"release_date": "01-02-2026"}, 422, "validation_failed", "release_date"),
    ({"release_date": "2026-1-1"}, 422, "validation_failed", "release_date"),
    ({"release_date": 20260101}, 400, "invalid_type", "release_date"),
    ({"release_date": ...}, 422, "validation_failed", "release_date"),
    ({"certificate": "PG"}, 422, "validation_failed", "certificate"),
    ({"certificate": "u"}, 422, "validation_failed", "certificate"),
    ({"certificate": ""}, 422, "validation_failed", "certificate"),
    ({"certificate": ...}, 422, "validation_failed", "certificate"),
    ({"status": "deleted"}, 422, "validation_failed", "status"),
    ({"languages": "hindi"}, 400, "invalid_type", "languages"),
    ({"languages": {"a": "hindi"}}, 400, "invalid_type", "languages"),
    ({"languages": ["hindi", 7]}, 400, "invalid_type", "languages"),
    ({"languages": [f"l{i}" for i in range(11)]}, 422, "validation_failed", "languages"),
    ({"languages": ["hindi", "hindi"]}, 422, "validation_failed", "languages"),
    ({"languages": ["Hindi", "hINDI"]}, 422, "validation_failed", "languages"),
    ({"languages": [""]}, 422, "validation_failed", "languages"),
    ({"languages": ["l" * 33]}, 422, "validation_failed", "languages"),
    ({"genres": "drama"}, 400, "invalid_type", "genres"),
    ({"genres": [f"g{i}" for i in range(11)]}, 422, "validation_failed", "genres"),
    ({"genres": ["drama", "Drama"]}, 422, "validation_failed", "genres"),
], ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_create_validation(server, overrides, status, code, field):
    r = post_movie(server, movie_body(**overrides))
    field_error(r, status, code, field)


def test_ten_languages_accepted(server):
    langs = [f"lang{i}" for i in range(10)]
    assert create_movie(server, languages=langs)["languages"] == langs


@pytest.mark.parametrize("raw", [b"[]", b'"movie"', b"42", b"null"])
def test_create_non_object_body_is_400(server, raw):
    r = call("POST", server, "/movies", token=cast(server).admin.token, data=raw,
             headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_type")


def test_create_malformed_json_is_400(server):
    r = call("POST", server, "/movies", token=cast(server).admin.token, data=b'{"title": ',
             headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")


# --------------------------------------------------------------------------------------------
# Update, toggle


def test_partial_patch_keeps_other_fields(server):
    m = create_movie(server, languages=["Hindi"], genres=["Comedy"], certificate="U")
    r = patch_movie(server, m["id"], {"title": "Renamed " + uid(), "languages": ["Marathi"]})
    p = ok(r, 200)
    assert p["title"].startswith("Renamed ")
    assert p["languages"] == ["marathi"]
    for k in ("description", "duration_minutes", "release_date", "genres", "certificate",
              "status", "created_at", "id"):
        assert p[k] == m[k], k
    assert ok(get_movie(server, m["id"]), 200) == p


def test_patch_empty_object_changes_nothing(server):
    m = create_movie(server)
    p = ok(patch_movie(server, m["id"], {}), 200)
    assert {k: v for k, v in p.items() if k != "updated_at"} == \
        {k: v for k, v in m.items() if k != "updated_at"}


def test_patch_release_date_changes_release_status(server):
    m = create_movie(server)
    assert m["release_status"] == "released"
    future_day = (today_utc() + timedelta(days=40)).isoformat()
    p = ok(patch_movie(server, m["id"], {"release_date": future_day}), 200)
    assert p["release_status"] == "upcoming" and p["release_date"] == future_day


@pytest.mark.parametrize("body,status,code,field", [
    ({"title": ""}, 422, "validation_failed", "title"),
    ({"duration_minutes": 601}, 422, "validation_failed", "duration_minutes"),
    ({"duration_minutes": "90"}, 400, "invalid_type", "duration_minutes"),
    ({"release_date": "2026-02-30"}, 422, "validation_failed", "release_date"),
    ({"certificate": "PG"}, 422, "validation_failed", "certificate"),
    ({"languages": "hindi"}, 400, "invalid_type", "languages"),
])
def test_patch_validation_leaves_movie_unchanged(server, body, status, code, field):
    m = create_movie(server)
    field_error(patch_movie(server, m["id"], body), status, code, field)
    assert ok(get_movie(server, m["id"]), 200) == m


def test_patch_unknown_movie_is_404(server):
    assert_error(patch_movie(server, "mov_nope", {"title": "x"}), 404, "not_found")


def test_toggle_status_flips(server):
    m = create_movie(server)
    admin = cast(server).admin.token
    r1 = ok(call("POST", server, f"/movies/{m['id']}/toggle-status", token=admin), 200)
    assert r1["status"] == "inactive"
    assert ok(get_movie(server, m["id"], token=admin), 200)["status"] == "inactive"
    r2 = ok(call("POST", server, f"/movies/{m['id']}/toggle-status", token=admin), 200)
    assert r2["status"] == "active"
    for k in ("title", "duration_minutes", "languages", "genres", "release_date"):
        assert r2[k] == m[k]


def test_toggle_unknown_movie_is_404(server):
    r = call("POST", server, "/movies/mov_nope/toggle-status", token=cast(server).admin.token)
    assert_error(r, 404, "not_found")


def test_inactive_hidden_from_anonymous_and_users_but_listed_for_admin(server):
    c = cast(server)
    tag = uid()
    active = create_movie(server, title=f"Visible {tag}")
    hidden = create_movie(server, title=f"Hidden {tag}")
    ok(call("POST", server, f"/movies/{hidden['id']}/toggle-status", token=c.admin.token), 200)

    assert list_ids(server, "/movies", q=tag) == [active["id"]]
    assert list_ids(server, "/movies", token=c.user.token, q=tag) == [active["id"]]
    assert list_ids(server, "/movies", token=c.owner.token, q=tag) == [active["id"]]
    assert sorted(list_ids(server, "/movies", token=c.admin.token, q=tag)) == \
        sorted([active["id"], hidden["id"]])
    # status=all does not bring them back for the public
    assert list_ids(server, "/movies", q=tag, status="all") == [active["id"]]


# --------------------------------------------------------------------------------------------
# Lists and filters


def test_list_shape(server):
    create_movie(server)
    body = ok(call("GET", server, "/movies"), 200)
    assert set(body) == {"items", "next_cursor"}
    assert 1 <= len(body["items"]) <= 20
    for item in body["items"]:
        assert set(item) == MOVIE_KEYS


def test_status_filter(server):
    tag = uid()
    up = create_movie(server, title=f"Up {tag}",
                      release_date=(today_utc() + timedelta(days=5)).isoformat())
    rel = create_movie(server, title=f"Rel {tag}", release_date=today_utc().isoformat())
    old = create_movie(server, title=f"Old {tag}", release_date="1999-12-31")
    assert list_ids(server, "/movies", q=tag, status="upcoming") == [up["id"]]
    assert sorted(list_ids(server, "/movies", q=tag, status="released")) == \
        sorted([rel["id"], old["id"]])
    every = sorted([up["id"], rel["id"], old["id"]])
    assert sorted(list_ids(server, "/movies", q=tag, status="all")) == every
    assert sorted(list_ids(server, "/movies", q=tag)) == every


@pytest.mark.parametrize("value", ["now_showing", "UPCOMING", "", "all,upcoming"])
def test_bad_status_filter_is_400(server, value):
    param_error(call("GET", server, "/movies", params={"status": value}), "status")


def test_q_is_case_insensitive_substring_of_title(server):
    tag = uid()
    a = create_movie(server, title=f"The Great {tag} Escape")
    b = create_movie(server, title=f"{tag.upper()} Rising")
    create_movie(server, title=f"Unrelated {uid()}", description=f"mentions {tag}")
    expected = sorted([a["id"], b["id"]])
    assert sorted(list_ids(server, "/movies", q=tag)) == expected
    assert sorted(list_ids(server, "/movies", q=tag.upper())) == expected
    assert list_ids(server, "/movies", q=f"great {tag.upper()} esc") == [a["id"]]


def test_q_percent_and_underscore_are_literal(server):
    tag = uid()
    pct = create_movie(server, title=f"{tag}-100% Love")
    pct_twin = create_movie(server, title=f"{tag}-1000 Love")
    und = create_movie(server, title=f"{tag} snake_case")
    und_twin = create_movie(server, title=f"{tag} snakeXcase")
    back = create_movie(server, title=f"{tag} back\\slash")
    back_twin = create_movie(server, title=f"{tag} backslash")
    assert list_ids(server, "/movies", q=f"{tag}-100%") == [pct["id"]]
    assert list_ids(server, "/movies", q=f"{tag} snake_c") == [und["id"]]
    assert list_ids(server, "/movies", q=f"{tag} back\\s") == [back["id"]]
    assert list_ids(server, "/movies", q=f"{tag}%") == []
    assert list_ids(server, "/movies", q=f"{tag}_") == []
    every = {pct["id"], pct_twin["id"], und["id"], und_twin["id"], back["id"], back_twin["id"]}
    assert set(list_ids(server, "/movies", q=tag)) == every


def test_q_too_long_is_400(server):
    param_error(call("GET", server, "/movies", params={"q": "q" * 201}), "q")


def test_genre_and_language_filters(server):
    tag = uid()
    genre, lang = f"g-{tag}", f"l-{tag}"
    a = create_movie(server, genres=["Drama", genre.upper()], languages=["Hindi", lang])
    b = create_movie(server, genres=[genre], languages=["Telugu"])
    c = create_movie(server, genres=[f"{genre}-extra"], languages=[lang])
    assert sorted(list_ids(server, "/movies", genre=genre)) == sorted([a["id"], b["id"]])
    assert sorted(list_ids(server, "/movies", genre=genre.upper())) == sorted([a["id"], b["id"]])
    assert sorted(list_ids(server, "/movies", language=lang)) == sorted([a["id"], c["id"]])
    assert list_ids(server, "/movies", genre=genre, language=lang) == [a["id"]]
    assert list_ids(server, "/movies", genre=genre, language="telugu", q="") == [b["id"]]


def test_genre_filter_underscore_is_literal(server):
    tag = uid()
    m = create_movie(server, genres=[f"sci-fi-{tag}"])
    assert m["id"] not in list_ids(server, "/movies", genre=f"sci_fi-{tag}")


def test_pagination_walks_every_movie_once(server):
    tag = uid()
    made = {create_movie(server, title=f"Page {tag} {i}")["id"] for i in range(7)}
    items, pages = walk(server, "/movies", 3, q=tag)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 7 and set(ids) == made
    assert pages == 3
    # the whole unfiltered catalogue too: no duplicates, ours included
    items, _ = walk(server, "/movies", 7)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) and made <= set(ids)


@pytest.mark.parametrize("params,parameter", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "abc"}, "limit"),
    ({"cursor": "!!!"}, "cursor"),
])
def test_bad_list_parameters_are_400(server, params, parameter):
    param_error(call("GET", server, "/movies", params=params), parameter)


# --------------------------------------------------------------------------------------------
# Delete


def test_delete_then_get_is_404(server):
    admin = cast(server).admin.token
    m = create_movie(server)
    ok(call("DELETE", server, f"/movies/{m['id']}", token=admin), 204)
    assert_error(get_movie(server, m["id"]), 404, "not_found")
    assert m["id"] not in list_ids(server, "/movies", token=admin, q=m["title"])
    assert_error(call("DELETE", server, f"/movies/{m['id']}", token=admin), 404, "not_found")
    assert_error(patch_movie(server, m["id"], {"title": "x"}), 404, "not_found")
    assert_error(call("POST", server, f"/movies/{m['id']}/toggle-status", token=admin), 404,
                 "not_found")


def test_delete_movie_with_unclaimed_future_show_cancels_it(server):
    c = cast(server)
    m = create_movie(server)
    other = create_movie(server)
    theatre = create_theatre(server)
    hall = create_hall(server, theatre["id"])
    show = create_show(server, m["id"], hall["id"], future(days=5, hour=9))
    keep = create_show(server, other["id"], hall["id"], future(days=5, hour=15))
    ok(call("DELETE", server, f"/movies/{m['id']}", token=c.admin.token), 204)
    assert ok(call("GET", server, f"/shows/{show['id']}"), 200)["status"] == "cancelled"
    assert ok(call("GET", server, f"/shows/{keep['id']}"), 200)["status"] == "scheduled"
    assert list_ids(server, "/shows", movie_id=m["id"]) == []
    assert list_ids(server, "/shows", hall_id=hall["id"]) == [keep["id"]]
    # a deleted movie cannot get new shows
    r = call("POST", server, "/shows", token=c.owner.token,
             json={"movie_id": m["id"], "hall_id": hall["id"],
                   "starts_at": iso(future(days=6)), "prices": {"premium": 1, "regular": 1},
                   "currency": "INR"})
    field_error(r, 422, "validation_failed", "movie_id")
