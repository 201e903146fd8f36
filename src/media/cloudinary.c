/*
 * The Cloudinary media store: signed uploads and destroys over Cloudinary's REST API with
 * libcurl (facts in shared/PROVIDERS.md).
 *   upload:  POST {base}/{cloud}/{image|video}/upload, multipart: file, api_key, timestamp,
 *            public_id, signature → {public_id, secure_url, ...}; we keep secure_url, public_id;
 *   chunked: Cloudinary takes about 100 MB per request, so a file larger than the store's
 *            chunk size (CLOUDINARY_CHUNK_SIZE) goes up as consecutive upload requests of that
 *            size (the last one shorter), each with the same signed parameters and the headers
 *            "X-Unique-Upload-Id: <one random id>" and "Content-Range: bytes <first>-<last>/
 *            <total>"; the earlier answers are {"done": false, ...}, the last one's is the
 *            resource. Chunks stream from the upload's temporary file (never whole in memory).
 *            A part answered 5xx/420/429 or not at all (but for a time-out) is sent again, up
 *            to PART_ATTEMPTS times. When the request that completes the resource failed with
 *            its outcome unknown, the public id is destroyed (best effort), so a resource that
 *            was made after all is not orphaned;
 *   destroy: POST {base}/{cloud}/{image|video}/destroy: public_id, timestamp, invalidate,
 *            api_key, signature → {"result":"ok"} or {"result":"not found"} (both success).
 * Public ids are "ticketd/<kind>s/<movie id>_<16 hex>": new for every upload, so a replaced
 * poster never lingers in a CDN cache, and remove only ever touches ids under "ticketd/".
 * Connections are kept alive between requests (the chunks of one upload, the destroy of the
 * media it replaced, the next upload) through the shared outbound client (core/http_client.h:
 * a pool of up to POOL_MAX idle curl handles sharing DNS and TLS sessions, thread-safe); a
 * request takes a handle for one attempt and gives it back. Every failure is TIX_EUPSTREAM; logs
 * name the status and Cloudinary's message with hex runs redacted, never the secret or a signature.
 */
#include "media/cloudinary.h"

#include "core/http_client.h"
#include "core/log.h"
#include "core/util.h"
#include "media/media.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_S 3
#define IMAGE_TIMEOUT_S   30
#define VIDEO_TIMEOUT_S   60
#define DESTROY_TIMEOUT_S 10
#define MAX_RESPONSE      (64 * 1024)
#define ID_PREFIX         "ticketd/"
#define PART_ATTEMPTS     3   /* tries per upload request (a whole file or one chunk) */
#define RETRY_PAUSE_MS    500 /* before the second try; twice that before the third */
#define POOL_MAX          4   /* idle curl handles kept (each with its live connections) */

typedef struct cld_store {
    tix_media base; /* first: a tix_media * is a cld_store * */
    char api_base[1024];
    char cloud[128];
    char key[128];
    char secret[256];
    int64_t chunk_bytes; /* files larger than this go up in chunks of this size */
    tix_httpc *http;     /* the handle pool */
} cld_store;

typedef struct response {
    char data[MAX_RESPONSE];
    size_t len;
    long status;     /* 0: no HTTP answer */
    CURLcode result; /* curl's verdict on the transfer */
} response;

/* What one upload request carries as its "file" part: bytes [start, start + len) of the
 * upload's temporary file, read by curl as it sends them. upload_id is NULL for a whole-file
 * upload, else the chunked upload's X-Unique-Upload-Id. */
typedef struct file_part {
    const tix_media_file *f;
    int fd;
    int64_t start;
    int64_t len;
    int64_t pos; /* bytes of this part handed to curl so far */
    const char *upload_id;
} file_part;

/* ---- signing (pure) ---- */

static int by_name(const void *a, const void *b)
{
    const tix_cloudinary_param *x = a;
    const tix_cloudinary_param *y = b;
    return strcmp(x->name, y->name);
}

static bool signed_param(const tix_cloudinary_param *p)
{
    return strcmp(p->name, "file") != 0 && strcmp(p->name, "cloud_name") != 0 &&
           strcmp(p->name, "resource_type") != 0 && strcmp(p->name, "api_key") != 0 &&
           p->value != NULL && p->value[0] != '\0';
}

