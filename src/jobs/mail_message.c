/* Mail templates and message building (jobs/mail.h): pure functions, no I/O. */
#include "jobs/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tix_mail_template_find(const char *lang, const char *name)
{
    char want[128];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(want, sizeof(want), "%s/%s", pass == 0 && lang ? lang : "en", name);
        for (int i = 0; i < tix_mail_templates_count; i++) {
            if (strcmp(tix_mail_templates[i].name, want) == 0) {
                return tix_mail_templates[i].text;
            }
        }
    }
    return NULL;
}

/* A growing buffer in the arena. */
typedef struct buf {
    tix_arena *a;
    char *p;
    size_t len;
    size_t cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = tix_arena_alloc(b->a, cap);
        if (b->len) {
            memcpy(p, b->p, b->len);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The value of the key [key, key+klen) into b (nothing for an unknown key). header: CR and LF
 * become spaces. */
static void put_value(buf *b, const char *key, size_t klen, const char *const *keys,
                      const char *const *vals, int nk, bool header)
{
    for (int k = 0; k < nk; k++) {
        if (strlen(keys[k]) != klen || strncmp(keys[k], key, klen) != 0 || vals[k] == NULL) {
            continue;
        }
        for (const char *v = vals[k]; *v; v++) {
            char ch = *v;
            if (header && (ch == '\r' || ch == '\n')) {
                ch = ' ';
            }
            put(b, &ch, 1);
        }
        return;
    }
}

/* Substitutes {{key}} in [s, s+n) into b. header: CR and LF of values become spaces. */
static void subst(buf *b, const char *s, size_t n, const char *const *keys, const char *const *vals,
                  int nk, bool header)
{
    size_t i = 0;
    while (i < n) {
        const char *open = i + 1 < n ? strstr(s + i, "{{") : NULL;
        if (open == NULL || open >= s + n) {
            put(b, s + i, n - i);
            return;
        }
        const char *close = strstr(open + 2, "}}");
        if (close == NULL || close >= s + n) {
            put(b, s + i, n - i);
            return;
        }
        put(b, s + i, (size_t)(open - (s + i)));
        put_value(b, open + 2, (size_t)(close - open - 2), keys, vals, nk, header);
        i = (size_t)(close + 2 - s);
    }
}

char *tix_mail_fill(tix_arena *a, const char *pattern, const char *const *keys,
                    const char *const *vals, int n)
{
    buf b = {a, NULL, 0, 0};
    put_str(&b, "");
    subst(&b, pattern, strlen(pattern), keys, vals, n, true);
    return b.p;
}

tix_rc tix_mail_render(tix_arena *a, const char *text, const char *const *keys,
                       const char *const *vals, int n, char **subject, char **body)
{
    static const char tag[] = "Subject: ";
    if (strncmp(text, tag, strlen(tag)) != 0) {
        return TIX_EINVAL;
    }
    const char *s = text + strlen(tag);
    const char *eol = strchr(s, '\n');
    if (eol == NULL || eol[1] != '\n') {
        return TIX_EINVAL;
    }
    buf sb = {a, NULL, 0, 0};
    buf bb = {a, NULL, 0, 0};
    subst(&sb, s, (size_t)(eol - s), keys, vals, n, true);
    put_str(&sb, "");
    const char *rest = eol + 2;
    subst(&bb, rest, strlen(rest), keys, vals, n, false);
    put_str(&bb, "");
    *subject = sb.p;
    *body = bb.p;
    return TIX_OK;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of data in lines of 76 characters, each ended by CRLF. */
static void put_base64(buf *b, const unsigned char *d, size_t n, bool lines)
{
    char out[4];
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        v |= i + 1 < n ? (unsigned)d[i + 1] << 8 : 0;
        v |= i + 2 < n ? d[i + 2] : 0;
        out[0] = b64[(v >> 18) & 63];
        out[1] = b64[(v >> 12) & 63];
        out[2] = (char)(i + 1 < n ? b64[(v >> 6) & 63] : '=');
        out[3] = (char)(i + 2 < n ? b64[v & 63] : '=');
        put(b, out, 4);
        col += 4;
        if (lines && col >= 76) {
            put_str(b, "\r\n");
            col = 0;
        }
    }
    if (lines && col > 0) {
        put_str(b, "\r\n");
    }
}

/* A header value: as it is when printable ASCII, else RFC 2047 encoded-words (UTF-8, base64). */
static void put_header_text(buf *b, const char *s)
{
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        plain = plain && *p >= 0x20 && *p < 0x7f;
    }
    if (plain) {
        put_str(b, s);
        return;
    }
    /* encoded-words of at most 45 bytes each, cut between UTF-8 characters */
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;
        while (take < n - i && take > 0 && ((unsigned char)s[i + take] & 0xC0) == 0x80) {
            take--;
        }
        if (i > 0) {
            put_str(b, "\r\n ");
        }
        put_str(b, "=?UTF-8?B?");
        put_base64(b, (const unsigned char *)s + i, take, false);
        put_str(b, "?=");
        i += take;
    }
}

char *tix_mail_address(tix_arena *a, const char *from)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt) {
        return tix_arena_strndup(a, lt + 1, (size_t)(gt - lt - 1));
    }
    return tix_arena_strdup(a, from);
}

void tix_mail_build(tix_arena *a, const tix_mail_msg *m, char **out, size_t *len)
{
    buf b = {a, NULL, 0, 0};
    char date[64];
    time_t t = (time_t)(m->date_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday],
             tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    /* the boundary cannot occur in base64 text ("=_" is not in its alphabet) */
    const char *boundary = tix_arena_sprintf(a, "=_ticketd_%s", m->message_id + 1);
    char *bnd = tix_arena_strdup(a, boundary);
    bnd[strcspn(bnd, "@>")] = '\0';
    put_str(&b, "From: ");
    put_header_text(&b, m->from);
    put_str(&b, "\r\nTo: ");
    put_str(&b, m->to);
    put_str(&b, "\r\nSubject: ");
    put_header_text(&b, m->subject);
    put_str(&b, "\r\nDate: ");
    put_str(&b, date);
    put_str(&b, "\r\nMessage-ID: ");
    put_str(&b, m->message_id);
    put_str(&b, "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"");
    put_str(&b, bnd);
    put_str(&b, "\"\r\n\r\nThis is a MIME message.\r\n\r\n--");
    put_str(&b, bnd);
    put_str(&b, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n");
    put_base64(&b, (const unsigned char *)m->body, strlen(m->body), true);
    for (int i = 0; i < m->natt; i++) {
        const tix_mail_attachment *at = &m->att[i];
        put_str(&b, "\r\n--");
        put_str(&b, bnd);
        put_str(&b, "\r\nContent-Type: ");
        put_str(&b, at->content_type);
        put_str(&b, "; name=\"");
        put_str(&b, at->filename);
        put_str(&b, "\"\r\nContent-Disposition: attachment; filename=\"");
        put_str(&b, at->filename);
        put_str(&b, "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        put_base64(&b, at->data, at->len, true);
    }
    put_str(&b, "\r\n--");
    put_str(&b, bnd);
    put_str(&b, "--\r\n");
    *out = b.p;
    *len = b.len;
}
