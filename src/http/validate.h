/*
 * Validation of JSON request bodies (pure; jansson only). Each check either fills its OUT value
 * or fills a tix_verr (core/verr.h) describing the first problem: a wrong JSON type is a 400
 * invalid_type, a missing or out-of-range value is a 422 validation_failed. Strings are measured
 * in Unicode code points (jansson guarantees valid UTF-8; a string holding U+0000 is a 422). A
 * null value counts as absent for an optional field and as the wrong type (400) for a required
 * one.
 */
#ifndef TIX_HTTP_VALIDATE_H
#define TIX_HTTP_VALIDATE_H

#include "core/verr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The API's answer to a validation problem (core/verr.h): a wrong type is 400 "invalid_type",
 * anything else 422 "validation_failed". The code is static text. */
unsigned tix_verr_status(const tix_verr *e);
const char *tix_verr_code(const tix_verr *e);

/* A string field of min..max code points; with min >= 1 it must not be blank (only white
 * space, "must not be blank"). Absent or null: an error when required, else *out = NULL and
 * true. */
bool tix_v_string(json_t *obj, const char *key, bool required, size_t min, size_t max,
                  const char **out, tix_verr *e);
/* What a text field may hold beyond tix_v_string's rules. Control characters are C0
 * (U+0000..U+001F), DEL and C1 (U+0080..U+009F). */
typedef enum tix_text_kind {
    TIX_TEXT_LINE,      /* a name, title or city: no control characters at all */
    TIX_TEXT_MULTILINE, /* free text (a description, an address): tab, LF and CR allowed */
} tix_text_kind;

/* tix_v_string plus the control-character rule of kind (422 "must not contain control
 * characters"). docs/openapi.yaml states the same rule as a `pattern`. */
bool tix_v_text(json_t *obj, const char *key, bool required, size_t min, size_t max,
                tix_text_kind kind, const char **out, tix_verr *e);
/* An integer field in [min, max]. Absent: error when required, else *present = false. */
bool tix_v_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
               bool *present, tix_verr *e);
/* A boolean field. */
bool tix_v_bool(json_t *obj, const char *key, bool required, bool *out, bool *present, tix_verr *e);
/* An optional array of 0..max_items distinct strings of 1..max_len code points, not blank, without
 * control characters, quotes, % or backslashes, normalised to ASCII lower case. OUT: *out a new
 * JSON array (NULL when absent). */
bool tix_v_string_list(json_t *obj, const char *key, size_t max_items, size_t max_len, json_t **out,
                       tix_verr *e);
/* Marks a custom problem with a field (422). Always returns false. */
bool tix_v_fail(tix_verr *e, const char *field, const char *reason);

/* Whether s is valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
bool tix_utf8_valid(const char *s);
/* Counts the code points of a valid UTF-8 string. */
size_t tix_utf8_len(const char *s);

/* Normalises an e-mail address into out (trimmed, lower-case); false if it is not a plausible
 * address (one @, non-empty local part, a dotted domain, no spaces or controls, ≤ 254 bytes). */
bool tix_email_normalize(const char *in, char *out, size_t cap);

#endif
