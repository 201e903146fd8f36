/*
 * SQL for operators (GET /metrics): the backlogs an alert watches. One statement of counts
 * over indexed columns (mail_outbox_due, refunds_status), cheap enough for every scrape.
 */
#ifndef TIX_STORE_OPS_H
#define TIX_STORE_OPS_H

#include "core/arena.h"
#include "store/db.h"

#include <stdint.h>

typedef struct tix_ops_backlog {
    int64_t outbox_pending;  /* mail not sent yet: pending or sending */
    int64_t outbox_failed;   /* mail given up on (an admin may retry it) */
    int64_t outbox_oldest;   /* created_at of the oldest unsent mail, ms; 0 when none */
    int64_t refunds_pending; /* refunds not processed yet: pending or failed (retried) */
    int64_t refunds_oldest;  /* created_at of the oldest of them, ms; 0 when none */
} tix_ops_backlog;

/* The backlogs now. No transaction needed. */
TIX_MUSTCHECK tix_rc tix_ops_backlog_get(tix_db *db, tix_arena *a, tix_ops_backlog *out);

#endif
