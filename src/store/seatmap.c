/*
 * The seat-map and hold-read statements of booking.h, split from booking.c. tix_seatmap_load is
 * the seat map: GET /shows/{id}/seats reads it through tix_req_db_read, so it may run on a
 * replica (store/db_read.c); a best-available hold (booking/holds.c) and a booking
 * (booking/bookings.c) read it on the primary. tix_hold_read_stmt/tix_hold_read_result are a
 * hold's read of its show and seats, the first statement of the hold's batch (holds.c). These
 * only read; every claim, hold and booking write stays in booking.c.
 *
 * Who owns what: every row these functions return (seats, labels, ids, the show) lives in the
 * caller's arena; the driver's results are freed here before returning (the seat map) or are
 * the caller's (tix_hold_read_stmt builds a statement, the caller runs it and frees its result
 * after tix_hold_read_result). The one shared state is the layout cache below (its own mutex,
 * entries reference-counted); everything else uses the caller's connection and arena only.
 */
#include "core/metrics.h"
#include "core/util.h"
#include "store/booking.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- the seat map ---- */

/* The seat map is three reads sent in one round trip, merged here: the hall's active seats in
 * (y, x) order (the seats_hall index), the show's prices, and the show's live claims (one range
 * of the seat_claims primary key). One join of the three made PostgreSQL probe both indexes
 * once per seat (two B-tree descents each, a thousand for a 500-seat hall), or hash them after
 * bitmap scans: about twice the CPU of the three range reads, and in an opening-night stampede
 * this query is most of what PostgreSQL does (bench/opening.sh PROFILE=1). The reads are not
 * one snapshot: a seat added or removed between them is simply listed or not (a claim of a seat
 * not listed is ignored, as the join ignored it); the claims, the part that moves, are read by
 * one statement and are consistent among themselves. */
#define SEATMAP_SEATS                                                                              \
    "SELECT id, label, row_label, number, x, y, category, blocked,"                                \
    " (SELECT seats_version FROM halls WHERE id = $1) FROM seats"                                  \
    " WHERE hall_id = $1 AND active = 1 ORDER BY y, x"
#define SEATMAP_VERSION "SELECT seats_version FROM halls WHERE id = $1"
#define SEATMAP_PRICES  "SELECT category, amount FROM show_prices WHERE show_id = $1"
#define SEATMAP_CLAIMS                                                                             \
    "SELECT seat_id, hold_id, user_id, expires_at, price FROM seat_claims"                         \
    " WHERE show_id = $1 AND (expires_at IS NULL OR expires_at > $2)"

#define C(field) TIX_DB_COL(tix_map_seat, field)
static const tix_db_col map_cols[] = {C(id), C(label), C(row),      C(number),
                                      C(x),  C(y),     C(category), C(blocked)};
#undef C
static const tix_db_map seat_map = TIX_DB_MAP(tix_map_seat, map_cols, NULL);

/* ---- the halls' seats, cached per process ----
 *
 * A hall's active seats change only with its layout: tix_hall_update rewrites them and sets a
 * new halls.seats_version in the same transaction (migration 0026; random, so no two layouts
 * share one, also across databases a process may meet under one hall id). So the seat map keeps,
 * per process, the seats of the halls it read last with their version, and reads that one number in
 * place of the hall's rows (SEATMAP_VERSION): the rows are read again only when the number moved.
 * The seats statement carries the version it read in the same statement (one snapshot), so an
 * entry's rows are always those of its version. A best-available hold reads the seat map on every
 * attempt (booking/holds.c): in an opening-night stampede (bench/opening.sh PROFILE=1) those
 * whole-hall reads were PostgreSQL's costliest read (7,382 of them, 5.3 s in one run) and 3.7
 * million of the rows the servers parsed.
 *
 * LAYOUT_SLOTS entries, direct-mapped by hall id under one mutex (a colliding hall replaces
 * the entry; a miss costs the old read). An entry is immutable once stored: its seats and
 * their strings are one block, copied into the reader's arena outside the lock (the pointers
 * rebased), so readers hold a reference while copying and the last reference frees it. The
 * entries' bytes stay under LAYOUT_CACHE_BYTES: a hall that would pass it is not cached. */
#define LAYOUT_SLOTS       64
#define LAYOUT_CACHE_BYTES ((size_t)32 << 20)

typedef struct layout {
    atomic_int refs; /* the slot's one, and one per reader copying it */
    char *hall_id;   /* in blob */
    int64_t version;
    int n;
    size_t bytes;       /* of blob */
    max_align_t blob[]; /* n tix_map_seat (claim fields zero), then hall_id and their strings */
} layout;

