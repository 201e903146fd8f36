/* SQL for theatres, halls and seats; see catalog.h. */
#include "core/util.h"
#include "store/catalog.h"

#include <stdio.h>
#include <string.h>

static char *lower(tix_arena *a, const char *s)
{
    char *k = tix_arena_strdup(a, s);
    for (char *p = k; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p + ('a' - 'A'));
        }
    }
    return k;
}

/* ---- theatres ---- */

#define THEATRE_COLS                                                                               \
    "id, owner_id, name, city, address, latitude_e6, longitude_e6, utc_offset_minutes,"            \
    " created_at, updated_at, status, rejection_reason, submitted_at, reviewed_at"

#define T(field) TIX_DB_COL(tix_theatre, field)
static const tix_db_col theatre_cols[] = {
    T(id),           T(owner_id),    T(name),         T(city),
    T(address),      T(latitude_e6), T(longitude_e6), T(utc_offset_minutes),
    T(created_at),   T(updated_at),  T(status),       T(rejection_reason),
    T(submitted_at), T(reviewed_at)};
#undef T

/* A theatre has a location when column 5 (latitude) is not NULL. */
static void read_theatre_geo(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    tix_theatre *t = item;
    t->has_geo = !tix_db_res_isnull(res, row, 5);
}
static const tix_db_map theatre_map = TIX_DB_MAP(tix_theatre, theatre_cols, read_theatre_geo);

static void theatre_params(tix_arena *a, const tix_theatre *t, tix_dbv *p)
{
    p[0] = TIX_DB_TEXT(t->id);
    p[1] = TIX_DB_TEXT(t->owner_id);
    p[2] = TIX_DB_TEXT(t->name);
    p[3] = TIX_DB_TEXT(t->city);
    p[4] = TIX_DB_TEXT(lower(a, t->city));
    p[5] = TIX_DB_TEXT(t->address);
    p[6] = t->has_geo ? TIX_DB_INT(t->latitude_e6) : TIX_DB_NULL;
    p[7] = t->has_geo ? TIX_DB_INT(t->longitude_e6) : TIX_DB_NULL;
    p[8] = TIX_DB_INT(t->utc_offset_minutes);
    p[9] = TIX_DB_INT(t->updated_at);
}

tix_rc tix_theatre_insert(tix_db *db, const tix_theatre *t)
{
    tix_arena *a = tix_arena_create(256);
    tix_dbv p[11];
    theatre_params(a, t, p);
    p[10] = TIX_DB_TEXT(t->status ? t->status : "pending");
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO theatres (id, owner_id, name, city, city_search, address,"
                            " latitude_e6, longitude_e6, utc_offset_minutes, created_at,"
                            " updated_at, status, submitted_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $10)",
                            p, 11, NULL);
    tix_arena_destroy(a);
    return rc;
}

tix_rc tix_theatre_update(tix_db *db, const tix_theatre *t)
{
    tix_arena *a = tix_arena_create(256);
    tix_dbv p[10];
    theatre_params(a, t, p);
    tix_rc rc =
        tix_db_exec_one(db,
                        "UPDATE theatres SET owner_id = $2, name = $3, city = $4,"
                        " city_search = $5, address = $6, latitude_e6 = $7, longitude_e6 = $8,"
                        " utc_offset_minutes = $9, updated_at = $10"
                        " WHERE id = $1 AND deleted_at IS NULL",
                        p, 10, TIX_ENOTFOUND);
    tix_arena_destroy(a);
    return rc;
}

tix_rc tix_theatre_get(tix_db *db, tix_arena *a, const char *id, tix_theatre *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(db, a,
                      "SELECT " THEATRE_COLS " FROM theatres WHERE id = $1 AND deleted_at IS NULL",
                      &p, 1, &theatre_map, out);
}

tix_rc tix_theatre_list(tix_db *db, tix_arena *a, const tix_theatre_filter *f, tix_theatre **items,
                        int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(f->city_lower), TIX_DB_TEXT(f->owner_id), TIX_DB_TEXT(f->after),
                   TIX_DB_INT(f->limit + 1),   TIX_DB_TEXT(f->status),   TIX_DB_TEXT(f->door_user)};
    return TIX_DB_LIST(db, a,
                       "SELECT " THEATRE_COLS " FROM theatres WHERE deleted_at IS NULL"
                       " AND (CAST($1 AS TEXT) IS NULL OR city_search = $1)"
                       " AND (CAST($2 AS TEXT) IS NULL OR owner_id = $2)"
                       " AND (CAST($3 AS TEXT) IS NULL OR id > $3)"
                       " AND (CAST($5 AS TEXT) IS NULL OR status = $5)"
                       " AND (CAST($6 AS TEXT) IS NULL OR owner_id = $6 OR id IN"
                       " (SELECT theatre_id FROM theatre_staff WHERE user_id = $6))"
                       " ORDER BY id LIMIT $4",
                       p, 6, &theatre_map, items, n);
}

