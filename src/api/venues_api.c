/*
 * Theatres and halls. An owner creates theatres for itself and edits only its own; an admin
 * edits all and may create a theatre for a given owner. Reads are public for approved theatres
 * (and their halls); one that is pending or rejected answers 404 to all but its owner and
 * admins (onboarding: catalog.h, theatre_review_api.c). The handlers check
 * the shape of a request (and a hall's layout, catalog/layout.h) and leave the rules and the
 * transactions to the catalogue service (catalog/catalog.h, venues.c).
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/policy.h"
#include "catalog/layout.h"
#include "core/util.h"

#include <math.h>
#include <string.h>

#define DEFAULT_UTC_OFFSET 330 /* India (IST); DST-free zones only: the offset is fixed */

/* Reads an optional number field (integer or real) in [min, max]. */
static bool read_number(json_t *body, const char *key, double min, double max, double *out,
                        bool *present, tix_verr *e)
{
    json_t *v = json_object_get(body, key);
    *present = false;
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (!json_is_number(v)) {
        return tix_verr_type(e, key, "number");
    }
    *out = json_number_value(v);
    if (!(*out >= min && *out <= max)) {
        return tix_v_fail(e, key, "is out of range");
    }
    *present = true;
    return true;
}

static bool read_geo(json_t *body, tix_theatre *t, tix_verr *e)
{
    double lat = 0;
    double lon = 0;
    bool has_lat = false;
    bool has_lon = false;
    if (!read_number(body, "latitude", -90, 90, &lat, &has_lat, e) ||
        !read_number(body, "longitude", -180, 180, &lon, &has_lon, e)) {
        return false;
    }
    if (has_lat != has_lon) {
        return tix_v_fail(e, has_lat ? "longitude" : "latitude",
                          has_lat ? "is required with latitude" : "is required with longitude");
    }
    if (has_lat) {
        t->has_geo = true;
        t->latitude_e6 = llround(lat * 1e6);
        t->longitude_e6 = llround(lon * 1e6);
    }
    return true;
}

/* Reads theatre fields into t (present ones only when partial). */
static bool read_theatre_input(tix_req *r, json_t *body, bool partial, tix_theatre *t)
{
    tix_verr e;
    const char *name = NULL;
    const char *city = NULL;
    const char *address = NULL;
    int64_t offset = 0;
    bool has_offset = false;
    bool ok = tix_v_text(body, "name", !partial, 1, 200, TIX_TEXT_LINE, &name, &e) &&
              tix_v_text(body, "city", !partial, 1, 100, TIX_TEXT_LINE, &city, &e) &&
              tix_v_text(body, "address", !partial, 1, 500, TIX_TEXT_MULTILINE, &address, &e) &&
              tix_v_int(body, "utc_offset_minutes", false, -720, 840, &offset, &has_offset, &e) &&
              read_geo(body, t, &e);
    if (!ok) {
        tix_reply_verr(r, &e);
        return false;
    }
    t->name = name ? (char *)name : t->name;
    t->city = city ? (char *)city : t->city;
    t->address = address ? (char *)address : t->address;
    t->utc_offset_minutes = has_offset ? (int)offset : t->utc_offset_minutes;
    return true;
}

void tix_api_theatre_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_theatre t = {.utc_offset_minutes = DEFAULT_UTC_OFFSET};
    if (body == NULL || !read_theatre_input(r, body, false, &t)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_verr e;
    const char *owner = NULL;
    if (!tix_v_string(body, "owner_id", false, 1, TIX_ID_MAX - 1, &owner, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_theatre_create(&c, &t, owner, &why);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    tix_reply_json(r, 201, tix_view_theatre(&t));
}

/* Loads the theatre of {id} and checks the caller may change it; answers on failure. */
static bool load_own_theatre(tix_req *r, tix_db *db, const char *id, tix_theatre *t)
{
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_rc rc = tix_catalog_theatre_for_change(&c, id, t);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return false;
    }
    return true;
}

void tix_api_theatre_update(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_db *db = body ? tix_req_db(r) : NULL;
    tix_theatre t;
    if (db == NULL || !load_own_theatre(r, db, tix_req_param(r, "id"), &t) ||
        !read_theatre_input(r, body, true, &t)) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_rc rc = tix_catalog_theatre_update(&c, &t);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_theatre(&t));
}

void tix_api_theatre_delete(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_theatre_delete(&c, tix_req_param(r, "id"), &why);
    tix_api_reply_catalog(r, rc, &why);
}

void tix_api_theatre_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_theatre t;
    tix_hall *halls = NULL;
    int n = 0;
    tix_rc rc = tix_theatre_get(db, r->arena, tix_req_param(r, "id"), &t);
    if (rc == TIX_OK && !tix_catalog_theatre_visible(&r->auth, t.status, t.owner_id)) {
        rc = TIX_ENOTFOUND; /* not approved: its owner's and admins' only */
    }
    rc = rc ? rc : tix_hall_list(db, r->arena, t.id, &halls, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *j = tix_view_theatre(&t);
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("{s:s,s:s,s:i}", "id", halls[i].id, "name",
                                              halls[i].name, "seat_count", halls[i].seat_count));
    }
    json_object_set_new(j, "halls", list);
    tix_reply_json(r, 200, j);
}

