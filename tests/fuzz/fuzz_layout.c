/*
 * Seat layouts (catalog/layout.c): JSON text to tix_layout_build. Beyond no crash, checks the
 * round trip layout.h promises: the canonical description of a built layout builds the
 * identical layout, and every seat lies within the bounds the header states.
 */
#include "catalog/layout.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static bool same_seat(const tix_seat *a, const tix_seat *b)
{
    return strcmp(a->label, b->label) == 0 && strcmp(a->row, b->row) == 0 &&
           a->number == b->number && a->x == b->x && a->y == b->y &&
           strcmp(a->category, b->category) == 0 && a->blocked == b->blocked;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (j == NULL) {
        return 0;
    }
    tix_layout l;
    tix_layout_error err;
    memset(&err, 0, sizeof(err));
    tix_rc rc = tix_layout_build(j, &l, &err);
    if (rc == TIX_EINVAL) { /* a problem without an HTTP status (core/verr.h) */
        if (err.verr.field == NULL || err.verr.reason == NULL ||
            (err.verr.kind != TIX_VERR_TYPE && err.verr.kind != TIX_VERR_VALUE) ||
            (err.verr.kind == TIX_VERR_TYPE) != (err.verr.expected != NULL)) {
            abort();
        }
    } else if (rc == TIX_OK) {
        if (l.nseats < 0 || l.nseats > TIX_LAYOUT_MAX_SEATS || l.nrows > TIX_LAYOUT_MAX_ROWS) {
            abort();
        }
        for (int i = 0; i < l.nseats; i++) {
            if (l.seats[i].x < 0 || l.seats[i].y < 0 || l.seats[i].x >= l.width ||
                l.seats[i].y >= l.nrows || l.seats[i].number < 1) {
                abort();
            }
        }
        json_t *canon = tix_layout_to_json(&l);
        if (canon == NULL) {
            abort();
        }
        tix_layout l2;
        tix_layout_error err2;
        if (tix_layout_build(canon, &l2, &err2) != TIX_OK || l2.nseats != l.nseats ||
            l2.width != l.width || l2.nrows != l.nrows || l2.ncategories != l.ncategories) {
            abort();
        }
        for (int i = 0; i < l.nseats; i++) {
            if (!same_seat(&l.seats[i], &l2.seats[i])) {
                abort();
            }
        }
        tix_layout_cleanup(&l2);
        json_decref(canon);
        tix_layout_cleanup(&l);
    }
    json_decref(j);
    return 0;
}
