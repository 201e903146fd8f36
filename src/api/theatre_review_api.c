/*
 * Theatre onboarding over HTTP (catalog.h's onboarding section has the rules, onboarding.c the
 * moves): the admin queue GET /admin/theatres?status=, the admin's approve and reject, and the
 * owner's resubmission of a rejected theatre. Every answer that succeeds is the theatre after
 * the move (tix_view_theatre: status, rejection_reason, submitted_at, reviewed_at).
 *
 * Answers, in order: 401/403 from the route table (the review routes are ADMIN, submit OWNER:
 * an owner cannot approve its own theatre, a user or door staff cannot touch either), 404 for
 * no such theatre (or, for submit, one the caller may not see), 403 for an owner's submit of
 * another owner's theatre, 422 for a reject without a usable reason, 409 invalid_transition
 * (details.status) when the theatre is not in the status the action starts from.
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "core/util.h"

#include <string.h>

#define REASON_MAX 1000 /* characters: a paragraph for the owner, not a document */

static bool known_status(const char *s)
{
    return strcmp(s, "pending") == 0 || strcmp(s, "approved") == 0 || strcmp(s, "rejected") == 0;
}

void tix_api_admin_theatre_list(tix_req *r)
{
    const char *status = tix_req_query(r, "status");
    if (status != NULL && !known_status(status)) {
        tix_reply_error(r, 400, "invalid_parameter", "status must be pending, approved or rejected",
                        json_pack("{s:s}", "parameter", "status"));
        return;
    }
    int limit = 0;
    const char *after = NULL;
    tix_db *db = tix_req_page(r, &limit, &after) ? tix_req_db(r) : NULL;
    if (db == NULL) {
        return;
    }
    tix_theatre_filter f = {.status = status, .after = after, .limit = limit};
    tix_api_reply_theatre_page(r, db, &f);
}

static void reply_move(tix_req *r, tix_rc rc, const tix_theatre *t, const tix_catalog_refusal *why)
{
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, why);
        return;
    }
    tix_reply_json(r, 200, tix_view_theatre(t));
}

void tix_api_admin_theatre_approve(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_theatre t;
    tix_rc rc = tix_catalog_theatre_review(&c, tix_req_param(r, "id"), true, NULL, &t, &why);
    reply_move(r, rc, &t, &why);
}

void tix_api_admin_theatre_reject(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_db *db = body ? tix_req_db(r) : NULL;
    if (db == NULL) {
        return;
    }
    tix_theatre t;
    tix_rc rc = tix_theatre_get(db, r->arena, tix_req_param(r, "id"), &t);
    if (rc != TIX_OK) { /* 404 before the body's 422 */
        tix_reply_rc(r, rc);
        return;
    }
    tix_verr e;
    const char *reason = NULL;
    if (!tix_v_text(body, "reason", true, 1, REASON_MAX, TIX_TEXT_MULTILINE, &reason, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    rc = tix_catalog_theatre_review(&c, t.id, false, reason, &t, &why);
    reply_move(r, rc, &t, &why);
}

void tix_api_theatre_submit(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_theatre t;
    tix_rc rc = tix_catalog_theatre_submit(&c, tix_req_param(r, "id"), &t, &why);
    reply_move(r, rc, &t, &why);
}
