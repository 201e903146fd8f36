/* JSON body validation helpers; see validate.h. */
#include "http/validate.h"

#include "core/i18n.h"
#include "core/util.h"

#include <ctype.h>
#include <string.h>

static bool type_error(tix_verr *e, const char *key, const char *expected)
{
    return tix_verr_type(e, key, expected);
}

bool tix_v_fail(tix_verr *e, const char *field, const char *reason)
{
    return tix_verr_value(e, field, reason);
}

unsigned tix_verr_status(const tix_verr *e)
{
    return e->kind == TIX_VERR_TYPE ? 400 : 422;
}

const char *tix_verr_code(const tix_verr *e)
{
    return e->kind == TIX_VERR_TYPE ? "invalid_type" : "validation_failed";
}

bool tix_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = tix_utf8_seq(p);
        if (n == 0) {
            return false;
        }
        p += n;
    }
    return true;
}

size_t tix_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Whether s (valid UTF-8) is nothing but white space: ASCII spaces and controls, and the
 * Unicode spaces people paste (U+00A0, U+2000..U+200B, U+202F, U+205F, U+3000, U+FEFF). */
static bool blank(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p <= 0x20 || *p == 0x7f) {
            p++;
        } else if (p[0] == 0xc2 && p[1] == 0xa0) {
            p += 2;
        } else if ((p[0] == 0xe2 && p[1] == 0x80 && (p[2] <= 0x8b || p[2] == 0xaf)) ||
                   (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
                   (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) ||
                   (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)) {
            p += 3;
        } else {
            return false;
        }
    }
    return true;
}

bool tix_v_string(json_t *obj, const char *key, bool required, size_t min, size_t max,
                  const char **out, tix_verr *e)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || (json_is_null(v) && !required)) {
        return required ? tix_v_fail(e, key, "is required") : true;
    }
    if (!json_is_string(v)) {
        return type_error(e, key, "string");
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        return tix_v_fail(e, key, "must not contain NUL characters");
    }
    size_t len = tix_utf8_len(s);
    if (len < min) {
        return tix_v_fail(e, key, min <= 1 ? N_("must not be empty") : N_("is too short"));
    }
    if (len > max) {
        return tix_v_fail(e, key, "is too long");
    }
    if (min >= 1 && blank(s)) {
        return tix_v_fail(e, key, "must not be blank");
    }
    *out = s;
    return true;
}

/* Whether s (valid UTF-8) holds a control character: C0 (U+0000..U+001F), DEL or C1
 * (U+0080..U+009F, encoded C2 80..C2 9F). With multiline, tab, line feed and carriage return are
 * not counted. */
static bool has_control(const char *s, bool multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool allowed = multiline && (*p == '\t' || *p == '\n' || *p == '\r');
        if ((*p < 0x20 && !allowed) || *p == 0x7f ||
            (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
            return true;
        }
    }
    return false;
}

bool tix_v_text(json_t *obj, const char *key, bool required, size_t min, size_t max,
                tix_text_kind kind, const char **out, tix_verr *e)
{
    if (!tix_v_string(obj, key, required, min, max, out, e)) {
        return false;
    }
    if (*out != NULL && has_control(*out, kind == TIX_TEXT_MULTILINE)) {
        *out = NULL;
        return tix_v_fail(e, key,
                          kind == TIX_TEXT_MULTILINE
                              ? N_("must not contain control characters other than tab and "
                                   "line breaks")
                              : N_("must not contain control characters"));
    }
    return true;
}

bool tix_v_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
               bool *present, tix_verr *e)
{
    json_t *v = json_object_get(obj, key);
    if (present != NULL) {
        *present = false;
    }
    if (v == NULL || (json_is_null(v) && !required)) {
        return required ? tix_v_fail(e, key, "is required") : true;
    }
    if (!json_is_integer(v)) {
        return type_error(e, key, "integer");
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        return tix_v_fail(e, key, "is out of range");
    }
    *out = i;
    if (present != NULL) {
        *present = true;
    }
    return true;
}

