/* SQL for movies; see catalog.h. */
#include "core/util.h"
#include "store/catalog.h"

#include <stdio.h>
#include <string.h>

#define MOVIE_COLS                                                                                 \
    "id, title, description, duration_minutes, release_date, languages, genres, certificate, "     \
    "poster_url, trailer_url, poster_public_id, trailer_public_id, status, created_at, "           \
    "updated_at"

#define M(field) TIX_DB_COL(tix_movie, field)
static const tix_db_col movie_cols[] = {
    M(id),           M(title),       M(description),      M(duration_minutes),
    M(release_date), M(languages),   M(genres),           M(certificate),
    M(poster_url),   M(trailer_url), M(poster_public_id), M(trailer_public_id),
    M(status),       M(created_at),  M(updated_at)};
#undef M
static const tix_db_map movie_map = TIX_DB_MAP(tix_movie, movie_cols, NULL);

/* The lower-case copy of an ASCII/UTF-8 title used for search (ASCII letters folded). */
static char *search_key(tix_arena *a, const char *s)
{
    char *k = tix_arena_strdup(a, s);
    for (char *p = k; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p + ('a' - 'A'));
        }
    }
    return k;
}

tix_rc tix_movie_insert(tix_db *db, const tix_movie *m)
{
    tix_arena *a = tix_arena_create(256);
    tix_dbv p[] = {TIX_DB_TEXT(m->id),
                   TIX_DB_TEXT(m->title),
                   TIX_DB_TEXT(search_key(a, m->title)),
                   TIX_DB_TEXT(m->description),
                   TIX_DB_INT(m->duration_minutes),
                   TIX_DB_TEXT(m->release_date),
                   TIX_DB_TEXT(m->languages),
                   TIX_DB_TEXT(m->genres),
                   TIX_DB_TEXT(m->certificate),
                   TIX_DB_TEXT(m->status),
                   TIX_DB_INT(m->created_at)};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO movies (id, title, title_search, description,"
                            " duration_minutes, release_date, languages, genres, certificate,"
                            " status, created_at, updated_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                            p, 11, NULL);
    tix_arena_destroy(a);
    return rc;
}

tix_rc tix_movie_update(tix_db *db, const tix_movie *m)
{
    tix_arena *a = tix_arena_create(256);
    tix_dbv p[] = {TIX_DB_TEXT(m->id),
                   TIX_DB_TEXT(m->title),
                   TIX_DB_TEXT(search_key(a, m->title)),
                   TIX_DB_TEXT(m->description),
                   TIX_DB_INT(m->duration_minutes),
                   TIX_DB_TEXT(m->release_date),
                   TIX_DB_TEXT(m->languages),
                   TIX_DB_TEXT(m->genres),
                   TIX_DB_TEXT(m->certificate),
                   TIX_DB_TEXT(m->status),
                   TIX_DB_INT(m->updated_at)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "UPDATE movies SET title = $2, title_search = $3, description = $4,"
                            " duration_minutes = $5, release_date = $6, languages = $7,"
                            " genres = $8, certificate = $9, status = $10, updated_at = $11"
                            " WHERE id = $1 AND deleted_at IS NULL",
                            p, 11, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    tix_db_res_destroy(res);
    tix_arena_destroy(a);
    return rc;
}

tix_rc tix_movie_get(tix_db *db, tix_arena *a, const char *id, tix_movie *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(db, a,
                      "SELECT " MOVIE_COLS " FROM movies WHERE id = $1 AND deleted_at IS NULL", &p,
                      1, &movie_map, out);
}

tix_rc tix_movie_get_many(tix_db *db, tix_arena *a, const char *const *ids, int nids,
                          tix_movie **items, int *n)
{
    if (nids <= 0 || nids > TIX_MOVIE_GET_MANY_MAX) {
        *items = NULL;
        *n = 0;
        return nids == 0 ? TIX_OK : TIX_EINVAL;
    }
    tix_dbv *p = NULL;
    const char *in = tix_db_in_list(a, ids, nids, &p);
    const char *sql = tix_arena_sprintf(
        a, "SELECT " MOVIE_COLS " FROM movies WHERE deleted_at IS NULL AND id IN (%s) ORDER BY id",
        in);
    return TIX_DB_LIST(db, a, sql, p, nids, &movie_map, items, n);
}

/* LIKE pattern matching "value" as one item of a JSON array text, wildcards escaped. */
static char *list_pattern(tix_arena *a, const char *value)
{
    size_t n = strlen(value);
    char *out = tix_arena_alloc(a, n * 2 + 5);
    size_t k = 0;
    out[k++] = '%';
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (value[i] == '%' || value[i] == '_' || value[i] == '\\') {
            out[k++] = '\\';
        }
        out[k++] = value[i];
    }
    out[k++] = '"';
    out[k++] = '%';
    out[k] = '\0';
    return out;
}

tix_rc tix_movie_list(tix_db *db, tix_arena *a, const tix_movie_filter *f, tix_movie **items,
                      int *n)
{
    const char *genre = f->genre ? list_pattern(a, f->genre) : NULL;
    const char *lang = f->language ? list_pattern(a, f->language) : NULL;
    tix_dbv p[] = {TIX_DB_TEXT(f->release), TIX_DB_TEXT(f->today),
                   TIX_DB_TEXT(f->q_like),  TIX_DB_TEXT(genre),
                   TIX_DB_TEXT(lang),       TIX_DB_INT(f->include_inactive),
                   TIX_DB_TEXT(f->after),   TIX_DB_INT(f->limit + 1)};
    return TIX_DB_LIST(db, a,
                       "SELECT " MOVIE_COLS " FROM movies WHERE deleted_at IS NULL"
                       " AND (CAST($1 AS TEXT) IS NULL"
                       "      OR ($1 = 'upcoming' AND release_date > $2)"
                       "      OR ($1 = 'released' AND release_date <= $2))"
                       " AND (CAST($3 AS TEXT) IS NULL OR title_search LIKE $3 ESCAPE '\\')"
                       " AND (CAST($4 AS TEXT) IS NULL OR genres LIKE $4 ESCAPE '\\')"
                       " AND (CAST($5 AS TEXT) IS NULL OR languages LIKE $5 ESCAPE '\\')"
                       " AND ($6 = 1 OR status = 'active')"
                       " AND (CAST($7 AS TEXT) IS NULL OR id > $7)"
                       " ORDER BY id LIMIT $8",
                       p, 8, &movie_map, items, n);
}

tix_rc tix_movie_soft_delete(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "UPDATE movies SET deleted_at = $2, updated_at = $2"
                            " WHERE id = $1 AND deleted_at IS NULL",
                            p, 2, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_movie_swap_media(tix_db *db, const char *id, const char *kind, const char *url,
                            const char *public_id, const char *expected_public_id)
{
    bool poster = strcmp(kind, "poster") == 0;
    /* Public ids are never empty, so '' stands for "no media" on both sides. */
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(url), TIX_DB_TEXT(public_id),
                   TIX_DB_INT(tix_now_ms()),
                   TIX_DB_TEXT(expected_public_id ? expected_public_id : "")};
    tix_rc rc = tix_db_exec_one(
        db,
        poster ? "UPDATE movies SET poster_url = $2, poster_public_id = $3, updated_at = $4"
                 " WHERE id = $1 AND deleted_at IS NULL AND COALESCE(poster_public_id, '') = $5"
               : "UPDATE movies SET trailer_url = $2, trailer_public_id = $3, updated_at = $4"
                 " WHERE id = $1 AND deleted_at IS NULL AND COALESCE(trailer_public_id, '') = $5",
        p, 5, TIX_ECONFLICT);
    if (rc != TIX_ECONFLICT) {
        return rc;
    }
    /* Nothing changed: the media moved on, or the movie is gone. */
    tix_db_res *res = NULL;
    rc = tix_db_exec(db, "SELECT 1 FROM movies WHERE id = $1 AND deleted_at IS NULL", p, 1, &res);
    if (rc == TIX_OK) {
        rc = tix_db_res_rows(res) > 0 ? TIX_ECONFLICT : TIX_ENOTFOUND;
    }
    tix_db_res_destroy(res);
    return rc;
}
