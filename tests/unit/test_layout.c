/* Unit tests for catalog/layout: tables of valid hall descriptions (seat count, labels, grid
 * positions, width, categories, blocked seats), tables of invalid ones (status, code and the
 * exact field path), the round trip through tix_layout_to_json, and generated edge cases (100
 * rows of 100 seats, 101 rows). Run under ASan to catch leaks on the error paths. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "catalog/layout.h"
#include "http/validate.h" /* the HTTP status of a tix_verr */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const tix_seat *find_seat(const tix_layout *l, const char *label)
{
    for (int i = 0; i < l->nseats; i++) {
        if (strcmp(l->seats[i].label, label) == 0) {
            return &l->seats[i];
        }
    }
    return NULL;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void assert_labels_unique(const tix_layout *l)
{
    char(*labels)[TIX_LAYOUT_SEAT_LABEL_MAX] = calloc((size_t)l->nseats, sizeof labels[0]);
    assert_non_null(labels);
    for (int i = 0; i < l->nseats; i++) {
        memcpy(labels[i], l->seats[i].label, sizeof labels[i]);
    }
    qsort(labels, (size_t)l->nseats, sizeof labels[0], cmp_label);
    for (int i = 1; i < l->nseats; i++) {
        if (strcmp(labels[i - 1], labels[i]) == 0) {
            fail_msg("seat label %s appears twice", labels[i]);
        }
    }
    free(labels);
}

/* Invariants every built layout keeps: row order, consecutive numbers, label = row + number,
 * x strictly increasing within a row and inside the width, unique seat labels, and every
 * seat's category listed. */
static void assert_invariants(const tix_layout *l)
{
    assert_non_null(l->seats);
    assert_true(l->nseats > 0 && l->nrows > 0 && l->width > 0);
    for (int i = 0; i < l->nseats; i++) {
        const tix_seat *s = &l->seats[i];
        char want[32];
        snprintf(want, sizeof want, "%s%d", s->row, s->number);
        assert_string_equal(s->label, want);
        assert_true(s->x >= s->number - 1 && s->x < l->width);
        assert_true(s->y >= 0 && s->y < l->nrows);
        if (i == 0 || l->seats[i - 1].y != s->y) {
            assert_int_equal(s->number, 1);
            assert_int_equal(s->x, 0);
            assert_int_equal(s->y, i == 0 ? 0 : l->seats[i - 1].y + 1);
        } else {
            assert_int_equal(s->number, l->seats[i - 1].number + 1);
            assert_true(s->x == l->seats[i - 1].x + 1 || s->x == l->seats[i - 1].x + 2);
            assert_string_equal(s->row, l->seats[i - 1].row);
            assert_string_equal(s->category, l->seats[i - 1].category);
        }
        bool listed = false;
        for (int c = 0; c < l->ncategories; c++) {
            listed = listed || strcmp(l->categories[c], s->category) == 0;
        }
        assert_true(listed);
    }
    assert_int_equal(l->seats[l->nseats - 1].y, l->nrows - 1);
    assert_labels_unique(l);
}

static void assert_same_layout(const tix_layout *a, const tix_layout *b)
{
    assert_int_equal(a->nseats, b->nseats);
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->ncategories, b->ncategories);
    for (int c = 0; c < a->ncategories; c++) {
        assert_string_equal(a->categories[c], b->categories[c]);
    }
    for (int i = 0; i < a->nseats; i++) {
        const tix_seat *s = &a->seats[i];
        const tix_seat *t = &b->seats[i];
        assert_string_equal(s->label, t->label);
        assert_string_equal(s->row, t->row);
        assert_string_equal(s->category, t->category);
        assert_int_equal(s->number, t->number);
        assert_int_equal(s->x, t->x);
        assert_int_equal(s->y, t->y);
        assert_int_equal(s->blocked, t->blocked);
    }
}

