/*
 * Configuration of the server itself: the database, the HTTP numbers (port, workers,
 * connection limits, body size, time-outs, token lifetimes), logging and password hashing,
 * the first admin, and the JWT secrets (generated only in the embedded SQLite mode).
 */
#include "core/config_int.h"
#include "core/util.h"

#include <string.h>

#define MIN_SECRET_LEN 32

tix_rc tix_config_load_database(tix_config_parser *p, tix_config *cfg)
{
    const char *url = tix_config_text(p, "DATABASE_URL");
    if (tix_config_copy_str(p, cfg->database_url, sizeof(cfg->database_url), "DATABASE_URL", url) !=
        TIX_OK) {
        return TIX_EINVAL;
    }
    const char *read_url = tix_config_text(p, "DATABASE_READ_URL");
    if (tix_config_get_num(p, "READ_MAX_LAG", &cfg->read_max_lag_ms) != TIX_OK ||
        tix_config_get_num(p, "READ_REPLICA_TIMEOUT", &cfg->read_timeout_ms) != TIX_OK ||
        (read_url != NULL &&
         tix_config_copy_str(p, cfg->database_read_url, sizeof(cfg->database_read_url),
                             "DATABASE_READ_URL", read_url) != TIX_OK)) {
        return TIX_EINVAL;
    }
    if (read_url != NULL && *read_url != '\0' && strncmp(read_url, "postgres://", 11) != 0 &&
        strncmp(read_url, "postgresql://", 13) != 0) {
        return tix_config_fail(
            p, "DATABASE_READ_URL must start with postgres:// (got \"%.20s...\")", read_url);
    }
    if (strncmp(url, "sqlite://", 9) == 0) {
        cfg->db_kind = TIX_DB_SQLITE;
        if (cfg->database_read_url[0] != '\0') {
            /* refused, not ignored: a deployment that believes it reads from replicas
             * should not silently run without them */
            return tix_config_fail(p, "DATABASE_READ_URL needs a PostgreSQL DATABASE_URL "
                                      "(an SQLite database has no replicas): unset it");
        }
        const char *path = url + 9;
        if (*path == '\0') {
            return tix_config_fail(p, "DATABASE_URL sqlite:// needs a file path, "
                                      "e.g. sqlite:///var/lib/ticketd/ticketd.db");
        }
        memcpy(cfg->sqlite_path, path, strlen(path) + 1);
        return TIX_OK;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        cfg->db_kind = TIX_DB_POSTGRES;
        return TIX_OK;
    }
    return tix_config_fail(
        p, "DATABASE_URL must start with sqlite:// or postgres:// (got \"%.20s...\")", url);
}

