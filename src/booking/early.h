/*
 * Hold refusals that need no database (issue 13): during an opening-night stampede nearly every
 * hold asks for seats the seat map already shows taken, and each one used to cost a handler
 * thread and a PostgreSQL transaction only to be told 409. This module decides, from the seat
 * map a show's cached answer was built from, whether a hold is sure to be refused, and with what.
 *
 * The claims view. When the seat map's answer is built (api/booking_api.c), the same read is
 * written down as text kept beside that answer, under the versions it is stored under
 * (http/aside.h), never shown to anyone: per seat its state (free, claimed, never sold) and
 * category, and WHO claims it. The public answer cannot serve: a hold replaces the user's own
 * live hold atomically, so a seat that the map shows held may be held by the very user asking,
 * and is then his to take. A view is written only when it could refuse anything
 * (tix_early_useful: the show on sale, a seat claimed): a map without claims refuses no seat a
 * hold names, and with Redis every view kept is one more SET per build, so a show nobody holds
 * seats of costs none. A hold that finds no current view decides on the database, as it would
 * without this module; the view is never built anywhere but beside the seat map's answer, from
 * the same read, so "usable only at the version it was built for" below holds for every view.
 *
 * Why a refusal from the view is a true answer. The view is used only while the catalogue's and
 * the show's versions are the ones read before the seat map was read from the database, and
 * before the earliest claim's expiry (every claim change of the show bumps its version after its
 * commit and before its request is answered; an expiry by the clock ends the view's instant). So
 * at the instant the versions are read again and found equal, every seat the view shows claimed
 * was claimed: a release or expiry that freed it would have changed the version (or its instant),
 * except one whose bump has not happened yet, whose request has not been answered yet, and which
 * is then concurrent with ours and may be ordered after it. The 409 is the answer the database
 * would have given at that instant: the refusal is linearised at the version check. A seat shown
 * free proves nothing (someone may have taken it since; the claim decides): any asked seat shown
 * free, a seat unknown to the view or never sold (the database path answers 422 for those, and
 * must), a seat claimed by the user himself, or a show not on sale at that instant, and the
 * request takes the ordinary path.
 *
 * Best available {quantity, category?} is refused only when the view has fewer free seats (of
 * that category) than asked: best available never picks a seat that is not free, so it would
 * fail as surely (409 no_seats_available, unavailable []). Any seat the user claims himself
 * could be freed by the replacement, so then the ordinary path decides.
 *
 * The view's text (the caller keeps it; the format is this module's): a first line
 * "v1 <cancelled 0|1> <starts_at ms>", then per seat, in seat id order (strcmp),
 * "<id>\t<f|c|b>\t<category>\t<claimant>" (f free, c claimed: held or sold, b blocked or
 * unpriced: never sold; claimant empty unless c). A reader sorts a view not in id order.
 * No seat id, category or user id holds a tab or a newline (a map that would is not written).
 *
 * Pure functions of their arguments; results live in the arena.
 */
#ifndef TIX_BOOKING_EARLY_H
#define TIX_BOOKING_EARLY_H

#include "booking/booking.h"

#include <stdbool.h>
#include <stdint.h>

/* The claims view of a show's seat map (n seats as tix_seatmap_load reads them), NUL-terminated
 * in a; *len its length. NULL when a text could not hold it (a tab or newline in a field). */
char *tix_early_view(tix_arena *a, const tix_show *show, const tix_map_seat *seats, int n,
                     size_t *len);

/* Whether a view of this map, read at now_ms, could ever refuse a hold: the show is on sale
 * (not cancelled, not started) and at least one sellable seat is claimed. false: no view is
 * worth keeping (best available asking more seats than a hall without claims has free is then
 * left to the database, which refuses it as well). */
bool tix_early_useful(const tix_show *show, const tix_map_seat *seats, int n, int64_t now_ms);

/* Whether req by user_id is sure to be refused by the view (text of tix_early_view) at now_ms:
 * then true with out->problem (TIX_HOLD_SEAT_UNAVAILABLE or TIX_HOLD_NO_SEATS_AVAILABLE) and
 * out->problem_ids (the claimed seats asked for, distinct and sorted as the database path
 * lists them; none for best available), as tix_hold_place would fill them with TIX_ECONFLICT.
 * false: the ordinary path decides (out then says nothing). */
bool tix_early_refusal(tix_arena *a, const char *view, const tix_hold_request *req,
                       const char *user_id, int64_t now_ms, tix_hold_result *out);

#endif
