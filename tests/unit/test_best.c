/* Unit tests for booking/best: a table of halls drawn in ASCII (one string per row, y = line,
 * x = column) with the expected picks drawn the same way, each case run with the seats in three
 * different orders; the argument checks; the default focus; a full-size hall; and random halls
 * compared with a brute-force reference written over a grid, independently of the slot code.
 *
 * Hall pictures: '.' available regular, 'x' taken regular, '#' blocked regular, 'p' available
 * premium, 'P' taken premium, 'v' available vip, ' ' aisle (no seat). Expected pictures are the
 * hall with '*' on every picked seat. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/best.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a)  (sizeof(a) / sizeof((a)[0]))
#define MAX_ROWS  12
#define MAX_COLS  40
#define MAX_SEATS (MAX_ROWS * MAX_COLS)

/* ---- pictures ---------------------------------------------------------------------------- */

/* The seat a picture character stands for (c is not ' '). */
static tix_best_seat seat_of(char c, int x, int y)
{
    if (strchr(".x#pPv", c) == NULL) {
        fail_msg("bad hall character '%c'", c);
    }
    const char *cat = c == 'p' || c == 'P' ? "premium" : c == 'v' ? "vip" : "regular";
    return (tix_best_seat){
        .x = x, .y = y, .category = cat, .available = c == '.' || c == 'p' || c == 'v'};
}

/* Fills seats from a picture and returns how many there are. */
static int hall_parse(const char *const rows[MAX_ROWS], tix_best_seat *seats)
{
    int n = 0;
    for (int y = 0; y < MAX_ROWS && rows[y] != NULL; y++) {
        assert_true(strlen(rows[y]) <= MAX_COLS);
        for (int x = 0; rows[y][x] != '\0'; x++) {
            if (rows[y][x] != ' ') {
                seats[n++] = seat_of(rows[y][x], x, y);
            }
        }
    }
    return n;
}

static int nrows(const char *const rows[MAX_ROWS])
{
    int y = 0;
    while (y < MAX_ROWS && rows[y] != NULL) {
        y++;
    }
    return y;
}

static void print_picture(const char *title, char pic[MAX_ROWS][MAX_COLS + 1], int rows)
{
    print_error("  %s:\n", title);
    for (int y = 0; y < rows; y++) {
        print_error("    |%s|\n", pic[y]);
    }
}

/* ---- the table --------------------------------------------------------------------------- */

typedef struct pick_case { /* NOLINT(clang-analyzer-optin.performance.Padding): reads better */
    const char *name;
    const char *hall[MAX_ROWS];
    int quantity;
    const char *category;
    bool focus_set; /* else tix_best_default_focus */
    double fx, fy;
    tix_rc rc;
    tix_best_rule rule;
    const char *want[MAX_ROWS]; /* only when rc == TIX_OK */
} pick_case;

#define ROW9 "........."
#define EMPTY5                                                                                     \
    {                                                                                              \
        ROW9, ROW9, ROW9, ROW9, ROW9                                                               \
    }
#define FOCUS(x, y) .focus_set = true, .fx = (x), .fy = (y)

