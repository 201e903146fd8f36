/*
 * SQL for changing a show (PATCH /shows/{id}, catalog/show_change.c): its time, its prices, the
 * record of each change (show_changes, migration 0014), the mail each confirmed booking gets of
 * a move, and what the free-cancel rule reads back. Callers own transactions; strings in
 * returned structs live in the caller's arena.
 */
#ifndef TIX_STORE_SHOW_CHANGES_H
#define TIX_STORE_SHOW_CHANGES_H

#include "core/arena.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether a non-cancelled show of hall other than show_id overlaps [starts_at, ends_at). */
TIX_MUSTCHECK tix_rc tix_show_overlap_other(tix_db *db, const char *hall_id, const char *show_id,
                                            int64_t starts_at, int64_t ends_at, bool *overlaps);
/* Moves show id to [starts_at, ends_at) if it is not cancelled; TIX_ECONFLICT if it is. */
TIX_MUSTCHECK tix_rc tix_show_move(tix_db *db, const char *id, int64_t starts_at, int64_t ends_at,
                                   int64_t now);
/* Sets the show's price of category; TIX_ENOTFOUND when the show has no such category. */
TIX_MUSTCHECK tix_rc tix_show_price_set(tix_db *db, const char *show_id, const char *category,
                                        int64_t amount);

typedef struct tix_show_change {
    char *id;
    char *show_id;
    const char *changed_by; /* the caller's user id (NULL: none) */
    int64_t previous_starts_at;
    int64_t new_starts_at;
    int64_t previous_ends_at;
    int64_t new_ends_at;
    bool prices_changed;
    int64_t changed_at;
} tix_show_change;

TIX_MUSTCHECK tix_rc tix_show_change_insert(tix_db *db, const tix_show_change *ch);

/* Inside the caller's transaction: a "show_rescheduled" outbox message (store/outbox.h) to the
 * user of every confirmed booking of show_id who still has an address, due now. change_id
 * makes the rows' ids (one per booking); previous_starts_at and free_cancel_minutes
 * (RESCHEDULE_FREE_CANCEL_MINUTES) go into each row's data, so the mail can say what the time
 * was and when the booking may be cancelled for free. */
TIX_MUSTCHECK tix_rc tix_outbox_show_rescheduled(tix_db *db, const char *show_id,
                                                 const char *change_id, int64_t previous_starts_at,
                                                 int64_t free_cancel_minutes, int64_t now);

/* The users a move of show_id concerns, each once: those with a booking of it that is
 * confirmed or pending_payment, and those with an active hold on it live at now (they are about
 * to buy for the old time). For the user channel's show_rescheduled (catalog/show_change.c).
 * OUT: *user_ids (arena), *n. */
TIX_MUSTCHECK tix_rc tix_show_move_audience(tix_db *db, tix_arena *a, const char *show_id,
                                            int64_t now, char ***user_ids, int *n);

/* The start a booking of show_id created at created_at was bought for: the previous start of
 * the first move (a change of time) at or after created_at. OUT: *moved false (and *starts_at
 * untouched) when the show has not moved since. */
TIX_MUSTCHECK tix_rc tix_show_start_bought(tix_db *db, const char *show_id, int64_t created_at,
                                           int64_t *starts_at, bool *moved);

#endif
