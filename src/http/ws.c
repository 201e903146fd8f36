/*
 * The WebSocket transport (see ws.h for the whole, ws_int.h for how it meets ws_proto.c):
 * the upgrade, libwslay's callbacks, a socket's send queue, the loop's callbacks and the hub.
 * The loop is a tix_sockloop (http/sockloop.h: the thread, the epoll set, the wake descriptor
 * and a tick every WS_TICK_MS), run with the hub mutex held; ws.c gives it on_io (wslay's reads
 * and writes), tick (pings and time-outs) and bury.
 *
 * A socket's life: tix_ws_on_upgrade (MHD's thread) takes the socket from MHD (below) and
 * adds the descriptor to the loop's epoll set; the wslay context is made when there is
 * something to read or send and freed while the socket is idle (parking, below). The loop reads
 * with wslay_event_recv, which calls on_msg: each complete text message goes to the socket's inbox
 * (at most TIX_WS_INBOX_MAX waiting); tix_ws_pump (ws_proto.c) takes them one at a time.
 * Anything that queued output calls tix_ws_flush, which sends what the socket takes now and
 * asks epoll for EPOLLOUT when wslay still wants to write. drop() takes a socket out of its
 * channels (tix_ws_unsubscribe_all) and the hub and closes the descriptor; the loop frees the
 * struct after its batch (bury), once no job runs.
 *
 * The socket is ours alone from the upgrade on: tix_ws_on_upgrade dup()s MHD's descriptor and
 * gives MHD's handle back at once (MHD_UPGRADE_ACTION_CLOSE). libmicrohttpd 0.9.75 keeps an
 * upgraded connection suspended, with its connection record and its memory pool
 * (MHD_OPTION_CONNECTION_MEMORY_LIMIT, about half of it resident), until that close; on the
 * close it moves the connection to its clean-up list (resume_suspended_connections), which
 * destroys the pool and close()s its descriptor without shutdown() (that is only on the path
 * of a connection that was not upgraded: MHD_connection_mark_closed_), so the TCP connection
 * lives on through our duplicate and no FIN goes out (MHD_USE_TURBO, which only drops the
 * shutdown() of that other path, is not needed here; the daemon has it for the event streams,
 * which leave MHD by that other path: http/sse.h). That took an idle socket from 21 KiB to
 * about 10 (bench/ws_memory.py); parking (below) takes it to about 1. The upgraded socket no longer
 * counts against MHD's MAX_CONNECTIONS and PER_IP_CONNECTIONS, so the hub keeps both caps itself:
 * its max (all sockets) and per_ip (sockets from one peer address, PER_IP_CONNECTIONS), each
 * closing the socket over it with 1013. The peer is the socket's, as for MHD's own per-IP cap (not
 * X-Forwarded-For: behind nginx every socket has nginx's address, as every connection does).
 *
 * Parking. libwslay's context is 8.6 KiB (calloc'd: the event context with a 4 KiB output
 * buffer, the frame context with a 4 KiB input buffer), most of an idle socket's cost, so an
 * idle socket has none: park() frees it at the end of every tix_ws_flush when it holds nothing
 * a new context would not, and unpark() makes a new one (wslay_event_context_server_init, the
 * message limit set again) on the next EPOLLIN, queued message, ping or close. A socket starts
 * parked. What wslay 1.1.1 keeps between calls, and why each is empty when park() frees it:
 *   frame context: ibuf, ibufmark/ibuflimit and istate (a partial header, mask key or payload):
 *     c->rx_held counts the bytes on_recv handed over and not yet part of a whole frame
 *     (on_frame_start notes the frame's size, header included; on_frame_end subtracts it);
 *     0 means the frame layer is at a frame's start with its buffer empty. Its output state
 *     (oheader, ostate) belongs to a message being sent.
 *   event context: imsg (a fragmented message begun: c->rx_frag, from the data frames' fin
 *     bits), ipayloadlen/ipayloadoff (a frame being read: rx_held), omsg/obuf and the queues
 *     (queued_msg_count counts a message until its last byte is out), close_status (no close
 *     queued, sent or received; c->closing and wr_shut are ours), read_enabled and
 *     write_enabled (both on, as in a new context).
 * Messages waiting in the inbox, a running job, subscriptions and timers are c's, not wslay's,
 * and do not keep a context. 5,000 idle sockets: 21.4 MiB RSS instead of 62.8 (about 1.1 KiB a
 * socket over an idle server; bench/results/2026-12-06-ws-idle.txt). A delivery to every
 * socket unparks and parks them one after another, so the contexts' memory is reused, not
 * multiplied; only a server shutdown (a close queued on every socket) makes them all at once.
 *
 * A failed queue marks the socket broken instead of dropping it on the spot: the caller may be
 * walking the socket's subscriptions (channels.h forbids freeing a subscriber inside a send),
 * and every path that queues flushes before it lets the hub mutex go, which drops it.
 */
