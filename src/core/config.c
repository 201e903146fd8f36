/*
 * Parsing and validation of the configuration. Each variable has one parse step with one
 * error sentence; tix_config_load stops at the first problem.
 */
#include "core/config.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SECRET_LEN 32

const char *tix_config_getenv(const char *name, void *ctx)
{
    (void)ctx;
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

/* What every parse step needs: where variables come from and where the error goes. */
typedef struct parser {
    tix_config_getter get;
    void *ctx;
    char *err;
    size_t errlen;
} parser;

static tix_rc fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static tix_rc fail(parser *p, const char *fmt, ...)
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

static tix_rc get_int(parser *p, const char *name, int64_t def, int64_t min, int64_t max,
                      int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_parse_int(v, min, max, out)) {
        return fail(p, "%s must be a whole number from %lld to %lld (got \"%.40s\")", name,
                    (long long)min, (long long)max, v);
    }
    return TIX_OK;
}

static tix_rc get_duration(parser *p, const char *name, int64_t def, int64_t min, int64_t max,
                           int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_config_parse_duration(v, out) || *out < min || *out > max) {
        return fail(p,
                    "%s must be a duration such as 900, 900s, 15m, 12h or 30d between %lld and "
                    "%lld seconds (got \"%.40s\")",
                    name, (long long)min, (long long)max, v);
    }
    return TIX_OK;
}

/* A duration in milliseconds ("250ms" or anything get_duration takes), within [min, max]. */
static tix_rc get_duration_ms(parser *p, const char *name, int64_t def, int64_t min, int64_t max,
                              int64_t *out)
{
    const char *v = p->get(name, p->ctx);
    if (v == NULL) {
        *out = def;
        return TIX_OK;
    }
    if (!tix_config_parse_duration_ms(v, out) || *out < min || *out > max) {
        return fail(p,
                    "%s must be a duration such as 250ms, 2s, 15m or 1h between %lldms and "
                    "%lld seconds (got \"%.40s\")",
                    name, (long long)min, (long long)(max / 1000), v);
    }
    return TIX_OK;
}

static tix_rc copy_str(parser *p, char *dst, size_t cap, const char *name, const char *v)
{
    if (strlen(v) >= cap) {
        return fail(p, "%s is too long (at most %zu characters)", name, cap - 1);
    }
    memcpy(dst, v, strlen(v) + 1);
    return TIX_OK;
}

