/*
 * Hall seat layouts; see layout.h. Building runs in two passes: every row is first checked into
 * a row_spec (a heap array freed before returning), so no seat is generated for an invalid
 * description; then the seats are generated into arrays sized exactly. The first problem found,
 * in document order (row by row, then label, seats, category, gaps_after, blocked), is the one
 * reported. tix_layout_to_json reads rows back from the seats alone (a gap shows as an x step
 * of more than one), so it also works on a layout loaded from storage.
 */
#include "catalog/layout.h"

#include "core/i18n.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_CHARS    4
#define CATEGORY_CHARS (TIX_LAYOUT_CATEGORY_MAX - 1)

/* One validated row of the description. The flag arrays are indexed by seat number. */
typedef struct row_spec {
    char label[TIX_LAYOUT_LABEL_MAX];
    char category[TIX_LAYOUT_CATEGORY_MAX];
    int seats;
    int ngaps;
    int nblocked;
    bool gap_after[TIX_LAYOUT_MAX_SEATS_PER_ROW + 1];
    bool blocked[TIX_LAYOUT_MAX_SEATS_PER_ROW + 1];
} row_spec;

/* How to read one optional array of distinct seat numbers in 1..max. */
typedef struct number_list {
    const char *key;
    int max;
    const char *range_reason;
    bool *set;
    int *count;
} number_list;

/* Writes the path "layout", "layout.<key>", "layout.rows[row]", "layout.rows[row].<key>" or
 * "layout.rows[row].<key>[idx]" (row < 0 and idx < 0 mean none) and points verr.field at it. */
static void set_field(tix_layout_error *err, int row, const char *key, int idx)
{
    char *buf = err->field;
    size_t cap = sizeof err->field;
    size_t n = 0;
    int w = snprintf(buf, cap, "layout");
    if (w > 0 && row >= 0) {
        n += (size_t)w;
        w = snprintf(buf + n, cap - n, ".rows[%d]", row);
    }
    if (w > 0 && key != NULL && n + (size_t)w < cap) {
        n += (size_t)w;
        w = snprintf(buf + n, cap - n, ".%s", key);
    }
    if (w > 0 && idx >= 0 && n + (size_t)w < cap) {
        n += (size_t)w;
        (void)snprintf(buf + n, cap - n, "[%d]", idx);
    }
    err->verr.field = err->field;
}

static tix_rc type_fail(tix_layout_error *err, int row, const char *key, int idx,
                        const char *expected)
{
    set_field(err, row, key, idx);
    (void)tix_verr_type(&err->verr, err->field, expected);
    return TIX_EINVAL;
}

static tix_rc value_fail(tix_layout_error *err, int row, const char *key, int idx,
                         const char *reason)
{
    set_field(err, row, key, idx);
    (void)tix_verr_value(&err->verr, err->field, reason);
    return TIX_EINVAL;
}

/* A row label character, upper-cased; 0 if not allowed. (ASCII only, whatever the locale.) */
static char label_char(char c)
{
    if (c >= 'a' && c <= 'z') {
        return (char)(c - 'a' + 'A');
    }
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return c;
    }
    return 0;
}

/* A category character, lower-cased; 0 if not allowed. */
static char category_char(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
        return c;
    }
    return 0;
}

/* Copies the JSON string v into out (max + 1 bytes) through map; false if it is empty, longer
 * than max bytes or holds a character map refuses (an embedded NUL included). */
static bool normalize(const json_t *v, size_t max, char (*map)(char), char *out)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = map(s[i]);
        if (out[i] == 0) {
            return false;
        }
    }
    out[len] = '\0';
    return true;
}

/* A required string member of row r, normalised through map into out. */
static tix_rc parse_token(const json_t *row, int r, const char *key, size_t max, char (*map)(char),
                          char *out, const char *reason, tix_layout_error *err)
{
    const json_t *v = json_object_get(row, key);
    if (v == NULL) {
        return value_fail(err, r, key, -1, "is required");
    }
    if (!json_is_string(v)) {
        return type_fail(err, r, key, -1, "string");
    }
    if (!normalize(v, max, map, out)) {
        return value_fail(err, r, key, -1, reason);
    }
    return TIX_OK;
}

static tix_rc parse_seats(const json_t *row, int r, row_spec *spec, tix_layout_error *err)
{
    const json_t *v = json_object_get(row, "seats");
    if (v == NULL) {
        return value_fail(err, r, "seats", -1, "is required");
    }
    if (!json_is_integer(v)) {
        return type_fail(err, r, "seats", -1, "integer");
    }
    json_int_t n = json_integer_value(v);
    if (n < 1 || n > TIX_LAYOUT_MAX_SEATS_PER_ROW) {
        return value_fail(err, r, "seats", -1, "must be between 1 and 100");
    }
    spec->seats = (int)n;
    return TIX_OK;
}

