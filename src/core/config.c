/*
 * The configuration's driver: tix_config_load runs the parse step of each area (config_*.c,
 * declared in config_int.h) in a fixed order and stops at the first problem; each variable has
 * one parse step with one error sentence. Also here: the helpers every area uses to read one
 * variable, duration parsing, the environment getter and the .env reader.
 */
#include "core/config.h"

#include "core/config_int.h"
#include "core/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tix_config_getenv(const char *name, void *ctx)
{
    (void)ctx;
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

tix_rc tix_config_fail(tix_config_parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    return TIX_EINVAL;
}

bool tix_config_parse_duration(const char *s, int64_t *out_s)
{
    if (s == NULL || !isdigit((unsigned char)*s)) {
        return false;
    }
    size_t len = strlen(s);
    int64_t mult = 1;
    char num[32];
    if (len == 0 || len >= sizeof(num)) {
        return false;
    }
    memcpy(num, s, len + 1);
    switch (num[len - 1]) {
    case 's':
        mult = 1;
        num[len - 1] = '\0';
        break;
    case 'm':
        mult = 60;
        num[len - 1] = '\0';
        break;
    case 'h':
        mult = 3600;
        num[len - 1] = '\0';
        break;
    case 'd':
        mult = 86400;
        num[len - 1] = '\0';
        break;
    default:
        break;
    }
    int64_t v = 0;
    if (!tix_parse_int(num, 0, INT64_MAX / 86400 / 1000, &v)) {
        return false;
    }
    *out_s = v * mult;
    return true;
}

bool tix_config_parse_duration_ms(const char *s, int64_t *out_ms)
{
    size_t len = s != NULL ? strlen(s) : 0;
    int64_t v = 0;
    if (len > 2 && strcmp(s + len - 2, "ms") == 0) {
        char num[32];
        if (len - 2 >= sizeof(num) || !isdigit((unsigned char)*s)) {
            return false;
        }
        memcpy(num, s, len - 2);
        num[len - 2] = '\0';
        if (!tix_parse_int(num, 0, INT64_MAX / 1000, &v)) {
            return false;
        }
        *out_ms = v;
        return true;
    }
    if (!tix_config_parse_duration(s, &v)) {
        return false;
    }
    *out_ms = v * 1000;
    return true;
}

tix_rc tix_config_get_int(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                          int64_t max, int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_parse_int(v, min, max, out)) {
        return tix_config_fail(p, "%s must be a whole number from %lld to %lld (got \"%.40s\")",
                               name, (long long)min, (long long)max, v);
    }
    return TIX_OK;
}

tix_rc tix_config_get_duration(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                               int64_t max, int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_config_parse_duration(v, out) || *out < min || *out > max) {
        return tix_config_fail(
            p,
            "%s must be a duration such as 900, 900s, 15m, 12h or 30d between %lld and "
            "%lld seconds (got \"%.40s\")",
            name, (long long)min, (long long)max, v);
    }
    return TIX_OK;
}

tix_rc tix_config_get_duration_ms(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                                  int64_t max, int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_config_parse_duration_ms(v, out) || *out < min || *out > max) {
        return tix_config_fail(
            p,
            "%s must be a duration such as 250ms, 2s, 15m or 1h between %lldms and "
            "%lld seconds (got \"%.40s\")",
            name, (long long)min, (long long)(max / 1000), v);
    }
    return TIX_OK;
}

tix_rc tix_config_copy_str(tix_config_parser *p, char *dst, size_t cap, const char *name,
                           const char *v)
{
    if (strlen(v) >= cap) {
        return tix_config_fail(p, "%s is too long (at most %zu characters)", name, cap - 1);
    }
    memcpy(dst, v, strlen(v) + 1);
    return TIX_OK;
}

/* The parse steps in order: later ones may read what earlier ones set (the database kind, the
 * worker count), and with several bad variables the first in this order is the one reported. */
static tix_rc (*const steps[])(tix_config_parser *p, tix_config *cfg) = {
    tix_config_load_database,    tix_config_load_numbers, tix_config_load_booking,
    tix_config_load_misc,        tix_config_load_admin,   tix_config_load_media,
    tix_config_load_razorpay,    tix_config_load_jobs,    tix_config_load_proxies,
    tix_config_load_rate_limits, tix_config_load_cache,   tix_config_load_redis,
    tix_config_load_secrets,
};

tix_rc tix_config_load(tix_config *cfg, tix_config_getter get, void *ctx,
                       char *err, /* NOLINT(readability-non-const-parameter) */
                       size_t errlen)
{
    tix_config_parser pp = {get, ctx, err, errlen};
    tix_config_parser *p = &pp;
    memset(cfg, 0, sizeof(*cfg));
    err[0] = '\0';
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i](p, cfg) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    return TIX_OK;
}

tix_rc tix_config_get_switch(tix_config_parser *p, const char *name, bool def, bool *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    *out = strcmp(v, "on") == 0 || strcmp(v, "1") == 0;
    if (!*out && strcmp(v, "off") != 0 && strcmp(v, "0") != 0) {
        return tix_config_fail(p, "%s must be on or off (got \"%.20s\")", name, v);
    }
    return TIX_OK;
}

void tix_config_trim_slashes(char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        url[--n] = '\0';
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static bool valid_name(const char *k)
{
    if (*k == '\0' || isdigit((unsigned char)*k)) {
        return false;
    }
    for (; *k; k++) {
        if (!isalnum((unsigned char)*k) && *k != '_') {
            return false;
        }
    }
    return true;
}

tix_rc tix_config_load_dotenv(const char *path,
                              char *err, /* NOLINT(readability-non-const-parameter) */
                              size_t errlen)
{
    tix_config_parser pp = {NULL, NULL, err, errlen};
    tix_config_parser *p = &pp;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return TIX_OK;
    }
    char line[2048];
    int lineno = 0;
    tix_rc rc = TIX_OK;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        if (strncmp(s, "export ", 7) == 0) {
            s = trim(s + 7);
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = tix_config_fail(p, "%s line %d: expected KEY=VALUE", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = '\0';
            val++;
        }
        if (!valid_name(key)) {
            rc = tix_config_fail(p, "%s line %d: \"%.40s\" is not a variable name", path, lineno,
                                 key);
            break;
        }
        setenv(key, val, 0);
    }
    fclose(f);
    return rc;
}