tix_rc tix_theatre_transition(tix_db *db, const char *id, const char *from, const char *to,
                              const char *reason, const char *by, int64_t now)
{
    tix_rc rc;
    if (strcmp(to, "pending") == 0) {
        tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(from), TIX_DB_TEXT(to), TIX_DB_INT(now)};
        rc = tix_db_exec_one(db,
                             "UPDATE theatres SET status = $3, rejection_reason = NULL,"
                             " submitted_at = $4, updated_at = $4"
                             " WHERE id = $1 AND status = $2 AND deleted_at IS NULL",
                             p, 4, TIX_ECONFLICT);
    } else {
        tix_dbv p[] = {TIX_DB_TEXT(id),     TIX_DB_TEXT(from), TIX_DB_TEXT(to),
                       TIX_DB_TEXT(reason), TIX_DB_TEXT(by),   TIX_DB_INT(now)};
        rc = tix_db_exec_one(db,
                             "UPDATE theatres SET status = $3, rejection_reason = $4,"
                             " reviewed_at = $6, reviewed_by = $5, updated_at = $6"
                             " WHERE id = $1 AND status = $2 AND deleted_at IS NULL",
                             p, 6, TIX_ECONFLICT);
    }
    if (rc == TIX_ECONFLICT) {
        /* Nothing moved: gone, or not in `from` (any more). */
        tix_arena *a = tix_arena_create(512);
        tix_theatre t;
        tix_rc got = tix_theatre_get(db, a, id, &t);
        tix_arena_destroy(a);
        rc = got == TIX_OK ? TIX_ECONFLICT : got;
    }
    return rc;
}

tix_rc tix_theatre_soft_delete(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec_one(db,
                                "UPDATE theatres SET deleted_at = $2, updated_at = $2"
                                " WHERE id = $1 AND deleted_at IS NULL",
                                p, 2, TIX_ENOTFOUND);
    if (rc == TIX_OK) {
        rc = tix_db_exec(db,
                         "UPDATE halls SET deleted_at = $2, updated_at = $2"
                         " WHERE theatre_id = $1 AND deleted_at IS NULL",
                         p, 2, NULL);
    }
    return rc;
}

/* ---- halls and seats ---- */

#define HALL_SELECT                                                                                \
    "SELECT h.id, h.theatre_id, t.owner_id, h.name, h.layout, h.seat_count, h.created_at,"         \
    " h.updated_at, t.status, h.seat_pick FROM halls h JOIN theatres t ON t.id = h.theatre_id"

#define H(field) TIX_DB_COL(tix_hall, field)
static const tix_db_col hall_cols[] = {
    H(id),         H(theatre_id), H(owner_id),   H(name),           H(layout),
    H(seat_count), H(created_at), H(updated_at), H(theatre_status), H(seat_pick)};
#undef H
static const tix_db_map hall_map = TIX_DB_MAP(tix_hall, hall_cols, NULL);

/* A new halls.seats_version (migration 0026): random rather than counted, so that no two
 * layouts share one, also across databases (a restore, tests' databases with fixed ids) that
 * a running process may meet under the same hall id; 0 is only ever a hall's pre-0026 value. */
static int64_t new_seats_version(void)
{
    uint64_t v = 0;
    while (v == 0) {
        tix_random_bytes(&v, sizeof(v));
        v &= INT64_MAX;
    }
    return (int64_t)v;
}