/* An optional array of distinct seat numbers; absent or null means empty. The first bad
 * element is reported; its index stays small because at most max elements can be valid. */
static tix_rc parse_numbers(const json_t *row, int r, const number_list *nl, tix_layout_error *err)
{
    const json_t *arr = json_object_get(row, nl->key);
    if (arr == NULL || json_is_null(arr)) {
        return TIX_OK;
    }
    if (!json_is_array(arr)) {
        return type_fail(err, r, nl->key, -1, "array");
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v)) {
            return type_fail(err, r, nl->key, (int)i, "integer");
        }
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > nl->max) {
            return value_fail(err, r, nl->key, (int)i, nl->range_reason);
        }
        if (nl->set[n]) {
            return value_fail(err, r, nl->key, (int)i, "is repeated");
        }
        nl->set[n] = true;
        (*nl->count)++;
    }
    return TIX_OK;
}

/* Whether a seat of row a and a seat of row b would get the same label. That needs one row
 * label to be the other's followed by digits d (no leading zero): the longer row's seat 1 is
 * then the shorter row's seat d·10+1, and any clash implies that one. */
static bool seat_labels_clash(const row_spec *a, const row_spec *b)
{
    const row_spec *shorter = strlen(a->label) < strlen(b->label) ? a : b;
    const row_spec *longer = shorter == a ? b : a;
    size_t k = strlen(shorter->label);
    if (strlen(longer->label) == k || strncmp(shorter->label, longer->label, k) != 0 ||
        longer->label[k] == '0') {
        return false;
    }
    int d = 0;
    for (const char *p = longer->label + k; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        d = d * 10 + (*p - '0');
    }
    return d * 10 + 1 <= shorter->seats;
}

/* Checks the label of row r against the rows before it. */
static tix_rc check_label_unique(const row_spec *specs, int r, tix_layout_error *err)
{
    for (int i = 0; i < r; i++) {
        if (strcmp(specs[i].label, specs[r].label) == 0) {
            return value_fail(err, r, "label", -1, "is used by an earlier row");
        }
    }
    for (int i = 0; i < r; i++) {
        if (seat_labels_clash(&specs[i], &specs[r])) {
            return value_fail(err, r, "label", -1,
                              "gives seat labels that clash with an earlier row's");
        }
    }
    return TIX_OK;
}

static tix_rc parse_row(const json_t *row, int r, row_spec *specs, tix_layout_error *err)
{
    row_spec *spec = &specs[r];
    if (!json_is_object(row)) {
        return type_fail(err, r, NULL, -1, "object");
    }
    tix_rc rc = parse_token(row, r, "label", LABEL_CHARS, label_char, spec->label,
                            "must be 1 to 4 characters of A-Z and 0-9", err);
    if (rc == TIX_OK) {
        rc = parse_seats(row, r, spec, err);
    }
    if (rc == TIX_OK) {
        rc = parse_token(row, r, "category", CATEGORY_CHARS, category_char, spec->category,
                         "must be 1 to 32 characters of a-z, 0-9, _ and -", err);
    }
    if (rc == TIX_OK) {
        number_list gaps = {"gaps_after", spec->seats - 1,
                            N_("must be a seat number of the row other than its last"),
                            spec->gap_after, &spec->ngaps};
        rc = parse_numbers(row, r, &gaps, err);
    }
    if (rc == TIX_OK) {
        number_list blocked = {"blocked", spec->seats, N_("must be a seat number of the row"),
                               spec->blocked, &spec->nblocked};
        rc = parse_numbers(row, r, &blocked, err);
    }
    if (rc == TIX_OK) {
        rc = check_label_unique(specs, r, err);
    }
    return rc;
}

/* Hall-wide rules: a seat limit (implied today by the row limits, kept should those grow) and
 * at least one seat that can be sold. */
static tix_rc check_hall(const row_spec *specs, int nrows, tix_layout_error *err)
{
    int total = 0;
    int blocked = 0;
    for (int r = 0; r < nrows; r++) {
        total += specs[r].seats;
        blocked += specs[r].nblocked;
    }
    if (total > TIX_LAYOUT_MAX_SEATS) {
        return value_fail(err, -1, "rows", -1, "has more than 10000 seats");
    }
    if (blocked == total) {
        return value_fail(err, -1, "rows", -1, "must have at least one seat that is not blocked");
    }
    return TIX_OK;
}

static void add_category(tix_layout *l, const char *category)
{
    for (int i = 0; i < l->ncategories; i++) {
        if (strcmp(l->categories[i], category) == 0) {
            return;
        }
    }
    memcpy(l->categories[l->ncategories++], category, TIX_LAYOUT_CATEGORY_MAX);
}

