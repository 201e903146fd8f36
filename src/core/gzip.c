/* gzip of whole buffers (see gzip.h). The output goes straight into the arena: deflateBound
 * gives the worst case up front, so there is one allocation and no copy. */
#include "core/gzip.h"

#include <stdint.h>
#include <string.h>

#define ZLIB_CONST /* next_in is a pointer to const: no cast needed for the input */
#include <zlib.h>

#define GZIP_WINDOW (15 + 16) /* 32 KiB window, gzip wrapper */

bool tix_gzip(tix_arena *a, const void *in, size_t len, int level, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (len > UINT32_MAX ||
        deflateInit2(&z, level, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return false;
    }
    size_t cap = deflateBound(&z, (uLong)len) + 32; /* + the gzip header and trailer */
    char *buf = tix_arena_alloc(a, cap);
    z.next_in = (const Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        return false;
    }
    *out = buf;
    *outlen = n;
    return true;
}

bool tix_gunzip(tix_arena *a, const void *in, size_t len, size_t max, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (len > UINT32_MAX || max >= UINT32_MAX || inflateInit2(&z, GZIP_WINDOW) != Z_OK) {
        return false;
    }
    /* The gzip trailer's ISIZE is the length modulo 2^32: a hint for the buffer, never trusted
     * beyond max. */
    size_t cap = 256;
    if (len >= 4) {
        const unsigned char *t = (const unsigned char *)in + len - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        cap = isize < max ? isize : max;
    }
    char *buf = tix_arena_alloc(a, cap + 1);
    z.next_in = (const Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = Z_OK;
    while ((rc = inflate(&z, Z_FINISH)) == Z_BUF_ERROR && z.avail_out == 0 && cap < max) {
        size_t ncap = cap < 128 ? 256 : cap * 2; /* the hint was wrong: grow, up to max */
        ncap = ncap < max ? ncap : max;
        char *nbuf = tix_arena_alloc(a, ncap + 1);
        memcpy(nbuf, buf, z.total_out);
        buf = nbuf;
        z.next_out = (Bytef *)buf + z.total_out;
        z.avail_out = (uInt)(ncap - z.total_out);
        cap = ncap;
    }
    size_t n = z.total_out;
    bool whole = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!whole) {
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return true;
}