static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;
static layout *layout_slot[LAYOUT_SLOTS];
static size_t layout_bytes; /* of the entries in layout_slot */

static size_t layout_slot_of(const char *hall_id)
{
    return (size_t)(tix_fnv1a_str(hall_id) % LAYOUT_SLOTS);
}

static void layout_unref(layout *l)
{
    if (l != NULL && atomic_fetch_sub(&l->refs, 1) == 1) {
        free(l);
    }
}

/* The cached seats of hall_id, with a reference the caller drops (layout_unref); NULL if none. */
static layout *layout_get(const char *hall_id)
{
    pthread_mutex_lock(&layout_lock);
    layout *l = layout_slot[layout_slot_of(hall_id)];
    if (l != NULL && strcmp(l->hall_id, hall_id) == 0) {
        atomic_fetch_add(&l->refs, 1);
    } else {
        l = NULL;
    }
    pthread_mutex_unlock(&layout_lock);
    return l;
}

static char *put_str(char **at, const char *s)
{
    size_t len = strlen(s) + 1;
    char *out = memcpy(*at, s, len);
    *at += len;
    return out;
}

/* Stores a copy of the n seats just read (claim fields not yet merged) as hall_id's at version. */
static void layout_put(const char *hall_id, int64_t version, const tix_map_seat *seats, int n)
{
    size_t bytes = sizeof(tix_map_seat) * (size_t)n + strlen(hall_id) + 1;
    for (int i = 0; i < n; i++) {
        bytes += strlen(seats[i].id) + strlen(seats[i].label) + strlen(seats[i].row) +
                 strlen(seats[i].category) + 4;
    }
    if (bytes > LAYOUT_CACHE_BYTES / 4) {
        return;
    }
    layout *l = malloc(sizeof(*l) + bytes);
    if (l == NULL) {
        return;
    }
    atomic_init(&l->refs, 1);
    l->version = version;
    l->n = n;
    l->bytes = bytes;
    tix_map_seat *seat = (tix_map_seat *)(void *)l->blob;
    char *at = (char *)(seat + n);
    l->hall_id = put_str(&at, hall_id);
    for (int i = 0; i < n; i++) {
        const tix_map_seat *s = &seats[i];
        seat[i] = (tix_map_seat){.id = put_str(&at, s->id),
                                 .label = put_str(&at, s->label),
                                 .row = put_str(&at, s->row),
                                 .number = s->number,
                                 .x = s->x,
                                 .y = s->y,
                                 .category = put_str(&at, s->category),
                                 .blocked = s->blocked};
    }
    assert(at == (char *)l->blob + bytes);
    layout *old = NULL;
    pthread_mutex_lock(&layout_lock);
    layout **slot = &layout_slot[layout_slot_of(hall_id)];
    size_t freed = *slot != NULL ? (*slot)->bytes : 0;
    if (layout_bytes - freed + bytes <= LAYOUT_CACHE_BYTES) {
        old = *slot;
        *slot = l;
        layout_bytes = layout_bytes - freed + bytes;
        l = NULL;
    }
    pthread_mutex_unlock(&layout_lock);
    layout_unref(old);
    layout_unref(l); /* not stored */
}

/* A copy of l's seats in a (strings too), its pointers moved into the copy. */
static tix_map_seat *layout_copy(tix_arena *a, const layout *l)
{
    char *copy = tix_arena_alloc(a, l->bytes);
    memcpy(copy, l->blob, l->bytes);
    const char *from = (const char *)l->blob;
    tix_map_seat *seats = (tix_map_seat *)(void *)copy;
#define REBASE(p) ((p) = copy + ((p)-from))
    for (int i = 0; i < l->n; i++) {
        REBASE(seats[i].id);
        REBASE(seats[i].label);
        REBASE(seats[i].row);
        REBASE(seats[i].category);
    }
#undef REBASE
    return seats;
}

/* The claims read, sorted by seat id for bsearch: each entry's seat id and its row. */
typedef struct claim_ref {
    const char *seat_id; /* owned by the result */
    int row;
} claim_ref;

static int cmp_claim_ref(const void *a, const void *b)
{
    return strcmp(((const claim_ref *)a)->seat_id, ((const claim_ref *)b)->seat_id);
}

typedef struct claim_index {
    const tix_db_res *res;
    claim_ref *refs;
    int n;
} claim_index;

