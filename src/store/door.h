/*
 * SQL for the door: theatre staff (a membership of a user in a theatre, table theatre_staff)
 * and check-ins (table check_ins, migration 0009). Strings in returned structs live in the
 * caller's arena. No rule lives here beyond what the schema enforces: who may add staff or scan
 * is booking/door.h's business, with auth/policy.h.
 *
 * Exactly once: tix_checkin_insert is a single conditional INSERT … ON CONFLICT (ticket_id) DO
 * NOTHING RETURNING, never a read followed by a write, so two scanners racing on one ticket (on
 * one server or on several) get one TIX_OK and one "already", decided by the primary key.
 * Against a cancellation of the booking the caller runs it inside a transaction that holds the
 * booking's row lock (booking/door.c), the lock a cancellation takes before it looks for
 * check-ins (booking/bookings.c): whichever locks first wins, the other sees its commit.
 */
#ifndef TIX_STORE_DOOR_H
#define TIX_STORE_DOOR_H

#include "core/arena.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_staff_row {
    char *user_id;
    char *email;
    char *name;
    char *added_by;
    int64_t created_at;
} tix_staff_row;

/* Makes user_id door staff of theatre_id; TIX_ECONFLICT when it already is. */
TIX_MUSTCHECK tix_rc tix_staff_insert(tix_db *db, const char *theatre_id, const char *user_id,
                                      const char *added_by, int64_t now);
/* Ends a membership; TIX_ENOTFOUND when there was none. */
TIX_MUSTCHECK tix_rc tix_staff_delete(tix_db *db, const char *theatre_id, const char *user_id);
/* Whether user_id is door staff of theatre_id. OUT: *member. */
TIX_MUSTCHECK tix_rc tix_staff_is_member(tix_db *db, const char *theatre_id, const char *user_id,
                                         bool *member);
/* A theatre's staff ordered by user id, after `after` (NULL: from the start), limit + 1 rows
 * (the extra one says there is a next page). */
TIX_MUSTCHECK tix_rc tix_staff_list(tix_db *db, tix_arena *a, const char *theatre_id,
                                    const char *after, int limit, tix_staff_row **items, int *n);

/* A ticket as the door sees it: the ticket, its seat, booking and show. */
typedef struct tix_door_ticket {
    char *id;
    char *code;
    bool valid; /* tickets.status = 'valid' */
    char *booking_id;
    char *booking_status; /* bookings.status as stored */
    char *seat_id;
    char *seat_label;
    char *show_id;
    char *theatre_id;
    char *show_status;
    int64_t starts_at;
    int64_t ends_at;
} tix_door_ticket;

/* The ticket whose code is `code`, or (code NULL) whose id is `ticket_id`; TIX_ENOTFOUND when
 * there is none. */
TIX_MUSTCHECK tix_rc tix_door_ticket_get(tix_db *db, tix_arena *a, const char *code,
                                         const char *ticket_id, tix_door_ticket *out);

typedef struct tix_checkin_req {
    const char *ticket_id;
    const char *scanned_by;
    const char *method; /* "code" | "token" */
    int64_t now;
} tix_checkin_req;

/* Admits ticket q->ticket_id if it is valid and its booking confirmed, and it was not admitted
 * before, in one statement. OUT: *admitted true and *at = q->now when this call admitted it;
 * *admitted false and *at the first admission's time when it was admitted before; *admitted
 * false and *at 0 when it was not admitted because the ticket is void or its booking is no
 * longer confirmed (a cancellation that committed after the caller read the ticket). */
TIX_MUSTCHECK tix_rc tix_checkin_insert(tix_db *db, const tix_checkin_req *q, bool *admitted,
                                        int64_t *at);
/* The first admission of any ticket of booking_id: OUT *ticket_id (in a) and *at; TIX_ENOTFOUND
 * when none of its tickets was admitted. */
TIX_MUSTCHECK tix_rc tix_checkin_first_of_booking(tix_db *db, tix_arena *a, const char *booking_id,
                                                  const char **ticket_id, int64_t *at);

typedef struct tix_checkin_row {
    char *ticket_id;
    char *booking_id;
    char *seat_label;
    char *scanned_by;
    char *method;
    int64_t checked_in_at;
} tix_checkin_row;

/* The check-ins of a show in order of (checked_in_at, ticket_id), after the position
 * (after_at, after_ticket) (after_ticket NULL: from the start), limit + 1 rows. */
TIX_MUSTCHECK tix_rc tix_checkin_list(tix_db *db, tix_arena *a, const char *show_id,
                                      int64_t after_at, const char *after_ticket, int limit,
                                      tix_checkin_row **items, int *n);
/* OUT: *sold, the valid tickets of the show's confirmed bookings; *admitted, its check-ins. */
TIX_MUSTCHECK tix_rc tix_checkin_counts(tix_db *db, const char *show_id, int64_t *sold,
                                        int64_t *admitted);

#endif
