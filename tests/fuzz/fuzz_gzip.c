/*
 * gzip (core/gzip.c): the bytes as a gzip member with a small inflate limit (a bomb must stop
 * at the limit), and the bytes compressed and inflated back unchanged.
 */
#include "core/gzip.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tix_arena *a = tix_arena_create(1024);
    char *out = NULL;
    size_t outlen = 0;
    if (tix_gunzip(a, data, size, 4096, &out, &outlen) && (outlen > 4096 || out[outlen] != '\0')) {
        abort();
    }
    char *z = NULL;
    size_t zlen = 0;
    if (!tix_gzip(a, data, size, 1 + (size % 9), &z, &zlen) ||
        !tix_gunzip(a, z, zlen, size, &out, &outlen) || outlen != size ||
        (size > 0 && memcmp(out, data, size) != 0)) {
        abort();
    }
    tix_arena_destroy(a);
    return 0;
}