void tix_api_theatre_list(tix_req *r)
{
    int limit = 0;
    const char *after = NULL;
    if (!tix_req_page(r, &limit, &after)) {
        return;
    }
    const char *city = tix_req_query(r, "city");
    char *city_lower = city ? tix_arena_strdup(r->arena, city) : NULL;
    for (char *p = city_lower; p && *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    tix_db *db = tix_req_db_read(r); /* a listing may come from a replica */
    if (db == NULL) {
        return;
    }
    /* Approved theatres only, for everyone (the answer is cached per catalogue version, not
     * per caller): owners see their others by id, admins through GET /admin/theatres. */
    tix_theatre_filter f = {city_lower, tix_req_query(r, "owner_id"), "approved", after, limit,
                            NULL};
    tix_api_reply_theatre_page(r, db, &f);
}

/* GET /me/theatres: the theatres whose door the caller may work (booking/door.h's rule,
 * tix_policy_can_work_door): an admin's are all, an owner's those it owns, anyone's those it is
 * door staff of; any status, in id order, paged. Read from the primary: a membership just
 * added must show at once, and the list is per caller (never cached). */
void tix_api_me_theatres(tix_req *r)
{
    int limit = 0;
    const char *after = NULL;
    if (!tix_req_page(r, &limit, &after)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    bool admin = r->auth.role == TIX_ROLE_ADMIN;
    tix_theatre_filter f = {
        .after = after, .limit = limit, .door_user = admin ? NULL : r->auth.user_id};
    tix_api_reply_theatre_page(r, db, &f);
}

/* ---- halls ---- */

/* Validates body.layout into l (owned by the caller: tix_layout_cleanup). */
static bool read_layout(tix_req *r, json_t *body, bool required, tix_layout *l, bool *present)
{
    json_t *layout = json_object_get(body, "layout");
    *present = layout != NULL && !json_is_null(layout);
    if (!*present) {
        if (required) {
            tix_verr e;
            tix_v_fail(&e, "layout", "is required");
            tix_reply_verr(r, &e);
            return false;
        }
        return true;
    }
    tix_layout_error err;
    if (tix_layout_build(layout, l, &err) != TIX_OK) {
        tix_reply_verr(r, &err.verr);
        return false;
    }
    return true;
}

/* Answers the hall with its seats. */
static void reply_hall(tix_req *r, tix_db *db, unsigned status, const char *id)
{
    tix_hall h;
    tix_seat_row *seats = NULL;
    int n = 0;
    tix_rc rc = tix_hall_get(db, r->arena, id, &h);
    rc = rc ? rc : tix_seat_list(db, r->arena, id, &seats, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, status, tix_view_hall(&h, seats, n));
}

void tix_api_hall_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_db *db = body ? tix_req_db(r) : NULL;
    tix_theatre t;
    tix_layout l;
    memset(&l, 0, sizeof(l));
    bool has_layout = false;
    const char *name = NULL;
    tix_verr e;
    if (db == NULL || !load_own_theatre(r, db, tix_req_param(r, "id"), &t)) {
        return;
    }
    if (!tix_v_text(body, "name", true, 1, 100, TIX_TEXT_LINE, &name, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (!read_layout(r, body, true, &l, &has_layout)) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_hall h;
    tix_rc rc = tix_catalog_hall_create(&c, &t, name, &l, &h);
    tix_layout_cleanup(&l);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_hall(r, db, 201, h.id);
}

/* Loads the hall of {id} and checks the caller owns its theatre; answers on failure. */
static bool load_own_hall(tix_req *r, tix_db *db, tix_hall *h)
{
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_rc rc = tix_catalog_hall_for_change(&c, tix_req_param(r, "id"), h);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return false;
    }
    return true;
}

void tix_api_hall_update(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_db *db = body ? tix_req_db(r) : NULL;
    tix_hall h;
    tix_layout l;
    memset(&l, 0, sizeof(l));
    bool has_layout = false;
    const char *name = NULL;
    tix_verr e;
    if (db == NULL || !load_own_hall(r, db, &h)) {
        return;
    }
    const char *seat_pick = NULL;
    if (!tix_v_text(body, "name", false, 1, 100, TIX_TEXT_LINE, &name, &e) ||
        !tix_v_string(body, "seat_pick", false, 1, 16, &seat_pick, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (seat_pick != NULL && strcmp(seat_pick, "geometric") != 0 &&
        strcmp(seat_pick, "learned") != 0) {
        (void)tix_v_fail(&e, "seat_pick", "must be \"geometric\" or \"learned\"");
        tix_reply_verr(r, &e);
        return;
    }
    if (!read_layout(r, body, false, &l, &has_layout)) {
        return;
    }
    h.seat_pick = seat_pick ? (char *)seat_pick : h.seat_pick;
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_hall_update(&c, &h, name, has_layout ? &l : NULL, &why);
    tix_layout_cleanup(&l);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    reply_hall(r, db, 200, h.id);
}

void tix_api_hall_delete(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_hall_delete(&c, tix_req_param(r, "id"), &why);
    tix_api_reply_catalog(r, rc, &why);
}

void tix_api_hall_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_hall h;
    tix_rc rc = tix_hall_get(db, r->arena, tix_req_param(r, "id"), &h);
    if (rc == TIX_OK && !tix_catalog_theatre_visible(&r->auth, h.theatre_status, h.owner_id)) {
        rc = TIX_ENOTFOUND; /* a hall of a theatre that is not approved: as the theatre */
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_hall(r, db, 200, h.id);
}
