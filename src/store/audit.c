/*
 * The audit trail's SQL (see audit.h). Filters are optional parameters tested with
 * "CAST($n AS TEXT) IS NULL OR col = $n" so one statement serves every combination; the indexes
 * of migration 0017 lead with actor_id, target_id and action, each followed by id, the order of
 * the page.
 */
#include "store/audit.h"

#define AUDIT_COLS                                                                                 \
    "id, at, actor_id, actor_role, action, method, route, target_type, target_id, request_id,"     \
    " client_ip, status, detail"

static const tix_db_col audit_cols[] = {
    TIX_DB_COL(tix_audit_row, id),        TIX_DB_COL(tix_audit_row, at),
    TIX_DB_COL(tix_audit_row, actor_id),  TIX_DB_COL(tix_audit_row, actor_role),
    TIX_DB_COL(tix_audit_row, action),    TIX_DB_COL(tix_audit_row, method),
    TIX_DB_COL(tix_audit_row, route),     TIX_DB_COL(tix_audit_row, target_type),
    TIX_DB_COL(tix_audit_row, target_id), TIX_DB_COL(tix_audit_row, request_id),
    TIX_DB_COL(tix_audit_row, client_ip), TIX_DB_COL(tix_audit_row, status),
    TIX_DB_COL(tix_audit_row, detail),
};
static const tix_db_map audit_map = TIX_DB_MAP(tix_audit_row, audit_cols, NULL);

tix_rc tix_audit_insert(tix_db *db, const tix_audit_row *row)
{
    tix_dbv p[] = {
        TIX_DB_TEXT(row->id),         TIX_DB_INT(row->at),           TIX_DB_TEXT(row->actor_id),
        TIX_DB_TEXT(row->actor_role), TIX_DB_TEXT(row->action),      TIX_DB_TEXT(row->method),
        TIX_DB_TEXT(row->route),      TIX_DB_TEXT(row->target_type), TIX_DB_TEXT(row->target_id),
        TIX_DB_TEXT(row->request_id), TIX_DB_TEXT(row->client_ip),   TIX_DB_INT(row->status),
        TIX_DB_TEXT(row->detail),
    };
    return tix_db_exec(db,
                       "INSERT INTO audit_log (" AUDIT_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                       p, (int)(sizeof(p) / sizeof(p[0])), NULL);
}

tix_rc tix_audit_page(tix_db *db, tix_arena *a, const tix_audit_filter *f, int limit,
                      tix_audit_row **rows, int *n)
{
    tix_dbv p[] = {
        TIX_DB_TEXT(f->actor_id),
        TIX_DB_TEXT(f->target_id),
        TIX_DB_TEXT(f->action),
        f->since > 0 ? TIX_DB_INT(f->since) : TIX_DB_NULL,
        f->until > 0 ? TIX_DB_INT(f->until) : TIX_DB_NULL,
        TIX_DB_TEXT(f->before_id),
        TIX_DB_INT(limit + 1),
    };
    return TIX_DB_LIST(db, a,
                       "SELECT " AUDIT_COLS " FROM audit_log"
                       " WHERE (CAST($1 AS TEXT) IS NULL OR actor_id = $1)"
                       " AND (CAST($2 AS TEXT) IS NULL OR target_id = $2)"
                       " AND (CAST($3 AS TEXT) IS NULL OR action = $3)"
                       " AND (CAST($4 AS BIGINT) IS NULL OR at >= $4)"
                       " AND (CAST($5 AS BIGINT) IS NULL OR at <= $5)"
                       " AND (CAST($6 AS TEXT) IS NULL OR id < $6)"
                       " ORDER BY id DESC LIMIT $7",
                       p, (int)(sizeof(p) / sizeof(p[0])), &audit_map, rows, n);
}
