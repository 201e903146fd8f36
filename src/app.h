/*
 * The process-wide state that handlers reach through tix_req->app: configuration, the database
 * pool, the route table and counters. Created in main.c, read-only while serving except the
 * atomic counters. It sits beside http/ and jobs/ and includes only lower layers (the
 * services it holds are named by struct tag), so any of them may include it.
 */
#ifndef TIX_APP_H
#define TIX_APP_H

#include "core/config.h"
#include "pay/pay.h"
#include "store/db.h"

#include <stdatomic.h>

typedef struct tix_app {
    tix_config cfg;
    tix_db_pool *db;
    struct tix_router *router; /* http/router.h: the route table (api/routes.h) compiled by main */
    tix_pay_provider *pay;
    struct tix_media *media; /* posters and trailers (media/media.h); made by the server */
    struct tix_cache *cache; /* cache/cache.h: Redis or in-process; made by main */
    struct tix_bus *bus;     /* cache/bus.h: seat events; made by main */
    struct tix_sse_hub *sse; /* http/sse.h: the event streams; made by main */
    struct tix_ws_hub *ws;   /* http/ws.h: the WebSocket hub; made by main */
    /* booking/ticket_token.h: the keys that sign ticket tokens (booking views, QR, PDF) and verify
     * them at the door (check-in by token); made by main at start (booking/ticket_keys.h), never
     * NULL while serving; NULL in the other commands. */
    const struct tix_ticket_keyring *ticket_keys;
    atomic_long inflight;         /* requests between first byte and completion */
    atomic_ullong requests_total; /* completed requests */
    atomic_ullong responses_5xx;
    atomic_ullong slow_clients_cut; /* connections closed by the slow-client reaper */
    atomic_ullong overloaded;       /* requests refused (503) because the handler queue was full */
    atomic_ullong audit_failures;   /* audit rows that could not be written (http/audit.h) */
} tix_app;

#endif
