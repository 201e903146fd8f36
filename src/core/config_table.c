/*
 * Every configuration variable, written once: its name, kind, default, range and help. The
 * parse steps (config_*.c) read a variable only through this table (tix_config_value and the
 * typed getters in config.c look the name up here, and an unknown name is a bug that fails
 * the load), `ticketd --help` prints it (tix_config_print_help), and the README's
 * configuration table is its markdown form (tix_config_print_markdown, `ticketd
 * --help-markdown`; tests/api/test_cli.py fails when the two differ).
 *
 * A default is written as a user would set the variable ("480s", "10/1m", "on") and parsed by
 * the same code as a set value, so what --help shows is what the server uses. A default that
 * depends on another variable (DB_POOL_SIZE, CACHE_POOL_SIZE) or is made at start (the JWT
 * secrets) has no def, only def_doc saying what it is; its parse step supplies it.
 *
 * Order: the help's order, in sections (rows without a name are section headings).
 */
#include "core/config_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HEAD(title)                                                                                \
    {                                                                                              \
        NULL, TIX_CFG_TEXT, NULL, NULL, 0, 0, title                                                \
    }
#define TEXT(name, def, help)                                                                      \
    {                                                                                              \
        name, TIX_CFG_TEXT, def, NULL, 0, 0, help                                                  \
    }
#define INT(name, def, lo, hi, help)                                                               \
    {                                                                                              \
        name, TIX_CFG_INT, def, NULL, lo, hi, help                                                 \
    }
#define SECS(name, def, lo, hi, help)                                                              \
    {                                                                                              \
        name, TIX_CFG_DURATION, def, NULL, lo, hi, help                                            \
    }
#define MSECS(name, def, lo, hi, help)                                                             \
    {                                                                                              \
        name, TIX_CFG_DURATION_MS, def, NULL, lo, hi, help                                         \
    }
#define SWITCH(name, def, help)                                                                    \
    {                                                                                              \
        name, TIX_CFG_SWITCH, def, NULL, 0, 1, help                                                \
    }
#define RATE(name, def, help)                                                                      \
    {                                                                                              \
        name, TIX_CFG_RATE, def, NULL, 0, 1000000, help                                            \
    }
#define HOUR    3600LL
#define DAY     86400LL
#define WEEK_MS (7 * DAY * 1000)