static const pick_case cases[] = {
    /* Empty halls: focus (4, 2.67) is nearest row 3; ties between equally central blocks go left.
     */
    {"empty hall, one seat", EMPTY5, 1, NULL, .rule = TIX_BEST_STRICT,
     .want = {ROW9, ROW9, ROW9, "....*....", ROW9}},
    {"empty hall, pair", EMPTY5, 2, NULL, .rule = TIX_BEST_STRICT,
     .want = {ROW9, ROW9, ROW9, "...**....", ROW9}},
    {"empty hall, three", EMPTY5, 3, NULL, .rule = TIX_BEST_STRICT,
     .want = {ROW9, ROW9, ROW9, "...***...", ROW9}},
    {"ten seats leave no orphan at either end",
     {"............", "............", "............"},
     10,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"............", "**********..", "............"}},
    {"ten seats exactly fill a run",
     {"x..........x"},
     10,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"x**********x"}},

    /* Orphans. */
    {"pair avoids an orphan next to the x",
     {"..x......"},
     2,
     NULL,
     FOCUS(4.5, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"..x**...."}},
    {"pair takes the equally close block without an orphan",
     {"..x......"},
     2,
     NULL,
     FOCUS(5, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"..x..**.."}},
    {"single seat avoids orphans on both sides of a short run",
     {"..x......"},
     1,
     NULL,
     FOCUS(0, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"..x*....."}},
    {"single seat does not orphan the row end",
     {"....."},
     1,
     NULL,
     FOCUS(1, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"*...."}},
    {"single seat filling its run is no orphan",
     {"xx.xx", "xxxxx"},
     1,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"xx*xx", "xxxxx"}},
    {"pair exactly filling a run", {"x..x"}, 2, NULL, .rule = TIX_BEST_STRICT, .want = {"x**x"}},
    {"unavoidable orphan for a pair falls to rule 2",
     {"...x..."},
     2,
     NULL,
     .rule = TIX_BEST_ORPHANS_ALLOWED,
     .want = {".**x..."}},
    {"unavoidable orphan for one seat falls to rule 2",
     {"..x.."},
     1,
     NULL,
     FOCUS(2, 0),
     .rule = TIX_BEST_ORPHANS_ALLOWED,
     .want = {".*x.."}},
    {"strict block in another row beats a closer orphaning one",
     {ROW9, "x...x....", ROW9},
     2,
     NULL,
     FOCUS(2, 1),
     .rule = TIX_BEST_STRICT,
     .want = {"..**.....", "x...x....", ROW9}},
    {"a free seat of another category can be orphaned too",
     {"p........"},
     2,
     "regular",
     FOCUS(1.5, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"p.**....."}},

    /* Aisles (empty columns). */
    {"block never spans an aisle",
     {".... ...."},
     4,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"**** ...."}},
    {"an aisle bounds an orphan on both sides",
     {"...... ..."},
     2,
     NULL,
     FOCUS(6.6, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"....** ..."}},
    {"three in runs of four always orphan",
     {".... ...."},
     3,
     NULL,
     .rule = TIX_BEST_ORPHANS_ALLOWED,
     .want = {".*** ...."}},
    {"five across an aisle in one row is impossible", {".... ...."}, 5, NULL, .rc = TIX_ECONFLICT},

    /* Categories. */
    {"premium only",
     {ROW9, "ppppppppp"},
     2,
     "premium",
     .rule = TIX_BEST_STRICT,
     .want = {ROW9, "ppp**pppp"}},
    {"regular only, though premium is closer",
     {ROW9, "ppppppppp"},
     2,
     "regular",
     .rule = TIX_BEST_STRICT,
     .want = {"...**....", "ppppppppp"}},
    {"any category",
     {"..ppp.."},
     3,
     NULL,
     FOCUS(3, 0),
     .rule = TIX_BEST_STRICT,
     .want = {"..***.."}},
    {"no run of the category is long enough", {"..ppp.."}, 3, "regular", .rc = TIX_ECONFLICT},
    {"unknown category", EMPTY5, 1, "balcony", .rc = TIX_ECONFLICT},
    {"split over rows keeps to the category",
     {"..pxp..", "..pxp.."},
     2,
     "premium",
     .rule = TIX_BEST_SPLIT_ROWS,
     .want = {"..*xp..", "..*xp.."}},

    /* Splitting over two adjacent rows. */
    {"five split three and two",
     {"....x....", "....x....", "....x...."},
     5,
     NULL,
     .rule = TIX_BEST_SPLIT_ROWS,
     .want = {"....x....", "....x***.", "....x**.."}},
    {"split with the smaller part in the row in front",
     {"..x..", "..x.."},
     3,
     NULL,
     .rule = TIX_BEST_SPLIT_ROWS,
     .want = {"..x*.", "..x**"}},
    {"one block with orphans wins over a closer split",
     {"xxx.xxxx", "xxx.xxxx", "xx...xxx"},
     2,
     NULL,
     FOCUS(3.5, 0.5),
     .rule = TIX_BEST_ORPHANS_ALLOWED,
     .want = {"xxx.xxxx", "xxx.xxxx", "xx.**xxx"}},
    {"split tie goes to the first seat in (y, x) order, whichever part holds it",
     {"xx..xxxxx..x", "x..xx...xxxx"},
     4,
     NULL,
     FOCUS(6, 0.5),
     .rule = TIX_BEST_SPLIT_ROWS,
     .want = {"xx**xxxxx..x", "x..xx**.xxxx"}},
    {"split impossible: the only free rows are not adjacent",
     {"..x..", "xxxxx", "..x.."},
     3,
     NULL,
     .rc = TIX_ECONFLICT},
    {"split impossible across a row without seats",
     {"..x..", "", "..x.."},
     3,
     NULL,
     .rc = TIX_ECONFLICT},
    {"split impossible: too few seats", {"...", "..."}, 7, NULL, .rc = TIX_ECONFLICT},
    {"single row, more than fits", {"....."}, 6, NULL, .rc = TIX_ECONFLICT},
    {"full hall", {"xxxx", "x#xx", "PPPP"}, 1, NULL, .rc = TIX_ECONFLICT},

    /* A hall with aisles and blocked seats; focus (7.5, 2). */
    {"realistic hall, pair fills the centre gap",
     {"##.. ...... ..##", ".... ...... ....", ".... xx..xx ....", ".... xxxxxx ...."},
     2,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"##.. ...... ..##", ".... ...... ....", ".... xx**xx ....", ".... xxxxxx ...."}},
    {"realistic hall, three go one row forward",
     {"##.. ...... ..##", ".... ...... ....", ".... xx..xx ....", ".... xxxxxx ...."},
     3,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"##.. ...... ..##", ".... ***... ....", ".... xx..xx ....", ".... xxxxxx ...."}},
    {"realistic hall, four",
     {"##.. ...... ..##", ".... ...... ....", ".... xx..xx ....", ".... xxxxxx ...."},
     4,
     NULL,
     .rule = TIX_BEST_STRICT,
     .want = {"##.. ...... ..##", ".... ****.. ....", ".... xx..xx ....", ".... xxxxxx ...."}},

    /* The vertical weight of 1.5. */
    {"two columns off in the right row lose to the centre one row off",
     {ROW9, "xxxxxx..."},
     1,
     NULL,
     FOCUS(4, 1),
     .rule = TIX_BEST_STRICT,
     .want = {"....*....", "xxxxxx..."}},
    {"one column off in the right row wins",
     {ROW9, "xxxxx...."},
     1,
     NULL,
     FOCUS(4, 1),
     .rule = TIX_BEST_STRICT,
     .want = {ROW9, "xxxxx*..."}},

    /* Ties: smaller y, then smaller x. */
    {"four-way tie goes front-left",
     {"........", "........"},
     1,
     NULL,
     FOCUS(3.5, 0.5),
     .rule = TIX_BEST_STRICT,
     .want = {"...*....", "........"}},
    {"tie between rows and sides, three seats",
     {"........", "........"},
     3,
     NULL,
     FOCUS(3.5, 0.5),
     .rule = TIX_BEST_STRICT,
     .want = {"..***...", "........"}},
};

