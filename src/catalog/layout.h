/*
 * Hall seat layouts (pure: jansson in, structs out, no I/O). An owner describes a hall as rows
 * ({"rows":[{"label":"A","seats":14,"category":"premium","gaps_after":[4,10],"blocked":[1]}]});
 * tix_layout_build validates that description and generates every seat with its label ("A1"),
 * grid position and category. Row labels are upper-case and categories lower-case after
 * normalisation, so the generated layout is canonical: tix_layout_to_json gives back a
 * description that builds the identical layout. Seat labels are unique within a hall (a row
 * whose label would make a seat label clash with another row's is refused). A tix_layout owns
 * its two arrays; tix_layout_cleanup frees them. No function here keeps state between calls.
 */
#ifndef TIX_CATALOG_LAYOUT_H
#define TIX_CATALOG_LAYOUT_H

#include "core/rc.h"
#include "http/validate.h"

#include <jansson.h>
#include <stdbool.h>

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

typedef struct tix_layout {
    int nseats;
    int nrows;
    int width;       /* grid columns of the widest row, gaps included */
    tix_seat *seats; /* malloc'd; in row order, then seat order */
    int ncategories;
    char (*categories)[TIX_LAYOUT_CATEGORY_MAX]; /* distinct, in first-seen order; malloc'd */
} tix_layout;

/* What tix_layout_build found wrong. verr.field always points at this struct's own field
 * buffer ("layout.rows[3].gaps_after[1]"), so keep the struct alive while verr is in use;
 * verr.reason and verr.code are static text. */
typedef struct tix_layout_error {
    tix_verr verr;
    char field[96];
} tix_layout_error;

/*
 * Validates the layout description and generates its seats into *out. Returns TIX_OK; or
 * TIX_EINVAL with err filled (400 "invalid_type" for a wrong JSON type or a null required
 * value, 422 "validation_failed" for anything else, including a missing key); or TIX_ENOMEM
 * (err untouched). On any failure *out is zeroed. On success the caller owns *out and frees
 * it with tix_layout_cleanup. layout is only read; err must not be NULL.
 */
TIX_MUSTCHECK tix_rc tix_layout_build(json_t *layout, tix_layout *out, tix_layout_error *err);

/* Frees the seats and categories and zeroes *l; safe on a zeroed struct and to call twice. */
void tix_layout_cleanup(tix_layout *l);

/*
 * The canonical description of a layout built by tix_layout_build (or loaded with the same
 * invariants: seats grouped by row in order, numbered 1..n): rows with label, seats, category,
 * gaps_after and blocked (both ascending, possibly empty). Returns a new reference the caller
 * must json_decref, or NULL when out of memory.
 */
json_t *tix_layout_to_json(const tix_layout *l);

#endif