static tix_rc parse_database(parser *p, tix_config *cfg)
{
    const char *url = p->get("DATABASE_URL", p->ctx);
    if (url == NULL) {
        url = "sqlite://./data/ticketd.db";
    }
    if (copy_str(p, cfg->database_url, sizeof(cfg->database_url), "DATABASE_URL", url) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (strncmp(url, "sqlite://", 9) == 0) {
        cfg->db_kind = TIX_DB_SQLITE;
        const char *path = url + 9;
        if (*path == '\0') {
            return fail(p, "DATABASE_URL sqlite:// needs a file path, "
                           "e.g. sqlite:///var/lib/ticketd/ticketd.db");
        }
        memcpy(cfg->sqlite_path, path, strlen(path) + 1);
        return TIX_OK;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        cfg->db_kind = TIX_DB_POSTGRES;
        return TIX_OK;
    }
    return fail(p, "DATABASE_URL must start with sqlite:// or postgres:// (got \"%.20s...\")", url);
}

static tix_rc parse_secret(parser *p, const tix_config *cfg, const char *name, char *dst,
                           size_t cap, bool *generated)
{
    const char *v = p->get(name, p->ctx);
    *generated = false;
    if (v == NULL) {
        if (cfg->db_kind == TIX_DB_POSTGRES) {
            return fail(p,
                        "%s is required with PostgreSQL (every server must share it); "
                        "set it to at least %d random characters",
                        name, MIN_SECRET_LEN);
        }
        unsigned char raw[32];
        tix_random_bytes(raw, sizeof(raw));
        tix_hex_encode(dst, raw, sizeof(raw));
        *generated = true;
        return TIX_OK;
    }
    if (strlen(v) < MIN_SECRET_LEN) {
        return fail(p, "%s must be at least %d characters long", name, MIN_SECRET_LEN);
    }
    return copy_str(p, dst, cap, name, v);
}

static tix_rc parse_misc(parser *p, tix_config *cfg)
{
    const char *lvl = p->get("LOG_LEVEL", p->ctx);
    cfg->log_level = TIX_LOG_INFO;
    if (lvl != NULL && !tix_log_parse_level(lvl, &cfg->log_level)) {
        return fail(p, "LOG_LEVEL must be debug, info, warn or error (got \"%.20s\")", lvl);
    }
    const char *cost = p->get("PASSWORD_HASH_COST", p->ctx);
    cfg->pwhash_cost = TIX_PWHASH_INTERACTIVE;
    if (cost != NULL) {
        if (strcmp(cost, "interactive") == 0) {
            cfg->pwhash_cost = TIX_PWHASH_INTERACTIVE;
        } else if (strcmp(cost, "moderate") == 0) {
            cfg->pwhash_cost = TIX_PWHASH_MODERATE;
        } else if (strcmp(cost, "min") == 0) {
            cfg->pwhash_cost = TIX_PWHASH_MIN;
        } else {
            return fail(
                p, "PASSWORD_HASH_COST must be interactive, moderate or min (got \"%.20s\")", cost);
        }
    }
    const char *bind = p->get("BIND_ADDRESS", p->ctx);
    return copy_str(p, cfg->bind_address, sizeof(cfg->bind_address), "BIND_ADDRESS",
                    bind ? bind : "0.0.0.0");
}

static tix_rc parse_admin(parser *p, tix_config *cfg)
{
    const char *email = p->get("ADMIN_EMAIL", p->ctx);
    const char *pw = p->get("ADMIN_PASSWORD", p->ctx);
    if ((email == NULL) != (pw == NULL)) {
        return fail(p, "ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
    }
    if (email == NULL) {
        return TIX_OK;
    }
    if (copy_str(p, cfg->admin_email, sizeof(cfg->admin_email), "ADMIN_EMAIL", email) != TIX_OK) {
        return TIX_EINVAL;
    }
    return copy_str(p, cfg->admin_password, sizeof(cfg->admin_password), "ADMIN_PASSWORD", pw);
}

static tix_rc parse_numbers(parser *p, tix_config *cfg)
{
    int64_t v = 0;
    tix_rc rc = TIX_OK;
#define INT_VAR(name, def, min, max, field)                                                        \
    if ((rc = get_int(p, name, def, min, max, &v)) != TIX_OK) {                                    \
        return rc;                                                                                 \
    }                                                                                              \
    cfg->field = (int)v
    INT_VAR("PORT", 8080, 1, 65535, port);
    INT_VAR("WORKERS", 16, 1, 1024, workers);
    INT_VAR("MAX_CONNECTIONS", 10000, 16, 1000000, max_connections);
    INT_VAR("PER_IP_CONNECTIONS", 0, 0, 1000000, per_ip_connections);
    INT_VAR("DB_POOL_SIZE", 0, 0, 1024, db_pool_size);
    INT_VAR("DEMO_DATA", 0, 0, 1, demo_data);
    INT_VAR("MAX_SEATS_PER_HOLD", 10, 1, 10, max_seats_per_hold);
#undef INT_VAR
    if (cfg->db_pool_size == 0) {
        cfg->db_pool_size = cfg->workers + 2;
    }
    if ((rc = get_int(p, "MAX_BODY_BYTES", 1 << 20, 1024, 1LL << 30, &cfg->max_body_bytes)) !=
        TIX_OK) {
        return rc;
    }
    if ((rc = get_duration(p, "ACCESS_TOKEN_TTL", 900, 10, 86400, &cfg->access_ttl_s)) != TIX_OK ||
        (rc = get_duration(p, "REFRESH_TOKEN_TTL", 30L * 86400, 60, 365L * 86400,
                           &cfg->refresh_ttl_s)) != TIX_OK ||
        (rc = get_duration(p, "CONNECTION_TIMEOUT", 15, 1, 3600, &cfg->connection_timeout_s)) !=
            TIX_OK ||
        (rc = get_duration(p, "REQUEST_TIMEOUT", 30, 1, 3600, &cfg->request_timeout_s)) != TIX_OK ||
        (rc = get_duration(p, "HOLD_TTL", 480, 1, 7200, &cfg->hold_ttl_s)) != TIX_OK ||
        (rc = get_int(p, "CANCEL_FULL_REFUND_HOURS", 4, 0, 24LL * 30,
                      &cfg->cancel_full_refund_s)) != TIX_OK ||
        (rc = get_duration(p, "SHOW_CLEANING_BUFFER", 900, 0, 6LL * 3600, &cfg->show_buffer_s)) !=
            TIX_OK) {
        return rc;
    }
    cfg->cancel_full_refund_s *= 3600;
    return TIX_OK;
}

/* The scheduler's switch, tick and lease, and each job's interval (all in ms). */
static tix_rc parse_jobs(parser *p, tix_config *cfg)
{
    const char *on = p->get("JOBS", p->ctx);
    cfg->jobs_enabled = on == NULL || strcmp(on, "on") == 0 || strcmp(on, "1") == 0;
    if (!cfg->jobs_enabled && strcmp(on, "off") != 0 && strcmp(on, "0") != 0) {
        return fail(p, "JOBS must be on or off (got \"%.20s\")", on);
    }
    const int64_t week = 7LL * 86400 * 1000;
    const struct {
        const char *name;
        int64_t def, min, max;
        int64_t *out;
    } vars[] = {
        {"JOB_TICK", 1000, 10, 60000, &cfg->job_tick_ms},
        {"JOB_LEASE", 30000, 200, 3600000, &cfg->job_lease_ms},
        {"JOB_INTERVAL_SHOWS", 30000, 100, week, &cfg->job_shows_ms},
        {"JOB_INTERVAL_EXPIRE", 15000, 100, week, &cfg->job_expire_ms},
        {"JOB_INTERVAL_REFUNDS", 60000, 100, week, &cfg->job_refunds_ms},
        {"JOB_INTERVAL_RECONCILE", 300000, 100, week, &cfg->job_reconcile_ms},
        {"JOB_INTERVAL_PURGE", 3600000, 100, week, &cfg->job_purge_ms},
        {"JOB_INTERVAL_REFUND_POLL", 600000, 100, week, &cfg->job_refund_poll_ms},
        {"REFUND_POLL_AGE", 3600000, 0, 30 * 86400000LL, &cfg->refund_poll_age_ms},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (get_duration_ms(p, vars[i].name, vars[i].def, vars[i].min, vars[i].max, vars[i].out) !=
            TIX_OK) {
            return TIX_EINVAL;
        }
    }
    if (get_int(p, "REFUND_POLL_BATCH", 50, 1, 1000, &cfg->refund_poll_batch) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (cfg->job_lease_ms < 2 * cfg->job_tick_ms) {
        return fail(p,
                    "JOB_LEASE (%lldms) must be at least twice JOB_TICK (%lldms): the holder "
                    "renews its leases every tick",
                    (long long)cfg->job_lease_ms, (long long)cfg->job_tick_ms);
    }
    return TIX_OK;
}

/* Whether s is 1..cap-1 characters of letters, digits, '-', '_' or '.': the alphabet of
 * Cloudinary cloud names, API keys and secrets (also keeps them safe in URLs and forms). */
static bool cloudinary_token(const char *s, size_t len, size_t cap)
{
    if (len == 0 || len >= cap) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

/* CLOUDINARY_URL = cloudinary://<api_key>:<api_secret>@<cloud_name>[?options, ignored]. The
 * error never repeats the value: it holds the secret. */
static tix_rc parse_cloudinary_url(parser *p, tix_config *cfg, const char *url)
{
    const char *scheme = "cloudinary://";
    bool ok_scheme = strncmp(url, scheme, strlen(scheme)) == 0;
    const char *key = ok_scheme ? url + strlen(scheme) : url;
    const char *colon = strchr(key, ':');
    const char *at = colon ? strchr(colon, '@') : NULL;
    const char *cloud = at ? at + 1 : NULL;
    size_t cloud_len = cloud ? strcspn(cloud, "?") : 0;
    if (!ok_scheme || at == NULL ||
        !cloudinary_token(key, (size_t)(colon - key), sizeof(cfg->cloudinary_key)) ||
        !cloudinary_token(colon + 1, (size_t)(at - colon - 1), sizeof(cfg->cloudinary_secret)) ||
        !cloudinary_token(cloud, cloud_len, sizeof(cfg->cloudinary_cloud))) {
        return fail(p, "CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@"
                       "<cloud_name> (letters, digits, '-', '_' and '.' only)");
    }
    memcpy(cfg->cloudinary_key, key, (size_t)(colon - key));
    memcpy(cfg->cloudinary_secret, colon + 1, (size_t)(at - colon - 1));
    memcpy(cfg->cloudinary_cloud, cloud, cloud_len);
    return TIX_OK;
}

/* The three separate variables, all or none. */
static tix_rc parse_cloudinary_parts(parser *p, tix_config *cfg)
{
    static const char *const names[] = {"CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY",
                                        "CLOUDINARY_API_SECRET"};
    char *const dst[] = {cfg->cloudinary_cloud, cfg->cloudinary_key, cfg->cloudinary_secret};
    const size_t cap[] = {sizeof(cfg->cloudinary_cloud), sizeof(cfg->cloudinary_key),
                          sizeof(cfg->cloudinary_secret)};
    const char *v[3];
    int set = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = p->get(names[i], p->ctx);
        set += v[i] != NULL;
    }
    for (int i = 0; i < 3 && set > 0; i++) {
        if (v[i] == NULL) {
            return fail(p,
                        "%s is required: Cloudinary needs CLOUDINARY_CLOUD_NAME, "
                        "CLOUDINARY_API_KEY and CLOUDINARY_API_SECRET together",
                        names[i]);
        }
        if (!cloudinary_token(v[i], strlen(v[i]), cap[i])) {
            return fail(p, "%s may hold only letters, digits, '-', '_' and '.' (at most %zu)",
                        names[i], cap[i] - 1);
        }
        memcpy(dst[i], v[i], strlen(v[i]) + 1);
    }
    return TIX_OK;
}

static tix_rc parse_cloudinary(parser *p, tix_config *cfg)
{
    const char *url = p->get("CLOUDINARY_URL", p->ctx);
    const char *base = p->get("CLOUDINARY_API_BASE", p->ctx);
    if (url != NULL && (p->get("CLOUDINARY_CLOUD_NAME", p->ctx) != NULL ||
                        p->get("CLOUDINARY_API_KEY", p->ctx) != NULL ||
                        p->get("CLOUDINARY_API_SECRET", p->ctx) != NULL)) {
        return fail(p, "CLOUDINARY_URL and CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET are both "
                       "set; set one or the other");
    }
    tix_rc rc = url ? parse_cloudinary_url(p, cfg, url) : parse_cloudinary_parts(p, cfg);
    if (rc != TIX_OK) {
        return rc;
    }
    base = base ? base : "https://api.cloudinary.com/v1_1";
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) {
        return fail(p, "CLOUDINARY_API_BASE must start with https:// (or http:// for a test "
                       "stand-in)");
    }
    if (copy_str(p, cfg->cloudinary_api_base, sizeof(cfg->cloudinary_api_base),
                 "CLOUDINARY_API_BASE", base) != TIX_OK) {
        return TIX_EINVAL;
    }
    size_t n = strlen(cfg->cloudinary_api_base);
    while (n > 0 && cfg->cloudinary_api_base[n - 1] == '/') {
        cfg->cloudinary_api_base[--n] = '\0';
    }
    /* Cloudinary takes about 100 MB per request and chunks of at least 5 MB (but the last). */
    return get_int(p, "CLOUDINARY_CHUNK_SIZE", 20L << 20, 5L << 20, 100L << 20,
                   &cfg->cloudinary_chunk_bytes);
}

static tix_rc parse_media(parser *p, tix_config *cfg)
{
    const char *dir = p->get("MEDIA_DIR", p->ctx);
    tix_rc rc = copy_str(p, cfg->media_dir, sizeof(cfg->media_dir), "MEDIA_DIR",
                         dir ? dir : "./data/media");
    if (rc != TIX_OK ||
        (rc = get_int(p, "MEDIA_POSTER_MAX_BYTES", 10L << 20, 1024, 1LL << 30,
                      &cfg->poster_max_bytes)) != TIX_OK ||
        (rc = get_int(p, "MEDIA_TRAILER_MAX_BYTES", 200L << 20, 1024, 4LL << 30,
                      &cfg->trailer_max_bytes)) != TIX_OK ||
        (rc = get_duration(p, "MEDIA_UPLOAD_TIMEOUT", 600, 1, 86400, &cfg->upload_timeout_s)) !=
            TIX_OK ||
        (rc = get_int(p, "MEDIA_UPLOAD_CONCURRENCY", 2, 1, 256, &cfg->upload_concurrency)) !=
            TIX_OK) {
        return rc;
    }
    return parse_cloudinary(p, cfg);
}

/* Whether s is min..cap-1 printable ASCII characters without spaces (Razorpay keys and secrets
 * travel in a Basic auth header). */
static bool razorpay_token(const char *s, size_t min, size_t cap)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)s[i])) {
            return false;
        }
    }
    return n >= min && n < cap;
}

/* RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET: all or none. Any one of
 * them alone is an error, never a silent fall-back to the test provider (which takes no money).
 * Messages never repeat a value. */
static tix_rc parse_razorpay_keys(parser *p, tix_config *cfg, int *set)
{
    static const char *const names[] = {"RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET",
                                        "RAZORPAY_WEBHOOK_SECRET"};
    char *const dst[] = {cfg->razorpay_key_id, cfg->razorpay_key_secret,
                         cfg->razorpay_webhook_secret};
    const size_t cap[] = {sizeof(cfg->razorpay_key_id), sizeof(cfg->razorpay_key_secret),
                          sizeof(cfg->razorpay_webhook_secret)};
    const char *v[3];
    *set = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = p->get(names[i], p->ctx);
        *set += v[i] != NULL;
    }
    for (int i = 0; i < 3 && *set > 0; i++) {
        if (v[i] == NULL) {
            return fail(p,
                        "%s is required: Razorpay needs RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET "
                        "and RAZORPAY_WEBHOOK_SECRET together",
                        names[i]);
        }
        if (!razorpay_token(v[i], i == 0 ? 10 : 8, cap[i])) {
            return fail(p, "%s must be %d to %zu printable characters without spaces", names[i],
                        i == 0 ? 10 : 8, cap[i] - 1);
        }
        memcpy(dst[i], v[i], strlen(v[i]) + 1);
    }
    if (*set > 0 && strncmp(v[0], "rzp_test_", 9) != 0 && strncmp(v[0], "rzp_live_", 9) != 0) {
        return fail(p, "RAZORPAY_KEY_ID must start with rzp_test_ or rzp_live_");
    }
    return TIX_OK;
}

