/*
 * The shared ticket signing key: an insert that does nothing when the row exists (the primary
 * key decides between racing servers), then a read of the row.
 */
#include "store/ticket_keys.h"

tix_rc tix_ticket_key_get_or_put(tix_db *db, tix_arena *a, const char *candidate, int64_t now,
                                 char **seed)
{
    tix_dbv p[] = {TIX_DB_TEXT(candidate), TIX_DB_INT(now)};
    tix_rc rc =
        tix_db_exec(db,
                    "INSERT INTO ticket_signing_keys (id, seed, created_at) VALUES (1, $1, $2)"
                    " ON CONFLICT (id) DO NOTHING",
                    p, 2, NULL);
    if (rc != TIX_OK) {
        return rc;
    }
    char *s = NULL;
    rc = TIX_DB_GET(db, a, "SELECT seed FROM ticket_signing_keys WHERE id = 1", NULL, 0,
                    &tix_db_text_rows, &s);
    if (rc == TIX_OK) {
        *seed = s;
    }
    return rc;
}
