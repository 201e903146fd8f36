/*
 * Streaming multipart/form-data uploads for routes flagged TIX_ROUTE_UPLOAD (server.c drives
 * these calls; req.h's tix_upload describes the handler's side). libmicrohttpd's post
 * processor parses the body chunk by chunk; the part named "file" goes straight to a temporary
 * file in MEDIA_DIR/tmp (O_EXCL, 0600), its first bytes are sniffed and its size is checked as
 * it arrives, so a body is never whole in memory. Every function that answers an error does so
 * through tix_reply_*; the caller queues the answer.
 */
#ifndef TIX_HTTP_UPLOAD_H
#define TIX_HTTP_UPLOAD_H

#include "http/req.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tix_upload_state tix_upload_state;

/* Room allowed around the file for multipart framing and small extra fields. */
#define TIX_UPLOAD_OVERHEAD (64L * 1024)

/* Whether the request is multipart/form-data with a boundary; answers 415 when it is not. */
bool tix_upload_accepts(tix_req *r);

/* Starts reading an upload once the handler's begin call set r->upload's limits. Answers 413
 * at once when Content-Length exceeds them (or 415/503 when the body cannot be parsed or
 * stored) and returns false; else *out (free with tix_upload_cleanup) and true. */
bool tix_upload_start(tix_req *r, tix_upload_state **out);

/* Feeds n body bytes. Past a limit the rest is dropped; returns false once a rejected body
 * keeps coming far beyond its limit (the caller then closes the connection). */
bool tix_upload_feed(tix_upload_state *u, const char *data, size_t n);

/* After the whole body: true with r->upload.path, content_type and size set for the handler's
 * second call; false with the error answered (400 malformed, 413, 415, 422, 503). */
bool tix_upload_finish(tix_upload_state *u);

/* Closes and removes the temporary file and frees u, whether or not the request completed.
 * NULL does nothing. */
void tix_upload_cleanup(tix_upload_state *u);

#endif
