/*
 * The HTTP server on libmicrohttpd: an epoll thread pool of cfg.workers threads; every
 * handler runs on a pool thread and may block on the database (each thread holds at most one
 * pooled connection at a time). See server.c for the request lifecycle.
 */
#ifndef TIX_HTTP_SERVER_H
#define TIX_HTTP_SERVER_H

#include "app.h"
#include "core/rc.h"

typedef struct tix_server tix_server;

/* Starts listening on cfg.bind_address:cfg.port. Free with tix_server_stop. */
TIX_MUSTCHECK tix_rc tix_server_start(tix_app *app, tix_server **out);
/* Graceful stop: stops accepting, lets in-flight requests finish (at most drain_s seconds),
 * then closes every connection and frees the server. NULL does nothing. */
void tix_server_stop(tix_server *s, int drain_s);

#endif