#include "core/log.h"
#include "core/util.h"
#include "http/ws_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define SNDBUF_BYTES  (16 * 1024)
#define CLOSE_WAIT_MS 5000
#define WS_TICK_MS    1000 /* the loop's timer: time-outs and pings (tick) */

/* c->fd non-blocking with a small send buffer (ws.h, "Bounds"), and the peer's address bytes
 * (sin_addr / sin6_addr) into c->peer; none for another family. */
static void set_up_fd(tix_ws_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL, 0);
    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    int sndbuf = SNDBUF_BYTES;
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        memcpy(c->peer, &in->sin_addr, 4);
        c->peer_len = 4;
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        memcpy(c->peer, &in6->sin6_addr, 16);
        c->peer_len = 16;
    }
}

/* The hub's live sockets from c's peer, c not counted (hub mutex held). A walk over the hub's
 * list: upgrades are rare next to messages, and the list is at most max long. */
static long same_peer(const tix_ws_hub *h, const tix_ws_conn *c)
{
    long n = 0;
    for (const tix_ws_conn *o = h->conns; o != NULL; o = o->next) {
        if (o != c && !o->dead && o->peer_len == c->peer_len && c->peer_len > 0 &&
            memcmp(o->peer, c->peer, c->peer_len) == 0) {
            n++;
        }
    }
    return n;
}

/* ---- the handshake ---- */

bool tix_ws_accept_key(const char *key, char out[29])
{
    unsigned char raw[32];
    if (key == NULL || strlen(key) != 24 ||
        EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 || key[22] != '=' ||
        key[23] != '=') {
        return false; /* 16 bytes in base64 are 22 characters and "==" */
    }
    char buf[24 + 36 + 1];
    snprintf(buf, sizeof(buf), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, strlen(buf), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
    return true;
}

/* ---- wslay's callbacks (hub mutex held: they run inside wslay_event_recv/send) ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    tix_ws_conn *c = user;
    if (c->pre_off < c->pre_len) {
        size_t n = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;
        memcpy(buf, c->pre + c->pre_off, n);
        c->pre_off += n;
        if (c->pre_off == c->pre_len) {
            free(c->pre);
            c->pre = NULL;
            c->pre_off = c->pre_len = 0;
        }
        c->rx_held += n;
        return (ssize_t)n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    c->last_rx_ms = tix_mono_ms();
    c->rx_held += (uint64_t)n;
    return n;
}

/* A frame's header was read (wslay checked it: masked, as a client's must be, and its length
 * in the shortest form, so the header's size follows from the payload's length). */
static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ctx;
    tix_ws_conn *c = user;
    uint64_t len = arg->payload_length;
    c->rx_frame = 2 + 4 + (len < 126 ? 0 : len <= 0xffff ? 2 : 8) + len;
    if ((arg->opcode & 0x8) == 0) { /* text, binary, continuation: not a control frame */
        c->rx_frag = !arg->fin;
    }
}