const tix_config_var tix_config_vars[] = {
    HEAD("Server"),
    INT("PORT", "8080", 1, 65535, "listening port"),
    TEXT("BIND_ADDRESS", "0.0.0.0", "listening address"),
    TEXT("DATABASE_URL", "sqlite://./data/ticketd.db",
         "sqlite:///path/file.db or postgres://user:pass@host:port/db"),
    TEXT("DATABASE_READ_URL", NULL,
         "PostgreSQL only: replicas that seat maps and listings may read from, a libpq URL "
         "(several hosts: postgres://h1:5432,h2:5432/db?target_session_attrs=prefer-standby); "
         "holds and every other write stay on DATABASE_URL; unset = all on DATABASE_URL"),
    MSECS("READ_MAX_LAG", "1s", 0, 60000,
          "a replica serves reads only while it has replayed everything the primary had this "
          "long ago; more behind (or down) = the primary answers"),
    MSECS("READ_REPLICA_TIMEOUT", "1s", 50, 60000,
          "a replica that has not answered a connect, statement or batch within this (stalled, "
          "hung, unreachable without a reset) is given up: the read is done on the primary and "
          "the replicas are left for a second"),
    TEXT("REDIS_URL", NULL,
         "redis://host:port/db or unix:///path: share the cache, seat events, versions and rate "
         "limits through Redis; redis+sentinel://host1:26379,host2:26379,host3:26379/mymaster[/db] "
         "asks Redis Sentinel for the primary and follows its failovers; unset = in-process"),
    {"JWT_ACCESS_SECRET", TIX_CFG_TEXT, NULL, "random per start, SQLite only", 0, 0,
     "HS256 key for access tokens, at least 32 characters; required with PostgreSQL (every "
     "server must share it)"},
    {"JWT_REFRESH_SECRET", TIX_CFG_TEXT, NULL, "random per start, SQLite only", 0, 0,
     "HS256 key for refresh tokens, at least 32 characters, not JWT_ACCESS_SECRET"},
    SECS("ACCESS_TOKEN_TTL", "900s", 10, DAY, "access token lifetime"),
    SECS("REFRESH_TOKEN_TTL", "30d", 60, 365 * DAY, "refresh token lifetime"),
    TEXT("ADMIN_EMAIL", NULL, "with ADMIN_PASSWORD: create this admin at start if absent"),
    TEXT("ADMIN_PASSWORD", NULL, "the admin's password (with ADMIN_EMAIL)"),
    INT("WORKERS", "16", 1, 1024,
        "handler threads (each may block on the database); libmicrohttpd itself runs one I/O "
        "thread per core, and a request waits in a bounded queue for a handler thread (503 "
        "overloaded when it is full)"),
    INT("HANDLER_NICE", "5", 0, 19,
        "nice steps by which the handler and job threads are less urgent than libmicrohttpd's "
        "threads, so that on a busy machine accepting, reading, cached reads, early refusals "
        "and writing answers get a core first (0: all alike)"),
    {"DB_POOL_SIZE", TIX_CFG_INT, NULL, "WORKERS + 2", 0, 1024,
     "database connections (0 = WORKERS + 2)"},
    TEXT("LOG_LEVEL", "info", "debug | info | warn | error"),
    INT("MAX_BODY_BYTES", "1048576", 1024, 1LL << 30, "largest request body"),
    SECS("CONNECTION_TIMEOUT", "15s", 1, HOUR, "idle keep-alive / header time-out"),
    SECS("REQUEST_TIMEOUT", "30s", 1, HOUR, "time allowed for a whole request body"),
    INT("MAX_CONNECTIONS", "10000", 16, 1000000,
        "open HTTP connections at most (an event stream or a WebSocket leaves this count once "
        "started: SSE_MAX_STREAMS caps those)"),
    INT("PER_IP_CONNECTIONS", "0", 0, 1000000,
        "open HTTP connections per client address, and as many event streams and WebSockets "
        "(counted apart once started; more streams get 503, sockets 1013), 0 = no limit"),
    INT("MAX_HEADER_BYTES", "8192", 1024, 1048576,
        "largest request line and header fields together, in up to 32 fields (more fields take "
        "about 64 bytes each from it; a larger request gets 431 or is closed); every open "
        "connection, an idle event stream too (not a WebSocket once upgraded), keeps a buffer of "
        "this size plus 3 KiB"),
    TEXT("PASSWORD_HASH_COST", "interactive", "interactive | moderate | min (min is for tests)"),

    HEAD("Media"),
    TEXT("MEDIA_DIR", "./data/media",
         "posters and trailers of the local media store, and uploads in progress; served at "
         "/media/<kind>/<file>"),
    {"WEB_DIR", TIX_CFG_TEXT, NULL, "web/ of the source tree ticketd was built from", 0, 0,
     "the web app's pages, scripts and styles, served at /, /shows/<id>, /bookings/<id>, /door, "
     "/sales, /docs, /graphiql and /web/<file>; /docs/openapi.yaml is read from docs/ beside it"},
    INT("MEDIA_POSTER_MAX_BYTES", "10485760", 1024, 1LL << 30, "largest poster; JPEG, PNG or WebP"),
    INT("MEDIA_TRAILER_MAX_BYTES", "209715200", 1024, 4LL << 30, "largest trailer; MP4 or WebM"),
    SECS("MEDIA_UPLOAD_TIMEOUT", "10m", 1, DAY,
         "time allowed for a whole upload; REQUEST_TIMEOUT bounds the silence between its "
         "chunks"),
    INT("MEDIA_UPLOAD_CONCURRENCY", "2", 1, 256,
        "uploads to Cloudinary at once (each holds a handler thread until the file is sent); "
        "more are 503 too_many_uploads with Retry-After before their body is read"),
    TEXT("CLOUDINARY_URL", NULL,
         "cloudinary://<api_key>:<api_secret>@<cloud_name>: store media in Cloudinary instead of "
         "MEDIA_DIR; or set the three below"),
    TEXT("CLOUDINARY_CLOUD_NAME", NULL, "Cloudinary's cloud name (with the two below)"),
    TEXT("CLOUDINARY_API_KEY", NULL, "Cloudinary's API key"),
    TEXT("CLOUDINARY_API_SECRET", NULL, "Cloudinary's API secret"),
    TEXT("CLOUDINARY_API_BASE", "https://api.cloudinary.com/v1_1", "Cloudinary's API"),
    INT("CLOUDINARY_CHUNK_SIZE", "20971520", 5LL << 20, 100LL << 20,
        "a file larger than this goes to Cloudinary in chunks of this size (Cloudinary takes "
        "about 100 MB per request)"),

    HEAD("Booking and payments"),
    INT("DEMO_DATA", "0", 0, 1,
        "1 = load the demo movies, theatres and shows into an empty database (make run sets "
        "it)"),
    SECS("HOLD_TTL", "480s", 1, 2 * HOUR, "how long a hold keeps its seats"),
    SECS("IDEMPOTENCY_LEASE", "60s", 1, HOUR,
         "a request with an Idempotency-Key (other than a hold) that has not answered this long "
         "after it started (its server died, or the database was gone when its error was to be "
         "recorded) no longer holds the key: the next request with it does the work; keep it "
         "longer than any request's work"),
    INT("MAX_SEATS_PER_HOLD", "10", 1, 10, "seats in one hold at most"),
    INT("CANCEL_FULL_REFUND_HOURS", "4", 0, 24LL * 30,
        "a booking cancelled at least this long before the show is refunded in full; later it "
        "cannot be cancelled"),
    INT("RESCHEDULE_FREE_CANCEL_MINUTES", "30", 0, 24LL * 60 * 30,
        "a show moved by more than this many minutes: its bookings made before the move may be "
        "cancelled with a full refund until the new start, whatever CANCEL_FULL_REFUND_HOURS "
        "says"),
    SECS("SHOW_CLEANING_BUFFER", "15m", 0, 6 * HOUR,
         "time between a show's end and the next show in a hall"),
    SECS("CHECKIN_WINDOW_BEFORE", "2h", 0, 24 * HOUR,
         "the door admits a show's tickets from this long before its start"),
    SECS("CHECKIN_WINDOW_AFTER", "0s", 0, 24 * HOUR,
         "the door admits a show's tickets until this long after its end (cleaning time included)"),
    SECS(
        "FX_MAX_AGE", "24h", 60, 30 * DAY,
        "an admin-set exchange rate older than this is refused for display conversion, never used"),
    TEXT("RAZORPAY_KEY_ID", NULL,
         "rzp_test_... or rzp_live_...: take payments through Razorpay; unset = the embedded "
         "test provider (no money moves)"),
    TEXT("RAZORPAY_KEY_SECRET", NULL, "the key's secret (required with RAZORPAY_KEY_ID)"),
    TEXT("RAZORPAY_WEBHOOK_SECRET", NULL,
         "the webhook secret set in Razorpay's dashboard (required with RAZORPAY_KEY_ID); "
         "webhooks go to POST /api/v1/payments/razorpay/webhook"),
    TEXT("RAZORPAY_API_BASE", "https://api.razorpay.com/v1", "Razorpay's API"),
    TEXT("RAZORPAY_CHECKOUT_URL", "https://checkout.razorpay.com/v1/checkout.js",
         "Razorpay Checkout's script, which the seat map's page loads to take the payment (its "
         "origin, and RAZORPAY_API_BASE's for Checkout's frame, join that page's "
         "Content-Security-Policy)"),

    HEAD("Tickets"),
    {"TICKET_SIGNING_KEY", TIX_CFG_TEXT, NULL,
     "SQLite: made at first start in ticket_signing.key beside the database file (0600); "
     "PostgreSQL: made once and kept in the database",
     0, 0,
     "Ed25519 key that signs ticket tokens: base64url (or base64) of a 32-byte seed or a 64-byte "
     "libsodium secret key; its public key is served at /.well-known/ticketd-ticket-key"},
    TEXT("TICKET_VERIFY_KEYS", NULL,
         "old public keys (base64url, comma-separated, at most 7) whose tickets still verify "
         "after TICKET_SIGNING_KEY changed"),

    HEAD("Lifecycle jobs"),
    SWITCH("JOBS", "on",
           "run the lifecycle jobs in this server; each job runs on one server at a time, "
           "through a lease in the database; ticketd jobs run-once NAME runs one now"),
    MSECS("JOB_TICK", "1s", 10, 60000,
          "how often leases are renewed and due jobs run; durations of jobs also take "
          "milliseconds, e.g. 250ms"),
    MSECS("JOB_LEASE", "30s", 200, HOUR * 1000,
          "a job moves to another server this long after its holder stopped renewing (at least "
          "twice JOB_TICK)"),
    MSECS("JOB_INTERVAL_SHOWS", "30s", 100, WEEK_MS, "stored show status follows the clock"),
    MSECS("JOB_INTERVAL_EXPIRE", "15s", 100, WEEK_MS,
          "unpaid bookings expire, stale holds are released, hold_expiring (sent 60 s plus this "
          "before the expiry) and hold_expired go to the user's WebSockets"),
    MSECS("JOB_INTERVAL_REFUNDS", "60s", 100, WEEK_MS,
          "failed refunds are sent again, with back-off"),
    MSECS("JOB_INTERVAL_RECONCILE", "5m", 100, WEEK_MS,
          "unpaid bookings of 48 h are checked with the provider"),
    MSECS("JOB_INTERVAL_PURGE", "1h", 100, WEEK_MS,
          "old idempotency keys, refresh tokens, job runs, sent mail (MAIL_RETENTION) and spent "
          "reset tokens go"),
    MSECS("JOB_INTERVAL_REFUND_POLL", "10m", 100, WEEK_MS,
          "refunds pending at the provider are fetched and settled as their webhook would have, "
          "in case it was lost"),
    MSECS("JOB_INTERVAL_MAIL", "10s", 100, WEEK_MS, "the mail outbox is sent"),
    MSECS("REFUND_POLL_AGE", "1h", 0, 30 * DAY * 1000,
          "a refund pending this long is asked about, and again at most this often (0 = at "
          "every run)"),
    INT("REFUND_POLL_BATCH", "50", 1, 1000,
        "refunds asked about per run at most: the provider's rate limits"),
    MSECS("JOB_INTERVAL_RECO", "1h", 100, WEEK_MS,
          "movie similarity and seat preference are learned again from confirmed bookings"),
    MSECS("RECO_WINDOW", "7d", 60000, 90 * DAY * 1000,
          "GET /me/recommendations offers movies with a show starting this soon"),
    INT("RECO_NEIGHBOURS", "20", 1, 1000, "similar movies the reco job keeps per movie"),

    HEAD("Mail"),
    TEXT("SMTP_URL", NULL,
         "smtp://host:port (STARTTLS when offered) or smtps://host:port, optionally with "
         "user:password@; unset = write each message as an .eml file into MAIL_DIR"),
    TEXT("SMTP_USER", NULL, "SMTP user (instead of the URL's)"),
    TEXT("SMTP_PASSWORD", NULL, "SMTP password (instead of the URL's)"),
    TEXT("SMTP_STARTTLS", "try", "try | required: with smtp://, refuse to send in the clear"),
    TEXT("SMTP_CA_FILE", NULL,
         "PEM file of the CAs that may sign the SMTP server's certificate (a private CA); "
         "unset = the system's; the certificate and host name are always verified"),
    TEXT("MAIL_FROM", "ticketd <noreply@ticketd.local>", "the From of every message"),
    TEXT("MAIL_DIR", "./data/mail", "where messages go as .eml files when SMTP_URL is unset"),
    TEXT("LOCALE_DIR", NULL,
         "the compiled message catalogues (C/LC_MESSAGES/ticketd-<lang>.mo) for error messages "
         "and mails in Hindi and Tamil; unset = the build tree's locale directory"),
    INT("MAIL_MAX_ATTEMPTS", "5", 1, 1000,
        "a message the server refuses (5xx) fails for good after this many tries (an admin can "
        "retry it); 4xx and network errors are retried with back-off 4 times as often"),
    MSECS("MAIL_RETRY", "30s", 10, DAY * 1000,
          "back-off after a failed try, doubling per try up to MAIL_RETRY_MAX"),
    MSECS("MAIL_RETRY_MAX", "1h", 10, WEEK_MS, "longest back-off between two tries"),
    MSECS("MAIL_TIMEOUT", "30s", 100, HOUR * 1000,
          "one SMTP conversation at most; a message in flight is claimed again after twice this"),
    INT("MAIL_BATCH", "50", 1, 10000, "messages sent per run of the mail job at most"),
    MSECS("MAIL_RETENTION", "30d", 1000, 3650 * DAY * 1000,
          "sent and failed outbox messages are deleted by the purge job this long after their "
          "last change (used or expired password-reset tokens at once)"),

    HEAD("Cache and live events"),
    SWITCH("CACHE", "on", "cache seat maps, listings and bookings; events flow either way"),
    TEXT("CACHE_PREFIX", "ticketd",
         "first part of every cache key, 1 to 40 letters, digits, '_', '-' or '.'; one per "
         "deployment sharing a Redis"),
    MSECS("CACHE_TTL", "60s", 1000, DAY * 1000, "the longest any answer stays cached"),
    MSECS("CACHE_TIMEOUT", "250ms", 10, 10000, "every Redis call at most; slower is a miss"),
    MSECS("SEATMAP_STALE", "0", 0, 60000,
          "a seat-map read that misses while a build of the same map runs is answered at once with "
          "the last stored map (X-Cache: stale) if it stopped being current less than this ago; "
          "0 = never (every such read waits for the build, and a client always sees its own holds)."
          " For an opening night: 1000ms (bench/opening.sh)"),
    {"CACHE_POOL_SIZE", TIX_CFG_INT, NULL, "WORKERS", 1, 1024, "Redis connections"},
    INT("CACHE_MAX_BYTES", "67108864", 1LL << 20, 1LL << 40, "size of the in-process cache"),
    INT("EVENT_BACKLOG", "256", 1, 100000, "seat events kept per show for Last-Event-ID"),
    MSECS("EVENT_BACKLOG_TTL", "1h", 1000, WEEK_MS, "a quiet show's backlog is dropped after"),
    MSECS("SSE_HEARTBEAT", "15s", 100, HOUR * 1000,
          "a \": ping\" comment on every event stream this often"),
    INT("SSE_MAX_STREAMS", "10000", 0, 1000000,
        "open event streams at most; more get 503 (and as many WebSockets; more are closed with "
        "1013)"),

    HEAD("Rate limits and proxies"),
    SWITCH("RATE_LIMIT", "on",
           "429 with Retry-After past the limits below; counted in Redis when REDIS_URL is set, "
           "so shared by every server"),
    RATE("RATE_LIMIT_LOGIN_IP", "10/1m",
         "failed logins per client IP, COUNT/WINDOW, COUNT 0 = none; also failed "
         "change-password attempts per client IP"),
    RATE("RATE_LIMIT_LOGIN_EMAIL", "5/1m",
         "failed logins per e-mail and client IP together (a guesser elsewhere cannot lock "
         "the owner out); also failed change-password attempts per user"),
    RATE("RATE_LIMIT_REGISTER_IP", "5/1m", "registrations per client IP"),
    RATE("RATE_LIMIT_HOLD_USER", "30/1m", "holds per user"),
    RATE("RATE_LIMIT_RESET_IP", "10/1h", "password-reset requests per client IP"),
    RATE("RATE_LIMIT_RESET_EMAIL", "3/1h",
         "password-reset requests per e-mail (known or not: the answer is the same)"),
    SWITCH("TRUST_PROXY", "off",
           "client IP from X-Forwarded-For via a trusted proxy: the right-most untrusted hop"),
    TEXT("TRUSTED_PROXIES", "127.0.0.1/32,::1", "proxy addresses or CIDR blocks"),
};

