/*
 * The WebSocket hub's private header: what its two parts share (see ws.h for the whole).
 *
 *   ws.c        the transport: the upgrade, libwslay's callbacks, the socket's send queue
 *               (queue, flush, close, drop), the socket loop's callbacks (on_io, the timers'
 *               tick, bury; the thread and epoll set are http/sockloop.h's), the hub's
 *               life. It knows frames and sockets, not what the messages say.
 *   ws_proto.c  the JSON protocol on top: parsing the inbox (tix_ws_pump), auth and
 *               subscribe jobs, the show and user channels (http/channels.h), and the bus's
 *               sink (tix_ws_deliver) that turns events into "event" messages.
 * ws.c drives: it calls tix_ws_pump when messages arrived or a job ended, and
 * tix_ws_unsubscribe_all when a socket goes; ws_proto.c sends through tix_ws_queue_text and
 * friends. Both include this header (one module for scripts/check_layers.py).
 *
 * Ownership. The hub owns every tix_ws_conn from tix_ws_on_upgrade until the loop thread
 * frees it (bury: after drop, once no job runs for it). A socket owns its subscriptions
 * (tix_ws_sub, malloc'd by ws_proto.c, freed by it on unsubscribe or drop), its inbox
 * messages and its wslay context. A job (ws_proto.c) owns its message and key; it points at
 * its socket, which stays allocated while c->busy.
 *
 * Locking. Everything here is guarded by hub->mu, the hub's one mutex, and every function
 * declared below is called with it held. Threads that take it: the loop thread (epoll
 * batches, ticks, bury), the bus's sink (tix_ws_deliver), the job threads (after their
 * blocking work), MHD's thread (tix_ws_on_upgrade) and the shutdown caller.
 *
 * Invariants: a dead socket is in no channel, not in hub->conns, and not in the epoll set; a
 * broken one (a failed queue) is dropped by the next tix_ws_flush, which every path that
 * queues runs before it lets the mutex go; nsubs counts the socket's subscriptions.
 */
#ifndef TIX_HTTP_WS_INT_H
#define TIX_HTTP_WS_INT_H

#include "core/i18n.h"
#include "http/channels.h"
#include "http/sockloop.h"
#include "http/workpool.h"
#include "http/ws.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <wslay/wslay.h>

#define TIX_WS_INBOX_MAX 8 /* complete messages waiting per socket; more: close 1008 */

typedef struct tix_ws_conn tix_ws_conn;

/* One socket's subscription of one channel. */
typedef struct tix_ws_sub {
    tix_chan_sub chan;       /* first: the registry's callbacks get &s->chan */
    struct tix_ws_sub *next; /* the socket's subscriptions */
    tix_ws_conn *conn;
} tix_ws_sub;

/* A complete text message from the client, waiting to be handled. */
typedef struct tix_ws_msg {
    struct tix_ws_msg *next;
    size_t len;
    char text[];
} tix_ws_msg;

struct tix_ws_conn {
    tix_ws_conn *prev, *next; /* the hub's sockets */
    tix_ws_conn *grave;       /* dropped, to be freed by the loop */
    tix_ws_hub *hub;
    int fd; /* ours (a dup of MHD's, whose handle went back at the upgrade); -1 once dead */
    wslay_event_context_ptr ctx; /* NULL while parked (idle: see ws.c, "parking") */
    char *pre; /* bytes MHD read past the request's headers (extra_in), given to wslay first */
    size_t pre_len, pre_off;
    tix_ws_sub *subs;
    int nsubs;
    /* what wslay holds of the input, kept by the callbacks so that ws.c knows when the
     * context may go (parking): bytes handed to wslay (on_recv) and not yet part of a whole
     * frame, the length (header and payload) of the frame being read, and a fragmented
     * message begun and not ended */
    uint64_t rx_held, rx_frame;
    bool rx_frag;
    tix_ws_msg *inbox_head, *inbox_tail;
    int ninbox;
    bool busy; /* a job runs for this socket */
    bool dead; /* dropped; freed once no job runs */
    bool got_first;
    bool closing; /* we queued a close: further messages are not handled */
    bool wr_shut; /* our close is out and wslay reads no more: FIN sent, input discarded */
    bool authed;
    bool want_out; /* EPOLLOUT asked for */
    bool broken;   /* a message could not be queued: the next flush drops the socket */
    int64_t opened_ms, last_rx_ms, last_ping_ms, close_sent_ms;
    char user_id[TIX_ID_MAX];
    tix_lang lang; /* of error messages and close reasons: Accept-Language at the handshake,
                    * else the user's saved locale after auth; NONE: English */
    unsigned char peer[16]; /* the peer's address (4 bytes IPv4, 16 IPv6), for the per-IP cap */
    unsigned char peer_len; /* 0: unknown (never counted against the cap) */
};

struct tix_ws_hub {
    pthread_mutex_t mu;
    struct tix_app *app;
    tix_chan_reg chans; /* show and user channels (http/channels.h) */
    tix_ws_conn *conns;
    tix_ws_conn *graves;
    long count, max;
    long per_ip; /* sockets at most from one peer address; 0 = no limit */
    bool closing;
    tix_sockloop loop; /* the thread, the epoll set and the tick (http/sockloop.h) */
    tix_workpool *jobs;
};

/* ---- ws.c: sending (hub mutex held) ---- */

/* Queues a text message (copied by wslay); nothing on a dead or closing socket. */
void tix_ws_queue_text(tix_ws_conn *c, const char *text, size_t n);
/* Queues j's compact text and releases j (NULL: nothing). */
void tix_ws_queue_json(tix_ws_conn *c, json_t *j);
/* {"type":"error","code":code,"message":message in c->lang}: message is a msgid (English; the
 * 3rd argument is an xgettext keyword, scripts/update_po.sh). */
void tix_ws_send_error(tix_ws_conn *c, const char *code, const char *message);
/* Queues a close frame (once); later messages from the client are not handled. reason is a
 * msgid marked N_() and goes out in c->lang when that fits WS_MAX_REASON bytes (else in
 * English), or a code word ("invalid_token"), which no catalogue has and so stays as it is. */
void tix_ws_close_with(tix_ws_conn *c, uint16_t code, const char *reason);
/* Sends what the socket takes now; drops a socket that failed, is broken, is done or is over
 * WS_MAX_QUEUE. */
void tix_ws_flush(tix_ws_conn *c);

/* ---- ws_proto.c (hub mutex held) ---- */

/* The registry's callbacks for WebSocket subscriptions (tix_chan_init in the hub). */
extern const tix_chan_ops tix_ws_chan_ops;
/* Handles inbox messages until one needs a job (or the socket closes). */
void tix_ws_pump(tix_ws_conn *c);
/* Ends every subscription of c (it is being dropped). */
void tix_ws_unsubscribe_all(tix_ws_conn *c);

#endif