/* Whether base is http:// to this machine (a test stand-in): host 127.0.0.1, localhost or
 * [::1], then a port, a path or nothing. */
static bool loopback_http(const char *base)
{
    static const char *const hosts[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(base, hosts[i], n) == 0 &&
            (base[n] == '\0' || base[n] == ':' || base[n] == '/')) {
            return true;
        }
    }
    return false;
}

static tix_rc parse_razorpay(parser *p, tix_config *cfg)
{
    int set = 0;
    const char *base = p->get("RAZORPAY_API_BASE", p->ctx);
    tix_rc rc = parse_razorpay_keys(p, cfg, &set);
    if (rc != TIX_OK) {
        return rc;
    }
    if (set == 0 && base != NULL) {
        return fail(p, "RAZORPAY_API_BASE is set but RAZORPAY_KEY_ID is not: set the keys too "
                       "(or unset it to use the test payment provider)");
    }
    base = base ? base : "https://api.razorpay.com/v1";
    if (strncmp(base, "https://", 8) != 0 && !loopback_http(base)) {
        return fail(p, "RAZORPAY_API_BASE must start with https:// (http:// only for a stand-in "
                       "on 127.0.0.1 or localhost)");
    }
    if (copy_str(p, cfg->razorpay_api_base, sizeof(cfg->razorpay_api_base), "RAZORPAY_API_BASE",
                 base) != TIX_OK) {
        return TIX_EINVAL;
    }
    size_t n = strlen(cfg->razorpay_api_base);
    while (n > 0 && cfg->razorpay_api_base[n - 1] == '/') {
        cfg->razorpay_api_base[--n] = '\0';
    }
    return TIX_OK;
}

