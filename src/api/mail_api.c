/*
 * Mail: the admin's view of the outbox and password reset (API.md "Mail").
 *
 * GET /admin/outbox?status=&limit=&cursor= pages the outbox, newest first; POST
 * /admin/outbox/{id}/retry puts a failed message back in the queue with a fresh count of
 * attempts (409 outbox_not_failed for any other status). A row shows no data (it may hold a
 * reset token) and no body (rendered when sent).
 *
 * POST /auth/password-reset and /auth/password-reset/confirm: see auth/reset.h.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/password.h"
#include "auth/reset.h"
#include "core/util.h"
#include "http/validate.h"
#include "store/outbox.h"

#include <string.h>

/* A row as JSON: times in RFC 3339 like every other resource; last_error, subject, sent_at and
 * ref_id are left out while they have no value. */
static json_t *outbox_view(const tix_outbox_row *o)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:i,s:s*,s:s*,s:s,s:o,s:o,s:o*,s:s*}", "id", o->id, "kind",
                     o->kind, "to", o->to_addr, "status", o->status, "attempts", o->attempts,
                     "last_error", o->last_error, "subject", o->subject, "message_id",
                     o->message_id, "created_at", tix_view_time(o->created_at), "next_attempt_at",
                     tix_view_time(o->next_attempt_at), "sent_at",
                     o->sent_at ? tix_view_time(o->sent_at) : NULL, "ref_id", o->ref_id);
}

void tix_api_admin_outbox_list(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    const char *status = tix_req_query(r, "status");
    if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "sending") != 0 &&
        strcmp(status, "sent") != 0 && strcmp(status, "failed") != 0) {
        tix_reply_error(r, 400, "invalid_parameter",
                        "status must be pending, sending, sent or failed",
                        json_pack("{s:s}", "parameter", "status"));
        return;
    }
    tix_db *db = tix_req_page(r, &limit, &cursor) ? tix_req_db(r) : NULL;
    if (db == NULL) {
        return;
    }
    tix_outbox_row *items = NULL;
    int n = 0;
    tix_rc rc = tix_outbox_page(db, r->arena, status, cursor, limit, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, outbox_view(&items[i]));
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].id : NULL);
}

void tix_api_admin_outbox_retry(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    const char *id = tix_req_param(r, "id");
    tix_outbox_row o;
    tix_rc rc = tix_outbox_requeue(db, r->arena, id, tix_now_ms(), &o);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "outbox_not_failed", "only a failed message can be retried", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, outbox_view(&o));
}

/* ---- password reset ---- */

void tix_api_password_reset(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *email = NULL;
    char norm[256];
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "email", true, 1, 320, &email, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (!tix_email_normalize(email, norm, sizeof(norm))) {
        tix_v_fail(&e, "email", "is not a valid e-mail address");
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_reset_request(db, norm);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(
        r, 202,
        json_pack("{s:s}", "status", "if an account has this address, a reset mail is on its way"));
}

void tix_api_password_reset_confirm(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *token = NULL;
    const char *next = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "token", true, 1, 256, &token, &e) ||
        !tix_v_string(body, "new_password", true, TIX_PASSWORD_MIN_CHARS, TIX_PASSWORD_MAX_CHARS,
                      &next, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_reset_confirm(db, r->app->cache, r->arena, token, next);
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 400, "invalid_token",
                        "the reset token is unknown, used or expired: ask for a new one", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_empty(r, 204);
}