/* to_json, then build again: the same layout, and the same JSON a second time. */
static void assert_round_trip(const tix_layout *l)
{
    json_t *j1 = tix_layout_to_json(l);
    assert_non_null(j1);
    tix_layout back;
    tix_layout_error e;
    if (tix_layout_build(j1, &back, &e) != TIX_OK) {
        fail_msg("the canonical JSON was refused: %s %s", e.field, e.verr.reason);
    }
    assert_same_layout(l, &back);
    json_t *j2 = tix_layout_to_json(&back);
    assert_non_null(j2);
    assert_true(json_equal(j1, j2));
    json_decref(j2);
    json_decref(j1);
    tix_layout_cleanup(&back);
}

/* ---- valid layouts ---- */

typedef struct probe {
    const char *label;
    int x, y;
    bool blocked;
    const char *category;
} probe;

typedef struct valid_case {
    const char *name;
    const char *json;
    int nseats, nrows, width, nblocked;
    const char *categories; /* comma-separated, in order */
    probe probes[8];        /* ends at the first NULL label */
} valid_case;

/* One row of the realistic hall: 22 seats, aisles after seats 6 and 16. */
#define HALL_ROW(l, c)                                                                             \
    "{\"label\":\"" l "\",\"seats\":22,\"category\":\"" c "\",\"gaps_after\":[6,16]}"

#define HALL_FRONT                                                                                 \
    HALL_ROW("A", "standard")                                                                      \
    "," HALL_ROW("B", "standard") "," HALL_ROW("C", "standard") "," HALL_ROW(                      \
        "D",                                                                                       \
        "standard") "," HALL_ROW("E",                                                              \
                                 "standard") "," HALL_ROW("F",                                     \
                                                          "standard") "," HALL_ROW("G",            \
                                                                                   "standard")
#define HALL_MIDDLE                                                                                \
    HALL_ROW("H", "premium")                                                                       \
    "," HALL_ROW("I", "premium") "," HALL_ROW("J", "premium") "," HALL_ROW(                        \
        "K", "premium") "," HALL_ROW("L", "premium")
#define HALL_BACK                                                                                  \
    HALL_ROW("M", "recliner") "," HALL_ROW("N", "recliner") "," HALL_ROW("O", "recliner")