/* Copies the seats into out in one of three orders: as drawn, reversed, or shuffled. */
static void reorder(const tix_best_seat *in, int n, int order, tix_best_seat *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = in[order == 1 ? n - 1 - i : i];
    }
    if (order == 2) {
        unsigned r = 12345u;
        for (int i = n - 1; i > 0; i--) {
            r = r * 1103515245u + 12345u;
            int j = (int)((r >> 8) % (unsigned)(i + 1));
            tix_best_seat t = out[i];
            out[i] = out[j];
            out[j] = t;
        }
    }
}

/* Checks the picks against the expected picture; picks sorted by (y, x) and all distinct. */
static void check_picks(const pick_case *c, const tix_best_seat *seats, int n, const int *picks)
{
    char got[MAX_ROWS][MAX_COLS + 1] = {{0}};
    char want[MAX_ROWS][MAX_COLS + 1] = {{0}};
    int rows = nrows(c->hall);
    assert_int_equal(nrows(c->want), rows);
    for (int y = 0; y < rows; y++) {
        (void)snprintf(got[y], sizeof got[y], "%s", c->hall[y]);
        (void)snprintf(want[y], sizeof want[y], "%s", c->want[y]);
    }
    for (int i = 0; i < c->quantity; i++) {
        assert_in_range(picks[i], 0, n - 1);
        const tix_best_seat *s = &seats[picks[i]];
        if (i > 0) {
            const tix_best_seat *p = &seats[picks[i - 1]];
            assert_true(p->y < s->y || (p->y == s->y && p->x < s->x));
        }
        got[s->y][s->x] = '*';
    }
    for (int y = 0; y < rows; y++) {
        if (strcmp(got[y], want[y]) != 0) {
            print_picture("want", want, rows);
            print_picture("got", got, rows);
            fail_msg("%s: wrong seats", c->name);
        }
    }
}

