/*
 * Tokens and the PDF of a booking's tickets (ticket_print.h).
 */
#include "booking/ticket_print.h"

#include "media/ticket_pdf.h"

#include <string.h>

tix_rc tix_ticket_token_for(const tix_ticket_keyring *kr, const char *ticket_id,
                            const char *show_id, const char *seat, int64_t starts_at_ms,
                            const char *booking_id, char out[TIX_TICKET_TOKEN_MAX])
{
    tix_ticket_claims c;
    memset(&c, 0, sizeof(c));
    if (kr == NULL) {
        return TIX_ENOTFOUND;
    }
    if (ticket_id == NULL || show_id == NULL || seat == NULL || booking_id == NULL ||
        strlen(ticket_id) >= sizeof(c.tid) || strlen(show_id) >= sizeof(c.sid) ||
        strlen(seat) >= sizeof(c.seat) || strlen(booking_id) >= sizeof(c.bid)) {
        return TIX_EINVAL;
    }
    strcpy(c.tid, ticket_id);
    strcpy(c.sid, show_id);
    strcpy(c.seat, seat);
    strcpy(c.bid, booking_id);
    c.start = starts_at_ms / 1000;
    return tix_ticket_token_sign(kr, &c, out, TIX_TICKET_TOKEN_MAX);
}

tix_rc tix_booking_printed_tickets(tix_db *db, tix_arena *a, const tix_ticket_keyring *kr,
                                   const tix_booking *b, tix_printed_ticket **items, int *n)
{
    tix_booking_seat *seats = NULL;
    int ns = 0;
    tix_rc rc = tix_booking_seats(db, a, b->id, &seats, &ns);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_printed_ticket *out = tix_arena_calloc(a, sizeof(*out) * (size_t)(ns + 1));
    int nt = 0;
    for (int i = 0; i < ns; i++) {
        if (seats[i].ticket_id == NULL) {
            continue;
        }
        char *tok = tix_arena_alloc(a, TIX_TICKET_TOKEN_MAX);
        rc = tix_ticket_token_for(kr, seats[i].ticket_id, b->show_id, seats[i].label,
                                  b->show_starts_at, b->id, tok);
        if (rc != TIX_OK) {
            return rc;
        }
        out[nt++] = (tix_printed_ticket){seats[i].ticket_id, seats[i].seat_id, seats[i].label,
                                         seats[i].ticket_code, tok};
    }
    *items = out;
    *n = nt;
    return TIX_OK;
}

tix_rc tix_booking_tickets_pdf(tix_db *db, tix_arena *a, const tix_ticket_keyring *kr,
                               const tix_booking *b, unsigned char **out, size_t *len)
{
    tix_printed_ticket *t = NULL;
    int nt = 0;
    tix_show_print show;
    tix_rc rc = tix_booking_printed_tickets(db, a, kr, b, &t, &nt);
    rc = rc ? rc : tix_show_print_get(db, a, b->show_id, &show);
    if (rc != TIX_OK) {
        return rc;
    }
    if (b->status != TIX_BK_CONFIRMED || nt == 0) {
        return TIX_ECONFLICT;
    }
    tix_pdf_ticket *pages = tix_arena_calloc(a, sizeof(*pages) * (size_t)nt);
    for (int i = 0; i < nt; i++) {
        pages[i] = (tix_pdf_ticket){t[i].token, t[i].seat, t[i].code};
    }
    tix_pdf_booking pb = {b->id,
                          show.film,
                          show.theatre,
                          show.city,
                          show.hall,
                          show.starts_at,
                          show.utc_offset_minutes,
                          pages,
                          nt};
    rc = tix_ticket_pdf(&pb, out, len);
    return rc == TIX_EINVAL ? TIX_EDB : rc; /* a token always fits a QR code: our bug */
}