static const valid_case valid_cases[] = {
    {"the API example",
     "{\"rows\":[{\"label\":\"A\",\"seats\":14,\"category\":\"premium\",\"gaps_after\":[4,10],"
     "\"blocked\":[1]}]}",
     14,
     1,
     16,
     1,
     "premium",
     {{"A1", 0, 0, true, "premium"},
      {"A4", 3, 0, false, "premium"},
      {"A5", 5, 0, false, "premium"},
      {"A10", 10, 0, false, "premium"},
      {"A11", 12, 0, false, "premium"},
      {"A14", 15, 0, false, "premium"}}},
    {"one seat",
     "{\"rows\":[{\"label\":\"Z\",\"seats\":1,\"category\":\"box\"}]}",
     1,
     1,
     1,
     0,
     "box",
     {{"Z1", 0, 0, false, "box"}}},
    {"normalised case, unordered lists, unknown keys and nulls ignored",
     "{\"name\":\"x\",\"rows\":[{\"label\":\"aa\",\"seats\":12,\"category\":\"Gold_Plus-2\","
     "\"gaps_after\":[9,3],\"blocked\":[12,2],\"note\":1},"
     "{\"label\":\"b1\",\"seats\":3,\"category\":\"GOLD_PLUS-2\",\"gaps_after\":null,"
     "\"blocked\":null}]}",
     15,
     2,
     14,
     2,
     "gold_plus-2",
     {{"AA1", 0, 0, false, "gold_plus-2"},
      {"AA2", 1, 0, true, "gold_plus-2"},
      {"AA4", 4, 0, false, "gold_plus-2"},
      {"AA10", 11, 0, false, "gold_plus-2"},
      {"AA12", 13, 0, true, "gold_plus-2"},
      {"B11", 0, 1, false, "gold_plus-2"},
      {"B13", 2, 1, false, "gold_plus-2"}}},
    {"empty lists; widest row sets the width; categories in first-seen order",
     "{\"rows\":[{\"label\":\"A\",\"seats\":8,\"category\":\"standard\",\"gaps_after\":[],"
     "\"blocked\":[]},"
     "{\"label\":\"B\",\"seats\":10,\"category\":\"premium\",\"gaps_after\":[1,2,3]},"
     "{\"label\":\"C\",\"seats\":11,\"category\":\"standard\"},"
     "{\"label\":\"D\",\"seats\":4,\"category\":\"vip\",\"blocked\":[1,2,3]}]}",
     33,
     4,
     13,
     3,
     "standard,premium,vip",
     {{"A8", 7, 0, false, "standard"},
      {"B1", 0, 1, false, "premium"},
      {"B2", 2, 1, false, "premium"},
      {"B4", 6, 1, false, "premium"},
      {"B10", 12, 1, false, "premium"},
      {"C11", 10, 2, false, "standard"},
      {"D3", 2, 3, true, "vip"},
      {"D4", 3, 3, false, "vip"}}},
    {"a gap after every seat; 100 seats in a row",
     "{\"rows\":[{\"label\":\"G\",\"seats\":4,\"category\":\"c\",\"gaps_after\":[1,2,3]},"
     "{\"label\":\"W\",\"seats\":100,\"category\":\"c\",\"gaps_after\":[99],\"blocked\":[100]}]}",
     104,
     2,
     101,
     1,
     "c",
     {{"G4", 6, 0, false, "c"}, {"W99", 98, 1, false, "c"}, {"W100", 100, 1, true, "c"}}},
    {"numeric labels that cannot clash (row 1 has fewer than 11 seats)",
     "{\"rows\":[{\"label\":\"1\",\"seats\":10,\"category\":\"a\"},"
     "{\"label\":\"11\",\"seats\":100,\"category\":\"b\"},"
     "{\"label\":\"10\",\"seats\":5,\"category\":\"a\"},"
     "{\"label\":\"A0\",\"seats\":100,\"category\":\"a\"},"
     "{\"label\":\"A\",\"seats\":100,\"category\":\"a\"}]}",
     315,
     5,
     100,
     0,
     "a,b",
     {{"110", 9, 0, false, "a"},
      {"111", 0, 1, false, "b"},
      {"11100", 99, 1, false, "b"},
      {"105", 4, 2, false, "a"},
      {"A01", 0, 3, false, "a"},
      {"A100", 99, 4, false, "a"}}},
    {"a realistic 330-seat hall: 15 rows of 22, two aisles, recliners at the back",
     "{\"rows\":[" HALL_FRONT "," HALL_MIDDLE "," HALL_BACK "]}",
     330,
     15,
     24,
     0,
     "standard,premium,recliner",
     {{"A1", 0, 0, false, "standard"},
      {"A6", 5, 0, false, "standard"},
      {"A7", 7, 0, false, "standard"},
      {"A16", 16, 0, false, "standard"},
      {"A17", 18, 0, false, "standard"},
      {"H22", 23, 7, false, "premium"},
      {"M1", 0, 12, false, "recliner"},
      {"O22", 23, 14, false, "recliner"}}},
};

static void check_probes(const valid_case *c, const tix_layout *l)
{
    for (size_t p = 0; p < COUNT(c->probes) && c->probes[p].label != NULL; p++) {
        const probe *pr = &c->probes[p];
        const tix_seat *s = find_seat(l, pr->label);
        if (s == NULL) {
            fail_msg("%s: no seat %s", c->name, pr->label);
        }
        if (s->x != pr->x || s->y != pr->y || s->blocked != pr->blocked) {
            fail_msg("%s: seat %s at (%d,%d) blocked=%d, want (%d,%d) blocked=%d", c->name,
                     pr->label, s->x, s->y, s->blocked, pr->x, pr->y, pr->blocked);
        }
        assert_string_equal(s->category, pr->category);
    }
}

