/* SQL for operators (see ops.h). */
#include "store/ops.h"

#include <assert.h>

static const tix_db_col backlog_cols[] = {
    TIX_DB_COL(tix_ops_backlog, outbox_pending), TIX_DB_COL(tix_ops_backlog, outbox_failed),
    TIX_DB_COL(tix_ops_backlog, outbox_oldest), TIX_DB_COL(tix_ops_backlog, refunds_pending),
    TIX_DB_COL(tix_ops_backlog, refunds_oldest)};
static const tix_db_map backlog_map = TIX_DB_MAP(tix_ops_backlog, backlog_cols, NULL);

tix_rc tix_ops_backlog_get(tix_db *db, tix_arena *a, tix_ops_backlog *out)
{
    return TIX_DB_GET(
        db, a,
        "SELECT (SELECT COUNT(*) FROM mail_outbox WHERE status IN ('pending', 'sending')),"
        " (SELECT COUNT(*) FROM mail_outbox WHERE status = 'failed'),"
        " (SELECT COALESCE(MIN(created_at), 0) FROM mail_outbox"
        "  WHERE status IN ('pending', 'sending')),"
        " (SELECT COUNT(*) FROM refunds WHERE status IN ('pending', 'failed')),"
        " (SELECT COALESCE(MIN(created_at), 0) FROM refunds WHERE status IN ('pending', 'failed'))",
        NULL, 0, &backlog_map, out);
}
