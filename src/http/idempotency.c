/*
 * Idempotency-Key for POSTs that create money-related state (holds, bookings, confirm,
 * cancel, refund retries). The key is per user; the request is identified by the SHA-256 of
 * method, path and body. The same key with the same request gets the first answer again
 * (Idempotent-Replayed: true); with another request, 422 idempotency_key_reused. A 5xx is never
 * stored, so a retry does the work (or finds it done).
 *
 * Two ways to keep the key, by route:
 *
 * - In the work's transaction (TIX_ROUTE_IDEM_TX: POST /shows/{id}/holds, whose work is one
 *   transaction). The handler hands r->idem to the transaction: the key's row is claimed among
 *   its writes and the answer written with its COMMIT (booking/booking.h tix_idem_tx), at no
 *   extra round trip. The row never commits without its answer, so it is never stuck "in
 *   progress": after a commit whose outcome the server never learnt (the connection died with
 *   the COMMIT in flight: 503), the retry finds the answer if the hold committed and does the
 *   hold if it did not. A concurrent duplicate waits for the first to commit (the unique key)
 *   and gets its answer; a used key makes the transaction roll back (state TAKEN) and the stored
 *   answer replaces the handler's. A refusal that never reached the commit (validation, 404,
 *   409 seats taken: nothing written) is stored on its own afterwards, as before.
 * - Claimed before the handler (the other routes: bookings and confirm call the payment provider,
 *   cancel and refund retries likewise, so their work is not one transaction). The key is inserted
 *   with status 0 on its own, the handler runs, then the answer is stored or, for a 5xx (or an
 *   answer the handler marks transient: a GraphQL 200 whose mutation met a 5xx, api/graphql_api.c),
 *   the claim dropped. A concurrent duplicate gets 409 idempotency_in_progress with Retry-After
 *   until the first has answered. If the database is gone when a 5xx is answered, the claim cannot
 *   be dropped; nor can it when the server dies in the middle of the work. So a claim is a lease:
 *   one still unanswered IDEMPOTENCY_LEASE (60 s) after its request started is abandoned, and the
 *   next request with the key takes it over and does the work (or finds it done), as after a
 *   dropped claim. The lease outlasts any request's work (a payment call gives up after 10 s, a
 *   lock wait after 5 s); should one run longer all the same, its late answer is not stored over
 *   the new claim (store/booking.h: finish and forget touch only their own claim). The
 *   transactional way needs no lease: its row never commits unanswered.
 */
#include "app.h"
#include "booking/booking.h"
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

/* Drops the handler's answer (a used key's stored answer replaces it); the headers added before
 * the handler ran (nheaders of them) stay. */
static void unanswer(tix_req *r, int nheaders)
{
    r->status = 0;
    r->resp = NULL;
    r->resp_len = 0;
    r->content_type = NULL;
    r->error_code = NULL;
    r->nheaders = nheaders;
}

/* Answers with what the key holds: the first answer, or why not. */
static void answer_seen(tix_req *r, const char *hash, const tix_idem_seen *seen)
{
    if (seen->stored_hash != NULL && strcmp(seen->stored_hash, hash) != 0) {
        tix_reply_error(r, 422, "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request", NULL);
    } else if (seen->status == 0) {
        tix_reply_header(r, "Retry-After", "1");
        tix_reply_error(r, 409, "idempotency_in_progress",
                        "a request with this Idempotency-Key is still being processed", NULL);
    } else {
        replay(r, seen->status, seen->response);
    }
}

/* Claim first, answer after (routes whose work is not one transaction). */
static void claim_first(tix_req *r, tix_handler handler, tix_db *db, const tix_idem_key *k)
{
    tix_idem_seen seen = {0, NULL, NULL};
    tix_rc rc = tix_idem_begin(db, r->arena, k, &seen);
    if (rc == TIX_ECONFLICT) {
        answer_seen(r, k->hash, &seen);
    } else if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
    } else {
        handler(r);
        tix_rc frc = r->status >= 500 || r->status == 0 || r->transient
                         ? tix_idem_forget(db, k)
                         : tix_idem_finish(db, k, (int)r->status, r->resp);
        (void)frc; /* the answer stands; a lost record only means no replay (a claim left
                    * unanswered lapses after its lease) */
    }
}

/* Runs of the handler when the key it met had expired (and was deleted) or vanished. */
#define IN_TX_ROUNDS 3

/* The key joins the handler's transaction (TIX_ROUTE_IDEM_TX). */
static void in_tx(tix_req *r, tix_handler handler, tix_db *db, const tix_idem_key *k)
{
    int nheaders = r->nheaders;
    for (int round = 0; round < IN_TX_ROUNDS; round++) {
        tix_idem_tx tx = {.k = *k, .answer = NULL, .arg = NULL, .state = TIX_IDEM_TX_OPEN};
        r->idem = &tx;
        handler(r);
        r->idem = NULL;
        if (tx.state == TIX_IDEM_TX_JOINED || r->status >= 500 ||
            (r->status == 0 && tx.state != TIX_IDEM_TX_TAKEN)) {
            return; /* stored with the work; or a failure, never stored */
        }
        tix_idem_seen seen = {0, NULL, NULL};
        tix_rc rc;
        if (tx.state == TIX_IDEM_TX_TAKEN) {
            rc = tix_idem_lookup(db, r->arena, k, &seen);
        } else {
            /* A refusal that wrote nothing: stored on its own. */
            rc = tix_idem_store(db, r->arena, k, (int)r->status, r->resp, &seen);
            if (rc != TIX_ECONFLICT) {
                return; /* stored; or not (the answer stands, only no replay) */
            }
            rc = TIX_OK; /* the key holds an answer already: that one is the answer */
        }
        unanswer(r, nheaders);
        if (rc != TIX_ENOTFOUND) {
            if (rc == TIX_OK) {
                answer_seen(r, k->hash, &seen);
            } else {
                tix_reply_rc(r, rc);
            }
            return;
        }
        /* The key had expired (deleted now) or its holder vanished: do the work. */
    }
    tix_reply_rc(r, TIX_EBUSY);
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
    char *hash = tix_arena_alloc(r->arena, TIX_SHA256_HEX);
    request_hash(r, hash);
    tix_idem_key k = {r->auth.user_id, key, hash, tix_now_ms(), r->app->cfg.idem_lease_s * 1000};
    if (r->route->flags & TIX_ROUTE_IDEM_TX) {
        in_tx(r, handler, db, &k);
    } else {
        claim_first(r, handler, db, &k);
    }
}