static void run_case(const pick_case *c, int order)
{
    tix_best_seat drawn[MAX_SEATS];
    tix_best_seat seats[MAX_SEATS];
    int n = hall_parse(c->hall, drawn);
    reorder(drawn, n, order, seats);
    tix_best_request req = {.quantity = c->quantity, .category = c->category};
    if (c->focus_set) {
        req.focus_x = c->fx;
        req.focus_y = c->fy;
    } else {
        tix_best_default_focus(seats, n, &req.focus_x, &req.focus_y);
    }
    int picks[TIX_BEST_MAX + 1];
    for (size_t i = 0; i < COUNT(picks); i++) {
        picks[i] = -7;
    }
    tix_best_rule rule = (tix_best_rule)99;
    tix_rc rc = tix_best_pick(seats, n, &req, picks, &rule);
    if (rc != c->rc) {
        fail_msg("%s (order %d): rc %s, want %s", c->name, order, tix_rc_name(rc),
                 tix_rc_name(c->rc));
    }
    if (rc != TIX_OK) {
        assert_int_equal(picks[0], -7); /* untouched on failure */
        assert_int_equal(rule, 99);
        return;
    }
    if (rule != c->rule) {
        fail_msg("%s (order %d): rule %s, want %s", c->name, order, tix_best_rule_name(rule),
                 tix_best_rule_name(c->rule));
    }
    assert_int_equal(picks[c->quantity], -7); /* nothing written past quantity */
    check_picks(c, seats, n, picks);
}

static void test_table(void **state)
{
    (void)state;
    assert_true(COUNT(cases) >= 25);
    for (size_t i = 0; i < COUNT(cases); i++) {
        for (int order = 0; order < 3; order++) {
            run_case(&cases[i], order);
        }
    }
}

/* ---- arguments, focus, names --------------------------------------------------------------- */

static void test_invalid(void **state)
{
    (void)state;
    tix_best_seat seats[4] = {
        {0, 0, "regular", true}, {1, 0, "regular", true}, {2, 0, NULL, true}, {3, 0, "x", false}};
    tix_best_request req = {.quantity = 1, .focus_x = 1, .focus_y = 0};
    int picks[TIX_BEST_MAX];
    tix_best_rule rule;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_OK);
    assert_int_equal(tix_best_pick(NULL, 4, &req, picks, &rule), TIX_EINVAL);
    assert_int_equal(tix_best_pick(seats, 0, &req, picks, &rule), TIX_EINVAL);
    assert_int_equal(tix_best_pick(seats, -1, &req, picks, &rule), TIX_EINVAL);
    assert_int_equal(tix_best_pick(seats, 4, NULL, picks, &rule), TIX_EINVAL);
    assert_int_equal(tix_best_pick(seats, 4, &req, NULL, &rule), TIX_EINVAL);
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, NULL), TIX_EINVAL);
    req.quantity = 0;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    req.quantity = TIX_BEST_MAX + 1;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    req.quantity = -3;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    req.quantity = 1;
    req.focus_x = NAN;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    req.focus_x = 1;
    req.focus_y = INFINITY;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    req.focus_y = 0;
    seats[3].x = 1; /* same position as seats[1] */
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    seats[3].x = -1;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    seats[3].x = 3;
    seats[3].y = -1;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_EINVAL);
    seats[3].y = 0;
    /* A seat without a category matches only a request for any category. */
    req.focus_x = 2;
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 2);
    req.category = "regular"; /* seat 1 would orphan seats 0 and 2 */
    assert_int_equal(tix_best_pick(seats, 4, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 0);
    assert_int_equal(rule, TIX_BEST_STRICT);
}