/* The frame's last payload byte was read: its bytes are no longer wslay's. */
static void on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    (void)ctx;
    tix_ws_conn *c = user;
    if (c->rx_frame <= c->rx_held) { /* else a miscount: rx_held stays, the context too */
        c->rx_held -= c->rx_frame;
    }
    c->rx_frame = 0;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    tix_ws_conn *c = user;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    tix_ws_conn *c = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
                                (const uint8_t *)"text messages only", 18);
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME) {
        return; /* ping, pong and close are wslay's */
    }
    if (c->ninbox >= TIX_WS_INBOX_MAX) {
        wslay_event_queue_close(ctx, WSLAY_CODE_POLICY_VIOLATION,
                                (const uint8_t *)"too many messages at once", 25);
        return;
    }
    tix_ws_msg *m = malloc(sizeof(*m) + arg->msg_length + 1);
    if (m == NULL) {
        wslay_event_queue_close(ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL, 0);
        return;
    }
    m->next = NULL;
    m->len = arg->msg_length;
    memcpy(m->text, arg->msg, arg->msg_length);
    m->text[arg->msg_length] = '\0';
    if (c->inbox_tail) {
        c->inbox_tail->next = m;
    } else {
        c->inbox_head = m;
    }
    c->inbox_tail = m;
    c->ninbox++;
}

/* ---- parking: no wslay context while a socket is idle (hub mutex held) ---- */

static const struct wslay_event_callbacks wslay_cb = {
    .recv_callback = on_recv,
    .send_callback = on_send,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_end_callback = on_frame_end,
    .on_msg_recv_callback = on_msg,
};

/* c's wslay context, made now when the socket was parked (or is new); false: out of memory. A
 * parked socket's context was in the state a new one starts in (park), so nothing is lost. */
static bool unpark(tix_ws_conn *c)
{
    if (c->ctx != NULL) {
        return true;
    }
    if (wslay_event_context_server_init(&c->ctx, &wslay_cb, c) != 0) {
        c->ctx = NULL;
        return false;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, WS_MAX_MESSAGE);
    return true;
}

/* Frees c's context when it holds nothing a new one would not: no input byte (rx_held: no
 * partial header or payload in the frame context's ibuf, no partial frame in the event
 * context's ipayloadlen/ipayloadoff), no fragmented message begun (imsg), nothing queued or
 * being sent (queued_msg_count counts a message until its last byte is out; omsg, obuf and the
 * frame context's output header go with it), no close queued, sent or received, reading and
 * writing enabled. What wslay keeps besides (max_recv_msg_length, the callbacks) unpark sets
 * again; what the socket keeps (closing, timers, inbox, subscriptions) is in c. */
static void park(tix_ws_conn *c)
{
    wslay_event_context_ptr x = c->ctx;
    if (x == NULL || c->dead || c->broken || c->closing || c->wr_shut || c->rx_held != 0 ||
        c->rx_frag || !wslay_event_get_read_enabled(x) || !wslay_event_get_write_enabled(x) ||
        wslay_event_get_close_sent(x) || wslay_event_get_close_received(x) ||
        wslay_event_get_queued_msg_count(x) != 0 || wslay_event_want_write(x)) {
        return;
    }
    wslay_event_context_free(x);
    c->ctx = NULL;
}

/* ---- sending (hub mutex held) ---- */

static void drop(tix_ws_conn *c);

void tix_ws_queue_text(tix_ws_conn *c, const char *text, size_t n)
{
    if (c->dead || c->broken) {
        return;
    }
    if (!unpark(c)) {
        c->broken = true; /* dropped by the caller's flush */
        return;
    }
    if (!wslay_event_get_write_enabled(c->ctx)) {
        return;
    }
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, n};
    int rc = wslay_event_queue_msg(c->ctx, &m);
    if (rc != 0 && rc != WSLAY_ERR_NO_MORE_MSG) { /* NO_MORE_MSG: a close is queued */
        c->broken = true;                         /* dropped by the caller's flush */
    }
}

void tix_ws_queue_json(tix_ws_conn *c, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text != NULL) {
        tix_ws_queue_text(c, text, strlen(text));
    }
    free(text);
    json_decref(j);
}

