/*
 * Hall seat layouts (pure: jansson in, structs out, no I/O). An owner describes a hall as rows
 * ({"rows":[{"label":"A","seats":14,"category":"premium","gaps_after":[4,10],"blocked":[1]}]});
 * tix_layout_build validates that description and generates every seat with its label ("A1"),
 * grid position and category. Row labels are upper-case and categories lower-case after
 * normalisation, so the generated layout is canonical: tix_layout_to_json gives back a
 * description that builds the identical layout. Seat labels are unique within a hall (a row
 * whose label would make a seat label clash with another row's is refused). The structs are
 * core/model.h (the store keeps them too); what this file refuses it reports as a core/verr.h
 * problem, without an HTTP status. A tix_layout owns
 * its two arrays; tix_layout_cleanup frees them. No function here keeps state between calls.
 */
#ifndef TIX_CATALOG_LAYOUT_H
#define TIX_CATALOG_LAYOUT_H

#include "core/model.h" /* tix_seat, tix_layout */
#include "core/rc.h"
#include "core/verr.h"

#include <jansson.h>
#include <stdbool.h>

/* What tix_layout_build found wrong. verr.field always points at this struct's own field
 * buffer ("layout.rows[3].gaps_after[1]"), so keep the struct alive while verr is in use;
 * verr.reason and verr.expected are static text. No HTTP status here: http/validate.h maps
 * verr to one. */
typedef struct tix_layout_error {
    tix_verr verr;
    char field[96];
} tix_layout_error;

/*
 * Validates the layout description and generates its seats into *out. Returns TIX_OK; or
 * TIX_EINVAL with err filled (TIX_VERR_TYPE for a wrong JSON type or a null required value,
 * TIX_VERR_VALUE for anything else, including a missing key); or TIX_ENOMEM
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
