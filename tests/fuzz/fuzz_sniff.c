/*
 * File sniffing and media names (media/sniff.c): the first bytes of an upload against both
 * kinds at every length, and the bytes as a content type and as a stored file name. A type
 * sniffed must be one the kind accepts by its content type too.
 */
#include "fuzz.h"
#include "media/media.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tix_media_kind kinds[] = {TIX_MEDIA_POSTER, TIX_MEDIA_TRAILER};
    for (size_t k = 0; k < 2; k++) {
        for (size_t n = 0; n <= size && n <= 2 * TIX_MEDIA_SNIFF_BYTES; n++) {
            /* an exact-size copy, so reading past n is an ASan report */
            unsigned char *head = malloc(n ? n : 1);
            memcpy(head, data, n);
            const tix_media_type *t = tix_media_sniff(kinds[k], head, n);
            if (t != NULL && tix_media_type_by_mime(kinds[k], t->mime) != t) {
                abort();
            }
            free(head);
        }
        char *s = tix_fuzz_strndup(data, size);
        const tix_media_type *byname = tix_media_name_type(kinds[k], s);
        if (byname != NULL && (strstr(s, "/") != NULL || strstr(s, "..") != NULL)) {
            abort();
        }
        (void)tix_media_type_by_mime(kinds[k], s);
        free(s);
    }
    return 0;
}