static void check_valid_case(const valid_case *c)
{
    json_t *j = tix_test_json(c->json);
    tix_layout l;
    tix_layout_error e;
    if (tix_layout_build(j, &l, &e) != TIX_OK) {
        fail_msg("%s: refused at %s: %s", c->name, e.field, e.verr.reason);
    }
    assert_invariants(&l);
    assert_int_equal(l.nseats, c->nseats);
    assert_int_equal(l.nrows, c->nrows);
    assert_int_equal(l.width, c->width);
    char cats[256] = "";
    size_t len = 0;
    for (int i = 0; i < l.ncategories && len < sizeof cats; i++) {
        len += (size_t)snprintf(cats + len, sizeof cats - len, "%s%s", i > 0 ? "," : "",
                                l.categories[i]);
    }
    assert_string_equal(cats, c->categories);
    int nblocked = 0;
    for (int i = 0; i < l.nseats; i++) {
        nblocked += l.seats[i].blocked;
    }
    assert_int_equal(nblocked, c->nblocked);
    check_probes(c, &l);
    assert_round_trip(&l);
    tix_layout_cleanup(&l);
    json_decref(j);
}

static void test_valid_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(valid_cases); i++) {
        check_valid_case(&valid_cases[i]);
    }
}

/* A hall of nrows rows of seats each, labels RAA, RAB, …, categories "even" and "odd"
 * alternating. */
static json_t *make_hall(int nrows, int seats)
{
    json_t *rows = json_array();
    for (int r = 0; r < nrows; r++) {
        char label[8];
        snprintf(label, sizeof label, "R%c%c", 'A' + r / 26, 'A' + r % 26);
        json_array_append_new(rows, json_pack("{s:s, s:i, s:s}", "label", label, "seats", seats,
                                              "category", r % 2 ? "odd" : "even"));
    }
    return json_pack("{s:o}", "rows", rows);
}

static void test_largest_hall(void **state)
{
    (void)state;
    json_t *j = make_hall(TIX_LAYOUT_MAX_ROWS, TIX_LAYOUT_MAX_SEATS_PER_ROW);
    tix_layout l;
    tix_layout_error e;
    assert_int_equal(tix_layout_build(j, &l, &e), TIX_OK);
    assert_int_equal(l.nseats, TIX_LAYOUT_MAX_SEATS);
    assert_int_equal(l.nrows, 100);
    assert_int_equal(l.width, 100);
    assert_int_equal(l.ncategories, 2);
    assert_string_equal(l.categories[0], "even");
    assert_string_equal(l.categories[1], "odd");
    const tix_seat *last = &l.seats[l.nseats - 1];
    assert_string_equal(last->label, "RDV100");
    assert_int_equal(last->x, 99);
    assert_int_equal(last->y, 99);
    assert_round_trip(&l);
    tix_layout_cleanup(&l);
    json_decref(j);
}

/* The canonical form: labels upper-case, categories lower-case, lists ascending and always
 * present, unknown keys gone. */
static void test_canonical_json(void **state)
{
    (void)state;
    json_t *in = tix_test_json("{\"rows\":[{\"label\":\"b\",\"seats\":6,\"category\":\"Premium\","
                               "\"gaps_after\":[4,2],\"blocked\":[6,1,3],\"extra\":true},"
                               "{\"label\":\"C2\",\"seats\":2,\"category\":\"std\"}]}");
    json_t *want = tix_test_json("{\"rows\":[{\"label\":\"B\",\"seats\":6,\"category\":\"premium\","
                                 "\"gaps_after\":[2,4],\"blocked\":[1,3,6]},"
                                 "{\"label\":\"C2\",\"seats\":2,\"category\":\"std\","
                                 "\"gaps_after\":[],\"blocked\":[]}]}");
    tix_layout l;
    tix_layout_error e;
    assert_int_equal(tix_layout_build(in, &l, &e), TIX_OK);
    json_t *got = tix_layout_to_json(&l);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("canonical JSON differs: %s", s);
    }
    json_decref(got);
    json_decref(want);
    json_decref(in);
    tix_layout_cleanup(&l);
}