const size_t tix_config_nvars = sizeof(tix_config_vars) / sizeof(tix_config_vars[0]);

/* Renamed variables. The environment may hold any name, and an unknown one is not an error (the
 * process shares it with everything else), so a renamed variable would be ignored without a
 * word and the server would run with the default of the new one while its operator believes
 * the old setting holds. The old names are listed here, and one that is set fails the load
 * (tix_config_load, before every parse step) with a sentence naming its replacement: the
 * configuration refuses every other bad value rather than warn, and has no warning of its own
 * (it is loaded before the log level, one of its settings, is set; `ticketd migrate` and
 * `admin create` load it too, and a warning there would scroll by unread).
 * A name stays here for good: it costs a lookup at start. */
const tix_config_retired tix_config_retired_vars[] = {
    {"SEATMAP_STALE_MS", "SEATMAP_STALE", "a duration with its unit, e.g. 1000ms or 1s; 0 = off"},
};

const size_t tix_config_nretired =
    sizeof(tix_config_retired_vars) / sizeof(tix_config_retired_vars[0]);

const tix_config_var *tix_config_var_find(const char *name)
{
    /* The loaders ask for settings mostly in table order, so the search starts just after the
     * previous hit (a per-thread hint) and wraps around: loading is then linear instead of
     * quadratic in the table's size, which matters most under the fuzzer's strcmp hooks. */
    static _Thread_local size_t hint;
    for (size_t k = 0; k < tix_config_nvars; k++) {
        size_t i = (hint + k) % tix_config_nvars;
        const char *n = tix_config_vars[i].name;
        if (n != NULL && n[0] == name[0] && strcmp(n, name) == 0) {
            hint = i;
            return &tix_config_vars[i];
        }
    }
    return NULL;
}