void tix_ws_send_error(tix_ws_conn *c, const char *code, const char *message)
{
    tix_ws_queue_json(c, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message",
                                   tix_tr(c->lang, message)));
}

void tix_ws_close_with(tix_ws_conn *c, uint16_t code, const char *reason)
{
    if (c->dead) {
        return;
    }
    if (!unpark(c)) {
        c->broken = true; /* dropped by the caller's flush */
        return;
    }
    if (wslay_event_get_close_sent(c->ctx)) {
        return;
    }
    const char *tr = reason ? tix_tr(c->lang, reason) : NULL;
    if (tr != NULL && strlen(tr) > WS_MAX_REASON) {
        tr = reason; /* a translation too long for a close frame: English (ws.h) */
    }
    reason = tr;
    /* wslay goes on reading, to see the client's answering close; messages meanwhile are
     * ignored (pump) */
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    c->closing = true;
}

static void set_out(tix_ws_conn *c, bool out)
{
    tix_sockloop_want_out(&c->hub->loop, c->fd, c, &c->want_out, out);
}

/* Sends what the socket takes now; drops a client that fails, that is done (both closes
 * exchanged) or whose unsent bytes passed WS_MAX_QUEUE; parks one left idle. */
void tix_ws_flush(tix_ws_conn *c)
{
    if (c->dead) {
        return;
    }
    if (!c->broken && c->ctx == NULL) {
        set_out(c, false); /* parked: nothing to send */
        return;
    }
    if (c->broken || (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0)) {
        drop(c);
        return;
    }
    if (wslay_event_get_close_sent(c->ctx) && c->close_sent_ms == 0) {
        c->close_sent_ms = tix_mono_ms();
    }
    if (wslay_event_get_queued_msg_length(c->ctx) > WS_MAX_QUEUE) {
        tix_log_info("ws: dropping a client that reads too slowly (%zu bytes unsent)",
                     wslay_event_get_queued_msg_length(c->ctx));
        drop(c);
        return;
    }
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx)) {
        if (wslay_event_get_close_received(c->ctx) || !wslay_event_get_close_sent(c->ctx)) {
            drop(c); /* the close handshake is complete (or the socket failed) */
            return;
        }
        /* wslay closed on a bad frame and reads no more: our close frame is out, so end our
         * side (FIN) and discard the client's input until it closes too (discard_input) or
         * CLOSE_WAIT_MS passes; closing at once with unread input would send a reset that
         * can destroy the close frame before the client reads it */
        if (!c->wr_shut) {
            c->wr_shut = true;
            shutdown(c->fd, SHUT_WR);
        }
    }
    set_out(c, wslay_event_want_write(c->ctx) != 0);
    park(c);
}

/* ---- sockets (hub mutex held) ---- */

static void unlink_conn(tix_ws_conn *c)
{
    tix_ws_hub *h = c->hub;
    tix_ws_unsubscribe_all(c);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        h->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    h->count--;
}

/* Out of the epoll set and the channels now, and the descriptor closed (nothing reads c->fd
 * of a dead socket); the struct is freed by the loop (and not before its job, if one runs, has
 * ended). */
static void drop(tix_ws_conn *c)
{
    if (c->dead) {
        return;
    }
    c->dead = true;
    tix_ws_hub *h = c->hub;
    tix_sockloop_del(&h->loop, c->fd);
    unlink_conn(c);
    close(c->fd);
    c->fd = -1;
    c->grave = h->graves;
    h->graves = c;
}