bool tix_config_parse_cidr(const char *s, tix_cidr *out)
{
    char ip[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int64_t bits = -1;
    if (n == 0 || n >= sizeof(ip)) {
        return false;
    }
    memcpy(ip, s, n);
    ip[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->v6 = false;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->v6 = true;
    } else {
        return false;
    }
    int max = out->v6 ? 128 : 32;
    if (slash != NULL && !tix_parse_int(slash + 1, 0, max, &bits)) {
        return false;
    }
    out->bits = slash ? (int)bits : max;
    for (int i = out->bits; i < max; i++) { /* keep the network part only */
        out->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
    }
    return true;
}

/* TRUST_PROXY and TRUSTED_PROXIES: a comma-separated list of addresses or CIDR blocks. */
static tix_rc parse_proxies(parser *p, tix_config *cfg)
{
    const char *on = p->get("TRUST_PROXY", p->ctx);
    const char *list = p->get("TRUSTED_PROXIES", p->ctx);
    cfg->trust_proxy = on != NULL && (strcmp(on, "on") == 0 || strcmp(on, "1") == 0);
    if (on != NULL && !cfg->trust_proxy && strcmp(on, "off") != 0 && strcmp(on, "0") != 0) {
        return fail(p, "TRUST_PROXY must be on or off (got \"%.20s\")", on);
    }
    char buf[TIX_CFG_STR];
    if (copy_str(p, buf, sizeof(buf), "TRUSTED_PROXIES", list ? list : "127.0.0.1/32,::1") !=
        TIX_OK) {
        return TIX_EINVAL;
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (cfg->ntrusted_proxies == TIX_MAX_TRUSTED_PROXIES) {
            return fail(p, "TRUSTED_PROXIES may list at most %d blocks", TIX_MAX_TRUSTED_PROXIES);
        }
        if (!tix_config_parse_cidr(tok, &cfg->trusted_proxies[cfg->ntrusted_proxies++])) {
            return fail(p,
                        "TRUSTED_PROXIES must list addresses or blocks such as 10.0.0.0/8 "
                        "(got \"%.60s\")",
                        tok);
        }
    }
    return TIX_OK;
}

/* "COUNT/WINDOW" ("10/1m", "3/500ms") or COUNT (per minute) into rl; false if invalid. */
static bool parse_rate(const char *v, tix_rate_limit *rl)
{
    char count[32];
    size_t n = strcspn(v, "/");
    if (n >= sizeof(count)) {
        return false;
    }
    memcpy(count, v, n);
    count[n] = '\0';
    if (!tix_parse_int(count, 0, 1000000, &rl->limit)) {
        return false;
    }
    return v[n] == '\0' || (tix_config_parse_duration_ms(v + n + 1, &rl->window_ms) &&
                            rl->window_ms >= 100 && rl->window_ms <= 86400000);
}

/* RATE_LIMIT=on|off and the RATE_LIMIT_* limits; COUNT 0 turns one limit off. */
/* CACHE_PREFIX: 1..40 letters, digits, '_', '-' or '.' (it starts every key). */
static bool cache_prefix_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
            return false;
        }
    }
    return n > 0 && n <= 40;
}