static void test_default_focus(void **state)
{
    (void)state;
    const char *const hall[MAX_ROWS] = {"....", "...... .", "......"};
    tix_best_seat seats[MAX_SEATS];
    int n = hall_parse(hall, seats);
    double fx = -1;
    double fy = -1;
    tix_best_default_focus(seats, n, &fx, &fy);
    assert_true(fx == 3.5);
    assert_true(fabs(fy - 4.0 / 3.0) < 1e-12);

    /* Rows not starting at y = 0: two-thirds of the way from the front row to the back. */
    tix_best_seat off[3] = {{10, 3, NULL, true}, {20, 6, NULL, false}, {12, 9, NULL, true}};
    tix_best_default_focus(off, 3, &fx, &fy);
    assert_true(fx == 15.0);
    assert_true(fy == 7.0);

    tix_best_default_focus(off, 1, &fx, &fy);
    assert_true(fx == 10.0 && fy == 3.0);
    tix_best_default_focus(NULL, 3, &fx, &fy);
    assert_true(fx == 0.0 && fy == 0.0);
    fx = fy = -1;
    tix_best_default_focus(off, 0, &fx, &fy);
    assert_true(fx == 0.0 && fy == 0.0);
}

static void test_rule_names(void **state)
{
    (void)state;
    assert_string_equal(tix_best_rule_name(TIX_BEST_STRICT), "strict");
    assert_string_equal(tix_best_rule_name(TIX_BEST_ORPHANS_ALLOWED), "orphans_allowed");
    assert_string_equal(tix_best_rule_name(TIX_BEST_SPLIT_ROWS), "split_rows");
    assert_string_equal(tix_best_rule_name((tix_best_rule)42), "unknown");
}

/* 100 rows of 100 seats, the largest hall a layout allows, then the same nearly full. */
static void test_largest_hall(void **state)
{
    (void)state;
    enum { SIDE = 100 };
    tix_best_seat *seats = calloc((size_t)SIDE * SIDE, sizeof *seats);
    assert_non_null(seats);
    for (int i = 0; i < SIDE * SIDE; i++) {
        seats[i] =
            (tix_best_seat){.x = i % SIDE, .y = i / SIDE, .category = "regular", .available = true};
    }
    tix_best_request req = {.quantity = TIX_BEST_MAX};
    tix_best_default_focus(seats, SIDE * SIDE, &req.focus_x, &req.focus_y);
    assert_true(req.focus_x == 49.5 && req.focus_y == 66.0);
    int picks[TIX_BEST_MAX];
    tix_best_rule rule;
    assert_int_equal(tix_best_pick(seats, SIDE * SIDE, &req, picks, &rule), TIX_OK);
    assert_int_equal(rule, TIX_BEST_STRICT);
    for (int i = 0; i < TIX_BEST_MAX; i++) {
        assert_int_equal(seats[picks[i]].y, 66);
        assert_int_equal(seats[picks[i]].x, 45 + i);
    }
    /* Every other seat taken: no pair anywhere, and no split either (1 + 1 is fine for q=2,
     * but q=3 needs a pair). */
    for (int i = 0; i < SIDE * SIDE; i++) {
        seats[i].available = (seats[i].x + seats[i].y) % 2 == 0;
    }
    req.quantity = 3;
    assert_int_equal(tix_best_pick(seats, SIDE * SIDE, &req, picks, &rule), TIX_ECONFLICT);
    req.quantity = 2;
    assert_int_equal(tix_best_pick(seats, SIDE * SIDE, &req, picks, &rule), TIX_OK);
    assert_int_equal(rule, TIX_BEST_SPLIT_ROWS);
    assert_int_equal(abs(seats[picks[0]].y - seats[picks[1]].y), 1);
    free(seats);
}

/* ---- random halls against a brute-force reference ------------------------------------------- */

#define RH 7
#define RW 14

/* cell: 0 no seat, 1 free regular, 2 free premium, 3 taken. */
typedef struct grid {
    int cell[RH][RW];
} grid;

typedef struct ref_result {
    tix_rc rc;
    tix_best_rule rule;
    bool found;
    double score;
    int fy, fx; /* first seat */
    bool picked[RH][RW];
} ref_result;

