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
    const char *url = p->get("DATABASE_URL", p->ctx);
    if (url == NULL) {
        url = "sqlite://./data/ticketd.db";
    }
    if (tix_config_copy_str(p, cfg->database_url, sizeof(cfg->database_url), "DATABASE_URL", url) !=
        TIX_OK) {
        return TIX_EINVAL;
    }
    if (strncmp(url, "sqlite://", 9) == 0) {
        cfg->db_kind = TIX_DB_SQLITE;
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
    const char *v = p->get(name, p->ctx);
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
    const char *lvl = p->get("LOG_LEVEL", p->ctx);
    cfg->log_level = TIX_LOG_INFO;
    if (lvl != NULL && !tix_log_parse_level(lvl, &cfg->log_level)) {
        return tix_config_fail(p, "LOG_LEVEL must be debug, info, warn or error (got \"%.20s\")",
                               lvl);
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
            return tix_config_fail(
                p, "PASSWORD_HASH_COST must be interactive, moderate or min (got \"%.20s\")", cost);
        }
    }
    const char *bind = p->get("BIND_ADDRESS", p->ctx);
    return tix_config_copy_str(p, cfg->bind_address, sizeof(cfg->bind_address), "BIND_ADDRESS",
                               bind ? bind : "0.0.0.0");
}

tix_rc tix_config_load_admin(tix_config_parser *p, tix_config *cfg)
{
    const char *email = p->get("ADMIN_EMAIL", p->ctx);
    const char *pw = p->get("ADMIN_PASSWORD", p->ctx);
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
    int64_t v = 0;
    tix_rc rc = TIX_OK;
#define INT_VAR(name, def, min, max, field)                                                        \
    if ((rc = tix_config_get_int(p, name, def, min, max, &v)) != TIX_OK) {                         \
        return rc;                                                                                 \
    }                                                                                              \
    cfg->field = (int)v
    INT_VAR("PORT", 8080, 1, 65535, port);
    INT_VAR("WORKERS", 16, 1, 1024, workers);
    INT_VAR("MAX_CONNECTIONS", 10000, 16, 1000000, max_connections);
    INT_VAR("PER_IP_CONNECTIONS", 0, 0, 1000000, per_ip_connections);
    INT_VAR("DB_POOL_SIZE", 0, 0, 1024, db_pool_size);
    INT_VAR("DEMO_DATA", 0, 0, 1, demo_data);
#undef INT_VAR
    if (cfg->db_pool_size == 0) {
        cfg->db_pool_size = cfg->workers + 2;
    }
    if ((rc = tix_config_get_int(p, "MAX_BODY_BYTES", 1 << 20, 1024, 1LL << 30,
                                 &cfg->max_body_bytes)) != TIX_OK) {
        return rc;
    }
    if ((rc = tix_config_get_duration(p, "ACCESS_TOKEN_TTL", 900, 10, 86400, &cfg->access_ttl_s)) !=
            TIX_OK ||
        (rc = tix_config_get_duration(p, "REFRESH_TOKEN_TTL", 30L * 86400, 60, 365L * 86400,
                                      &cfg->refresh_ttl_s)) != TIX_OK ||
        (rc = tix_config_get_duration(p, "CONNECTION_TIMEOUT", 15, 1, 3600,
                                      &cfg->connection_timeout_s)) != TIX_OK ||
        (rc = tix_config_get_duration(p, "REQUEST_TIMEOUT", 30, 1, 3600,
                                      &cfg->request_timeout_s)) != TIX_OK) {
        return rc;
    }
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