/* ---- invalid layouts ---- */

typedef struct invalid_case {
    const char *json;
    unsigned status;
    const char *field;
} invalid_case;

#define ROW_A       "{\"label\":\"A\",\"seats\":10,\"category\":\"std\"}"
#define ROW_B       "{\"label\":\"B\",\"seats\":10,\"category\":\"std\"}"
#define ROWS1(r)    "{\"rows\":[{\"label\":\"A\",\"seats\":10,\"category\":\"std\"" r "}]}"
#define SEATS(s)    "{\"rows\":[{\"label\":\"A\",\"seats\":" s ",\"category\":\"std\"}]}"
#define LABEL(s)    "{\"rows\":[{\"label\":" s ",\"seats\":10,\"category\":\"std\"}]}"
#define CATEGORY(s) "{\"rows\":[{\"label\":\"A\",\"seats\":10,\"category\":" s "}]}"

static const invalid_case invalid_cases[] = {
    /* the document and its rows */
    {"[]", 400, "layout"},
    {"null", 400, "layout"},
    {"\"rows\"", 400, "layout"},
    {"{}", 422, "layout.rows"},
    {"{\"rows\":null}", 400, "layout.rows"},
    {"{\"rows\":{}}", 400, "layout.rows"},
    {"{\"rows\":\"A\"}", 400, "layout.rows"},
    {"{\"rows\":[]}", 422, "layout.rows"},
    {"{\"rows\":[1]}", 400, "layout.rows[0]"},
    {"{\"rows\":[" ROW_A ",null]}", 400, "layout.rows[1]"},
    {"{\"rows\":[" ROW_A ",[]]}", 400, "layout.rows[1]"},
    /* label */
    {"{\"rows\":[{\"seats\":10,\"category\":\"std\"}]}", 422, "layout.rows[0].label"},
    {LABEL("null"), 400, "layout.rows[0].label"},
    {LABEL("1"), 400, "layout.rows[0].label"},
    {LABEL("[\"A\"]"), 400, "layout.rows[0].label"},
    {LABEL("\"\""), 422, "layout.rows[0].label"},
    {LABEL("\"ABCDE\""), 422, "layout.rows[0].label"},
    {LABEL("\"A-1\""), 422, "layout.rows[0].label"},
    {LABEL("\"A \""), 422, "layout.rows[0].label"},
    {LABEL("\"\\u00c9\""), 422, "layout.rows[0].label"},
    {LABEL("\"A\\u0000\""), 422, "layout.rows[0].label"},
    {"{\"rows\":[" ROW_A "," ROW_B "," ROW_A "]}", 422, "layout.rows[2].label"},
    {"{\"rows\":[" ROW_A ",{\"label\":\"a\",\"seats\":1,\"category\":\"x\"}]}", 422,
     "layout.rows[1].label"},
    /* seat labels that clash: row 1 seat 11 and row 11 seat 1 are both "111" */
    {"{\"rows\":[{\"label\":\"1\",\"seats\":11,\"category\":\"a\"},"
     "{\"label\":\"11\",\"seats\":1,\"category\":\"a\"}]}",
     422, "layout.rows[1].label"},
    {"{\"rows\":[" ROW_B ",{\"label\":\"A1\",\"seats\":3,\"category\":\"a\"},"
     "{\"label\":\"A\",\"seats\":14,\"category\":\"a\"}]}",
     422, "layout.rows[2].label"},
    {"{\"rows\":[{\"label\":\"X\",\"seats\":100,\"category\":\"a\"},"
     "{\"label\":\"X9\",\"seats\":1,\"category\":\"a\"}]}",
     422, "layout.rows[1].label"},
    /* seats */
    {"{\"rows\":[{\"label\":\"A\",\"category\":\"std\"}]}", 422, "layout.rows[0].seats"},
    {SEATS("\"10\""), 400, "layout.rows[0].seats"},
    {SEATS("10.0"), 400, "layout.rows[0].seats"},
    {SEATS("true"), 400, "layout.rows[0].seats"},
    {SEATS("null"), 400, "layout.rows[0].seats"},
    {SEATS("0"), 422, "layout.rows[0].seats"},
    {SEATS("-3"), 422, "layout.rows[0].seats"},
    {SEATS("101"), 422, "layout.rows[0].seats"},
    {SEATS("9223372036854775807"), 422, "layout.rows[0].seats"},
    /* category */
    {"{\"rows\":[{\"label\":\"A\",\"seats\":10}]}", 422, "layout.rows[0].category"},
    {CATEGORY("\"VIP!\""), 422, "layout.rows[0].category"},
    {CATEGORY("\"\""), 422, "layout.rows[0].category"},
    {CATEGORY("\"prem ium\""), 422, "layout.rows[0].category"},
    {CATEGORY("\"abcdefghijklmnopqrstuvwxyz0123456\""), 422, "layout.rows[0].category"},
    {CATEGORY("\"caf\\u00e9\""), 422, "layout.rows[0].category"},
    {CATEGORY("7"), 400, "layout.rows[0].category"},
    {CATEGORY("null"), 400, "layout.rows[0].category"},
    /* gaps_after */
    {ROWS1(",\"gaps_after\":4"), 400, "layout.rows[0].gaps_after"},
    {ROWS1(",\"gaps_after\":{}"), 400, "layout.rows[0].gaps_after"},
    {ROWS1(",\"gaps_after\":[4,\"5\"]"), 400, "layout.rows[0].gaps_after[1]"},
    {ROWS1(",\"gaps_after\":[4.5]"), 400, "layout.rows[0].gaps_after[0]"},
    {ROWS1(",\"gaps_after\":[null]"), 400, "layout.rows[0].gaps_after[0]"},
    {ROWS1(",\"gaps_after\":[0]"), 422, "layout.rows[0].gaps_after[0]"},
    {ROWS1(",\"gaps_after\":[2,10]"), 422, "layout.rows[0].gaps_after[1]"},
    {ROWS1(",\"gaps_after\":[-1]"), 422, "layout.rows[0].gaps_after[0]"},
    {ROWS1(",\"gaps_after\":[3,5,3]"), 422, "layout.rows[0].gaps_after[2]"},
    {"{\"rows\":[{\"label\":\"A\",\"seats\":1,\"category\":\"s\",\"gaps_after\":[1]}]}", 422,
     "layout.rows[0].gaps_after[0]"},
    /* blocked */
    {ROWS1(",\"blocked\":\"1\""), 400, "layout.rows[0].blocked"},
    {ROWS1(",\"blocked\":[true]"), 400, "layout.rows[0].blocked[0]"},
    {ROWS1(",\"blocked\":[0]"), 422, "layout.rows[0].blocked[0]"},
    {ROWS1(",\"blocked\":[1,11]"), 422, "layout.rows[0].blocked[1]"},
    {ROWS1(",\"blocked\":[7,8,7]"), 422, "layout.rows[0].blocked[2]"},
    /* the first problem in document order is the one reported */
    {"{\"rows\":[" ROW_A "," ROW_B ",{\"label\":\"C\",\"seats\":5,\"category\":\"s\"},"
     "{\"label\":\"D\",\"seats\":5,\"category\":\"s\",\"gaps_after\":[1,5],\"blocked\":[0]}]}",
     422, "layout.rows[3].gaps_after[1]"},
    {"{\"rows\":[{\"label\":\"A\",\"seats\":\"x\",\"category\":\"!\"},{\"label\":\"\"}]}", 400,
     "layout.rows[0].seats"},
    /* every seat blocked */
    {"{\"rows\":[{\"label\":\"A\",\"seats\":1,\"category\":\"s\",\"blocked\":[1]}]}", 422,
     "layout.rows"},
    {"{\"rows\":[{\"label\":\"A\",\"seats\":2,\"category\":\"s\",\"blocked\":[2,1]},"
     "{\"label\":\"B\",\"seats\":3,\"category\":\"s\",\"blocked\":[1,2,3]}]}",
     422, "layout.rows"},
};