/* ---- printing ---- */

/* A duration of s seconds in the largest unit that divides it ("2h", "90s"). */
static void fmt_secs(char *out, size_t cap, int64_t s)
{
    static const struct {
        int64_t secs;
        char unit;
    } units[] = {{DAY, 'd'}, {HOUR, 'h'}, {60, 'm'}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (s != 0 && s % units[i].secs == 0) {
            snprintf(out, cap, "%lld%c", (long long)(s / units[i].secs), units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "%llds", (long long)s);
}

static void fmt_value(char *out, size_t cap, tix_config_kind kind, int64_t v)
{
    if (kind == TIX_CFG_DURATION) {
        fmt_secs(out, cap, v);
    } else if (kind == TIX_CFG_DURATION_MS && v % 1000 != 0) {
        snprintf(out, cap, "%lldms", (long long)v);
    } else if (kind == TIX_CFG_DURATION_MS) {
        fmt_secs(out, cap, v / 1000);
    } else {
        snprintf(out, cap, "%lld", (long long)v);
    }
}

void tix_config_var_range(const tix_config_var *v, char *out, size_t cap)
{
    char lo[32];
    char hi[32];
    switch (v->kind) {
    case TIX_CFG_TEXT:
        snprintf(out, cap, "%s", "");
        break;
    case TIX_CFG_SWITCH:
        snprintf(out, cap, "%s", "on | off");
        break;
    case TIX_CFG_RATE:
        snprintf(out, cap, "%s", "COUNT 0..1000000 per 100ms..1d");
        break;
    case TIX_CFG_INT:
    case TIX_CFG_DURATION:
    case TIX_CFG_DURATION_MS:
        fmt_value(lo, sizeof(lo), v->kind, v->min);
        fmt_value(hi, sizeof(hi), v->kind, v->max);
        snprintf(out, cap, "%s..%s", lo, hi);
        break;
    }
}

#define HELP_WIDTH  92
#define HELP_INDENT 23

/* Prints text from column col on (col <= HELP_INDENT pads to it), wrapped at HELP_WIDTH with
 * HELP_INDENT spaces after each break; ends the line. */
static void print_wrapped(FILE *out, int col, const char *text)
{
    bool line_start = true;
    if (col < HELP_INDENT) {
        col += fprintf(out, "%*s", HELP_INDENT - col, "");
    } else {
        line_start = false; /* a long name: the text follows it after a space */
    }
    for (const char *p = text; *p != '\0'; p += strspn(p, " ")) {
        int word = (int)strcspn(p, " ");
        if (!line_start && col + 1 + word > HELP_WIDTH) {
            col = fprintf(out, "\n%*s", HELP_INDENT, "") - 1;
            line_start = true;
        }
        if (!line_start) {
            col += fprintf(out, " ");
        }
        col += fprintf(out, "%.*s", word, p);
        line_start = false;
        p += word;
    }
    fputc('\n', out);
}

void tix_config_print_help(FILE *out)
{
    char range[64];
    char text[1024];
    for (size_t i = 0; i < tix_config_nvars; i++) {
        const tix_config_var *v = &tix_config_vars[i];
        if (v->name == NULL) {
            fprintf(out, "\n%s:\n", v->help);
            continue;
        }
        const char *def = v->def_doc ? v->def_doc : v->def ? v->def : "unset";
        tix_config_var_range(v, range, sizeof(range));
        snprintf(text, sizeof(text), "%s (%s%s%s)", v->help, def, range[0] ? "; " : "", range);
        int col = fprintf(out, "  %s", v->name);
        print_wrapped(out, col, text);
    }
}

/* s with the characters markdown would take for syntax escaped (a table cell). */
static void print_md(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|' || *s == '<' || *s == '>' || *s == '*' || *s == '\\') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
}

void tix_config_print_markdown(FILE *out)
{
    char range[64];
    fputs("| variable | default | range | meaning |\n|---|---|---|---|\n", out);
    for (size_t i = 0; i < tix_config_nvars; i++) {
        const tix_config_var *v = &tix_config_vars[i];
        if (v->name == NULL) {
            fprintf(out, "| **%s** | | | |\n", v->help);
            continue;
        }
        fprintf(out, "| `%s` | ", v->name);
        if (v->def_doc != NULL) {
            print_md(out, v->def_doc);
        } else if (v->def != NULL) {
            fprintf(out, "`%s`", v->def);
        } else {
            fputs("unset", out);
        }
        tix_config_var_range(v, range, sizeof(range));
        fputs(" | ", out);
        print_md(out, range);
        fputs(" | ", out);
        print_md(out, v->help);
        fputs(" |\n", out);
    }
}
