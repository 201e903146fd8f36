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
#include <stdio.h>

#define TIX_CFG_STR 1024

typedef enum tix_db_kind { TIX_DB_SQLITE, TIX_DB_POSTGRES } tix_db_kind;

typedef enum tix_pwhash_cost {
    TIX_PWHASH_INTERACTIVE, /* libsodium's interactive limits: the default */
    TIX_PWHASH_MODERATE,
    TIX_PWHASH_MIN, /* the minimum limits: for tests only */
} tix_pwhash_cost;

/* A block of addresses (TRUSTED_PROXIES): addr holds the network, IPv4 in its first 4 bytes. */
typedef struct tix_cidr {
    unsigned char addr[16];
    int bits;
    bool v6;
} tix_cidr;

#define TIX_MAX_TRUSTED_PROXIES 16

/* At most limit requests per window (RATE_LIMIT_*, "10/1m"); limit 0 = no limit. */
typedef struct tix_rate_limit {
    int64_t limit;
    int64_t window_ms;
} tix_rate_limit;

typedef struct tix_config {
    /* Fields go by area, widest first within each, and the on/off flags last, so that the
     * struct has no holes (check with -Wpadded when adding one). */
    /* The server, its database and accounts (config_core.c). */
    int64_t access_ttl_s;
    int64_t refresh_ttl_s;
    int64_t max_body_bytes;
    int64_t connection_timeout_s; /* idle keep-alive and header time-out */
    int64_t request_timeout_s;    /* the whole request body must arrive within this */
    int64_t read_max_lag_ms;      /* READ_MAX_LAG: the replica's staleness bound */
    int64_t read_timeout_ms;      /* READ_REPLICA_TIMEOUT: a replica's call at most */
    int64_t db_wait_ms; /* not a variable: > 0 on the read pool's copy only (store/db_pg.c) */
    int port;
    int workers;
    int handler_nice; /* HANDLER_NICE: handler and job threads this much less urgent */
    int max_connections;
    int per_ip_connections; /* 0 = unlimited */
    int max_header_bytes;   /* request line and headers; sizes libmicrohttpd's connection pool */
    int db_pool_size;
    tix_db_kind db_kind;
    tix_log_level log_level;
    tix_pwhash_cost pwhash_cost;
    char bind_address[64];
    char database_url[TIX_CFG_STR];
    char database_read_url[TIX_CFG_STR]; /* DATABASE_READ_URL: replicas; empty = none */
    char sqlite_path[TIX_CFG_STR];       /* for TIX_DB_SQLITE: the file path */
    char redis_url[TIX_CFG_STR];         /* empty = in-process */
    char jwt_access_secret[256];
    char jwt_refresh_secret[256];
    char admin_email[256];
    char admin_password[256];
    /* media store (src/media): the local folder, or Cloudinary when cloudinary_cloud is set */
    int64_t poster_max_bytes;       /* MEDIA_POSTER_MAX_BYTES */
    int64_t trailer_max_bytes;      /* MEDIA_TRAILER_MAX_BYTES */
    int64_t upload_timeout_s;       /* MEDIA_UPLOAD_TIMEOUT: a whole upload at most */
    int64_t upload_concurrency;     /* MEDIA_UPLOAD_CONCURRENCY: uploads to Cloudinary at once */
    int64_t cloudinary_chunk_bytes; /* CLOUDINARY_CHUNK_SIZE: larger files go up in chunks */
    char media_dir[TIX_CFG_STR];    /* MEDIA_DIR: local files and uploads in progress */
    char web_dir[TIX_CFG_STR];      /* WEB_DIR: the web app's files (api/web_api.c) */
    char cloudinary_cloud[128];     /* from CLOUDINARY_URL or CLOUDINARY_CLOUD_NAME */
    char cloudinary_key[128];       /* CLOUDINARY_API_KEY */
    char cloudinary_secret[256];    /* CLOUDINARY_API_SECRET (never logged) */
    char cloudinary_api_base[TIX_CFG_STR]; /* CLOUDINARY_API_BASE, without a trailing slash */
    /* Razorpay (src/pay/razorpay.c): selected when razorpay_key_id is set; all three secrets
     * come together. Never logged. */
    char razorpay_key_id[64];                /* RAZORPAY_KEY_ID: rzp_test_… or rzp_live_… */
    char razorpay_key_secret[128];           /* RAZORPAY_KEY_SECRET */
    char razorpay_webhook_secret[256];       /* RAZORPAY_WEBHOOK_SECRET */
    char razorpay_api_base[TIX_CFG_STR];     /* RAZORPAY_API_BASE, without a trailing slash */
    char razorpay_checkout_url[TIX_CFG_STR]; /* RAZORPAY_CHECKOUT_URL (api/web_api.c) */
    /* ticket tokens (booking/ticket_token.h); checked when the keyring is made at start */
    char ticket_signing_key[256];         /* TICKET_SIGNING_KEY, empty = generated (never logged) */
    char ticket_verify_keys[TIX_CFG_STR]; /* TICKET_VERIFY_KEYS, empty = none */
    /* Mail (jobs/mail.c): SMTP when smtp_url is set, else .eml files in mail_dir. Secrets are
     * never logged. */
    char smtp_url[TIX_CFG_STR];     /* SMTP_URL: smtp://host:port or smtps://host:port */
    char smtp_user[256];            /* SMTP_USER (or the URL's user) */
    char smtp_password[256];        /* SMTP_PASSWORD (or the URL's password) */
    bool smtp_starttls_required;    /* SMTP_STARTTLS=required (else opportunistic) */
    char smtp_ca_file[TIX_CFG_STR]; /* SMTP_CA_FILE: PEM CAs to trust, empty = the system's */
    char mail_from[256];            /* MAIL_FROM: the From address */
    char mail_dir[TIX_CFG_STR];     /* MAIL_DIR: where .eml files go without SMTP_URL */
    char locale_dir[TIX_CFG_STR];   /* LOCALE_DIR: compiled catalogues; "" = the build's */
    int64_t mail_max_attempts;      /* MAIL_MAX_ATTEMPTS: a refused (5xx) message fails after */
    int64_t mail_retry_ms;          /* MAIL_RETRY: first back-off after a 4xx or network error */
    int64_t mail_retry_max_ms;      /* MAIL_RETRY_MAX: the back-off's cap */
    int64_t mail_timeout_ms;        /* MAIL_TIMEOUT: one SMTP conversation at most */
    int64_t mail_batch;             /* MAIL_BATCH: messages claimed per run */
    int64_t mail_retention_ms;      /* MAIL_RETENTION: sent/failed outbox rows kept this long */
    int64_t job_mail_ms;            /* JOB_INTERVAL_MAIL: the outbox is sent this often */
    /* Lifecycle jobs (src/jobs), times in milliseconds. */
    int64_t job_tick_ms;      /* JOB_TICK: how often the scheduler renews leases, runs due jobs */
    int64_t job_lease_ms;     /* JOB_LEASE: a job's lease lapses this long after its last renewal */
    int64_t job_shows_ms;     /* JOB_INTERVAL_SHOWS: stored show status follows the clock */
    int64_t job_expire_ms;    /* JOB_INTERVAL_EXPIRE: unpaid bookings and stale holds expire */
    int64_t job_refunds_ms;   /* JOB_INTERVAL_REFUNDS: failed refunds are sent again */
    int64_t job_reconcile_ms; /* JOB_INTERVAL_RECONCILE: unpaid bookings asked of the provider */
    int64_t job_purge_ms;     /* JOB_INTERVAL_PURGE: old idempotency keys, tokens and job runs go */
    int64_t
        job_refund_poll_ms; /* JOB_INTERVAL_REFUND_POLL: pending refunds asked of the provider */
    int64_t refund_poll_age_ms; /* REFUND_POLL_AGE: a pending refund is asked about after this */
    int64_t refund_poll_batch;  /* REFUND_POLL_BATCH: refunds asked about per run at most */
    int64_t job_reco_ms;        /* JOB_INTERVAL_RECO: recommendations are learned again */
    int64_t reco_window_ms;     /* RECO_WINDOW: recommended movies have a show this soon */
    int64_t reco_neighbours;    /* RECO_NEIGHBOURS: similar movies kept per movie */
    /* Holds, refunds and show timing (config_booking.c). */
    int64_t show_buffer_s; /* cleaning time after each show (SHOW_CLEANING_BUFFER) */
    int64_t hold_ttl_s;    /* HOLD_TTL: how long held seats stay held */
    int64_t idem_lease_s;  /* IDEMPOTENCY_LEASE: an unanswered Idempotency-Key claim lapses */
    int64_t cancel_full_refund_s;     /* CANCEL_FULL_REFUND_HOURS before the show, in seconds */
    int64_t reschedule_free_cancel_s; /* RESCHEDULE_FREE_CANCEL_MINUTES, in seconds */
    int max_seats_per_hold;
    int64_t checkin_before_s; /* CHECKIN_WINDOW_BEFORE: the door opens this long before a start */
    int64_t checkin_after_s;  /* CHECKIN_WINDOW_AFTER: and closes this long after the end */
    int64_t fx_max_age_s;     /* FX_MAX_AGE: older display exchange rates are refused */
    /* Client addresses and rate limits (http/clientip.c, http/ratelimit.c). */
    int ntrusted_proxies;
    tix_cidr trusted_proxies[TIX_MAX_TRUSTED_PROXIES]; /* TRUSTED_PROXIES */
    tix_rate_limit rl_login_ip;                        /* RATE_LIMIT_LOGIN_IP */
    tix_rate_limit rl_login_mail;                      /* RATE_LIMIT_LOGIN_EMAIL */
    tix_rate_limit rl_register_ip;                     /* RATE_LIMIT_REGISTER_IP */
    tix_rate_limit rl_hold_user;                       /* RATE_LIMIT_HOLD_USER */
    tix_rate_limit rl_reset_ip;                        /* RATE_LIMIT_RESET_IP */
    tix_rate_limit rl_reset_mail;                      /* RATE_LIMIT_RESET_EMAIL */
    /* Cache, event bus and event streams (src/cache, http/sse.c; docs/cache.md), in ms. */
    int64_t cache_ttl_ms;         /* CACHE_TTL: the longest any answer stays cached */
    int64_t cache_timeout_ms;     /* CACHE_TIMEOUT: every Redis call at most */
    int64_t seatmap_stale_ms;     /* SEATMAP_STALE: a stale seat map is served this long */
    int64_t cache_max_bytes;      /* CACHE_MAX_BYTES: size of the in-process store */
    int64_t event_backlog_ttl_ms; /* EVENT_BACKLOG_TTL: a quiet show's backlog is dropped */
    int64_t sse_heartbeat_ms;     /* SSE_HEARTBEAT: ": ping" on every stream this often */
    char cache_prefix[48];        /* CACHE_PREFIX: the first part of every key */
    int cache_pool_size;          /* CACHE_POOL_SIZE: Redis connections at most */
    int event_backlog;            /* EVENT_BACKLOG: events kept per show for Last-Event-ID */
    int sse_max_streams;          /* SSE_MAX_STREAMS: open event streams at most */
    /* On/off flags. */
    bool cache_enabled;            /* CACHE=on|off: cache answers (events flow either way) */
    bool jobs_enabled;             /* JOBS=on|off: run the scheduler in this server */
    bool trust_proxy;              /* TRUST_PROXY=on: the client is found in X-Forwarded-For */
    bool rate_limit_enabled;       /* RATE_LIMIT=on|off */
    bool demo_data;                /* DEMO_DATA=1: load the demo set into an empty database */
    bool access_secret_generated;  /* JWT_ACCESS_SECRET was unset: a random one is in use */
    bool refresh_secret_generated; /* the same for JWT_REFRESH_SECRET */
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
/* The same in milliseconds, also taking "250ms" ("2" is 2000). */
bool tix_config_parse_duration_ms(const char *s, int64_t *out_ms);

/* Parses "10.0.0.0/8", "::1" or "2001:db8::/32" (no prefix = one address); false if invalid. */
bool tix_config_parse_cidr(const char *s, tix_cidr *out);

/* A getter over the real environment (getenv). */
const char *tix_config_getenv(const char *name, void *ctx);

/* Every variable with its default, range and help, from the one table (config_table.c): as
 * `ticketd --help` shows them, and as the README's markdown table. */
void tix_config_print_help(FILE *out);
void tix_config_print_markdown(FILE *out);

#endif
