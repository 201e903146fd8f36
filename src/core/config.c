/*
 * The configuration's driver: tix_config_load runs the parse step of each area (config_*.c,
 * declared in config_int.h) in a fixed order and stops at the first problem; each variable has
 * one parse step with one error sentence. A retired name that is set (config_table.c) fails it
 * before any step. Also here: the helpers every area uses to read one variable, duration
 * parsing, the environment getter and the .env reader.
 */
#include "core/config.h"

#include "core/config_int.h"
#include "core/util.h"

#include <assert.h>
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

const char *tix_config_value(tix_config_parser *p, const char *name)
{
    if (tix_config_var_find(name) == NULL) {
        p->unknown = p->unknown ? p->unknown : name;
        return NULL;
    }
    return p->get(name, p->ctx);
}

const char *tix_config_text(tix_config_parser *p, const char *name)
{
    const char *v = tix_config_value(p, name);
    const tix_config_var *var = tix_config_var_find(name);
    return v != NULL || var == NULL ? v : var->def;
}

/* Parses v as var's kind into *out; false when it is not one or out of range. */
static bool parse_num(const tix_config_var *var, const char *v, int64_t *out)
{
    switch (var->kind) {
    case TIX_CFG_INT:
        return tix_parse_int(v, var->min, var->max, out);
    case TIX_CFG_DURATION:
        return tix_config_parse_duration(v, out) && *out >= var->min && *out <= var->max;
    case TIX_CFG_DURATION_MS:
        return tix_config_parse_duration_ms(v, out) && *out >= var->min && *out <= var->max;
    default:
        return false;
    }
}

tix_rc tix_config_get_num(tix_config_parser *p, const char *name, int64_t *out)
{
    const tix_config_var *var = tix_config_var_find(name);
    const char *v = tix_config_value(p, name);
    if (var == NULL) {
        return tix_config_fail(p, "%s is not a configuration variable (a bug)", name);
    }
    if (v == NULL && var->def == NULL) {
        return TIX_OK;
    }
    if (v == NULL) {
        bool ok = parse_num(var, var->def, out);
        assert(ok); /* tests/unit/test_config.c checks every default */
        return ok ? TIX_OK : tix_config_fail(p, "%s has a bad built-in default (a bug)", name);
    }
    if (parse_num(var, v, out)) {
        return TIX_OK;
    }
    long long min = (long long)var->min;
    long long max = (long long)var->max;
    switch (var->kind) {
    case TIX_CFG_DURATION:
        return tix_config_fail(
            p,
            "%s must be a duration such as 900, 900s, 15m, 12h or 30d between %lld and "
            "%lld seconds (got \"%.40s\")",
            name, min, max, v);
    case TIX_CFG_DURATION_MS:
        return tix_config_fail(
            p,
            "%s must be a duration such as 250ms, 2s, 15m or 1h between %lldms and "
            "%lld seconds (got \"%.40s\")",
            name, min, max / 1000, v);
    default:
        return tix_config_fail(p, "%s must be a whole number from %lld to %lld (got \"%.40s\")",
                               name, min, max, v);
    }
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
    tix_config_load_database, tix_config_load_numbers,     tix_config_load_booking,
    tix_config_load_misc,     tix_config_load_admin,       tix_config_load_media,
    tix_config_load_razorpay, tix_config_load_mail,        tix_config_load_jobs,
    tix_config_load_proxies,  tix_config_load_rate_limits, tix_config_load_cache,
    tix_config_load_redis,    tix_config_load_secrets,
};

/* Fails when a retired name (config_table.c) is set, naming the variable that replaced it. */
static tix_rc refuse_retired(tix_config_parser *p)
{
    for (size_t i = 0; i < tix_config_nretired; i++) {
        const tix_config_retired *r = &tix_config_retired_vars[i];
        assert(tix_config_var_find(r->name) == NULL && tix_config_var_find(r->replacement));
        if (p->get(r->name, p->ctx) != NULL) {
            return tix_config_fail(p, "%s was renamed %s: set %s instead (%s) and remove %s",
                                   r->name, r->replacement, r->replacement, r->note, r->name);
        }
    }
    return TIX_OK;
}

tix_rc tix_config_load(tix_config *cfg, tix_config_getter get, void *ctx,
                       char *err, /* NOLINT(readability-non-const-parameter) */
                       size_t errlen)
{
    tix_config_parser pp = {get, ctx, err, errlen, NULL};
    tix_config_parser *p = &pp;
    memset(cfg, 0, sizeof(*cfg));
    err[0] = '\0';
    if (refuse_retired(p) != TIX_OK) {
        return TIX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i](p, cfg) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    if (p->unknown != NULL) { /* a parse step asked for a name the table lacks */
        assert(!"configuration variable missing from config_table.c");
        return tix_config_fail(p, "%s is not in the table of variables (a bug)", p->unknown);
    }
    return TIX_OK;
}

tix_rc tix_config_get_switch(tix_config_parser *p, const char *name, bool *out)
{
    const char *v = tix_config_text(p, name);
    *out = v != NULL && (strcmp(v, "on") == 0 || strcmp(v, "1") == 0);
    if (v == NULL || (!*out && strcmp(v, "off") != 0 && strcmp(v, "0") != 0)) {
        return tix_config_fail(p, "%s must be on or off (got \"%.20s\")", name, v ? v : "");
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
    tix_config_parser pp = {NULL, NULL, err, errlen, NULL};
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