bool tix_cloudinary_sign(const tix_cloudinary_param *params, size_t n, const char *secret,
                         char out[TIX_SHA1_HEX])
{
    tix_cloudinary_param sorted[TIX_CLOUDINARY_MAX_PARAMS];
    size_t k = 0;
    if (n > TIX_CLOUDINARY_MAX_PARAMS) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (signed_param(&params[i])) {
            sorted[k++] = params[i];
        }
    }
    qsort(sorted, k, sizeof(sorted[0]), by_name);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1;
    for (size_t i = 0; ok && i < k; i++) {
        ok = (i == 0 || EVP_DigestUpdate(ctx, "&", 1) == 1) &&
             EVP_DigestUpdate(ctx, sorted[i].name, strlen(sorted[i].name)) == 1 &&
             EVP_DigestUpdate(ctx, "=", 1) == 1 &&
             EVP_DigestUpdate(ctx, sorted[i].value, strlen(sorted[i].value)) == 1;
    }
    ok = ok && EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
         EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == 20;
    EVP_MD_CTX_free(ctx);
    if (ok) {
        tix_hex_encode(out, digest, len);
    }
    return ok;
}

/* ---- HTTP ---- */

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    response *r = userdata;
    size_t n = size * nmemb;
    size_t room = sizeof(r->data) - 1 - r->len;
    size_t take = n < room ? n : room;
    memcpy(r->data + r->len, data, take);
    r->len += take;
    r->data[r->len] = '\0';
    return n; /* an oversized answer is cut, not an error: it fails to parse later */
}

/* Copies Cloudinary's error message for a log line: cut before "String to sign" and with
 * every run of 16+ hex digits (a signature) replaced, so no signature reaches the log. */
static void safe_message(char *out, size_t cap, const char *msg)
{
    size_t k = 0;
    const char *end = strstr(msg, "String to sign");
    size_t n = end ? (size_t)(end - msg) : strlen(msg);
    for (size_t i = 0; i < n && k + 12 < cap;) {
        size_t run = 0;
        while (i + run < n && strchr("0123456789abcdefABCDEF", msg[i + run]) != NULL &&
               msg[i + run] != '\0') {
            run++;
        }
        if (run >= 16) {
            k += (size_t)snprintf(out + k, cap - k, "[redacted]");
            i += run;
        } else {
            out[k++] = msg[i++];
        }
    }
    out[k] = '\0';
}

static void log_failure(const char *what, const response *resp)
{
    json_t *j = json_loadb(resp->data, resp->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    char clean[256];
    safe_message(clean, sizeof(clean), msg ? msg : "(no error message)");
    tix_log_warn("cloudinary: %s answered HTTP %ld: %s", what, resp->status, clean);
    json_decref(j);
}

/* Adds one text field to a form; false if curl is out of memory. */
static bool add_field(curl_mime *mime, const char *name, const char *value)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    return part != NULL && curl_mime_name(part, name) == CURLE_OK &&
           curl_mime_data(part, value, CURL_ZERO_TERMINATED) == CURLE_OK;
}

/* curl's read callback for a file part: the next bytes of the range, from the file. */
static size_t part_read(char *buf, size_t size, size_t nitems, void *arg)
{
    file_part *p = arg;
    size_t want = size * nitems;
    int64_t left = p->len - p->pos;
    if ((int64_t)want > left) {
        want = (size_t)left;
    }
    if (want == 0) {
        return 0;
    }
    ssize_t n = pread(p->fd, buf, want, (off_t)(p->start + p->pos));
    if (n <= 0) {
        return CURL_READFUNC_ABORT; /* the file shrank or cannot be read */
    }
    p->pos += n;
    return (size_t)n;
}

