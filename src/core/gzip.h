/*
 * gzip (RFC 1952) of whole buffers in an arena, through zlib: answers are compressed once when
 * they are cached and sent compressed to every client that accepts it (http/encoding.h).
 */
#ifndef TIX_CORE_GZIP_H
#define TIX_CORE_GZIP_H

#include "core/arena.h"

#include <stdbool.h>
#include <stddef.h>

/* Compresses in[0..len) at level (1..9) into the arena. false when zlib fails. */
bool tix_gzip(tix_arena *a, const void *in, size_t len, int level, char **out, size_t *outlen);
/* Decompresses one gzip member into the arena (NUL-terminated beyond outlen). false when the
 * data is not exactly one valid member or would inflate beyond max bytes. */
bool tix_gunzip(tix_arena *a, const void *in, size_t len, size_t max, char **out, size_t *outlen);

#endif
