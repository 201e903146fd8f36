"""The rules the catalogue enforces on its writes (catalog/catalog.h), each with the error the API
answers and proof that a refused write changed nothing: a theatre, hall or movie with holds or
sales on a future show is not deleted; a hall's layout does not change under such a show; a
movie's running time does not change while shows are scheduled. These pin the behaviour the
service layer took over from the handlers."""

from booking_helpers import Venue, hold, release
from catalog_helpers import cast, create_show, future, ok, theatre_body
from conftest import assert_error, call


def _held(server):
    """A venue with one seat held on its (future) show: (venue, hold id)."""
    v = Venue(server)
    h = hold(server, cast(server).user.token, v.show_id, seat_ids=v.ids("A1"))
    return v, h["hold_id"]


def _show_status(server, show_id):
    return ok(call("GET", server, f"/shows/{show_id}"), 200)["status"]


def test_theatre_with_a_hold_on_a_future_show_is_not_deleted(server):
    c = cast(server)
    v, hold_id = _held(server)
    r = call("DELETE", server, f"/theatres/{v.theatre['id']}", token=c.owner.token)
    err = assert_error(r, 409, "theatre_has_bookings")
    assert err["message"] == "the theatre has future shows with bookings or holds"
    ok(call("GET", server, f"/theatres/{v.theatre['id']}"), 200)
    assert _show_status(server, v.show_id) == "scheduled"
    # once the hold is gone the theatre goes, and its future show is cancelled with it
    ok(release(server, c.user.token, hold_id), 204)
    ok(call("DELETE", server, f"/theatres/{v.theatre['id']}", token=c.owner.token), 204)
    assert_error(call("GET", server, f"/theatres/{v.theatre['id']}"), 404, "not_found")
    assert _show_status(server, v.show_id) == "cancelled"


def test_hall_with_a_hold_on_a_future_show_is_not_deleted(server):
    c = cast(server)
    v, hold_id = _held(server)
    r = call("DELETE", server, f"/halls/{v.hall['id']}", token=c.owner.token)
    err = assert_error(r, 409, "hall_has_bookings")
    assert err["message"] == "the hall has future shows with bookings or holds"
    ok(call("GET", server, f"/halls/{v.hall['id']}"), 200)
    assert _show_status(server, v.show_id) == "scheduled"
    ok(release(server, c.user.token, hold_id), 204)
    ok(call("DELETE", server, f"/halls/{v.hall['id']}", token=c.owner.token), 204)
    assert _show_status(server, v.show_id) == "cancelled"


def test_hall_layout_does_not_change_under_a_hold(server):
    c = cast(server)
    v, hold_id = _held(server)
    smaller = {"rows": [{"label": "A", "seats": 4, "category": "premium"},
                        {"label": "B", "seats": 4, "category": "regular"}]}
    r = call("PATCH", server, f"/halls/{v.hall['id']}", token=c.owner.token,
             json={"name": "Renamed", "layout": smaller})
    assert_error(r, 409, "hall_has_bookings")
    got = ok(call("GET", server, f"/halls/{v.hall['id']}"), 200)
    assert (got["name"], got["seat_count"]) == (v.hall["name"], v.hall["seat_count"])
    # a rename alone touches no seat and is allowed
    got = ok(call("PATCH", server, f"/halls/{v.hall['id']}", token=c.owner.token,
                  json={"name": "Renamed"}), 200)
    assert (got["name"], got["seat_count"]) == ("Renamed", v.hall["seat_count"])
    ok(release(server, c.user.token, hold_id), 204)
    got = ok(call("PATCH", server, f"/halls/{v.hall['id']}", token=c.owner.token,
                  json={"layout": smaller}), 200)
    assert got["seat_count"] == 8


def test_movie_with_a_hold_on_a_future_show_is_not_deleted(server):
    c = cast(server)
    v, hold_id = _held(server)
    r = call("DELETE", server, f"/movies/{v.movie['id']}", token=c.admin.token)
    err = assert_error(r, 409, "movie_has_bookings")
    assert err["message"] == \
        "the movie has future shows with bookings or holds; cancel them first"
    ok(call("GET", server, f"/movies/{v.movie['id']}"), 200)
    assert _show_status(server, v.show_id) == "scheduled"
    ok(release(server, c.user.token, hold_id), 204)
    ok(call("DELETE", server, f"/movies/{v.movie['id']}", token=c.admin.token), 204)
    assert_error(call("GET", server, f"/movies/{v.movie['id']}"), 404, "not_found")
    assert _show_status(server, v.show_id) == "cancelled"


def test_running_time_does_not_change_while_shows_are_scheduled(server):
    c = cast(server)
    v = Venue(server)
    path = f"/movies/{v.movie['id']}"
    r = call("PATCH", server, path, token=c.admin.token, json={"duration_minutes": 150})
    err = assert_error(r, 409, "movie_has_shows")
    assert err["message"] == "the running time cannot change while future shows are scheduled"
    assert ok(call("GET", server, path), 200)["duration_minutes"] == 100
    # the same running time, or other fields, are fine
    got = ok(call("PATCH", server, path, token=c.admin.token,
                  json={"duration_minutes": 100, "title": "Renamed"}), 200)
    assert (got["title"], got["duration_minutes"]) == ("Renamed", 100)
    v.cancel_show()
    got = ok(call("PATCH", server, path, token=c.admin.token, json={"duration_minutes": 150}), 200)
    assert got["duration_minutes"] == 150


def test_owner_may_not_create_a_theatre_for_another_owner(server):
    c = cast(server)
    r = call("POST", server, "/theatres", token=c.owner.token,
             json=theatre_body(owner_id=c.other_owner.id))
    err = assert_error(r, 403, "forbidden")
    assert err["message"] == "only an admin may create a theatre for another owner"


def test_show_prices_are_checked_in_the_order_given(server):
    """A price of the wrong type is 400, an unknown category 422, whichever comes first."""
    c = cast(server)
    v = Venue(server)
    body = {"movie_id": v.movie["id"], "hall_id": v.hall["id"], "currency": "INR",
            "starts_at": future(days=9).strftime("%Y-%m-%dT%H:%M:%SZ")}
    r = call("POST", server, "/shows", token=c.owner.token,
             json={**body, "prices": {"premium": "x", "nosuch": 1, "regular": 1}})
    err = assert_error(r, 400, "invalid_type")
    assert err["details"]["field"] == "prices.premium"
    r = call("POST", server, "/shows", token=c.owner.token,
             json={**body, "prices": {"nosuch": 1, "premium": "x", "regular": 1}})
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "prices.nosuch"
    r = call("POST", server, "/shows", token=c.owner.token,
             json={**body, "prices": {"premium": 1}})
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "prices.regular"
    # a bad price on a hall the caller may not change is that refusal first
    r = call("POST", server, "/shows", token=c.other_owner.token,
             json={**body, "prices": {"premium": "x"}})
    assert_error(r, 403, "forbidden")
    create_show(server, v.movie["id"], v.hall["id"], future(days=9), token=c.owner.token,
                prices={"premium": 1, "regular": 2})
