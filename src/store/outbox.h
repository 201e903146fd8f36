/*
 * SQL for mail: the transactional outbox (mail_outbox) and password-reset tokens
 * (password_resets). Migration 0011 describes the tables.
 *
 * Enqueueing is a statement run inside the caller's transaction, next to the state change the
 * message tells of: a rollback takes the message with it, a commit makes both durable at once.
 * So a crash can neither confirm a booking without its mail nor mail a booking that rolled
 * back. The row holds references (a booking id, a reset token), not the text: the `mail` job
 * (jobs/mail.c) renders the templates when it sends. Its data also keeps the X-Request-Id of
 * the request that queued it ("request_id", from core/log.h's thread request id, when one is
 * set), which the mail job's log lines about the row carry as "rid".
 *
 * Sending: tix_outbox_claim moves due rows to 'sending' with a lease (one conditional UPDATE:
 * of two senders only one gets a row); a sender that dies leaves its rows to be claimed again
 * once lease_until passes. Every attempt counts in attempts (the claim adds one).
 *
 * Strings in returned structs live in the caller's arena. Times are ms since the epoch, passed
 * in. Callers own transactions.
 */
#ifndef TIX_STORE_OUTBOX_H
#define TIX_STORE_OUTBOX_H

#include "core/arena.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_outbox_row {
    char *id;
    char *kind;
    char *to_addr;
    char *template_name;
    char *ref_id;
    char *data; /* a JSON object */
    char *status;
    int attempts;
    int64_t next_attempt_at;
    char *last_error;
    char *subject; /* set once rendered (when sent) */
    char *message_id;
    int64_t created_at;
    int64_t sent_at;
    int64_t updated_at;
} tix_outbox_row;

/* Mail kinds (and template names) the server enqueues. */
#define TIX_MAIL_BOOKING_CONFIRMED "booking_confirmed"
#define TIX_MAIL_BOOKING_CANCELLED "booking_cancelled"
#define TIX_MAIL_BOOKING_REFUNDED  "booking_refunded"
#define TIX_MAIL_SHOW_CANCELLED    "show_cancelled"
#define TIX_MAIL_SHOW_RESCHEDULED  "show_rescheduled" /* store/show_changes.h enqueues it */
#define TIX_MAIL_PASSWORD_RESET    "password_reset"

/* Inside the caller's transaction: a message of kind (a TIX_MAIL_BOOKING_* or
 * TIX_MAIL_SHOW_CANCELLED) about booking_id to its user, due now. Nothing when the user has no
 * address any more (deleted account). */
TIX_MUSTCHECK tix_rc tix_outbox_booking(tix_db *db, const char *booking_id, const char *kind,
                                        int64_t now);

/* The password-reset request of the normalised e-mail, as three statements that run the same
 * way whether the address is known or not (the request's timing must not tell): a
 * password_resets row with token_hash (hex SHA-256 of token) lasting until expires_at, always
 * written (user_id NULL, never usable, when no account that may log in has this address); an
 * outbox row carrying token, always inserted: the account's mail, or for an unknown address a
 * decoy of the same size (ref_id NULL, a placeholder address); and a DELETE of that row when it
 * is the decoy. So both kinds dirty the same table and index pages and their commits write as
 * much: on SQLite (synchronous=FULL) the known kind's commit wrote 7 WAL pages against 3 and
 * was measurably slower (bench/results/2026-12-06-mail.txt). The decoy is never visible to
 * anyone: it is gone before the caller's commit. Inside the caller's transaction. */
TIX_MUSTCHECK tix_rc tix_outbox_password_reset(tix_db *db, const char *email, const char *token,
                                               const char *token_hash, int64_t expires_at,
                                               int64_t now);

/* Spends the reset token of token_hash if it is unused and not expired at now, and every other
 * unused token of its user. OUT: *user_id (arena). TIX_ENOTFOUND when the token is unknown,
 * used or expired. Inside the caller's transaction. */
TIX_MUSTCHECK tix_rc tix_reset_consume(tix_db *db, tix_arena *a, const char *token_hash,
                                       int64_t now, char **user_id);

/* Claims at most limit due rows (pending with next_attempt_at <= now, or sending whose lease
 * lapsed): status 'sending', lease_until = now + lease_ms, attempts + 1. OUT: the rows. */
TIX_MUSTCHECK tix_rc tix_outbox_claim(tix_db *db, tix_arena *a, int64_t now, int64_t lease_ms,
                                      int limit, tix_outbox_row **rows, int *n);

/* Outcomes of a claimed row (only while it is 'sending'). sent: keeps the subject and, when
 * scrub, replaces data by {} (a reset token must not outlive its mail). later: back to pending
 * until next_at, with the error. failed: given up, with the error. */
TIX_MUSTCHECK tix_rc tix_outbox_sent(tix_db *db, const char *id, const char *subject, bool scrub,
                                     int64_t now);
TIX_MUSTCHECK tix_rc tix_outbox_later(tix_db *db, const char *id, int64_t next_at,
                                      const char *error, int64_t now);
TIX_MUSTCHECK tix_rc tix_outbox_failed(tix_db *db, const char *id, const char *error, int64_t now);

/* Admin: rows with status (NULL: any), newest first, ids below cursor (NULL: from the top), at
 * most limit + 1 (the extra one says there is a next page). */
TIX_MUSTCHECK tix_rc tix_outbox_page(tix_db *db, tix_arena *a, const char *status,
                                     const char *cursor, int limit, tix_outbox_row **rows, int *n);
TIX_MUSTCHECK tix_rc tix_outbox_get(tix_db *db, tix_arena *a, const char *id, tix_outbox_row *out);
/* Admin retry: a failed row back to pending, due now, with a fresh count of attempts; *out is
 * the row as the retry left it (strings in a). TIX_ENOTFOUND when absent, TIX_ECONFLICT when it
 * is not failed. */
TIX_MUSTCHECK tix_rc tix_outbox_requeue(tix_db *db, tix_arena *a, const char *id, int64_t now,
                                        tix_outbox_row *out);

/* A deleted account (DELETE /me): every outbox row to email is readdressed to placeholder, and
 * those not sent yet are failed (never claimed again) with their data erased. A message whose
 * SMTP conversation is already under way may still be delivered. Inside the caller's
 * transaction. */
TIX_MUSTCHECK tix_rc tix_outbox_forget(tix_db *db, const char *email, const char *placeholder,
                                       int64_t now);

/* The purge job's share (jobs/lifecycle.c): deletes outbox rows that are done (sent or failed)
 * and were last changed before done_before, and reset tokens that were used or expired before
 * now (a spent token is refused as unknown either way). Pending and sending rows stay whatever
 * their age. OUT: rows deleted of each (either may be NULL). Two statements, no transaction. */
TIX_MUSTCHECK tix_rc tix_outbox_purge(tix_db *db, int64_t done_before, int64_t now, int64_t *outbox,
                                      int64_t *resets);

/* What a booking's mail says. */
typedef struct tix_mail_booking {
    char *user_name;
    char *movie;
    char *theatre;
    char *hall;
    char *status;
    char *currency;
    int64_t starts_at;
    int utc_offset_minutes;
    int64_t amount;
} tix_mail_booking;

TIX_MUSTCHECK tix_rc tix_outbox_booking_info(tix_db *db, tix_arena *a, const char *booking_id,
                                             tix_mail_booking *out);

#endif