/* The cache, the event bus and the event streams (docs/cache.md). */
static tix_rc parse_cache(parser *p, tix_config *cfg)
{
    const char *on = p->get("CACHE", p->ctx);
    const char *prefix = p->get("CACHE_PREFIX", p->ctx);
    int64_t pool = 0;
    int64_t backlog = 0;
    int64_t streams = 0;
    cfg->cache_enabled = on == NULL || strcmp(on, "on") == 0 || strcmp(on, "1") == 0;
    if (!cfg->cache_enabled && strcmp(on, "off") != 0 && strcmp(on, "0") != 0) {
        return fail(p, "CACHE must be on or off (got \"%.20s\")", on);
    }
    if (prefix != NULL && !cache_prefix_ok(prefix)) {
        return fail(p, "CACHE_PREFIX must be 1 to 40 letters, digits, '_', '-' or '.'");
    }
    snprintf(cfg->cache_prefix, sizeof(cfg->cache_prefix), "%s", prefix ? prefix : "ticketd");
    if (get_duration_ms(p, "CACHE_TTL", 60000, 1000, 86400000, &cfg->cache_ttl_ms) != TIX_OK ||
        get_duration_ms(p, "CACHE_TIMEOUT", 250, 10, 10000, &cfg->cache_timeout_ms) != TIX_OK ||
        get_int(p, "CACHE_POOL_SIZE", cfg->workers, 1, 1024, &pool) != TIX_OK ||
        get_int(p, "CACHE_MAX_BYTES", 64LL << 20, 1 << 20, 1LL << 40, &cfg->cache_max_bytes) !=
            TIX_OK ||
        get_int(p, "EVENT_BACKLOG", 256, 1, 100000, &backlog) != TIX_OK ||
        get_duration_ms(p, "EVENT_BACKLOG_TTL", 3600000, 1000, 7LL * 86400000,
                        &cfg->event_backlog_ttl_ms) != TIX_OK ||
        get_duration_ms(p, "SSE_HEARTBEAT", 15000, 100, 3600000, &cfg->sse_heartbeat_ms) !=
            TIX_OK ||
        get_int(p, "SSE_MAX_STREAMS", 10000, 0, 1000000, &streams) != TIX_OK) {
        return TIX_EINVAL;
    }
    cfg->cache_pool_size = (int)pool;
    cfg->event_backlog = (int)backlog;
    cfg->sse_max_streams = (int)streams;
    return TIX_OK;
}

