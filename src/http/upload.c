/*
 * Streaming uploads (see upload.h). State per request: the post processor, the temporary
 * file and what is known of the "file" part so far. The first problem found is kept in
 * `status` and answered once the body is complete (libmicrohttpd answers only then); from
 * that moment the rest of the body is read and dropped, and the temporary file is removed
 * at once so a refused upload never occupies the disk.
 */
#include "http/upload.h"

#include "app.h"
#include "core/i18n.h"
#include "core/log.h"
#include "core/util.h"
#include "media/media.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The post processor's own buffer (for part headers; file data passes through). */
#define PP_BUFFER ((size_t)32 * 1024)
/* After a refusal, body bytes read and dropped beyond the limit before giving up on the
 * connection (so a client that stops at once still gets its 413/415). */
#define DRAIN_MAX (8L * 1024 * 1024)

struct tix_upload_state {
    tix_req *r;
    struct MHD_PostProcessor *pp;
    int fd;     /* the temporary file, -1 when none is open */
    char *path; /* its name (arena); NULL until created */
    unsigned char head[TIX_UPLOAD_SNIFF_BYTES];
    size_t head_len;
    const char *content_type; /* once sniffed */
    int64_t file_bytes;       /* of the "file" part so far */
    int64_t received;         /* body bytes so far */
    int64_t body_limit;       /* max_bytes + TIX_UPLOAD_OVERHEAD */
    unsigned status;          /* 0, or the answer decided: 400 413 415 422 503 */
};

bool tix_upload_accepts(tix_req *r)
{
    const char *ct = tix_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *mp = MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA;
    while (ct != NULL && *ct == ' ') {
        ct++;
    }
    if (ct != NULL && strncasecmp(ct, mp, strlen(mp)) == 0 && strstr(ct, "boundary=") != NULL) {
        return true;
    }
    tix_reply_error(r, 415, "unsupported_media_type",
                    "send the file as multipart/form-data in a part named \"file\"", NULL);
    return false;
}

/* Stops keeping the file: a refused upload leaves nothing on disk. */
static void drop_file(tix_upload_state *u)
{
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (u->path != NULL) {
        unlink(u->path);
        u->path = NULL;
    }
}

static void refuse(tix_upload_state *u, unsigned status)
{
    if (u->status == 0) {
        u->status = status;
    }
    drop_file(u);
}

static bool open_file(tix_upload_state *u)
{
    unsigned char raw[16];
    char hex[sizeof(raw) * 2 + 1];
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(hex, raw, sizeof(raw));
    u->path = tix_arena_sprintf(u->r->arena, "%s/" TIX_MEDIA_TMP_DIR "/up-%s.part",
                                u->r->app->cfg.media_dir, hex);
    u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        tix_log_error("upload: cannot create %s: %s", u->path, strerror(errno));
        u->path = NULL;
        return false;
    }
    return true;
}

static bool write_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        data += w;
        n -= (size_t)w;
    }
    return true;
}

/* Keeps the first bytes and sniffs them once there are enough (or at the end: final). */
static void sniff(tix_upload_state *u, const char *data, size_t n, bool final)
{
    size_t take = sizeof(u->head) - u->head_len;
    take = n < take ? n : take;
    memcpy(u->head + u->head_len, data, take);
    u->head_len += take;
    if (u->content_type == NULL && (u->head_len == sizeof(u->head) || final)) {
        u->content_type = u->r->upload.sniff(u->head, u->head_len);
        if (u->content_type == NULL) {
            refuse(u, 415);
        }
    }
}

/* The post processor's iterator: called for every piece of every form field. Its parameter
 * list is libmicrohttpd's. */
static enum MHD_Result on_part(/* NOLINT(readability-function-size) */
                               void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    tix_upload_state *u = cls;
    if (u->status != 0) {
        return MHD_NO;
    }
    if (key == NULL || strcmp(key, "file") != 0 || size == 0) {
        return MHD_YES; /* other fields are ignored (bounded by the body limit) */
    }
    if (off != (uint64_t)u->file_bytes) {
        refuse(u, 422); /* a second "file" part */
        return MHD_NO;
    }
    if (u->file_bytes + (int64_t)size > u->r->upload.max_bytes) {
        refuse(u, 413);
        return MHD_NO;
    }
    if (u->fd < 0 && !open_file(u)) {
        refuse(u, 503);
        return MHD_NO;
    }
    if (!write_all(u->fd, data, size)) {
        tix_log_error("upload: cannot write %s: %s", u->path, strerror(errno));
        refuse(u, 503);
        return MHD_NO;
    }
    u->file_bytes += (int64_t)size;
    if (u->content_type == NULL) {
        sniff(u, data, size, false);
    }
    return u->status == 0 ? MHD_YES : MHD_NO;
}