static void free_conn(tix_ws_conn *c)
{
    for (tix_ws_msg *m = c->inbox_head, *next = NULL; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    if (c->ctx != NULL) {
        wslay_event_context_free(c->ctx);
    }
    free(c->pre);
    free(c);
}

/* ---- the loop's callbacks (http/sockloop.h; hub mutex held) ---- */

/* After wslay stopped reading (a close was queued: ours, or the answer to the client's), what
 * the client still sends is read and thrown away, so that a client busy writing (the rest of
 * a 10 MiB message) gets its write done and reads our close frame, rather than a reset. Its
 * end (EOF) or CLOSE_WAIT_MS ends the socket. false when it was dropped. */
static bool discard_input(tix_ws_conn *c)
{
    char junk[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(c->fd, junk, sizeof(junk), 0);
        if (n > 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return true;
        }
        drop(c);
        return false;
    }
    return true;
}

/* A socket dropped earlier in the batch is still allocated (bury) and takes nothing. */
static void on_io(void *hub, void *sock, uint32_t events)
{
    (void)hub;
    tix_ws_conn *c = sock;
    if (c->dead) {
        return;
    }
    bool in = (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0;
    if (in && !unpark(c)) {
        drop(c); /* out of memory: the socket cannot be read */
        return;
    }
    if (in && !wslay_event_want_read(c->ctx)) {
        if (!discard_input(c)) {
            return;
        }
    } else if (in) {
        int rc = wslay_event_want_read(c->ctx) ? wslay_event_recv(c->ctx) : 0;
        if (rc == WSLAY_ERR_PROTO) {
            tix_ws_close_with(c, WSLAY_CODE_PROTOCOL_ERROR, NULL);
        } else if (rc != 0 && !wslay_event_want_write(c->ctx)) {
            drop(c);
            return;
        } /* else: a bad frame made wslay queue its close (1002, 1007, 1009): send it first */
        if ((events & (EPOLLHUP | EPOLLERR)) && !wslay_event_want_read(c->ctx)) {
            drop(c);
            return;
        }
        tix_ws_pump(c);
    }
    tix_ws_flush(c);
}

/* Every second: the time-outs (no close answered, no input, no first message) and pings. */
static void tick(void *hub, int64_t now)
{
    tix_ws_hub *h = hub;
    for (tix_ws_conn *c = h->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        bool close_timed_out = c->close_sent_ms > 0 && now - c->close_sent_ms > CLOSE_WAIT_MS;
        if (close_timed_out || now - c->last_rx_ms > WS_IDLE_MS) {
            drop(c); /* no answer to our close, or a dead peer (it answers our pings) */
        } else if (!c->got_first && c->inbox_head == NULL && now - c->opened_ms > WS_FIRST_MS) {
            tix_ws_close_with(c, WSLAY_CODE_POLICY_VIOLATION, N_("no first message in time"));
            tix_ws_flush(c);
        } else if (now - c->last_ping_ms > WS_PING_MS) {
            c->last_ping_ms = now;
            struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
            if (!unpark(c)) {
                c->broken = true; /* dropped by the flush */
            } else {
                (void)wslay_event_queue_msg(c->ctx, &m); /* refused once a close is queued */
            }
            tix_ws_flush(c); /* sends the ping; parks the socket again */
        }
    }
}

/* Frees the dropped sockets that no job runs for (hub mutex held, loop thread or destroy). */
static void bury(void *hub)
{
    tix_ws_hub *h = hub;
    for (tix_ws_conn **p = &h->graves; *p != NULL;) {
        tix_ws_conn *c = *p;
        if (c->busy) {
            p = &c->grave;
            continue;
        }
        *p = c->grave;
        free_conn(c);
    }
}

static const tix_sockloop_ops ws_loop_ops = {on_io, tick, bury};

void tix_ws_on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)con_cls;
    tix_ws_hub *h = cls;
    /* Our own descriptor, and extra_in copied (it lives in MHD's pool): then MHD's handle goes
     * back at once, which frees MHD's connection and pool (the file header says why no FIN) */
    int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
    tix_ws_conn *c = fd >= 0 ? calloc(1, sizeof(*c)) : NULL;
    /* the handshake's language, read while MHD still has the request */
    tix_lang lang =
        tix_lang_accept(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Language"));
    if (c != NULL && extra_in_size > 0) {
        c->pre = malloc(extra_in_size);
        if (c->pre != NULL) {
            memcpy(c->pre, extra_in, extra_in_size);
            c->pre_len = extra_in_size;
        }
    }
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    if (c == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    /* no wslay context yet: the socket starts parked, the first read makes it (unpark) */
    c->hub = h;
    c->fd = fd;
    c->lang = lang;
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = tix_mono_ms();
    set_up_fd(c);
    pthread_mutex_lock(&h->mu);
    bool ip_full = h->per_ip > 0 && same_peer(h, c) >= h->per_ip;
    bool full = h->closing || h->count >= h->max || ip_full;
    c->next = h->conns;
    if (h->conns) {
        h->conns->prev = c;
    }
    h->conns = c;
    h->count++;
    if (tix_sockloop_add(&h->loop, fd, c) != 0) {
        c->dead = true;
        unlink_conn(c);
        close(fd);
        c->fd = -1;
        c->grave = h->graves;
        h->graves = c;
    } else if (full) {
        tix_ws_close_with(c, h->closing ? WSLAY_CODE_GOING_AWAY : 1013,
                          ip_full && !h->closing ? N_("too many sockets from this address")
                                                 : N_("the server takes no more sockets"));
        tix_ws_flush(c);
    } else if (c->pre != NULL) {
        on_io(h, c, EPOLLIN); /* what the client sent with the handshake */
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- the hub ---- */

void tix_ws_shutdown(tix_ws_hub *h, int wait_ms)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    for (tix_ws_conn *c = h->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        tix_ws_close_with(c, WSLAY_CODE_GOING_AWAY, N_("server shutting down"));
        tix_ws_flush(c);
    }
    pthread_mutex_unlock(&h->mu);
    int64_t deadline = tix_mono_ms() + wait_ms;
    while (tix_ws_count(h) > 0 && tix_mono_ms() < deadline) {
        usleep(20 * 1000);
    }
    pthread_mutex_lock(&h->mu);
    while (h->conns != NULL) {
        drop(h->conns);
    }
    /* jobs of dropped sockets still end here, before the bus and the database go */
    for (bool busy = true; busy;) {
        busy = false;
        for (tix_ws_conn *c = h->graves; c != NULL; c = c->grave) {
            busy = busy || c->busy;
        }
        if (busy) {
            pthread_mutex_unlock(&h->mu);
            usleep(10 * 1000);
            pthread_mutex_lock(&h->mu);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

long tix_ws_count(tix_ws_hub *h)
{
    if (h == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    long n = h->count;
    pthread_mutex_unlock(&h->mu);
    return n;
}

tix_rc tix_ws_hub_create(struct tix_app *app, long max, long per_ip, int nice, tix_ws_hub **out)
{
    tix_ws_hub *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return TIX_ENOMEM;
    }
    h->app = app;
    h->max = max;
    h->per_ip = per_ip;
    if (tix_sockloop_init(&h->loop, &h->mu, &ws_loop_ops, h, WS_TICK_MS) != TIX_OK) {
        free(h);
        return TIX_ENOMEM;
    }
    if (tix_workpool_create(2, 4096, nice, &h->jobs) != TIX_OK) {
        tix_sockloop_close(&h->loop);
        free(h);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    tix_chan_init(&h->chans, &tix_ws_chan_ops);
    if (tix_sockloop_start(&h->loop) != TIX_OK) {
        tix_workpool_destroy(h->jobs);
        pthread_mutex_destroy(&h->mu);
        tix_sockloop_close(&h->loop);
        free(h);
        return TIX_ENOMEM;
    }
    *out = h;
    return TIX_OK;
}

void tix_ws_hub_destroy(tix_ws_hub *h)
{
    if (h == NULL) {
        return;
    }
    tix_ws_shutdown(h, 0);
    tix_workpool_destroy(h->jobs); /* jobs end (their sockets are dead) before the loop goes */
    tix_sockloop_stop(&h->loop);
    bury(h);
    tix_sockloop_close(&h->loop);
    tix_chan_close(&h->chans); /* every socket was dropped: no subscription is left */
    pthread_mutex_destroy(&h->mu);
    free(h);
}
