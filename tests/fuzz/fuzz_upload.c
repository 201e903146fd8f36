/*
 * Multipart uploads and sniffing (http/upload.c through libmicrohttpd's post processor, then
 * media/sniff.c): the bytes are a multipart/form-data body with a fixed boundary, fed in
 * chunks whose sizes come from the first byte, to a poster route's limits. Checks: a body is
 * either refused with one answer (400/413/415/422) or accepted with a sniffed type, a size
 * within the limit and a temporary file of exactly that size; nothing is left on disk.
 */
#include "fuzz.h"
#include "http/upload.h"
#include "media/media.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOUNDARY  "XyZzY"
#define MAX_BYTES 4096

static tix_app *app;
static char tmp_dir[64];

/* Removes the (empty) folders made at start when libFuzzer exits. */
static void remove_dirs(void)
{
    rmdir(tmp_dir);
    rmdir(app->cfg.media_dir);
}

static const char *sniff_poster(const unsigned char *head, size_t n)
{
    const tix_media_type *t = tix_media_sniff(TIX_MEDIA_POSTER, head, n);
    return t ? t->mime : NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    tix_fuzz_quiet();
    app = calloc(1, sizeof(*app));
    char tmpl[] = "/tmp/tix-fuzz-upload-XXXXXX";
    if (app == NULL || mkdtemp(tmpl) == NULL) {
        abort();
    }
    snprintf(app->cfg.media_dir, sizeof(app->cfg.media_dir), "%s", tmpl);
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/" TIX_MEDIA_TMP_DIR, tmpl);
    if (mkdir(tmp_dir, 0700) != 0) {
        abort();
    }
    atexit(remove_dirs);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t chunk = 1 + data[0] % 64;
    data++, size--;
    tix_fuzz_conn conn = {0};
    tix_fuzz_conn_add(&conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE,
                      "multipart/form-data; boundary=" BOUNDARY);
    tix_req r;
    tix_fuzz_req_init(&r, &conn, app);
    r.method = "POST";
    r.upload.max_bytes = MAX_BYTES;
    r.upload.sniff = sniff_poster;
    r.upload.accepted = "JPEG, PNG or WebP";
    tix_upload_state *u = NULL;
    if (!tix_upload_accepts(&r) || !tix_upload_start(&r, &u)) {
        abort();
    }
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (!tix_upload_feed(u, (const char *)data + off, n)) {
            break;
        }
    }
    if (tix_upload_finish(u)) {
        if (r.status != 0 || r.upload.size < 0 || r.upload.size > MAX_BYTES) {
            abort();
        }
        if (r.upload.path != NULL) {
            struct stat st;
            if (r.upload.content_type == NULL || stat(r.upload.path, &st) != 0 ||
                st.st_size != r.upload.size ||
                tix_media_type_by_mime(TIX_MEDIA_POSTER, r.upload.content_type) == NULL) {
                abort();
            }
        }
    } else if (r.status != 400 && r.status != 413 && r.status != 415 && r.status != 422) {
        abort();
    }
    const char *path = r.upload.path;
    tix_upload_cleanup(u);
    if (path != NULL && access(path, F_OK) == 0) {
        unlink(path); /* the server removes it after the reply */
    }
    tix_fuzz_req_done(&r);
    return 0;
}
