/*
 * The door of a theatre: its staff (owner and admin), check-ins (staff, owner, admin) and a
 * show's admissions. The handlers read and check the request, call the door (booking/door.h:
 * the rules and who may do what) and render its answer. A refusal's rule name is the error
 * code; door_status below is the one place that gives each its status.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "booking/door.h"
#include "core/i18n.h"
#include "core/util.h"
#include "http/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Every handler's prologue: a database connection and the door's context for the caller.
 * false when there is no connection (r has been answered, 503). */
static bool door_open(tix_req *r, tix_door_ctx *c)
{
    tix_db *db = tix_req_db(r);
    *c = (tix_door_ctx){.db = db, .a = r->arena, .cfg = &r->app->cfg, .who = &r->auth};
    return db != NULL;
}

/* The status and message of each refusal the door names. */
static const struct {
    const char *why;
    unsigned status;
    const char *message;
} door_status[] = {
    {"already_checked_in", 409, N_("this ticket was already checked in")},
    {"ticket_void", 410, N_("this ticket's booking was cancelled or refunded")},
    {"wrong_theatre", 422, N_("this ticket is for another theatre")},
    {"wrong_show", 422, N_("this ticket's show is not open for check-in now")},
    {"unknown_user", 422, N_("no account has this e-mail address")},
    {"already_staff", 409, N_("this account already is door staff of the theatre")},
};

/* Answers a refused door call: a named rule as its status with details, else tix_reply_rc. */
static void reply_door(tix_req *r, tix_rc rc, const tix_door_refusal *why)
{
    if (why->why == NULL) {
        tix_reply_rc(r, rc);
        return;
    }
    for (size_t i = 0; i < sizeof(door_status) / sizeof(door_status[0]); i++) {
        if (strcmp(door_status[i].why, why->why) != 0) {
            continue;
        }
        json_t *d = json_object();
        const tix_door_ticket *t = &why->ticket;
        if (t->id != NULL) {
            json_object_set_new(d, "ticket_id", json_string(t->id));
            json_object_set_new(d, "show_id", json_string(t->show_id));
            json_object_set_new(d, "booking_id", json_string(t->booking_id));
        }
        if (strcmp(why->why, "already_checked_in") == 0) {
            json_object_set_new(d, "checked_in_at", tix_view_time(why->first_at));
        } else if (strcmp(why->why, "wrong_show") == 0) {
            json_object_set_new(d, "starts_at", tix_view_time(t->starts_at));
            json_object_set_new(d, "ends_at", tix_view_time(t->ends_at));
            json_object_set_new(d, "opens_at",
                                tix_view_time(t->starts_at - r->app->cfg.checkin_before_s * 1000));
            json_object_set_new(d, "closes_at",
                                tix_view_time(t->ends_at + r->app->cfg.checkin_after_s * 1000));
        } else if (strcmp(why->why, "unknown_user") == 0) {
            json_object_set_new(d, "field", json_string("email"));
        }
        tix_reply_error(r, door_status[i].status, door_status[i].why, door_status[i].message, d);
        return;
    }
    tix_reply_rc(r, rc);
}

static json_t *view_staff(const tix_staff_row *s)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:o}", "user_id", s->user_id, "email", s->email, "name",
                     s->name, "added_by", s->added_by, "created_at", tix_view_time(s->created_at));
}

/* ---- staff ---- */

void tix_api_staff_add(tix_req *r)
{
    json_t *body = tix_req_json(r);
    if (body == NULL) {
        return;
    }
    tix_verr e;
    const char *email = NULL;
    char norm[256];
    if (!tix_v_string(body, "email", true, 1, 320, &email, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (!tix_email_normalize(email, norm, sizeof(norm))) {
        tix_v_fail(&e, "email", "is not a valid e-mail address");
        tix_reply_verr(r, &e);
        return;
    }
    tix_door_ctx c;
    if (!door_open(r, &c)) {
        return;
    }
    tix_door_refusal why;
    tix_staff_row s;
    tix_rc rc = tix_door_staff_add(&c, tix_req_param(r, "id"), norm, &s, &why);
    if (rc != TIX_OK) {
        reply_door(r, rc, &why);
        return;
    }
    tix_reply_json(r, 201, view_staff(&s));
}

void tix_api_staff_list(tix_req *r)
{
    int limit = 0;
    const char *after = NULL;
    if (!tix_req_page(r, &limit, &after)) {
        return;
    }
    tix_door_ctx c;
    if (!door_open(r, &c)) {
        return;
    }
    tix_staff_row *items = NULL;
    int n = 0;
    tix_rc rc = tix_door_staff_list(&c, tix_req_param(r, "id"), after, limit, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, view_staff(&items[i]));
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].user_id : NULL);
}

void tix_api_staff_remove(tix_req *r)
{
    tix_door_ctx c;
    if (!door_open(r, &c)) {
        return;
    }
    tix_reply_rc(r, tix_door_staff_remove(&c, tix_req_param(r, "id"), tix_req_param(r, "user_id")));
}

/* ---- check-ins ---- */

