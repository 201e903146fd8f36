/*
 * The catalogue's writes: theatres and halls (venues.c), shows (shows.c) and movies
 * (movies.c), with their transactions and their rules, as booking/booking.h is for holds and
 * bookings. The handlers in api/ read and check the shape of a request, call one function here
 * and render what it returns; the SQL is store/catalog.h's. Nothing here knows HTTP: a refusal
 * is a tix_rc with a tix_catalog_refusal that says which rule refused (api/ turns both into an
 * answer).
 *
 * The rules written here, once:
 *   - ownership: an owner changes only what belongs to its theatres, an admin everything
 *     (auth/policy.h: TIX_ENOTFOUND when there is no such object, TIX_EAUTH / TIX_EFORBIDDEN
 *     when the caller may not change it). Movies are admin-only by route and have no owner.
 *   - a theatre, hall or movie with claims (holds or sales) on a future, non-cancelled show is
 *     not deleted (TIX_ECONFLICT "theatre_has_bookings" / "hall_has_bookings" /
 *     "movie_has_bookings"); otherwise its future shows are cancelled with it, in one
 *     transaction, so a hold can never land on a show of something deleted.
 *   - a hall's layout does not change while a future show has claims ("hall_has_bookings") or
 *     would lack a price for a category of the new layout ("hall_category_unpriced"); both are
 *     checked under the hall's lock (tix_hall_lock), in the transaction of the change.
 *   - two non-cancelled shows never overlap in a hall (cleaning time included, "show_overlap"):
 *     the check runs under the hall's lock, so two owners scheduling the same slot at the same
 *     instant are serialised and the second sees the first. A show prices every seat category
 *     of its hall and nothing else.
 *   - a movie's running time does not change while future shows are scheduled
 *     ("movie_has_shows"): they were placed with the old one and would silently overlap.
 *
 * The ownership check and the write are two calls where the handler must check its input
 * between them in the order the API has always answered (404/403 before 422): the handler
 * loads the object with tix_catalog_*_for_change, checks the body, then passes the loaded
 * object to the write. Reads (lists, one object) need no rule and go to store/ directly.
 *
 * Cached answers follow: every write here that commits bumps the catalogue version
 * (tix_catalog_changed, booking/seat_events.h) before it returns, so the caller's next read,
 * on any server, sees the change; a refused or failed write bumps nothing. This is the one
 * place a change of the catalogue invalidates the cache (besides the lifecycle job and a
 * server's start), whoever calls it.
 *
 * Memory: every string and array these functions return lives in ctx->a (the request's
 * arena); the inputs are only read, and must outlive the call.
 */
#ifndef TIX_CATALOG_CATALOG_H
#define TIX_CATALOG_CATALOG_H

#include "auth/policy.h"
#include "catalog/layout.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/verr.h"
#include "pay/pay.h"
#include "store/catalog.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_catalog_ctx {
    tix_db *db;
    tix_arena *a;
    const tix_config *cfg;
    tix_pay_provider *pay;    /* a cancelled show's refunds */
    const tix_principal *who; /* the caller, for the ownership rules */
} tix_catalog_ctx;

/* Why a call refused, beside its tix_rc. Zeroed by every call that takes one.
 *   TIX_ECONFLICT: why names the rule ("show_overlap", …; static); category is the category
 *                  that "hall_category_unpriced" found (arena).
 *   TIX_EINVAL:    verr.field is the input at fault (a validation problem, core/verr.h; the
 *                  field is static or in the arena), TIX_VERR_TYPE for a wrong type.
 *   TIX_EFORBIDDEN from tix_catalog_theatre_create: why is "theatre_for_other_owner".
 *   "invalid_transition" (onboarding.c) also sets status: the theatre's status now (arena). */
typedef struct tix_catalog_refusal {
    const char *why;
    const char *category;
    const char *status;
    tix_verr verr;
} tix_catalog_refusal;

/* ---- theatres and halls (venues.c) ---- */

/* Creates theatre t (name, city, address, utc_offset_minutes, geo filled by the caller) for
 * owner_id, or for the caller when owner_id is NULL or the caller's own id. Only an admin may
 * name another owner (TIX_EFORBIDDEN), and that must be an owner or admin account (TIX_EINVAL
 * on field owner_id). OUT: t->id, t->owner_id, t->created_at, t->updated_at. */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_create(tix_catalog_ctx *c, tix_theatre *t,
                                                const char *owner_id, tix_catalog_refusal *why);
/* Loads theatre id if the caller may change it (see the ownership rule). OUT: *out. */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_for_change(tix_catalog_ctx *c, const char *id,
                                                    tix_theatre *out);
