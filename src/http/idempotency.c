/*
 * Idempotency-Key for POSTs that create money-related state (holds, bookings, confirm,
 * cancel). The key is per user; the request is identified by the SHA-256 of method, path and
 * body. A key is claimed (status 0) before the handler runs, so two concurrent requests with
 * the same key cannot both run: the second gets 409 until the first has answered. A 5xx is not
 * stored (the key is released) so that a retry can succeed.
 */
#include "core/util.h"
#include "http/req.h"
#include "store/booking.h"

#include <string.h>

#define KEY_MAX 255

static bool sane_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static void request_hash(tix_req *r, char out[TIX_SHA256_HEX])
{
    char *text = tix_arena_sprintf(r->arena, "%s %s\n", r->method, r->path);
    size_t hl = strlen(text);
    char *all = tix_arena_alloc(r->arena, hl + r->body_len + 1);
    memcpy(all, text, hl);
    if (r->body_len > 0) {
        memcpy(all + hl, r->body, r->body_len);
    }
    all[hl + r->body_len] = '\0';
    tix_sha256_hex(out, all, hl + r->body_len);
}

static void replay(tix_req *r, int status, const char *response)
{
    r->status = (unsigned)status;
    r->content_type = response && *response ? "application/json; charset=utf-8" : NULL;
    r->resp = tix_arena_strdup(r->arena, response ? response : "");
    r->resp_len = strlen(r->resp);
    tix_reply_header(r, "Idempotent-Replayed", "true");
}

void tix_idempotent_call(tix_req *r, tix_handler handler)
{
    const char *key = tix_req_header(r, "Idempotency-Key");
    if (key == NULL || !r->auth.authenticated) {
        handler(r);
        return;
    }
    if (!sane_key(key)) {
        tix_reply_error(r, 400, "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters", NULL);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    char hash[TIX_SHA256_HEX];
    request_hash(r, hash);
    tix_idem_seen seen = {0, NULL, NULL};
    tix_idem_key k = {r->auth.user_id, key, hash, tix_now_ms()};
    tix_rc rc = tix_idem_begin(db, r->arena, &k, &seen);
    if (rc == TIX_ECONFLICT && seen.stored_hash != NULL && strcmp(seen.stored_hash, hash) != 0) {
        tix_reply_error(r, 422, "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request", NULL);
    } else if (rc == TIX_ECONFLICT && seen.status == 0) {
        tix_reply_header(r, "Retry-After", "1");
        tix_reply_error(r, 409, "idempotency_in_progress",
                        "a request with this Idempotency-Key is still being processed", NULL);
    } else if (rc == TIX_ECONFLICT) {
        replay(r, seen.status, seen.response);
    } else if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
    } else {
        handler(r);
        tix_rc frc = r->status >= 500 || r->status == 0
                         ? tix_idem_forget(db, r->auth.user_id, key)
                         : tix_idem_finish(db, r->auth.user_id, key, (int)r->status, r->resp);
        (void)frc; /* the answer stands; a lost record only means no replay */
    }
}