/* Appends the seats of row y to l, whose arrays are already big enough. */
static void fill_row(const row_spec *spec, int y, tix_layout *l)
{
    int gaps = 0;
    for (int n = 1; n <= spec->seats; n++) {
        tix_seat *s = &l->seats[l->nseats++];
        (void)snprintf(s->label, sizeof s->label, "%s%d", spec->label, n);
        memcpy(s->row, spec->label, sizeof s->row);
        memcpy(s->category, spec->category, sizeof s->category);
        s->number = n;
        s->x = n - 1 + gaps;
        s->y = y;
        s->blocked = spec->blocked[n];
        if (spec->gap_after[n]) {
            gaps++;
        }
    }
    if (spec->seats + spec->ngaps > l->width) {
        l->width = spec->seats + spec->ngaps;
    }
    add_category(l, spec->category);
}

/* Generates the seats of validated rows into *out (untouched on TIX_ENOMEM). */
static tix_rc generate(const row_spec *specs, int nrows, tix_layout *out)
{
    size_t total = 0;
    for (int r = 0; r < nrows; r++) {
        total += (size_t)specs[r].seats;
    }
    tix_layout l = {0};
    l.seats = calloc(total, sizeof *l.seats);
    l.categories = calloc((size_t)nrows, sizeof *l.categories);
    if (l.seats == NULL || l.categories == NULL) {
        tix_layout_cleanup(&l);
        return TIX_ENOMEM;
    }
    l.nrows = nrows;
    for (int r = 0; r < nrows; r++) {
        fill_row(&specs[r], r, &l);
    }
    assert((size_t)l.nseats == total);
    *out = l;
    return TIX_OK;
}

static tix_rc get_rows(const json_t *layout, const json_t **rows, tix_layout_error *err)
{
    if (!json_is_object(layout)) {
        return type_fail(err, -1, NULL, -1, "object");
    }
    *rows = json_object_get(layout, "rows");
    if (*rows == NULL) {
        return value_fail(err, -1, "rows", -1, "is required");
    }
    if (!json_is_array(*rows)) {
        return type_fail(err, -1, "rows", -1, "array");
    }
    if (json_array_size(*rows) == 0) {
        return value_fail(err, -1, "rows", -1, "must not be empty");
    }
    if (json_array_size(*rows) > TIX_LAYOUT_MAX_ROWS) {
        return value_fail(err, -1, "rows", -1, "has more than 100 rows");
    }
    return TIX_OK;
}

tix_rc tix_layout_build(json_t *layout, tix_layout *out, tix_layout_error *err)
{
    assert(out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    const json_t *rows = NULL;
    tix_rc rc = get_rows(layout, &rows, err);
    if (rc != TIX_OK) {
        return rc;
    }
    int nrows = (int)json_array_size(rows);
    row_spec *specs = calloc((size_t)nrows, sizeof *specs);
    if (specs == NULL) {
        return TIX_ENOMEM;
    }
    for (int r = 0; r < nrows && rc == TIX_OK; r++) {
        rc = parse_row(json_array_get(rows, (size_t)r), r, specs, err);
    }
    if (rc == TIX_OK) {
        rc = check_hall(specs, nrows, err);
    }
    if (rc == TIX_OK) {
        rc = generate(specs, nrows, out);
    }
    free(specs);
    return rc;
}

void tix_layout_cleanup(tix_layout *l)
{
    free(l->seats);
    free(l->categories);
    memset(l, 0, sizeof *l);
}

/* The description of one row from its n seats (n >= 1). */
static json_t *row_to_json(const tix_seat *seats, int n)
{
    json_t *gaps = json_array();
    json_t *blocked = json_array();
    bool ok = gaps != NULL && blocked != NULL;
    for (int i = 0; ok && i < n; i++) {
        if (i + 1 < n && seats[i + 1].x - seats[i].x > 1) {
            ok = json_array_append_new(gaps, json_integer(seats[i].number)) == 0;
        }
        if (ok && seats[i].blocked) {
            ok = json_array_append_new(blocked, json_integer(seats[i].number)) == 0;
        }
    }
    if (!ok) {
        json_decref(gaps);
        json_decref(blocked);
        return NULL;
    }
    /* "o" steals both arrays, even when packing fails. */
    return json_pack("{s:s, s:i, s:s, s:o, s:o}", "label", seats[0].row, "seats", n, "category",
                     seats[0].category, "gaps_after", gaps, "blocked", blocked);
}

json_t *tix_layout_to_json(const tix_layout *l)
{
    json_t *rows = json_array();
    if (rows == NULL) {
        return NULL;
    }
    for (int i = 0; i < l->nseats;) {
        int j = i + 1;
        while (j < l->nseats && l->seats[j].y == l->seats[i].y) {
            j++;
        }
        if (json_array_append_new(rows, row_to_json(l->seats + i, j - i)) != 0) {
            json_decref(rows);
            return NULL;
        }
        i = j;
    }
    return json_pack("{s:o}", "rows", rows);
}