static void answer(tix_upload_state *u)
{
    tix_req *r = u->r;
    switch (u->status) {
    case 413:
        tix_reply_error(r, 413, "payload_too_large", "the file is too large",
                        json_pack("{s:s,s:I}", "field", "file", "limit_bytes",
                                  (json_int_t)r->upload.max_bytes));
        return;
    case 415:
        tix_reply_error(r, 415, "unsupported_media_type",
                        /* TRANSLATORS: %s lists file types: "JPEG, PNG or WebP" */
                        tix_arena_sprintf(
                            r->arena,
                            tix_tr(tix_req_lang(r), "the file must be %s (judged by its content)"),
                            r->upload.accepted ? r->upload.accepted : "another type"),
                        json_pack("{s:s}", "field", "file"));
        return;
    case 422:
        tix_reply_error(r, 422, "validation_failed", "send exactly one part named \"file\"",
                        json_pack("{s:s,s:s}", "field", "file", "reason", "must be sent once"));
        return;
    case 503:
        tix_reply_rc(r, TIX_EUNAVAIL);
        return;
    default:
        tix_reply_error(r, 400, "malformed_multipart",
                        "the multipart/form-data body is malformed or incomplete", NULL);
        return;
    }
}

bool tix_upload_start(tix_req *r, tix_upload_state **out)
{
    assert(r->upload.max_bytes > 0 && r->upload.sniff != NULL);
    int64_t limit = r->upload.max_bytes + TIX_UPLOAD_OVERHEAD;
    int64_t len = 0;
    const char *cl = tix_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && tix_parse_int(cl, 0, INT64_MAX, &len) && len > limit) {
        tix_upload_state tmp = {.r = r, .fd = -1, .status = 413};
        answer(&tmp);
        return false;
    }
    tix_upload_state *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        tix_reply_rc(r, TIX_EUNAVAIL);
        return false;
    }
    u->r = r;
    u->fd = -1;
    u->body_limit = limit;
    u->pp = MHD_create_post_processor(r->conn, PP_BUFFER, on_part, u);
    if (u->pp == NULL) {
        free(u);
        tix_reply_error(r, 415, "unsupported_media_type",
                        "send the file as multipart/form-data in a part named \"file\"", NULL);
        return false;
    }
    *out = u;
    return true;
}

bool tix_upload_feed(tix_upload_state *u, const char *data, size_t n)
{
    u->received += (int64_t)n;
    if (u->status == 0 && u->received > u->body_limit) {
        refuse(u, 413); /* a chunked body (no Content-Length) that grew too large */
    }
    if (u->status == 0 && MHD_post_process(u->pp, data, n) != MHD_YES && u->status == 0) {
        refuse(u, 400);
    }
    return u->status == 0 || u->received <= u->body_limit + DRAIN_MAX;
}

bool tix_upload_finish(tix_upload_state *u)
{
    tix_req *r = u->r;
    enum MHD_Result parsed = MHD_destroy_post_processor(u->pp);
    u->pp = NULL;
    if (u->status == 0 && parsed != MHD_YES) {
        refuse(u, 400);
    }
    if (u->status == 0 && u->file_bytes > 0 && u->content_type == NULL) {
        sniff(u, "", 0, true); /* a file shorter than the sniffing window */
    }
    if (u->status == 0 && u->fd >= 0 && close(u->fd) != 0) {
        u->fd = -1;
        refuse(u, 503);
    }
    u->fd = -1;
    if (u->status != 0) {
        answer(u);
        return false;
    }
    r->upload.path = u->file_bytes > 0 ? u->path : NULL;
    r->upload.content_type = u->content_type;
    r->upload.size = u->file_bytes;
    return true;
}

void tix_upload_cleanup(tix_upload_state *u)
{
    if (u == NULL) {
        return;
    }
    if (u->pp != NULL) {
        MHD_destroy_post_processor(u->pp);
    }
    drop_file(u);
    free(u);
}
