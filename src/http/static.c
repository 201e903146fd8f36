/* Static files from a directory (see static.h). */
#include "http/static.h"

#include "core/gzip.h"
#include "http/encoding.h"
#include "http/req.h"

#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 128

typedef struct ext_type {
    const char *ext;
    const char *mime;
    bool text; /* compressible */
} ext_type;

static const ext_type types[] = {
    {".html", "text/html; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".json", "application/json; charset=utf-8", true},
    {".yaml", "application/yaml; charset=utf-8", true},
    {".svg", "image/svg+xml", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".png", "image/png", false},
    {".ico", "image/x-icon", false},
    {".woff2", "font/woff2", false},
};

static const ext_type *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return &types[i];
        }
    }
    return NULL;
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool tix_static_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > NAME_MAX_LEN || !alnum(name[0])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!alnum(name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-') {
            return false;
        }
    }
    return type_of(name) != NULL;
}

const char *tix_static_type(const char *name)
{
    const ext_type *t = type_of(name);
    return t ? t->mime : NULL;
}

/* Whether If-None-Match (a list of entity tags, or "*") names tag; weak comparison, as
 * RFC 9110 13.1.2 asks for GET. */
static bool none_match(const char *inm, const char *tag)
{
    if (inm == NULL) {
        return false;
    }
    size_t tn = strlen(tag);
    const char *p = inm;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '*') {
            return true;
        }
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        const char *end = p;
        while (*end != '\0' && *end != ',') {
            end++;
        }
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }
        if ((size_t)(last - p) == tn && memcmp(p, tag, tn) == 0) {
            return true;
        }
        p = end;
    }
    return false;
}

/* Reads the whole file into the arena; false on a short read. */
static bool read_all(tix_arena *a, int fd, size_t size, char **out)
{
    char *buf = tix_arena_alloc(a, size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
    }
    *out = buf;
    return true;
}

/* dir/name opened for reading if it is a regular file (not followed through a symlink);
 * -1 otherwise. */
static int open_regular(tix_req *r, const char *dir, const char *name, struct stat *st)
{
    char *path = tix_arena_sprintf(r->arena, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The entity tag of the file (and of its gzipped form), in the arena. */
static const char *etag_of(tix_req *r, const struct stat *st, bool gz)
{
    int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    return tix_arena_sprintf(r->arena, "\"%" PRIx64 "-%" PRIx64 "%s\"", (uint64_t)st->st_size,
                             (uint64_t)mtime_ns, gz ? "-gz" : "");
}

/* Answers with the file's bytes gzipped; false (nothing answered, the descriptor's offset
 * back at 0 or the read failed) when that could not be done. */
static bool send_gzipped(tix_req *r, int fd, size_t size)
{
    char *plain = NULL;
    char *z = NULL;
    size_t zlen = 0;
    if (!read_all(r->arena, fd, size, &plain) ||
        !tix_gzip(r->arena, plain, size, TIX_GZIP_LEVEL_NOW, &z, &zlen)) {
        return false;
    }
    r->status = 200;
    r->resp = z;
    r->resp_len = zlen;
    r->resp_encoding = "gzip";
    tix_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return true;
}

void tix_reply_static(tix_req *r, const char *dir, const char *name, const char *csp)
{
    const ext_type *t = tix_static_name_ok(name) ? type_of(name) : NULL;
    struct stat st;
    int fd = t ? open_regular(r, dir, name, &st) : -1;
    if (fd < 0) {
        tix_reply_error(r, 404, "not_found", "no such file", NULL);
        return;
    }
    bool gz = t->text && (size_t)st.st_size >= TIX_COMPRESS_MIN;
    bool send_gz = gz && tix_req_accepts_gzip(r);
    const char *etag = etag_of(r, &st, send_gz);
    int etag_at = r->nheaders; /* replaced below if the file goes out uncompressed after all */
    tix_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
    tix_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    tix_reply_header(r, "X-Content-Type-Options", "nosniff");
    tix_reply_header(r, "Referrer-Policy", "same-origin");
    if (csp != NULL) {
        tix_reply_header(r, "Content-Security-Policy", csp);
    }
    if (gz) {
        tix_reply_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    }
    if (none_match(tix_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
        close(fd);
        tix_reply_empty(r, 304);
        return;
    }
    r->content_type = t->mime;
    if (send_gz && send_gzipped(r, fd, (size_t)st.st_size)) {
        close(fd);
        return;
    }
    if (send_gz) { /* could not compress: the file as it is, under the plain ETag */
        r->hvalue[etag_at] = etag_of(r, &st, false);
        if (lseek(fd, 0, SEEK_SET) != 0) {
            close(fd);
            tix_reply_error(r, 503, "unavailable", "the file could not be read", NULL);
            return;
        }
    }
    /* A file answer (see req.h): the server sends it from the descriptor and closes it. */
    r->status = 200;
    r->resp_file = true;
    r->resp_fd = fd;
    r->resp_size = (uint64_t)st.st_size;
}
