/*
 * The shared nouns of the domain, as plain data (pure; no I/O). The store reads and writes
 * them, the domain computes with them, the handlers turn them into JSON. They live at the
 * bottom so that store/ never has to include a domain header to know the shape of a row:
 *
 *   - a hall's seat layout (tix_seat, tix_layout): catalog/layout.h builds and checks one from
 *     an owner's description, store/catalog.h saves and loads it;
 *   - a seat's claim, a hold's status and a booking's status, as enums (with their database/API
 *     names); the booking state machine (which status may follow which) stays in
 *     booking/state.h;
 *   - the size of a stored password hash (auth/password.h makes one, store/users.h keeps it).
 *
 * Names: tix_*_name gives static text ("unknown" for a value out of range); tix_*_parse reads
 * the exact name and returns false (leaving *out untouched) for anything else.
 */
#ifndef TIX_CORE_MODEL_H
#define TIX_CORE_MODEL_H

#include <stdbool.h>

/* ---- users ---- */

#define TIX_PASSWORD_HASH_MAX                                                                      \
    128 /* an argon2id string hash, NUL included: crypto_pwhash_STRBYTES */

/* ---- seat layouts ---- */

#define TIX_LAYOUT_MAX_ROWS          100
#define TIX_LAYOUT_MAX_SEATS_PER_ROW 100
#define TIX_LAYOUT_MAX_SEATS         10000 /* per hall */
#define TIX_LAYOUT_LABEL_MAX         8     /* row label, bytes incl. NUL: 1..4 chars of [A-Z0-9] */
#define TIX_LAYOUT_CATEGORY_MAX      33    /* 1..32 chars of [a-z0-9_-], plus NUL */
#define TIX_LAYOUT_SEAT_LABEL_MAX    16    /* row label + seat number: "A1", "AA12" */

typedef struct tix_seat {
    char label[TIX_LAYOUT_SEAT_LABEL_MAX]; /* row label + number, unique in the hall */
    char row[TIX_LAYOUT_LABEL_MAX];
    int number; /* 1-based seat number within the row */
    int x, y;   /* grid position: x = column (gaps leave empty columns), y = row index */
    char category[TIX_LAYOUT_CATEGORY_MAX];
    bool blocked; /* exists but can never be sold (broken seat, camera position) */
} tix_seat;

/* A hall's generated seats. Owns its two arrays (malloc'd); catalog/layout.h's
 * tix_layout_cleanup frees them. */
typedef struct tix_layout {
    int nseats;
    int nrows;
    int width;       /* grid columns of the widest row, gaps included */
    tix_seat *seats; /* malloc'd; in row order, then seat order */
    int ncategories;
    char (*categories)[TIX_LAYOUT_CATEGORY_MAX]; /* distinct, in first-seen order; malloc'd */
} tix_layout;

/* ---- holds and seat claims ---- */

/* What holds a seat of a show right now (the seat_claims table): nothing, a live hold, or a
 * booking (sold). The numbers are the store's (store/booking.c computes them in SQL). */
typedef enum tix_claim_kind {
    TIX_CLAIM_FREE = 0,
    TIX_CLAIM_HELD = 1,
    TIX_CLAIM_SOLD = 2,
} tix_claim_kind;

/* A hold's life: active until released (by its user or the expiry job), replaced (by the same
 * user's next hold on the show) or booked (turned into a booking). Only active holds claim
 * seats. Names as in the holds.status column. */
typedef enum tix_hold_status {
    TIX_HOLD_ACTIVE,
    TIX_HOLD_RELEASED,
    TIX_HOLD_REPLACED,
    TIX_HOLD_BOOKED,
    TIX_HOLD_STATUS_COUNT,
} tix_hold_status;

const char *tix_hold_status_name(tix_hold_status s);
bool tix_hold_status_parse(const char *s, tix_hold_status *out);

/* ---- bookings ---- */

/* Names as in the bookings.status column and the API. */
typedef enum tix_booking_status {
    TIX_BK_PENDING_PAYMENT,
    TIX_BK_CONFIRMED,
    TIX_BK_EXPIRED,
    TIX_BK_FAILED,
    TIX_BK_CANCELLED_REFUNDED,
    TIX_BK_EXPIRED_REFUNDED,
    TIX_BK_STATUS_COUNT,
} tix_booking_status;

const char *tix_booking_status_name(tix_booking_status s);
bool tix_booking_status_parse(const char *s, tix_booking_status *out);

#endif
