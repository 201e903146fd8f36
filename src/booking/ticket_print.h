/*
 * A confirmed booking's tickets, ready to hand out: each ticket's signed token and the PDF of all
 * of them. The HTTP routes (api/tickets_api.c) and the mail job (booking-confirmed mail with the
 * QR PNGs and the PDF) both go through here, so a ticket looks the same wherever it is shown.
 * Reads the booking's seats and its show through the store; renders through media/.
 */
#ifndef TIX_BOOKING_TICKET_PRINT_H
#define TIX_BOOKING_TICKET_PRINT_H

#include "booking/ticket_token.h"
#include "core/arena.h"
#include "store/booking.h"
#include "store/db.h"

/* The signed token of one ticket. OUT: token (NUL-terminated) in out. TIX_EINVAL when a field
 * does not fit a token, TIX_ENOTFOUND when kr cannot sign. */
TIX_MUSTCHECK tix_rc tix_ticket_token_for(const tix_ticket_keyring *kr, const char *ticket_id,
                                          const char *show_id, const char *seat,
                                          int64_t starts_at_ms, const char *booking_id,
                                          char out[TIX_TICKET_TOKEN_MAX]);

/* One valid ticket of a booking with its token (all in the arena). */
typedef struct tix_printed_ticket {
    const char *id;
    const char *seat_id;
    const char *seat;
    const char *code;
    const char *token;
} tix_printed_ticket;

/* The valid tickets of booking b with their tokens. OUT: *items (arena) and *n (0 when the
 * booking has none: not confirmed, or cancelled). */
TIX_MUSTCHECK tix_rc tix_booking_printed_tickets(tix_db *db, tix_arena *a,
                                                 const tix_ticket_keyring *kr, const tix_booking *b,
                                                 tix_printed_ticket **items, int *n);

/* The PDF of booking b's tickets (media/ticket_pdf.h: one page each). OUT: *out (malloc'd; the
 * caller frees) and *len. TIX_ECONFLICT when b is not confirmed or has no valid ticket. */
TIX_MUSTCHECK tix_rc tix_booking_tickets_pdf(tix_db *db, tix_arena *a, const tix_ticket_keyring *kr,
                                             const tix_booking *b, unsigned char **out,
                                             size_t *len);

#endif