/* Writes t (loaded by tix_catalog_theatre_for_change, then changed). OUT: t->updated_at. */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_update(tix_catalog_ctx *c, tix_theatre *t);
/* Deletes theatre id (soft) and cancels its future shows; TIX_ECONFLICT
 * "theatre_has_bookings". */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_delete(tix_catalog_ctx *c, const char *id,
                                                tix_catalog_refusal *why);

/* Creates a hall of theatre t (loaded by tix_catalog_theatre_for_change) with its seats.
 * OUT: *out (id, theatre_id, name, layout text, created_at, updated_at). */
TIX_MUSTCHECK tix_rc tix_catalog_hall_create(tix_catalog_ctx *c, const tix_theatre *t,
                                             const char *name, const tix_layout *l, tix_hall *out);
/* Loads hall id if the caller may change it. OUT: *out. */
TIX_MUSTCHECK tix_rc tix_catalog_hall_for_change(tix_catalog_ctx *c, const char *id, tix_hall *out);
/* Renames hall h (loaded by tix_catalog_hall_for_change) when name is not NULL and replaces
 * its layout and seats when l is not NULL, under the layout rules above (TIX_ECONFLICT
 * "hall_has_bookings" / "hall_category_unpriced"). OUT: h's name, layout and updated_at. */
TIX_MUSTCHECK tix_rc tix_catalog_hall_update(tix_catalog_ctx *c, tix_hall *h, const char *name,
                                             const tix_layout *l, tix_catalog_refusal *why);
/* Deletes hall id (soft) and cancels its future shows; TIX_ECONFLICT "hall_has_bookings". */
TIX_MUSTCHECK tix_rc tix_catalog_hall_delete(tix_catalog_ctx *c, const char *id,
                                             tix_catalog_refusal *why);

/* ---- theatre onboarding (onboarding.c; the visibility rule in venues.c) ----
 * A theatre is born "pending" (tix_catalog_theatre_create). An admin approves it ("approved":
 * public, may get shows) or rejects it with a reason ("rejected"); its owner (or an admin) may
 * edit a rejected theatre and submit it again ("pending"). Approval is final: nothing leaves
 * "approved", so a theatre that is not approved never has shows, and the public reads of
 * shows, seat maps and holds need no check of their own. Each move is one conditional UPDATE
 * from the status it starts from: of two admins deciding at once exactly one wins and the
 * other gets TIX_ECONFLICT "invalid_transition" (with the status the winner left). Every
 * committed move bumps the catalogue version, so cached listings change on every server. */

/* Whether the caller may see theatre t: everyone when it is approved, otherwise its owner and
 * admins only (the others get 404, as for something that does not exist: the reads, and the
 * *_for_change loads above, which answer TIX_ENOTFOUND; a new show names such a hall as
 * unknown). */
bool tix_catalog_theatre_visible(const tix_principal *who, const char *status,
                                 const char *owner_id);
/* Admin only (TIX_EFORBIDDEN otherwise): "pending" → "approved" when approve, else → "rejected"
 * with reason (checked by the caller: non-empty, length-limited). TIX_ENOTFOUND for no such
 * theatre; TIX_ECONFLICT "invalid_transition" when it is not pending. OUT: *out, the theatre
 * after the move. */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_review(tix_catalog_ctx *c, const char *id, bool approve,
                                                const char *reason, tix_theatre *out,
                                                tix_catalog_refusal *why);
/* The owner or an admin (ownership rule): "rejected" → "pending". TIX_ECONFLICT
 * "invalid_transition" from any other status. OUT: *out, the theatre after the move. */
TIX_MUSTCHECK tix_rc tix_catalog_theatre_submit(tix_catalog_ctx *c, const char *id,
                                                tix_theatre *out, tix_catalog_refusal *why);

/* ---- shows (shows.c) ---- */

/* One entry of a new show's price object, in the order the request gave them. */
typedef struct tix_price_input {
    const char *category;
    bool is_integer; /* false: the value had another type (TIX_EINVAL, TIX_VERR_TYPE) */
    int64_t amount;
} tix_price_input;

/* A new show, its shape already checked (ids, currency, starts_at in the future). */
typedef struct tix_show_input {
    const char *movie_id;
    const char *hall_id;
    const char *currency;
    int64_t starts_at;
    const tix_price_input *prices;
    int nprices;
} tix_show_input;