static void check_error(const tix_layout_error *e, unsigned status, const char *field,
                        const char *what)
{
    if (tix_verr_status(&e->verr) != status || e->verr.field == NULL ||
        strcmp(e->verr.field, field) != 0) {
        fail_msg("%s: got %u at %s (%s), want %u at %s", what, tix_verr_status(&e->verr),
                 e->verr.field ? e->verr.field : "(null)", e->verr.reason ? e->verr.reason : "",
                 status, field);
    }
    assert_ptr_equal(e->verr.field, e->field);
    assert_non_null(e->verr.reason);
    assert_true(strlen(e->verr.reason) > 0);
    assert_string_equal(tix_verr_code(&e->verr),
                        status == 400 ? "invalid_type" : "validation_failed");
    if (status == 400) {
        assert_non_null(e->verr.expected);
    } else {
        assert_null(e->verr.expected);
    }
}

/* A refused layout: TIX_EINVAL, *out zeroed (so cleanup is harmless), the error as expected. */
static void check_refused(json_t *j, unsigned status, const char *field, const char *what)
{
    tix_layout l;
    memset(&l, 0xab, sizeof l);
    tix_layout_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(tix_layout_build(j, &l, &e), TIX_EINVAL);
    check_error(&e, status, field, what);
    assert_null(l.seats);
    assert_null(l.categories);
    assert_int_equal(l.nseats, 0);
    tix_layout_cleanup(&l);
}