static int find_claim(const claim_index *ci, const char *seat_id)
{
    claim_ref key = {seat_id, -1};
    const claim_ref *hit =
        ci->n ? bsearch(&key, ci->refs, (size_t)ci->n, sizeof(key), cmp_claim_ref) : NULL;
    return hit ? hit->row : -1;
}

/* The seat's price and claim from the other two reads (what the join's CASEs computed). */
static void merge_seat(tix_arena *a, tix_map_seat *s, const tix_db_res *prices,
                       const claim_index *ci)
{
    s->price = -1;
    for (int r = 0; r < tix_db_res_rows(prices); r++) {
        if (strcmp(tix_db_res_text(prices, r, 0), s->category) == 0) {
            s->price = tix_db_res_int(prices, r, 1);
            break;
        }
    }
    s->claim = TIX_CLAIM_FREE;
    s->claim_price = -1;
    int r = find_claim(ci, s->id);
    if (r < 0) {
        return;
    }
    s->hold_id = tix_db_res_dup(a, ci->res, r, 1);
    s->claim_user = tix_db_res_dup(a, ci->res, r, 2);
    if (tix_db_res_isnull(ci->res, r, 3)) {
        s->claim = TIX_CLAIM_SOLD;
        return;
    }
    s->claim = TIX_CLAIM_HELD;
    s->claim_expires = tix_db_res_int(ci->res, r, 3);
    s->claim_price = tix_db_res_isnull(ci->res, r, 4) ? s->price : tix_db_res_int(ci->res, r, 4);
}

/* The hall's seats from the seats statement's result (SEATMAP_SEATS), stored in the layout
 * cache under the version the statement read with them. */
static tix_map_seat *seats_read(tix_arena *a, const char *hall_id, const tix_db_res *res, int *n)
{
    int rows = tix_db_res_rows(res);
    tix_map_seat *list = tix_arena_calloc(a, sizeof(*list) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        tix_db_map_row(a, res, i, &seat_map, &list[i]);
    }
    tix_metrics_add(TIX_M_SEAT_LAYOUTS, "database", 1);
    if (rows > 0 && !tix_db_res_isnull(res, 0, 8)) {
        layout_put(hall_id, tix_db_res_int(res, 0, 8), list, rows);
    }
    *n = rows;
    return list;
}

tix_rc tix_seatmap_load(tix_db *db, tix_arena *a, const char *show_id, const char *hall_id,
                        int64_t now, tix_map_seat **seats, int *n)
{
    /* With the hall's seats cached, the first statement reads only their version. */
    layout *cached = layout_get(hall_id);
    tix_dbv hp[] = {TIX_DB_TEXT(hall_id)};
    tix_dbv sp[] = {TIX_DB_TEXT(show_id)};
    tix_dbv cp[] = {TIX_DB_TEXT(show_id), TIX_DB_INT(now)};
    tix_db_stmt st[3] = {{.sql = cached ? SEATMAP_VERSION : SEATMAP_SEATS, .params = hp, .n = 1},
                         {.sql = SEATMAP_PRICES, .params = sp, .n = 1},
                         {.sql = SEATMAP_CLAIMS, .params = cp, .n = 2}};
    tix_rc rc = tix_db_exec_many(db, st, 3);
    for (int i = 0; rc == TIX_OK && i < 3; i++) {
        rc = st[i].rc;
    }
    tix_map_seat *list = NULL;
    int rows = 0;
    if (rc == TIX_OK && cached != NULL) {
        if (tix_db_res_rows(st[0].res) == 1 && !tix_db_res_isnull(st[0].res, 0, 0) &&
            tix_db_res_int(st[0].res, 0, 0) == cached->version) {
            list = layout_copy(a, cached);
            rows = cached->n;
            tix_metrics_add(TIX_M_SEAT_LAYOUTS, "cache", 1);
        } else { /* the layout changed (or the hall went): read its seats now */
            tix_db_res *res = NULL;
            rc = tix_db_exec(db, SEATMAP_SEATS, hp, 1, &res);
            list = rc == TIX_OK ? seats_read(a, hall_id, res, &rows) : NULL;
            tix_db_res_destroy(res);
        }
    } else if (rc == TIX_OK) {
        list = seats_read(a, hall_id, st[0].res, &rows);
    }
    layout_unref(cached);
    if (rc != TIX_OK) {
        tix_db_stmts_cleanup(st, 3);
        return rc;
    }
    claim_index ci = {st[2].res, NULL, tix_db_res_rows(st[2].res)};
    ci.refs = tix_arena_calloc(a, sizeof(claim_ref) * (size_t)(ci.n ? ci.n : 1));
    for (int i = 0; i < ci.n; i++) {
        ci.refs[i] = (claim_ref){tix_db_res_text(ci.res, i, 0), i};
    }
    qsort(ci.refs, (size_t)ci.n, sizeof(claim_ref), cmp_claim_ref);
    for (int i = 0; i < rows; i++) {
        merge_seat(a, &list[i], st[1].res, &ci);
    }
    tix_db_stmts_cleanup(st, 3);
    *seats = list;
    *n = rows;
    return TIX_OK;
}

