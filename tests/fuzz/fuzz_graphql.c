/*
 * GraphQL documents (core/graphql_parse): the bytes are the `query` of a request. The parser
 * must never read outside the source, recurse without bound or leak (the tree lives in one
 * arena); an accepted document has at least one definition and stays within the limits it was
 * given; a refusal names a position inside the document (line and column from 1) and a message.
 * Small limits for half the inputs (chosen by the first byte) so the limit paths run as often as
 * the grammar.
 */
#include "core/arena.h"
#include "core/graphql_parse.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tix_gql_limits small = {.max_bytes = 4096, .max_tokens = 200, .max_depth = 8};
    const tix_gql_limits *lim = (size > 0 && (data[0] & 1)) ? &small : NULL;
    int max_depth = lim != NULL ? lim->max_depth : TIX_GQL_MAX_DEPTH;
    int max_tokens = lim != NULL ? lim->max_tokens : TIX_GQL_MAX_TOKENS;
    tix_arena *a = tix_arena_create(0);
    tix_gql_error err;
    /* a copy exactly size bytes long, without a NUL after it, so ASan sees any over-read */
    char *src = malloc(size > 0 ? size : 1);
    if (size > 0) {
        memcpy(src, data, size);
    }
    tix_gql_document *doc = tix_gql_parse(a, src, size, lim, &err);
    if (doc != NULL) {
        if (doc->definitions == NULL || doc->max_depth > max_depth || doc->tokens > max_tokens) {
            abort();
        }
        for (tix_gql_definition *d = doc->definitions; d != NULL; d = d->next) {
            if (d->selections == NULL || (d->kind == TIX_GQL_FRAGMENT_DEF && d->name == NULL)) {
                abort();
            }
        }
    } else if (err.line < 1 || err.col < 1 || err.message[0] == 0 || (size_t)err.line > size + 1) {
        abort();
    }
    free(src);
    tix_arena_destroy(a);
    return 0;
}
