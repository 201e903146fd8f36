/* Shared helpers for the fuzz targets (fuzz.h): the fake libmicrohttpd connection. */
#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tix_fuzz_conn_add(tix_fuzz_conn *c, int kind, const char *name, const char *value)
{
    if (c->n >= TIX_FUZZ_MAX_VALUES) {
        return;
    }
    c->kind[c->n] = kind;
    c->name[c->n] = name;
    c->value[c->n] = value;
    c->value_len[c->n] = value ? strlen(value) : 0;
    c->n++;
}

static int find(const tix_fuzz_conn *c, int kind, const char *key, size_t key_len)
{
    for (int i = 0; c != NULL && i < c->n; i++) {
        if ((c->kind[i] & kind) == 0 || strlen(c->name[i]) != key_len) {
            continue;
        }
        /* headers are case-insensitive, query arguments are not */
        bool same = c->kind[i] == MHD_HEADER_KIND ? strncasecmp(c->name[i], key, key_len) == 0
                                                  : memcmp(c->name[i], key, key_len) == 0;
        if (same) {
            return i;
        }
    }
    return -1;
}

/* libmicrohttpd's API, over a tix_fuzz_conn (see fuzz.h). */
const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    const tix_fuzz_conn *c = (const tix_fuzz_conn *)(void *)connection;
    int i = key ? find(c, (int)kind, key, strlen(key)) : -1;
    return i < 0 ? NULL : c->value[i];
}

enum MHD_Result MHD_lookup_connection_value_n(struct MHD_Connection *connection,
                                              enum MHD_ValueKind kind, const char *key,
                                              size_t key_size, const char **value_ptr,
                                              size_t *value_size_ptr)
{
    const tix_fuzz_conn *c = (const tix_fuzz_conn *)(void *)connection;
    int i = key ? find(c, (int)kind, key, key_size) : -1;
    if (i < 0) {
        return MHD_NO;
    }
    if (value_ptr != NULL) {
        *value_ptr = c->value[i];
    }
    if (value_size_ptr != NULL) {
        *value_size_ptr = c->value_len[i];
    }
    return MHD_YES;
}

void tix_fuzz_req_init(tix_req *r, tix_fuzz_conn *conn, tix_app *app)
{
    memset(r, 0, sizeof(*r));
    r->arena = tix_arena_create(4096);
    r->conn = conn;
    r->app = app;
    r->method = "GET";
    r->path = "/";
}

void tix_fuzz_req_done(tix_req *r)
{
    json_decref(r->json);
    tix_arena_destroy(r->arena);
    memset(r, 0, sizeof(*r));
}

char *tix_fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(s, data, n);
    }
    s[n] = '\0';
    return s;
}

const uint8_t *tix_fuzz_split(const uint8_t *data, size_t size, uint8_t sep, size_t *head_len,
                              size_t *rest_len)
{
    const uint8_t *p = size > 0 ? memchr(data, sep, size) : NULL;
    if (p == NULL) {
        *head_len = size;
        *rest_len = 0;
        return NULL;
    }
    *head_len = (size_t)(p - data);
    *rest_len = size - *head_len - 1;
    return p + 1;
}

void tix_fuzz_quiet(void)
{
    tix_log_set_level(TIX_LOG_ERROR + 1);
}

/* Percent-decodes s in place ('+' is a space); a value ends at its first decoded NUL, as
 * libmicrohttpd's C strings do. */
static void unescape(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *w++ = ' ';
        } else if (*p == '%' && tix_hex_digit(p[1]) >= 0 && tix_hex_digit(p[2]) >= 0) {
            *w++ = (char)(tix_hex_digit(p[1]) * 16 + tix_hex_digit(p[2]));
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
}

bool tix_fuzz_parse_query(tix_fuzz_conn *c, char *qs)
{
    bool clean = true;
    for (const char *p = qs; *p; p++) {
        if (*p == '%' && tix_hex_digit(p[1]) >= 0 && tix_hex_digit(p[2]) >= 0) {
            int b = tix_hex_digit(p[1]) * 16 + tix_hex_digit(p[2]);
            clean = clean && b >= 0x20 && b != 0x7f;
        } else {
            clean = clean && (unsigned char)*p >= 0x20 && *p != 0x7f;
        }
    }
    char *save = NULL;
    for (char *part = strtok_r(qs, "&", &save); part != NULL; part = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(part, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        unescape(part);
        unescape(eq + 1);
        for (int i = 0; i < c->n; i++) {
            clean = clean && strcmp(c->name[i], part) != 0;
        }
        tix_fuzz_conn_add(c, MHD_GET_ARGUMENT_KIND, part, eq + 1);
    }
    return clean;
}