/* curl's seek callback (it rewinds a part to send it again). */
static int part_seek(void *arg, curl_off_t offset, int origin)
{
    file_part *p = arg;
    if (origin != SEEK_SET || offset < 0 || offset > p->len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    p->pos = offset;
    return CURL_SEEKFUNC_OK;
}

static bool add_file(curl_mime *mime, file_part *p)
{
    char filename[128];
    snprintf(filename, sizeof(filename), "%.100s.%s", p->f->name_hint ? p->f->name_hint : "upload",
             p->f->type->ext);
    curl_mimepart *part = curl_mime_addpart(mime);
    p->pos = 0;
    return part != NULL && curl_mime_name(part, "file") == CURLE_OK &&
           curl_mime_data_cb(part, (curl_off_t)p->len, part_read, part_seek, NULL, p) == CURLE_OK &&
           curl_mime_filename(part, filename) == CURLE_OK &&
           curl_mime_type(part, p->f->type->mime) == CURLE_OK;
}

/* The headers of a request: no "Expect: 100-continue" round trip (the request is signed, the
 * body is wanted), and a chunk's X-Unique-Upload-Id and Content-Range. NULL when out of
 * memory. Free with curl_slist_free_all. */
static struct curl_slist *request_headers(const file_part *p)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (h == NULL || p == NULL || p->upload_id == NULL) {
        return h;
    }
    char id[128];
    char range[128];
    snprintf(id, sizeof(id), "X-Unique-Upload-Id: %s", p->upload_id);
    snprintf(range, sizeof(range), "Content-Range: bytes %lld-%lld/%lld", (long long)p->start,
             (long long)(p->start + p->len - 1), (long long)p->f->size);
    struct curl_slist *with_id = curl_slist_append(h, id);
    struct curl_slist *with_range = with_id ? curl_slist_append(with_id, range) : NULL;
    if (with_range == NULL) {
        curl_slist_free_all(h);
    }
    return with_range;
}

static void set_options(CURL *c, const char *url, long timeout_s, response *resp,
                        struct curl_slist *headers, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ticketd");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

/* POSTs params (and the file part, when p is set) as multipart/form-data to url. TIX_OK when
 * an HTTP answer arrived (any status, in resp); TIX_EUPSTREAM when none did (resp->result
 * says why). */
static tix_rc post_form(const cld_store *s, const char *url, const tix_cloudinary_param *params,
                        size_t n, file_part *p, long timeout_s, response *resp)
{
    CURL *c = tix_httpc_take(s->http);
    curl_mime *mime = c ? curl_mime_init(c) : NULL;
    struct curl_slist *headers = request_headers(p);
    char errbuf[CURL_ERROR_SIZE] = "";
    bool ok = mime != NULL && headers != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = add_field(mime, params[i].name, params[i].value);
    }
    ok = ok && (p == NULL || add_file(mime, p));
    tix_rc rc = TIX_EUPSTREAM;
    resp->len = 0;
    resp->data[0] = '\0';
    resp->status = 0;
    resp->result = CURLE_FAILED_INIT;
    if (ok) {
        set_options(c, url, timeout_s, resp, headers, errbuf);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
        CURLcode cc = curl_easy_perform(c);
        resp->result = cc;
        if (cc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
            rc = TIX_OK;
        } else {
            tix_log_warn("cloudinary: %s failed: %s", url,
                         errbuf[0] ? errbuf : curl_easy_strerror(cc));
        }
    }
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    tix_httpc_give(s->http, c); /* its connection stays open for the next request */
    return rc;
}

/* ---- the store ---- */

static const char *resource_type(tix_media_kind kind)
{
    return kind == TIX_MEDIA_POSTER ? "image" : "video";
}

/* Signs params[0..n) and appends api_key and signature after them (the array has room). */
static bool sign_request(const cld_store *s, tix_cloudinary_param *params, size_t n,
                         char sig[TIX_SHA1_HEX])
{
    if (!tix_cloudinary_sign(params, n, s->secret, sig)) {
        return false;
    }
    params[n] = (tix_cloudinary_param){"api_key", s->key};
    params[n + 1] = (tix_cloudinary_param){"signature", sig};
    return true;
}