static tix_rc parse_secret(tix_config_parser *p, const tix_config *cfg, const char *name, char *dst,
                           size_t cap, bool *generated)
{
    const char *v = tix_config_value(p, name);
    *generated = false;
    if (v == NULL) {
        if (cfg->db_kind == TIX_DB_POSTGRES) {
            return tix_config_fail(p,
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
        return tix_config_fail(p, "%s must be at least %d characters long", name, MIN_SECRET_LEN);
    }
    return tix_config_copy_str(p, dst, cap, name, v);
}

tix_rc tix_config_load_misc(tix_config_parser *p, tix_config *cfg)
{
    const char *lvl = tix_config_text(p, "LOG_LEVEL");
    if (!tix_log_parse_level(lvl, &cfg->log_level)) {
        return tix_config_fail(p, "LOG_LEVEL must be debug, info, warn or error (got \"%.20s\")",
                               lvl);
    }
    const char *cost = tix_config_text(p, "PASSWORD_HASH_COST");
    if (strcmp(cost, "interactive") == 0) {
        cfg->pwhash_cost = TIX_PWHASH_INTERACTIVE;
    } else if (strcmp(cost, "moderate") == 0) {
        cfg->pwhash_cost = TIX_PWHASH_MODERATE;
    } else if (strcmp(cost, "min") == 0) {
        cfg->pwhash_cost = TIX_PWHASH_MIN;
    } else {
        return tix_config_fail(
            p, "PASSWORD_HASH_COST must be interactive, moderate or min (got \"%.20s\")", cost);
    }
    return tix_config_copy_str(p, cfg->bind_address, sizeof(cfg->bind_address), "BIND_ADDRESS",
                               tix_config_text(p, "BIND_ADDRESS"));
}

tix_rc tix_config_load_admin(tix_config_parser *p, tix_config *cfg)
{
    const char *email = tix_config_value(p, "ADMIN_EMAIL");
    const char *pw = tix_config_value(p, "ADMIN_PASSWORD");
    if ((email == NULL) != (pw == NULL)) {
        return tix_config_fail(p, "ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
    }
    if (email == NULL) {
        return TIX_OK;
    }
    if (tix_config_copy_str(p, cfg->admin_email, sizeof(cfg->admin_email), "ADMIN_EMAIL", email) !=
        TIX_OK) {
        return TIX_EINVAL;
    }
    return tix_config_copy_str(p, cfg->admin_password, sizeof(cfg->admin_password),
                               "ADMIN_PASSWORD", pw);
}

tix_rc tix_config_load_numbers(tix_config_parser *p, tix_config *cfg)
{
    int64_t port = 0;
    int64_t workers = 0;
    int64_t nice = 0;
    int64_t conns = 0;
    int64_t per_ip = 0;
    int64_t header_bytes = 0;
    int64_t pool = 0; /* unset: WORKERS + 2, as 0 */
    int64_t demo = 0;
    if (tix_config_get_num(p, "PORT", &port) != TIX_OK ||
        tix_config_get_num(p, "WORKERS", &workers) != TIX_OK ||
        tix_config_get_num(p, "HANDLER_NICE", &nice) != TIX_OK ||
        tix_config_get_num(p, "MAX_CONNECTIONS", &conns) != TIX_OK ||
        tix_config_get_num(p, "PER_IP_CONNECTIONS", &per_ip) != TIX_OK ||
        tix_config_get_num(p, "MAX_HEADER_BYTES", &header_bytes) != TIX_OK ||
        tix_config_get_num(p, "DB_POOL_SIZE", &pool) != TIX_OK ||
        tix_config_get_num(p, "DEMO_DATA", &demo) != TIX_OK ||
        tix_config_get_num(p, "MAX_BODY_BYTES", &cfg->max_body_bytes) != TIX_OK ||
        tix_config_get_num(p, "ACCESS_TOKEN_TTL", &cfg->access_ttl_s) != TIX_OK ||
        tix_config_get_num(p, "REFRESH_TOKEN_TTL", &cfg->refresh_ttl_s) != TIX_OK ||
        tix_config_get_num(p, "CONNECTION_TIMEOUT", &cfg->connection_timeout_s) != TIX_OK ||
        tix_config_get_num(p, "REQUEST_TIMEOUT", &cfg->request_timeout_s) != TIX_OK) {
        return TIX_EINVAL;
    }
    cfg->port = (int)port;
    cfg->workers = (int)workers;
    cfg->handler_nice = (int)nice;
    cfg->max_connections = (int)conns;
    cfg->per_ip_connections = (int)per_ip;
    cfg->max_header_bytes = (int)header_bytes;
    cfg->db_pool_size = pool != 0 ? (int)pool : cfg->workers + 2;
    cfg->demo_data = demo != 0;
    return TIX_OK;
}

/* JWT_ACCESS_SECRET and JWT_REFRESH_SECRET: required with PostgreSQL, generated when unset
 * with SQLite (one server); they must differ. */
tix_rc tix_config_load_secrets(tix_config_parser *p, tix_config *cfg)
{
    if (parse_secret(p, cfg, "JWT_ACCESS_SECRET", cfg->jwt_access_secret,
                     sizeof(cfg->jwt_access_secret), &cfg->access_secret_generated) != TIX_OK ||
        parse_secret(p, cfg, "JWT_REFRESH_SECRET", cfg->jwt_refresh_secret,
                     sizeof(cfg->jwt_refresh_secret), &cfg->refresh_secret_generated) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (strcmp(cfg->jwt_access_secret, cfg->jwt_refresh_secret) == 0) {
        return tix_config_fail(p, "JWT_ACCESS_SECRET and JWT_REFRESH_SECRET must differ");
    }
    return TIX_OK;
}
