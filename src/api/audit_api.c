/*
 * GET /admin/audit (admin only): the audit trail (http/audit.h records it; store/audit.h reads
 * it), newest first, a page at a time.
 *
 * Filters: actor_id, target_id, action (exact), since and until (RFC 3339, inclusive, on the
 * row's time), limit (1..100, default 20) and cursor (the next_cursor of the page before).
 * Strict: an unknown parameter, an empty value, a time that does not parse, since after until,
 * an action that is not a name ("theatre.approve") or a cursor this server did not issue is a 400
 * invalid_parameter naming the parameter. A filter that matches nothing is an empty page.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "core/util.h"
#include "http/audit.h"
#include "http/query.h"
#include "store/audit.h"

#include <string.h>

#define AUDIT_QUERY "actor_id target_id action since until limit cursor"
#define ID_MAX_LEN  128

static bool bad(tix_req *r, const char *param, const char *message)
{
    tix_reply_error(r, 400, "invalid_parameter", message, json_pack("{s:s}", "parameter", param));
    return false;
}

/* An action name: lower-case letters, digits, '.', '-' and '_', as tix_audit_action makes. */
static bool action_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < TIX_AUDIT_ACTION_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-_") == n;
}

static bool read_time(tix_req *r, const char *name, int64_t *out)
{
    const char *s = tix_req_query(r, name);
    *out = 0;
    if (s != NULL && (!tix_parse_rfc3339(s, out) || *out <= 0)) {
        return bad(r, name, "must be an RFC 3339 time such as 2026-12-06T00:00:00Z");
    }
    return true;
}

/* The filter from the query string; false once a 400 is answered. */
static bool read_filter(tix_req *r, tix_audit_filter *f, int *limit)
{
    memset(f, 0, sizeof(*f));
    const char *cursor = NULL;
    if (!tix_req_query_only(r, AUDIT_QUERY) || !tix_req_page(r, limit, &cursor)) {
        return false;
    }
    f->actor_id = tix_req_query(r, "actor_id");
    f->target_id = tix_req_query(r, "target_id");
    f->action = tix_req_query(r, "action");
    if (f->actor_id != NULL && strlen(f->actor_id) > ID_MAX_LEN) {
        return bad(r, "actor_id", "actor_id is too long");
    }
    if (f->target_id != NULL && strlen(f->target_id) > ID_MAX_LEN) {
        return bad(r, "target_id", "target_id is too long");
    }
    if (f->action != NULL && !action_name(f->action)) {
        return bad(r, "action", "action must be an action name such as theatre.approve");
    }
    if (!read_time(r, "since", &f->since) || !read_time(r, "until", &f->until)) {
        return false;
    }
    if (f->since > 0 && f->until > 0 && f->since > f->until) {
        return bad(r, "since", "since must not be after until");
    }
    if (cursor != NULL && (strncmp(cursor, "aud_", 4) != 0 || strlen(cursor) >= TIX_ID_MAX)) {
        return bad(r, "cursor", "cursor is not one this server issued");
    }
    f->before_id = cursor;
    return true;
}

static json_t *audit_view(const tix_audit_row *a)
{
    return json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:i,s:s?}", "id", a->id, "at",
                     tix_view_time(a->at), "actor_id", a->actor_id, "actor_role", a->actor_role,
                     "action", a->action, "method", a->method, "route", a->route, "target_type",
                     a->target_type, "target_id", a->target_id, "request_id", a->request_id,
                     "client_ip", a->client_ip, "status", a->status, "detail", a->detail);
}

void tix_api_admin_audit(tix_req *r)
{
    tix_audit_filter f;
    int limit = 0;
    if (!read_filter(r, &f, &limit)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_audit_row *rows = NULL;
    int n = 0;
    tix_rc rc = tix_audit_page(db, r->arena, &f, limit, &rows, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(items, audit_view(&rows[i]));
    }
    tix_reply_page(r, items, n > limit ? rows[limit - 1].id : NULL);
}