/* Reads secure_url and public_id from an upload answer into the arena. */
static tix_rc parse_upload(tix_arena *a, const response *resp, char **url, char **public_id)
{
    json_t *j = json_loadb(resp->data, resp->len, 0, NULL);
    const char *u = json_string_value(json_object_get(j, "secure_url"));
    const char *id = json_string_value(json_object_get(j, "public_id"));
    tix_rc rc = TIX_EUPSTREAM;
    if (u != NULL && id != NULL && strncmp(u, "https://", 8) == 0) {
        *url = tix_arena_strdup(a, u);
        *public_id = tix_arena_strdup(a, id);
        rc = TIX_OK;
    } else {
        tix_log_warn("cloudinary: the upload answer lacks secure_url or public_id");
    }
    json_decref(j);
    return rc;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether a failed request is worth sending again: Cloudinary had trouble (5xx), asked us to
 * slow down (420, 429), or no answer came for a reason other than a time-out (a time-out
 * already took the whole request's time). */
static bool worth_retrying(tix_rc rc, const response *resp)
{
    if (rc != TIX_OK) {
        return resp->result != CURLE_OPERATION_TIMEDOUT;
    }
    return resp->status >= 500 || resp->status == 420 || resp->status == 429;
}

/* One upload request (the whole file, or one chunk), tried up to PART_ATTEMPTS times. TIX_OK
 * with resp holding the 200 answer; else TIX_EUPSTREAM, and *refused tells whether Cloudinary
 * definitely refused it (4xx: nothing was stored) rather than failed in an unknown way. */
static tix_rc send_part(const cld_store *s, const char *endpoint,
                        const tix_cloudinary_param *params, size_t n, file_part *p, long timeout_s,
                        response *resp, bool *refused)
{
    char what[96];
    if (p->upload_id != NULL) {
        snprintf(what, sizeof(what), "upload of bytes %lld-%lld/%lld", (long long)p->start,
                 (long long)(p->start + p->len - 1), (long long)p->f->size);
    } else {
        snprintf(what, sizeof(what), "upload");
    }
    for (int attempt = 1;; attempt++) {
        tix_rc rc = post_form(s, endpoint, params, n, p, timeout_s, resp);
        if (rc == TIX_OK && resp->status == 200) {
            return TIX_OK;
        }
        if (rc == TIX_OK) {
            log_failure(what, resp);
        }
        bool again = worth_retrying(rc, resp);
        if (!again || attempt == PART_ATTEMPTS) {
            *refused = !again;
            return TIX_EUPSTREAM;
        }
        tix_log_info("cloudinary: sending the %s again (try %d of %d)", what, attempt + 1,
                     PART_ATTEMPTS);
        pause_ms((long)attempt * RETRY_PAUSE_MS);
    }
}

/* Sends the file as one request, or in chunks when it is larger than the store's chunk size.
 * TIX_OK with resp holding the answer to the last request (the resource). On failure
 * *unknown tells whether the request that completes the resource was sent and failed in a
 * way that leaves its outcome unknown. */
static tix_rc send_file(const cld_store *s, const char *endpoint,
                        const tix_cloudinary_param *params, size_t n, const tix_media_file *f,
                        int fd, response *resp, bool *unknown)
{
    long timeout = f->kind == TIX_MEDIA_POSTER ? IMAGE_TIMEOUT_S : VIDEO_TIMEOUT_S;
    bool chunked = f->size > s->chunk_bytes;
    unsigned char raw[16];
    char upload_id[sizeof(raw) * 2 + 1];
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(upload_id, raw, sizeof(raw));
    file_part part = {.f = f, .fd = fd, .upload_id = chunked ? upload_id : NULL};
    int64_t step = chunked ? s->chunk_bytes : f->size;
    *unknown = false;
    for (int64_t start = 0; start < f->size; start += step) {
        bool refused = false;
        bool last = f->size - start <= step;
        part.start = start;
        part.len = last ? f->size - start : step;
        if (send_part(s, endpoint, params, n, &part, timeout, resp, &refused) != TIX_OK) {
            *unknown = last && !refused;
            return TIX_EUPSTREAM;
        }
    }
    return TIX_OK;
}

static tix_rc cld_remove(tix_media *m, tix_media_kind kind, const char *public_id);

static tix_rc cld_put(tix_media *m, tix_arena *a, const tix_media_file *f, char **url,
                      char **public_id)
{
    const cld_store *s = (const cld_store *)m;
    unsigned char raw[8];
    char hex[sizeof(raw) * 2 + 1];
    char ts[24];
    char sig[TIX_SHA1_HEX];
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(hex, raw, sizeof(raw));
    snprintf(ts, sizeof(ts), "%lld", (long long)(tix_now_ms() / 1000));
    char *id = tix_arena_sprintf(a, ID_PREFIX "%ss/%.60s_%s", tix_media_kind_name(f->kind),
                                 f->name_hint ? f->name_hint : "media", hex);
    /* Signed once: every chunk of a chunked upload carries the same parameters. */
    tix_cloudinary_param params[4] = {{"public_id", id}, {"timestamp", ts}};
    if (f->size <= 0 || !sign_request(s, params, 2, sig)) {
        return TIX_EUPSTREAM;
    }
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tix_log_error("media: cannot read the upload %s: %s", f->path, strerror(errno));
        return TIX_EUNAVAIL;
    }
    char *endpoint =
        tix_arena_sprintf(a, "%s/%s/%s/upload", s->api_base, s->cloud, resource_type(f->kind));
    response *resp = tix_arena_calloc(a, sizeof(*resp));
    bool unknown = false;
    tix_rc rc = send_file(s, endpoint, params, 4, f, fd, resp, &unknown);
    close(fd);
    rc = rc == TIX_OK ? parse_upload(a, resp, url, public_id) : rc;
    if (rc != TIX_OK && (unknown || resp->status == 200)) {
        /* The resource may exist after all: remove it rather than leave it orphaned. */
        tix_rc gone = cld_remove(m, f->kind, id);
        tix_log_warn("cloudinary: the failed upload's public id %s %s", id,
                     gone == TIX_OK ? "is destroyed" : "could not be destroyed; it may linger");
    }
    return rc;
}

static tix_rc cld_remove(tix_media *m, tix_media_kind kind, const char *public_id)
{
    const cld_store *s = (const cld_store *)m;
    if (strncmp(public_id, ID_PREFIX, strlen(ID_PREFIX)) != 0) {
        return TIX_EINVAL; /* not one of ours (e.g. a local file from an earlier setup) */
    }
    char ts[24];
    char sig[TIX_SHA1_HEX];
    char endpoint[1400];
    snprintf(ts, sizeof(ts), "%lld", (long long)(tix_now_ms() / 1000));
    snprintf(endpoint, sizeof(endpoint), "%s/%s/%s/destroy", s->api_base, s->cloud,
             resource_type(kind));
    tix_cloudinary_param params[5] = {
        {"public_id", public_id}, {"timestamp", ts}, {"invalidate", "true"}};
    response *resp = calloc(1, sizeof(*resp));
    if (resp == NULL || !sign_request(s, params, 3, sig)) {
        free(resp);
        return TIX_EUPSTREAM;
    }
    tix_rc rc = post_form(s, endpoint, params, 5, NULL, DESTROY_TIMEOUT_S, resp);
    if (rc == TIX_OK) {
        json_t *j = json_loadb(resp->data, resp->len, 0, NULL);
        const char *result = json_string_value(json_object_get(j, "result"));
        bool done = resp->status == 200 && result != NULL &&
                    (strcmp(result, "ok") == 0 || strcmp(result, "not found") == 0);
        if (!done) {
            log_failure("destroy", resp);
            rc = TIX_EUPSTREAM;
        }
        json_decref(j);
    }
    free(resp);
    return rc;
}

static void cld_destroy(tix_media *m)
{
    cld_store *s = (cld_store *)m;
    tix_httpc_destroy(s->http);
    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    free(s);
}

tix_rc tix_media_cloudinary_create(const char *api_base, const char *cloud, const char *api_key,
                                   const char *api_secret, int64_t chunk_bytes, tix_media **out)
{
    cld_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    if (strlen(api_base) >= sizeof(s->api_base) || strlen(cloud) >= sizeof(s->cloud) ||
        strlen(api_key) >= sizeof(s->key) || strlen(api_secret) >= sizeof(s->secret) ||
        chunk_bytes <= 0) {
        free(s);
        return TIX_EINVAL;
    }
    s->http = tix_httpc_create("cloudinary", POOL_MAX);
    if (s->http == NULL) {
        free(s);
        return TIX_ENOMEM;
    }
    memcpy(s->api_base, api_base, strlen(api_base) + 1);
    memcpy(s->cloud, cloud, strlen(cloud) + 1);
    memcpy(s->key, api_key, strlen(api_key) + 1);
    memcpy(s->secret, api_secret, strlen(api_secret) + 1);
    s->chunk_bytes = chunk_bytes;
    s->base.name = "cloudinary";
    s->base.remote = true;
    s->base.put = cld_put;
    s->base.remove = cld_remove;
    s->base.destroy = cld_destroy;
    *out = &s->base;
    return TIX_OK;
}