static bool g_free(const grid *g, int y, int x)
{
    return y >= 0 && y < RH && x >= 0 && x < RW && (g->cell[y][x] == 1 || g->cell[y][x] == 2);
}

static bool g_usable(const grid *g, int y, int x, const char *cat)
{
    if (!g_free(g, y, x)) {
        return false;
    }
    return cat == NULL || strcmp(cat, g->cell[y][x] == 2 ? "premium" : "regular") == 0;
}

static bool g_block(const grid *g, int y, int x0, int k, const char *cat)
{
    for (int x = x0; x < x0 + k; x++) {
        if (!g_usable(g, y, x, cat)) {
            return false;
        }
    }
    return true;
}

/* Offers a candidate made of (y1, x1, k1) and (y2, x2, k2) (k2 may be 0). */
static void ref_offer(ref_result *r, const tix_best_request *req, int y1, int x1, int k1, int y2,
                      int x2, int k2)
{
    double sx = 0;
    double sy = 0;
    for (int i = 0; i < k1; i++) {
        sx += x1 + i;
        sy += y1;
    }
    for (int i = 0; i < k2; i++) {
        sx += x2 + i;
        sy += y2;
    }
    double dx = sx / (k1 + k2) - req->focus_x;
    double dy = (sy / (k1 + k2) - req->focus_y) * 1.5;
    double score = dx * dx + dy * dy;
    int fy = y1;
    int fx = x1;
    if (k2 > 0 && y2 < y1) {
        fy = y2;
        fx = x2;
    }
    if (r->found &&
        (score > r->score || (score == r->score && (fy > r->fy || (fy == r->fy && fx >= r->fx))))) {
        return;
    }
    r->found = true;
    r->score = score;
    r->fy = fy;
    r->fx = fx;
    memset(r->picked, 0, sizeof r->picked);
    for (int i = 0; i < k1; i++) {
        r->picked[y1][x1 + i] = true;
    }
    for (int i = 0; i < k2; i++) {
        r->picked[y2][x2 + i] = true;
    }
}

static void ref_blocks(const grid *g, const tix_best_request *req, bool strict, ref_result *r)
{
    int k = req->quantity;
    for (int y = 0; y < RH; y++) {
        for (int x = 0; x + k <= RW; x++) {
            if (!g_block(g, y, x, k, req->category)) {
                continue;
            }
            bool left = g_free(g, y, x - 1) && !g_free(g, y, x - 2);
            bool right = g_free(g, y, x + k) && !g_free(g, y, x + k + 1);
            if (strict && (left || right)) {
                continue;
            }
            ref_offer(r, req, y, x, k, 0, 0, 0);
        }
    }
}

/* In row y, the x of the block of k usable seats whose centre is closest to ca (ties: the
 * smaller x), or -1. */
static int ref_partner(const grid *g, int y, int k, double ca, const char *cat)
{
    int bx = -1;
    double bd = 0;
    for (int x = 0; y >= 0 && y < RH && x + k <= RW; x++) {
        double d = fabs(x + (k - 1) / 2.0 - ca);
        if (g_block(g, y, x, k, cat) && (bx < 0 || d < bd)) {
            bx = x;
            bd = d;
        }
    }
    return bx;
}

static void ref_split(const grid *g, const tix_best_request *req, ref_result *r)
{
    int ka = (req->quantity + 1) / 2;
    int kb = req->quantity / 2;
    for (int y = 0; y < RH && kb > 0; y++) {
        for (int x = 0; x + ka <= RW; x++) {
            if (!g_block(g, y, x, ka, req->category)) {
                continue;
            }
            for (int y2 = y - 1; y2 <= y + 1; y2 += 2) {
                int bx = ref_partner(g, y2, kb, x + (ka - 1) / 2.0, req->category);
                if (bx >= 0) {
                    ref_offer(r, req, y, x, ka, y2, bx, kb);
                }
            }
        }
    }
}

static ref_result ref_pick(const grid *g, const tix_best_request *req)
{
    ref_result r = {.rc = TIX_OK};
    static const tix_best_rule rules[] = {TIX_BEST_STRICT, TIX_BEST_ORPHANS_ALLOWED,
                                          TIX_BEST_SPLIT_ROWS};
    for (size_t i = 0; i < COUNT(rules) && !r.found; i++) {
        r.rule = rules[i];
        if (rules[i] == TIX_BEST_SPLIT_ROWS) {
            ref_split(g, req, &r);
        } else {
            ref_blocks(g, req, rules[i] == TIX_BEST_STRICT, &r);
        }
    }
    if (!r.found) {
        r.rc = TIX_ECONFLICT;
    }
    return r;
}