/* ---- a hold's read ---- */

void tix_hold_read_stmt(tix_arena *a, const char *show_id, const char *const *ids, int n,
                        tix_db_stmt *st)
{
    assert(n >= 1 && n <= TIX_DB_MAX_PARAMS - 1);
    tix_dbv *p = tix_arena_calloc(a, sizeof(tix_dbv) * (size_t)(1 + n));
    p[0] = TIX_DB_TEXT(show_id);
    char *in = tix_arena_strdup(a, "");
    for (int i = 0; i < n; i++) {
        p[1 + i] = TIX_DB_TEXT(ids[i]);
        in = tix_arena_sprintf(a, "%s%s$%d", in, i ? ", " : "", 2 + i);
    }
    /* One row per seat found, or one row of NULL seat columns: the show exists either way.
     * The seats are read by primary key in a materialised CTE, then matched to the show's hall:
     * joined directly, PostgreSQL's estimate for a hall it has no statistics for yet (a new hall,
     * before ANALYZE) made it scan the whole hall through seats_hall_blocked (migration 0016) and
     * filter the ids: 4-40 ms for a 10,000-seat hall instead of 0.3 ms (bench/results/
     * 2026-12-06-holds-quiet.txt). */
    *st = (tix_db_stmt){
        .sql = tix_arena_sprintf(
            a,
            "WITH s AS MATERIALIZED (SELECT id, hall_id, label, category, blocked FROM seats"
            " WHERE id IN (%s) AND active = 1)"
            " SELECT sh.hall_id, sh.currency, sh.starts_at, sh.ends_at, sh.status, s.id, s.label,"
            " s.category, s.blocked, COALESCE(p.amount, -1) FROM shows sh"
            " LEFT JOIN s ON s.hall_id = sh.hall_id"
            " LEFT JOIN show_prices p ON p.show_id = sh.id AND p.category = s.category"
            " WHERE sh.id = $1",
            in),
        .params = p,
        .n = 1 + n};
}

/* The seat columns (5..9) of tix_hold_read_stmt's rows; 0..4 are the show's. */
static const tix_db_col hold_seat_cols[] = {TIX_DB_COL_NONE,
                                            TIX_DB_COL_NONE,
                                            TIX_DB_COL_NONE,
                                            TIX_DB_COL_NONE,
                                            TIX_DB_COL_NONE,
                                            TIX_DB_COL(tix_map_seat, id),
                                            TIX_DB_COL(tix_map_seat, label),
                                            TIX_DB_COL(tix_map_seat, category),
                                            TIX_DB_COL(tix_map_seat, blocked),
                                            TIX_DB_COL(tix_map_seat, price)};
static const tix_db_map hold_seat_map = TIX_DB_MAP(tix_map_seat, hold_seat_cols, NULL);

tix_rc tix_hold_read_result(tix_arena *a, const tix_db_res *res, const char *show_id,
                            tix_show *show, tix_map_seat **seats, int *n)
{
    int rows = tix_db_res_rows(res);
    if (rows == 0) {
        return TIX_ENOTFOUND;
    }
    memset(show, 0, sizeof(*show));
    show->id = tix_arena_strdup(a, show_id);
    show->hall_id = tix_db_res_dup(a, res, 0, 0);
    show->currency = tix_db_res_dup(a, res, 0, 1);
    show->starts_at = tix_db_res_int(res, 0, 2);
    show->ends_at = tix_db_res_int(res, 0, 3);
    const char *status = tix_db_res_text(res, 0, 4);
    show->cancelled = status != NULL && strcmp(status, "cancelled") == 0;
    tix_map_seat *list = tix_arena_calloc(a, sizeof(*list) * (size_t)rows);
    int k = 0;
    for (int i = 0; i < rows; i++) {
        if (tix_db_res_isnull(res, i, 5)) {
            continue; /* the show's row when no seat matched */
        }
        tix_db_map_row(a, res, i, &hold_seat_map, &list[k++]);
    }
    *seats = list;
    *n = k;
    return TIX_OK;
}
