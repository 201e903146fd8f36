/*
 * Configuration from the environment (and an optional .env file), validated once at start.
 * tix_config_load is pure: it reads variables through a getter so tests can feed tables.
 * The struct owns fixed buffers only; there is nothing to free.
 */
#ifndef TIX_CORE_CONFIG_H
#define TIX_CORE_CONFIG_H

#include "core/log.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_CFG_STR 1024

typedef enum tix_db_kind { TIX_DB_SQLITE, TIX_DB_POSTGRES } tix_db_kind;

typedef enum tix_pwhash_cost {
    TIX_PWHASH_INTERACTIVE, /* libsodium's interactive limits: the default */
    TIX_PWHASH_MODERATE,
    TIX_PWHASH_MIN, /* the minimum limits: for tests only */
} tix_pwhash_cost;

typedef struct tix_config {
    int port;
    char bind_address[64];
    char database_url[TIX_CFG_STR];
    tix_db_kind db_kind;
    char sqlite_path[TIX_CFG_STR]; /* for TIX_DB_SQLITE: the file path */
    char redis_url[TIX_CFG_STR];   /* empty = in-process */
    char jwt_access_secret[256];
    char jwt_refresh_secret[256];
    bool access_secret_generated;
    bool refresh_secret_generated;
    int64_t access_ttl_s;
    int64_t refresh_ttl_s;
    char admin_email[256];
    char admin_password[256];
    int workers;
    tix_log_level log_level;
    int64_t max_body_bytes;
    int64_t connection_timeout_s; /* idle keep-alive and header time-out */
    int64_t request_timeout_s;    /* the whole request body must arrive within this */
    int max_connections;
    int per_ip_connections; /* 0 = unlimited */
    tix_pwhash_cost pwhash_cost;
    /* media store (src/media): the local folder, or Cloudinary when cloudinary_cloud is set */
    char media_dir[TIX_CFG_STR];           /* MEDIA_DIR: local files and uploads in progress */
    char cloudinary_cloud[128];            /* from CLOUDINARY_URL or CLOUDINARY_CLOUD_NAME */
    char cloudinary_key[128];              /* CLOUDINARY_API_KEY */
    char cloudinary_secret[256];           /* CLOUDINARY_API_SECRET (never logged) */
    char cloudinary_api_base[TIX_CFG_STR]; /* CLOUDINARY_API_BASE, without a trailing slash */
    int64_t poster_max_bytes;              /* MEDIA_POSTER_MAX_BYTES */
    int64_t trailer_max_bytes;             /* MEDIA_TRAILER_MAX_BYTES */
    int64_t upload_timeout_s;              /* MEDIA_UPLOAD_TIMEOUT: a whole upload at most */
    int db_pool_size;
    int64_t show_buffer_s; /* cleaning time after each show (SHOW_CLEANING_BUFFER) */
    bool demo_data;        /* DEMO_DATA=1: load the demo set into an empty database */
    int64_t hold_ttl_s;    /* HOLD_TTL: how long held seats stay held */
    int max_seats_per_hold;
    int64_t cancel_full_refund_s; /* CANCEL_FULL_REFUND_HOURS before the show, in seconds */
    /* Razorpay (src/pay/razorpay.c): selected when razorpay_key_id is set; all three secrets
     * come together. Never logged. */
    char razorpay_key_id[64];            /* RAZORPAY_KEY_ID: rzp_test_… or rzp_live_… */
    char razorpay_key_secret[128];       /* RAZORPAY_KEY_SECRET */
    char razorpay_webhook_secret[256];   /* RAZORPAY_WEBHOOK_SECRET */
    char razorpay_api_base[TIX_CFG_STR]; /* RAZORPAY_API_BASE, without a trailing slash */
} tix_config;

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*tix_config_getter)(const char *name, void *ctx);

/* Fills cfg from the getter, applying defaults. On TIX_EINVAL, err holds one clear sentence
 * naming the variable and what is wrong. Secrets left unset are generated only in the
 * embedded SQLite mode (flags say so); with PostgreSQL they are required. */
TIX_MUSTCHECK tix_rc tix_config_load(tix_config *cfg, tix_config_getter get, void *ctx, char *err,
                                     size_t errlen);

/* Reads KEY=VALUE lines from path into the process environment without overriding variables
 * already set. A missing file is not an error. Returns TIX_EINVAL with err on a bad line. */
TIX_MUSTCHECK tix_rc tix_config_load_dotenv(const char *path, char *err, size_t errlen);

/* Parses a duration: "900", "900s", "15m", "12h", "30d" → seconds; false if invalid. */
bool tix_config_parse_duration(const char *s, int64_t *out_s);

/* A getter over the real environment (getenv). */
const char *tix_config_getenv(const char *name, void *ctx);

#endif