/* Schedules a show: TIX_EINVAL when hall_id is not a hall, movie_id not an active movie or a
 * price is not one for each seat category of the hall (field "prices.<category>");
 * TIX_ENOTFOUND / TIX_EAUTH / TIX_EFORBIDDEN for a hall the caller may not change;
 * TIX_ECONFLICT "theatre_not_approved" when the hall's theatre is not approved (onboarding
 * above), "show_overlap". OUT: *out (the new show's id and fields as stored). */
TIX_MUSTCHECK tix_rc tix_catalog_show_create(tix_catalog_ctx *c, const tix_show_input *in,
                                             tix_show *out, tix_catalog_refusal *why);
/* Cancels show id so it no longer sells, then refunds its confirmed bookings in full
 * (tix_booking_show_cancelled). TIX_ECONFLICT "show_completed" once it ended (nothing done);
 * "show_cancelled" when it already was cancelled, after finishing the refunds a crash may
 * have left (so calling again repairs). */
TIX_MUSTCHECK tix_rc tix_catalog_show_cancel(tix_catalog_ctx *c, const char *id,
                                             tix_catalog_refusal *why);

/* ---- changing a show (show_change.c) ---- */

/* A change of a show, its shape already checked (starts_at in the future and not too far). */
typedef struct tix_show_change_input {
    bool has_starts_at;
    int64_t starts_at;
    const tix_price_input *prices; /* categories to reprice (a subset of the hall's), or NULL */
    int nprices;
} tix_show_change_input;

/* Changes show id's time and/or prices (PATCH /shows/{id}), in one transaction under the hall's
 * lock: a new start keeps the show's length and is checked for overlap like a new show
 * (TIX_ECONFLICT "show_overlap"), every confirmed booking gets a show_rescheduled mail in the
 * same transaction, and the change is recorded (show_changes) for the free-cancel rule
 * (booking.h, tix_booking_cancel); new prices apply to seats not held or sold (a claim keeps
 * the price it was given). TIX_ENOTFOUND / TIX_EAUTH / TIX_EFORBIDDEN for a show the caller may
 * not change; TIX_ECONFLICT "show_is_cancelled", "show_is_completed" or "show_started" once it
 * is cancelled, ended or running; TIX_EINVAL for a price (field "prices.<category>"). OUT:
 * *out the show as stored afterwards. */
TIX_MUSTCHECK tix_rc tix_catalog_show_change(tix_catalog_ctx *c, const char *id,
                                             const tix_show_change_input *in, tix_show *out,
                                             tix_catalog_refusal *why);

/* ---- movies (movies.c) ---- */

/* The fields of a movie a request sets; NULL (has_duration false) keeps the current value.
 * languages and genres are JSON array text. */
typedef struct tix_movie_change {
    const char *title;
    const char *description;
    const char *release_date;
    const char *certificate;
    const char *status;
    const char *languages;
    const char *genres;
    bool has_duration;
    int duration_minutes;
} tix_movie_change;

/* Creates a movie from ch (title, duration, release date and certificate set; description,
 * languages, genres and status default to "", [], [] and active). OUT: *out. */
TIX_MUSTCHECK tix_rc tix_catalog_movie_create(tix_catalog_ctx *c, const tix_movie_change *ch,
                                              tix_movie *out);
/* Applies ch to movie id; TIX_ECONFLICT "movie_has_shows" for a new running time while future
 * shows are scheduled. OUT: *out, the movie as written. */
TIX_MUSTCHECK tix_rc tix_catalog_movie_update(tix_catalog_ctx *c, const char *id,
                                              const tix_movie_change *ch, tix_movie *out,
                                              tix_catalog_refusal *why);
/* Switches movie id between active and inactive. OUT: *out, the movie as written. */
TIX_MUSTCHECK tix_rc tix_catalog_movie_toggle(tix_catalog_ctx *c, const char *id, tix_movie *out);
/* Points movie id's poster or trailer (kind "poster" | "trailer") at url and public_id if it
 * still is expected_public_id (NULL: none), tix_movie_swap_media's compare-and-swap:
 * TIX_ECONFLICT when another upload replaced it first, TIX_ENOTFOUND when the movie is gone. */
TIX_MUSTCHECK tix_rc tix_catalog_movie_swap_media(tix_catalog_ctx *c, const char *id,
                                                  const char *kind, const char *url,
                                                  const char *public_id,
                                                  const char *expected_public_id);
/* Deletes movie id (soft) and cancels its future shows; TIX_ECONFLICT "movie_has_bookings". */
TIX_MUSTCHECK tix_rc tix_catalog_movie_delete(tix_catalog_ctx *c, const char *id,
                                              tix_catalog_refusal *why);

#endif
