/*
 * What is wrong with a piece of input, without an HTTP status (pure). The checks that read
 * outside data (http/validate.h for request bodies, catalog/layout.h for seat layouts) fill a
 * tix_verr with the first problem they find; only http/ turns it into an answer
 * (http/validate.h: tix_verr_status, tix_verr_code; a wrong type is 400 invalid_type, any other
 * problem 422 validation_failed). So a domain module can refuse input without knowing HTTP.
 *
 * Memory: the strings are not owned. reason and expected are static text; field is static
 * text or points into a buffer of the caller (see tix_layout_error), which must outlive the
 * tix_verr.
 */
#ifndef TIX_CORE_VERR_H
#define TIX_CORE_VERR_H

#include "core/i18n.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum tix_verr_kind {
    TIX_VERR_VALUE = 0, /* missing, out of range, malformed, not allowed */
    TIX_VERR_TYPE,      /* a value of the wrong JSON type, or null where one is required */
} tix_verr_kind;

typedef struct tix_verr {
    tix_verr_kind kind;
    const char *field;    /* the field's name ("layout.rows[3].seats") */
    const char *reason;   /* "is required", "must be a string", … */
    const char *expected; /* TIX_VERR_TYPE only: "string", "integer", …; else NULL */
} tix_verr;

/* Fills e with a wrong-type problem at field. Always returns false (for `return tix_verr_...`). */
static inline bool tix_verr_type(tix_verr *e, const char *field, const char *expected)
{
    *e = (tix_verr){TIX_VERR_TYPE, field, N_("has the wrong type"), expected};
    return false;
}

/* Fills e with a value problem at field. Always returns false. */
static inline bool tix_verr_value(tix_verr *e, const char *field, const char *reason)
{
    *e = (tix_verr){TIX_VERR_VALUE, field, reason, NULL};
    return false;
}

#endif