bool tix_v_bool(json_t *obj, const char *key, bool required, bool *out, bool *present, tix_verr *e)
{
    json_t *v = json_object_get(obj, key);
    if (present != NULL) {
        *present = false;
    }
    if (v == NULL || (json_is_null(v) && !required)) {
        return required ? tix_v_fail(e, key, "is required") : true;
    }
    if (!json_is_boolean(v)) {
        return type_error(e, key, "boolean");
    }
    *out = json_is_true(v);
    if (present != NULL) {
        *present = true;
    }
    return true;
}

/* Lower-cases item into buf (cap bytes); false if it is empty, too long, blank, holds a control
 * character or characters that would confuse the LIKE filters (quotes, %, backslash). */
static bool list_item(const char *item, size_t max_len, char *buf, size_t cap)
{
    size_t len = tix_utf8_len(item);
    if (len == 0 || len > max_len || strlen(item) >= cap || strpbrk(item, "\"%\\") != NULL ||
        blank(item) || has_control(item, false)) {
        return false;
    }
    size_t k = 0;
    for (; item[k]; k++) {
        buf[k] = (char)(item[k] >= 'A' && item[k] <= 'Z' ? item[k] + ('a' - 'A') : item[k]);
    }
    buf[k] = '\0';
    return true;
}

static bool list_has(json_t *list, const char *s)
{
    for (size_t j = 0; j < json_array_size(list); j++) {
        if (strcmp(json_string_value(json_array_get(list, j)), s) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether a list item is a string without U+0000; e filled otherwise. */
static bool list_string(const json_t *item, const char *key, tix_verr *e)
{
    if (!json_is_string(item)) {
        return type_error(e, key, "array of strings");
    }
    if (strlen(json_string_value(item)) != json_string_length(item)) {
        return tix_v_fail(e, key, "must not contain NUL characters");
    }
    return true;
}

bool tix_v_string_list(json_t *obj, const char *key, size_t max_items, size_t max_len, json_t **out,
                       tix_verr *e)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (!json_is_array(v)) {
        return type_error(e, key, "array of strings");
    }
    if (json_array_size(v) > max_items) {
        return tix_v_fail(e, key, "has too many items");
    }
    json_t *list = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char buf[256];
        bool ok = list_string(item, key, e);
        if (ok && !list_item(json_string_value(item), max_len, buf, sizeof(buf))) {
            ok = tix_v_fail(e, key,
                            /* xgettext:no-c-format */
                            "items must be 1..32 characters, not blank, without control "
                            "characters, quotes, % or backslashes");
        }
        if (ok && list_has(list, buf)) {
            ok = tix_v_fail(e, key, "has duplicate items");
        }
        if (!ok) {
            json_decref(list);
            return false;
        }
        json_array_append_new(list, json_string(buf));
    }
    *out = list;
    return true;
}

static bool domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n < 3 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.' || strchr(d, '.') == NULL ||
        strstr(d, "..") != NULL) {
        return false;
    }
    for (; *d; d++) {
        unsigned char c = (unsigned char)*d;
        if (!(isalnum(c) || c == '.' || c == '-' || c >= 0x80)) {
            return false;
        }
    }
    return true;
}

/* Characters never allowed in an address we accept (RFC 5322 specials, spaces, controls). */
static bool bad_email_char(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || strchr("<>,;\"()[]\\", c) != NULL;
}

/* The address without surrounding white space: OUT *len, returns the start. */
static const char *trim_span(const char *in, size_t *len)
{
    while (isspace((unsigned char)*in)) {
        in++;
    }
    size_t n = strlen(in);
    while (n > 0 && isspace((unsigned char)in[n - 1])) {
        n--;
    }
    *len = n;
    return in;
}

bool tix_email_normalize(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    in = trim_span(in, &n);
    if (n == 0 || n > 254 || n >= cap) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (bad_email_char(c)) {
            return false;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[n] = '\0';
    char *at = strchr(out, '@');
    if (at == NULL || at == out || strchr(at + 1, '@') != NULL || at - out > 64) {
        return false;
    }
    return domain_ok(at + 1);
}