static tix_rc parse_rate_limits(parser *p, tix_config *cfg)
{
    const char *on = p->get("RATE_LIMIT", p->ctx);
    cfg->rate_limit_enabled = on == NULL || strcmp(on, "on") == 0 || strcmp(on, "1") == 0;
    if (!cfg->rate_limit_enabled && strcmp(on, "off") != 0 && strcmp(on, "0") != 0) {
        return fail(p, "RATE_LIMIT must be on or off (got \"%.20s\")", on);
    }
    const struct {
        const char *name;
        int64_t def;
        tix_rate_limit *out;
    } vars[] = {
        {"RATE_LIMIT_LOGIN_IP", 10, &cfg->rl_login_ip},
        {"RATE_LIMIT_LOGIN_EMAIL", 5, &cfg->rl_login_mail},
        {"RATE_LIMIT_REGISTER_IP", 5, &cfg->rl_register_ip},
        {"RATE_LIMIT_HOLD_USER", 30, &cfg->rl_hold_user},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = p->get(vars[i].name, p->ctx);
        *vars[i].out = (tix_rate_limit){vars[i].def, 60000};
        if (v != NULL && !parse_rate(v, vars[i].out)) {
            return fail(p,
                        "%s must be COUNT/WINDOW such as 10/1m or 5/30s (COUNT 0 to 1000000, "
                        "WINDOW 100ms to 1d; got \"%.40s\")",
                        vars[i].name, v);
        }
    }
    return TIX_OK;
}

tix_rc tix_config_load(tix_config *cfg, tix_config_getter get, void *ctx,
                       char *err, /* NOLINT(readability-non-const-parameter) */
                       size_t errlen)
{
    parser pp = {get, ctx, err, errlen};
    parser *p = &pp;
    memset(cfg, 0, sizeof(*cfg));
    err[0] = '\0';
    if (parse_database(p, cfg) != TIX_OK || parse_numbers(p, cfg) != TIX_OK ||
        parse_misc(p, cfg) != TIX_OK || parse_admin(p, cfg) != TIX_OK ||
        parse_media(p, cfg) != TIX_OK || parse_razorpay(p, cfg) != TIX_OK ||
        parse_jobs(p, cfg) != TIX_OK || parse_proxies(p, cfg) != TIX_OK ||
        parse_rate_limits(p, cfg) != TIX_OK || parse_cache(p, cfg) != TIX_OK) {
        return TIX_EINVAL;
    }
    const char *redis = p->get("REDIS_URL", p->ctx);
    if (redis != NULL) {
        if (strncmp(redis, "redis://", 8) != 0 && strncmp(redis, "unix://", 7) != 0) {
            return fail(p, "REDIS_URL must start with redis:// or unix://");
        }
        if (copy_str(p, cfg->redis_url, sizeof(cfg->redis_url), "REDIS_URL", redis) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    if (parse_secret(p, cfg, "JWT_ACCESS_SECRET", cfg->jwt_access_secret,
                     sizeof(cfg->jwt_access_secret), &cfg->access_secret_generated) != TIX_OK ||
        parse_secret(p, cfg, "JWT_REFRESH_SECRET", cfg->jwt_refresh_secret,
                     sizeof(cfg->jwt_refresh_secret), &cfg->refresh_secret_generated) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (strcmp(cfg->jwt_access_secret, cfg->jwt_refresh_secret) == 0) {
        return fail(p, "JWT_ACCESS_SECRET and JWT_REFRESH_SECRET must differ");
    }
    return TIX_OK;
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
    parser pp = {NULL, NULL, err, errlen};
    parser *p = &pp;
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
            rc = fail(p, "%s line %d: expected KEY=VALUE", path, lineno);
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
            rc = fail(p, "%s line %d: \"%.40s\" is not a variable name", path, lineno, key);
            break;
        }
        setenv(key, val, 0);
    }
    fclose(f);
    return rc;
}