/* Reads {code} or {token} (exactly one) into *scan (a token verified into *claims); answers and
 * returns false when neither or both are given, one is malformed or a token does not verify. */
static bool read_scan(tix_req *r, json_t *body, tix_door_scan *scan, tix_ticket_claims *claims)
{
    tix_verr e;
    const char *code = NULL;
    const char *token = NULL;
    if (!tix_v_string(body, "code", false, 1, 128, &code, &e) ||
        !tix_v_string(body, "token", false, 1, 1024, &token, &e)) {
        tix_reply_verr(r, &e);
        return false;
    }
    if ((code == NULL) == (token == NULL)) {
        tix_v_fail(&e, code ? "token" : "code", "give exactly one of code and token");
        tix_reply_verr(r, &e);
        return false;
    }
    if (code != NULL) {
        *scan = (tix_door_scan){.code = code, .method = "code"};
        return true;
    }
    tix_rc rc = tix_door_scan_token(r->app->ticket_keys, token, claims, scan);
    if (rc != TIX_OK) {
        tix_v_fail(&e, "token",
                   rc == TIX_EUNAVAIL ? "cannot be verified: this server has no ticket key"
                                      : "is not a ticket token signed by this server");
        tix_reply_verr(r, &e);
        return false;
    }
    return true;
}

void tix_api_check_in(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_door_scan scan;
    tix_ticket_claims claims;
    if (body == NULL || !read_scan(r, body, &scan, &claims)) {
        return;
    }
    tix_door_ctx c;
    if (!door_open(r, &c)) {
        return;
    }
    tix_door_refusal why;
    tix_admission adm;
    tix_rc rc = tix_door_check_in(&c, tix_req_param(r, "id"), &scan, tix_now_ms(), &adm, &why);
    if (rc != TIX_OK) {
        if (why.ticket.id != NULL) { /* the audit trail names the ticket a refusal was for */
            tix_audit_target(r, "ticket", why.ticket.id);
        }
        reply_door(r, rc, &why);
        return;
    }
    const tix_door_ticket *t = &adm.ticket;
    tix_audit_target(r, "ticket", t->id);
    tix_reply_json(r, 200,
                   json_pack("{s:{s:s},s:{s:s,s:s},s:{s:s,s:s,s:o,s:o},s:s,s:o}", "ticket", "id",
                             t->id, "seat", "id", t->seat_id, "label", t->seat_label, "show", "id",
                             t->show_id, "theatre_id", t->theatre_id, "starts_at",
                             tix_view_time(t->starts_at), "ends_at", tix_view_time(t->ends_at),
                             "booking_id", t->booking_id, "checked_in_at",
                             tix_view_time(adm.checked_in_at)));
}

/* A check-in list cursor is "<checked_in_at ms>:<ticket id>". */
static bool parse_checkin_cursor(const char *cursor, int64_t *at, const char **ticket)
{
    const char *colon = strchr(cursor, ':');
    if (colon == NULL || colon == cursor || colon[1] == '\0' || colon - cursor > 20) {
        return false;
    }
    char num[24];
    memcpy(num, cursor, (size_t)(colon - cursor));
    num[colon - cursor] = '\0';
    *ticket = colon + 1;
    return tix_parse_int(num, 0, INT64_MAX, at);
}

void tix_api_show_check_ins(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    if (!tix_req_page(r, &limit, &cursor)) {
        return;
    }
    int64_t after_at = 0;
    const char *after_ticket = NULL;
    if (cursor != NULL && !parse_checkin_cursor(cursor, &after_at, &after_ticket)) {
        tix_reply_error(r, 400, "invalid_parameter", "cursor is not one this server issued",
                        json_pack("{s:s}", "parameter", "cursor"));
        return;
    }
    tix_door_ctx c;
    if (!door_open(r, &c)) {
        return;
    }
    tix_show s;
    tix_checkin_row *items = NULL;
    int n = 0;
    int64_t sold = 0;
    int64_t admitted = 0;
    tix_rc rc = tix_door_show(&c, tix_req_param(r, "id"), &s);
    rc = rc ? rc : tix_checkin_counts(c.db, s.id, &sold, &admitted);
    rc =
        rc ? rc : tix_checkin_list(c.db, r->arena, s.id, after_at, after_ticket, limit, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        const tix_checkin_row *k = &items[i];
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "ticket_id", k->ticket_id, "booking_id",
                            k->booking_id, "seat_label", k->seat_label, "scanned_by", k->scanned_by,
                            "method", k->method, "checked_in_at", tix_view_time(k->checked_in_at)));
    }
    char key[96];
    if (n > limit) {
        snprintf(key, sizeof(key), "%" PRId64 ":%s", items[limit - 1].checked_in_at,
                 items[limit - 1].ticket_id);
    }
    json_t *body = tix_view_page(r, list, n > limit ? key : NULL);
    json_object_set_new(body, "show_id", json_string(s.id));
    json_object_set_new(
        body, "counts",
        json_pack("{s:I,s:I}", "sold", (json_int_t)sold, "admitted", (json_int_t)admitted));
    tix_reply_json(r, 200, body);
}
