/* The display exchange rates' SQL (see fx.h). The upsert is ON CONFLICT DO UPDATE, which SQLite
 * and PostgreSQL both take in this form. */
#include "store/fx.h"

#define FX_COLS "currency, rate_per_inr, as_of, set_by, set_at"

static const tix_db_col fx_cols[] = {
    TIX_DB_COL(tix_fx_row, currency), TIX_DB_COL(tix_fx_row, rate_per_inr),
    TIX_DB_COL(tix_fx_row, as_of),    TIX_DB_COL(tix_fx_row, set_by),
    TIX_DB_COL(tix_fx_row, set_at),
};
static const tix_db_map fx_map = TIX_DB_MAP(tix_fx_row, fx_cols, NULL);

tix_rc tix_fx_put(tix_db *db, const tix_fx_row *row)
{
    tix_dbv p[] = {TIX_DB_TEXT(row->currency), TIX_DB_TEXT(row->rate_per_inr),
                   TIX_DB_INT(row->as_of), TIX_DB_TEXT(row->set_by), TIX_DB_INT(row->set_at)};
    return tix_db_exec(
        db,
        "INSERT INTO fx_rates (" FX_COLS ") VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (currency) DO UPDATE SET rate_per_inr = excluded.rate_per_inr,"
        " as_of = excluded.as_of, set_by = excluded.set_by, set_at = excluded.set_at",
        p, 5, NULL);
}

tix_rc tix_fx_get(tix_db *db, tix_arena *a, const char *currency, tix_fx_row *out)
{
    tix_dbv p[] = {TIX_DB_TEXT(currency)};
    return TIX_DB_GET(db, a, "SELECT " FX_COLS " FROM fx_rates WHERE currency = $1", p, 1, &fx_map,
                      out);
}

tix_rc tix_fx_list(tix_db *db, tix_arena *a, tix_fx_row **rows, int *n)
{
    return TIX_DB_LIST(db, a, "SELECT " FX_COLS " FROM fx_rates ORDER BY currency", NULL, 0,
                       &fx_map, rows, n);
}
