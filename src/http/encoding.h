/*
 * Content-Encoding: JSON answers of COMPRESS_MIN bytes or more go out gzip-compressed to
 * clients whose Accept-Encoding allows it, with Vary: Accept-Encoding on every answer that
 * could have been compressed. Cached routes (http/cached.c) store their answers compressed and
 * send the stored bytes as they are; everything else is compressed here, at a fast level,
 * just before it is sent.
 */
#ifndef TIX_HTTP_ENCODING_H
#define TIX_HTTP_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tix_req tix_req;

#define TIX_COMPRESS_MIN    1024 /* smaller answers gain less than the header costs */
#define TIX_GZIP_LEVEL_NOW  1    /* compressed per request: fast */
#define TIX_GZIP_LEVEL_KEEP 6    /* compressed once and stored: smaller */

/* Whether an Accept-Encoding value (NULL: the header is absent) admits gzip (RFC 9110
 * 12.5.3): "gzip" or "x-gzip" with a q-value above 0, or "*" above 0 when gzip is not named.
 * Pure. */
bool tix_accepts_gzip(const char *accept_encoding);
/* Whether r's client admits gzip (its Accept-Encoding header). */
bool tix_req_accepts_gzip(tix_req *r);
/* Compresses r's answer when it is worth it and the client admits it; adds Vary. Does
 * nothing when the answer is already encoded (r->resp_encoding set), streamed or a file. */
void tix_reply_compress(tix_req *r);

#endif