static unsigned rnd(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* A random hall: some aisle columns, some missing rows, a premium band, random occupancy. */
static void random_grid(unsigned *st, grid *g)
{
    bool aisle[RW] = {false};
    for (int i = 0; i < (int)(rnd(st) % 3); i++) {
        aisle[rnd(st) % RW] = true;
    }
    unsigned taken_pct = rnd(st) % 80;
    int premium_row = (int)(rnd(st) % RH);
    for (int y = 0; y < RH; y++) {
        bool no_row = rnd(st) % 10 == 0;
        int width = RW - (int)(rnd(st) % 4);
        for (int x = 0; x < RW; x++) {
            if (no_row || aisle[x] || x >= width) {
                g->cell[y][x] = 0;
            } else if (rnd(st) % 100 < taken_pct) {
                g->cell[y][x] = 3;
            } else {
                g->cell[y][x] = y == premium_row ? 2 : 1;
            }
        }
    }
}

static int grid_seats(const grid *g, tix_best_seat *seats)
{
    int n = 0;
    for (int y = 0; y < RH; y++) {
        for (int x = 0; x < RW; x++) {
            int c = g->cell[y][x];
            if (c != 0) {
                seats[n++] = (tix_best_seat){.x = x,
                                             .y = y,
                                             .category = c == 2 ? "premium" : "regular",
                                             .available = c != 3};
            }
        }
    }
    return n;
}

static void check_random(unsigned seed, const grid *g, const tix_best_request *req)
{
    tix_best_seat drawn[RH * RW];
    tix_best_seat seats[RH * RW];
    int n = grid_seats(g, drawn);
    if (n == 0) {
        return;
    }
    reorder(drawn, n, (int)(seed % 3), seats);
    ref_result want = ref_pick(g, req);
    int picks[TIX_BEST_MAX];
    tix_best_rule rule = TIX_BEST_STRICT;
    tix_rc rc = tix_best_pick(seats, n, req, picks, &rule);
    if (rc != want.rc || (rc == TIX_OK && rule != want.rule)) {
        fail_msg("seed %u: rc %d rule %d, reference rc %d rule %d", seed, rc, rule, want.rc,
                 want.rule);
    }
    for (int i = 0; rc == TIX_OK && i < req->quantity; i++) {
        const tix_best_seat *s = &seats[picks[i]];
        if (!want.picked[s->y][s->x]) {
            fail_msg("seed %u: picked (%d,%d), not in the reference's answer", seed, s->x, s->y);
        }
        if (i > 0) {
            const tix_best_seat *p = &seats[picks[i - 1]];
            assert_true(p->y < s->y || (p->y == s->y && p->x < s->x));
        }
    }
}

static void test_random_against_reference(void **state)
{
    (void)state;
    static const char *const categories[] = {NULL, "regular", "premium"};
    int by_rule[4] = {0};
    for (unsigned seed = 1; seed <= 4000; seed++) {
        unsigned st = seed;
        grid g;
        random_grid(&st, &g);
        tix_best_request req = {
            .quantity = 1 + (int)(rnd(&st) % TIX_BEST_MAX),
            .category = categories[rnd(&st) % COUNT(categories)],
            .focus_x = (rnd(&st) % (4 * RW)) / 4.0, /* quarter steps make ties common */
            .focus_y = (rnd(&st) % (4 * RH)) / 4.0,
        };
        if (rnd(&st) % 2 == 0) {
            req.quantity = 1 + (int)(rnd(&st) % 4);
        }
        check_random(seed, &g, &req);
        ref_result r = ref_pick(&g, &req);
        by_rule[r.found ? (int)r.rule : 3]++;
    }
    /* The random halls exercise every outcome. */
    for (int i = 0; i < 4; i++) {
        assert_true(by_rule[i] > 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_default_focus), cmocka_unit_test(test_rule_names),
        cmocka_unit_test(test_largest_hall),  cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
