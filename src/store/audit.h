/*
 * SQL of the audit trail (table audit_log, migration 0017): one append per recorded request, and
 * the admin's filtered, newest-first pages. The table refuses UPDATE and DELETE by trigger, so
 * nothing here changes a row once written, and nothing could.
 *
 * Strings in returned rows live in the caller's arena; times are ms since the epoch.
 */
#ifndef TIX_STORE_AUDIT_H
#define TIX_STORE_AUDIT_H

#include "core/arena.h"
#include "store/db.h"

#include <stdint.h>

typedef struct tix_audit_row {
    char *id; /* "aud_…": begins with its ms, so id order is time order */
    int64_t at;
    char *actor_id;
    char *actor_role; /* "user" | "owner" | "admin" */
    char *action;     /* "theatre.approve" */
    char *method;
    char *route; /* the route table's pattern */
    char *target_type;
    char *target_id;
    char *request_id;
    char *client_ip;
    int status;
    char *detail; /* the error code of a refusal, or NULL */
} tix_audit_row;

/* Appends row (every field but the NULL-able target_type, target_id and detail is required; id
 * and at are the caller's). Runs on its own, outside any transaction of the caller's. */
TIX_MUSTCHECK tix_rc tix_audit_insert(tix_db *db, const tix_audit_row *row);

/* What GET /admin/audit filters on; NULL / 0 = no filter. since and until are inclusive. */
typedef struct tix_audit_filter {
    const char *actor_id;
    const char *target_id;
    const char *action;
    int64_t since;         /* 0: none */
    int64_t until;         /* 0: none */
    const char *before_id; /* the cursor: rows with a smaller id only */
} tix_audit_filter;

/* The newest rows matching f, at most limit + 1 (one more tells there is a next page). */
TIX_MUSTCHECK tix_rc tix_audit_page(tix_db *db, tix_arena *a, const tix_audit_filter *f, int limit,
                                    tix_audit_row **rows, int *n);

#endif