static tix_rc insert_seats(tix_db *db, const char *hall_id, const tix_layout *l)
{
    char id[TIX_ID_MAX + 32];
    tix_rc rc = TIX_OK;
    for (int i = 0; i < l->nseats && rc == TIX_OK; i++) {
        const tix_seat *s = &l->seats[i];
        snprintf(id, sizeof(id), "%s_%s", hall_id, s->label);
        tix_dbv p[] = {TIX_DB_TEXT(id),     TIX_DB_TEXT(hall_id),     TIX_DB_TEXT(s->label),
                       TIX_DB_TEXT(s->row), TIX_DB_INT(s->number),    TIX_DB_INT(s->x),
                       TIX_DB_INT(s->y),    TIX_DB_TEXT(s->category), TIX_DB_INT(s->blocked)};
        rc = tix_db_exec(db,
                         "INSERT INTO seats (id, hall_id, label, row_label, number, x, y,"
                         " category, blocked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                         p, 9, NULL);
    }
    return rc;
}

tix_rc tix_hall_insert(tix_db *db, const tix_hall *h, const tix_layout *l)
{
    tix_dbv p[] = {TIX_DB_TEXT(h->id),
                   TIX_DB_TEXT(h->theatre_id),
                   TIX_DB_TEXT(h->name),
                   TIX_DB_TEXT(h->layout),
                   TIX_DB_INT(l->nseats),
                   TIX_DB_INT(h->created_at),
                   TIX_DB_INT(new_seats_version())};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO halls (id, theatre_id, name, layout, seat_count,"
                            " created_at, updated_at, seats_version)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                            p, 7, NULL);
    return rc == TIX_OK ? insert_seats(db, h->id, l) : rc;
}

tix_rc tix_hall_update(tix_db *db, const tix_hall *h, const tix_layout *l)
{
    tix_dbv p[] = {TIX_DB_TEXT(h->id),
                   TIX_DB_TEXT(h->name),
                   TIX_DB_TEXT(h->layout),
                   TIX_DB_INT(l ? l->nseats : h->seat_count),
                   TIX_DB_INT(h->updated_at),
                   TIX_DB_TEXT(h->seat_pick ? h->seat_pick : "geometric"),
                   l ? TIX_DB_INT(new_seats_version()) : TIX_DB_NULL};
    /* A new layout gets a new seats_version (migration 0026): the seat map's per-process
     * copies of the hall's seats (store/seatmap.c) are then read again. */
    tix_rc rc = tix_db_exec_one(db,
                                "UPDATE halls SET name = $2, layout = $3, seat_count = $4,"
                                " updated_at = $5, seat_pick = $6,"
                                " seats_version = COALESCE($7, seats_version) WHERE id = $1"
                                " AND deleted_at IS NULL",
                                p, 7, TIX_ENOTFOUND);
    if (rc != TIX_OK || l == NULL) {
        return rc;
    }
    /* Seats no longer in the layout go; the others are rewritten in place (their ids are
     * derived from the label, so claims on past shows keep pointing at the same seat). */
    tix_dbv hp = TIX_DB_TEXT(h->id);
    rc = tix_db_exec(db,
                     "DELETE FROM seats WHERE hall_id = $1"
                     " AND id NOT IN (SELECT seat_id FROM seat_claims)",
                     &hp, 1, NULL);
    if (rc == TIX_OK) {
        rc = tix_db_exec(db, "UPDATE seats SET active = 0 WHERE hall_id = $1", &hp, 1, NULL);
    }
    char id[TIX_ID_MAX + 32];
    for (int i = 0; i < l->nseats && rc == TIX_OK; i++) {
        const tix_seat *s = &l->seats[i];
        snprintf(id, sizeof(id), "%s_%s", h->id, s->label);
        tix_dbv sp[] = {TIX_DB_TEXT(id),     TIX_DB_TEXT(h->id),       TIX_DB_TEXT(s->label),
                        TIX_DB_TEXT(s->row), TIX_DB_INT(s->number),    TIX_DB_INT(s->x),
                        TIX_DB_INT(s->y),    TIX_DB_TEXT(s->category), TIX_DB_INT(s->blocked)};
        rc = tix_db_exec(db,
                         "INSERT INTO seats (id, hall_id, label, row_label, number, x, y,"
                         " category, blocked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                         " ON CONFLICT (id) DO UPDATE SET row_label = $4, number = $5, x = $6,"
                         " y = $7, category = $8, blocked = $9, active = 1",
                         sp, 9, NULL);
    }
    return rc;
}

tix_rc tix_hall_get(tix_db *db, tix_arena *a, const char *id, tix_hall *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(db, a, HALL_SELECT " WHERE h.id = $1 AND h.deleted_at IS NULL", &p, 1,
                      &hall_map, out);
}

tix_rc tix_hall_list(tix_db *db, tix_arena *a, const char *theatre_id, tix_hall **items, int *n)
{
    tix_dbv p = TIX_DB_TEXT(theatre_id);
    return TIX_DB_LIST(
        db, a, HALL_SELECT " WHERE h.theatre_id = $1 AND h.deleted_at IS NULL ORDER BY h.id", &p, 1,
        &hall_map, items, n);
}

tix_rc tix_hall_soft_delete(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE halls SET deleted_at = $2, updated_at = $2"
                           " WHERE id = $1 AND deleted_at IS NULL",
                           p, 2, TIX_ENOTFOUND);
}

tix_rc tix_hall_lock(tix_db *db, const char *id)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return tix_db_exec_one(db,
                           "UPDATE halls SET lock_version = lock_version + 1"
                           " WHERE id = $1 AND deleted_at IS NULL",
                           &p, 1, TIX_ENOTFOUND);
}

#define S(field) TIX_DB_COL(tix_seat_row, field)
static const tix_db_col seat_cols[] = {S(id), S(label), S(row),      S(number),
                                       S(x),  S(y),     S(category), S(blocked)};
#undef S
static const tix_db_map seat_map = TIX_DB_MAP(tix_seat_row, seat_cols, NULL);

tix_rc tix_seat_list(tix_db *db, tix_arena *a, const char *hall_id, tix_seat_row **items, int *n)
{
    tix_dbv p = TIX_DB_TEXT(hall_id);
    return TIX_DB_LIST(db, a,
                       "SELECT s.id, s.label, s.row_label, s.number, s.x, s.y, s.category,"
                       " s.blocked FROM seats s WHERE s.hall_id = $1 AND s.active = 1"
                       " ORDER BY s.y, s.x",
                       &p, 1, &seat_map, items, n);
}