static void test_invalid_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(invalid_cases); i++) {
        const invalid_case *c = &invalid_cases[i];
        json_error_t jerr;
        json_t *j = json_loads(c->json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (j == NULL) {
            fail_msg("bad test JSON %s: %s", c->json, jerr.text);
        }
        check_refused(j, c->status, c->field, c->json);
        json_decref(j);
    }
}

static void test_too_many_rows(void **state)
{
    (void)state;
    json_t *j = make_hall(TIX_LAYOUT_MAX_ROWS + 1, 1);
    check_refused(j, 422, "layout.rows", "101 rows");
    json_decref(j);
}

/* Errors past a long valid prefix: a long list whose 100th element is bad still gets an exact
 * path, and the last of 100 rows is named by its index. */
static void test_late_errors(void **state)
{
    (void)state;
    json_t *j = make_hall(TIX_LAYOUT_MAX_ROWS, 100);
    json_t *row = json_array_get(json_object_get(j, "rows"), 99);
    json_t *gaps = json_array();
    for (int n = 1; n <= 99; n++) {
        json_array_append_new(gaps, json_integer(n));
    }
    json_array_append_new(gaps, json_integer(1));
    json_object_set_new(row, "gaps_after", gaps);
    check_refused(j, 422, "layout.rows[99].gaps_after[99]", "repeated 100th gap");
    json_array_set_new(gaps, 99, json_string("1"));
    check_refused(j, 400, "layout.rows[99].gaps_after[99]", "string 100th gap");
    json_array_remove(gaps, 99);
    json_object_set_new(row, "label", json_string("RAA"));
    check_refused(j, 422, "layout.rows[99].label", "repeated label of row 0");
    json_decref(j);
}

static void test_cleanup_zeroed(void **state)
{
    (void)state;
    tix_layout l = {0};
    tix_layout_cleanup(&l);
    tix_layout_cleanup(&l);
    assert_null(l.seats);
    json_t *j = tix_layout_to_json(&l);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "rows")), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_layouts),  cmocka_unit_test(test_largest_hall),
        cmocka_unit_test(test_canonical_json), cmocka_unit_test(test_invalid_layouts),
        cmocka_unit_test(test_too_many_rows),  cmocka_unit_test(test_late_errors),
        cmocka_unit_test(test_cleanup_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
