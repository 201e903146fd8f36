/*
 * Tickets at the door over HTTP (API.md second part, docs/tickets.md): the public key of the
 * ticket tokens, the QR code of a ticket (PNG, SVG) and the tickets of a booking as a PDF.
 * Tokens are signed when shown (Ed25519 is deterministic: the same ticket, the same token) with
 * the keyring main made (app->ticket_keys); tokens and the PDF come from booking/ticket_print.h,
 * the QR images from media/qr.h, and they are answered from the request's arena, never cached (they
 * are personal).
 *
 * Who may see what: a ticket's QR: the holder of its booking, the owner or door staff of the
 * show's theatre (auth/policy.h tix_policy_can_work_door), an admin; a booking's PDF: its holder,
 * an admin. Anyone else gets 404 (not 403: the id is not
 * confirmed to exist), like GET /bookings/{id}.
 */
#include "api/handlers.h"
#include "app.h"
#include "auth/policy.h"
#include "booking/ticket_print.h"
#include "media/qr.h"
#include "store/booking.h"
#include "store/door.h"

#include <stdlib.h>
#include <string.h>

const char *tix_api_ticket_token(tix_req *r, const char *ticket_id, const char *show_id,
                                 const char *seat, int64_t starts_at_ms, const char *booking_id)
{
    char *out = tix_arena_alloc(r->arena, TIX_TICKET_TOKEN_MAX);
    return tix_ticket_token_for(r->app->ticket_keys, ticket_id, show_id, seat, starts_at_ms,
                                booking_id, out) == TIX_OK
               ? out
               : NULL;
}

/* Answers 200 with bytes (copied into the arena; buf is freed here). */
static void reply_bytes(tix_req *r, const char *type, unsigned char *buf, size_t n)
{
    char *copy = tix_arena_alloc(r->arena, n + 1);
    memcpy(copy, buf, n);
    copy[n] = '\0';
    free(buf);
    r->status = 200;
    r->content_type = type;
    r->resp = copy;
    r->resp_len = n;
    tix_reply_header(r, "Cache-Control", "private, no-store");
}

void tix_api_ticket_key(tix_req *r)
{
    char kid[TIX_TICKET_KID_LEN + 1];
    char pk[TIX_TICKET_KEY_B64];
    if (r->app->ticket_keys == NULL || tix_ticket_public(r->app->ticket_keys, kid, pk) != TIX_OK) {
        tix_reply_rc(r, TIX_EUNAVAIL);
        return;
    }
    json_t *old = json_array();
    for (int i = 1; i < r->app->ticket_keys->n; i++) {
        json_array_append_new(old, json_string(r->app->ticket_keys->keys[i].kid));
    }
    tix_reply_header(r, "Cache-Control", "public, max-age=3600");
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:o}", "kid", kid, "public_key", pk, "alg", "Ed25519",
                             "verify_kids", old));
}

/* The ticket of the path if the caller may see its QR code; else answered and NULL. */
static const char *visible_ticket_token(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return NULL;
    }
    tix_ticket_row t;
    tix_rc rc = tix_ticket_get(db, r->arena, tix_req_param(r, "id"), &t);
    if (rc == TIX_OK && strcmp(t.user_id, r->auth.user_id) != 0) {
        /* not the holder: the theatre's door (owner, staff, admin) or nobody (404) */
        bool staff = false;
        rc = tix_staff_is_member(db, t.theatre_id, r->auth.user_id, &staff);
        if (rc == TIX_OK &&
            tix_policy_can_work_door(&r->auth, t.theatre_owner_id, staff) != TIX_OK) {
            rc = TIX_ENOTFOUND;
        }
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return NULL;
    }
    if (strcmp(t.status, "valid") != 0) {
        tix_reply_error(r, 410, "ticket_void",
                        "this ticket was cancelled or refunded; it admits nobody", NULL);
        return NULL;
    }
    const char *tok =
        tix_api_ticket_token(r, t.id, t.show_id, t.seat_label, t.starts_at, t.booking_id);
    if (tok == NULL) {
        tix_reply_rc(r, TIX_EUNAVAIL);
    }
    return tok;
}

void tix_api_ticket_qr_png(tix_req *r)
{
    const char *tok = visible_ticket_token(r);
    unsigned char *png = NULL;
    size_t n = 0;
    if (tok == NULL) {
        return;
    }
    tix_rc rc = tix_qr_png(tok, 0, &png, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc == TIX_EINVAL ? TIX_EDB : rc); /* a token always fits: our bug */
        return;
    }
    reply_bytes(r, "image/png", png, n);
    r->resp_encoding = "identity"; /* already deflated */
}

void tix_api_ticket_qr_svg(tix_req *r)
{
    const char *tok = visible_ticket_token(r);
    unsigned char *svg = NULL;
    size_t n = 0;
    if (tok == NULL) {
        return;
    }
    tix_rc rc = tix_qr_svg(tok, &svg, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc == TIX_EINVAL ? TIX_EDB : rc);
        return;
    }
    reply_bytes(r, "image/svg+xml", svg, n);
}

void tix_api_booking_pdf(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking b;
    tix_rc rc = tix_booking_get(db, r->arena, tix_req_param(r, "id"), &b);
    if (rc == TIX_OK && strcmp(b.user_id, r->auth.user_id) != 0) {
        rc = tix_policy_can_view(&r->auth, NULL); /* admins only */
    }
    unsigned char *pdf = NULL;
    size_t len = 0;
    rc = rc ? rc : tix_booking_tickets_pdf(db, r->arena, r->app->ticket_keys, &b, &pdf, &len);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "booking_not_confirmed",
                        "only a confirmed booking has tickets to print", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_bytes(r, "application/pdf", pdf, len);
    tix_reply_header(r, "Content-Disposition", "inline; filename=\"tickets.pdf\"");
}
