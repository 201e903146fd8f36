/*
 * The row mapper (see "Reading rows into structs" in db.h): one loop from a result to an array
 * of row structs, so each reader in store/ is its SQL and a table of where its columns go. It
 * sits on the public result API (tix_db_res_*) and knows nothing of the drivers. Also the
 * placeholders of an IN list (tix_db_in_list), for the readers that take a list of ids.
 */
#include "store/db.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const tix_db_col text_cols[] = {{TIX_DB_COL_TEXT, 0}};
const tix_db_map tix_db_text_rows = TIX_DB_MAP(char *, text_cols, NULL);

void tix_db_map_row(tix_arena *a, const tix_db_res *res, int row, const tix_db_map *map, void *item)
{
    char *base = item;
    memset(base, 0, map->size);
    for (int c = 0; c < map->ncols; c++) {
        const tix_db_col *col = &map->cols[c];
        assert(col->kind == TIX_DB_COL_SKIP || col->off < map->size);
        char *field = base + col->off;
        switch (col->kind) {
        case TIX_DB_COL_SKIP:
            break;
        case TIX_DB_COL_TEXT: {
            char *s = tix_db_res_dup(a, res, row, c);
            memcpy(field, &s, sizeof(s));
            break;
        }
        case TIX_DB_COL_I64: {
            int64_t v = tix_db_res_int(res, row, c);
            memcpy(field, &v, sizeof(v));
            break;
        }
        case TIX_DB_COL_INT: {
            int v = (int)tix_db_res_int(res, row, c);
            memcpy(field, &v, sizeof(v));
            break;
        }
        case TIX_DB_COL_BOOL: {
            bool v = tix_db_res_int(res, row, c) != 0;
            memcpy(field, &v, sizeof(v));
            break;
        }
        }
    }
    if (map->fn != NULL) {
        map->fn(a, res, row, item);
    }
}

tix_rc tix_db_list(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *params, int n,
                   const tix_db_map *map, void *items, int *count)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, params, n, &res);
    if (rc != TIX_OK) {
        return rc;
    }
    int rows = tix_db_res_rows(res);
    char *list = tix_arena_calloc(a, map->size * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        tix_db_map_row(a, res, i, map, list + map->size * (size_t)i);
    }
    void *first = list;
    memcpy(items, &first, sizeof(first));
    *count = rows;
    tix_db_res_destroy(res);
    return TIX_OK;
}

tix_rc tix_db_get(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *params, int n,
                  const tix_db_map *map, void *out)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, params, n, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        tix_db_map_row(a, res, 0, map, out);
    }
    tix_db_res_destroy(res);
    return rc;
}

const char *tix_db_in_list(tix_arena *a, const char *const *ids, int n, tix_dbv **params)
{
    *params = tix_arena_alloc(a, sizeof(tix_dbv) * (size_t)(n > 0 ? n : 1));
    /* "$1,$2,...": each placeholder has at most 11 characters and a comma */
    char *in = tix_arena_alloc(a, (size_t)(n > 0 ? n : 1) * 12 + 1);
    size_t k = 0;
    in[0] = '\0';
    for (int i = 0; i < n; i++) {
        (*params)[i] = TIX_DB_TEXT(ids[i]);
        k += (size_t)snprintf(in + k, 13, "%s$%d", i ? "," : "", i + 1);
    }
    return in;
}
