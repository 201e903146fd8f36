/* Unit tests for core/config: defaults, validation errors, secrets, durations and .env files. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/config.h"
#include "core/config_int.h"
#include "support.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 40 characters */
#define SECRET_B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SECRET_31 "0123456789012345678901234567890"  /* one short of the minimum */
#define SECRET_32 "01234567890123456789012345678901" /* exactly the minimum */
#define PG_URL    "postgres://ticketd:pw@db.example:5432/ticketd"

static void assert_hex64(const char *s)
{
    assert_int_equal(strlen(s), 64);
    for (const char *p = s; *p; p++) {
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p)) {
            fail_msg("secret \"%s\" is not lower-case hex", s);
        }
    }
}

static void test_defaults(void **state)
{
    (void)state;
    static const kv none[] = {{NULL, NULL}};
    tix_config cfg;
    char err[256] = "stale";
    assert_int_equal(tix_test_load(none, &cfg, err, sizeof(err)), TIX_OK);
    assert_string_equal(err, "");
    assert_int_equal(cfg.port, 8080);
    assert_string_equal(cfg.bind_address, "0.0.0.0");
    assert_int_equal(cfg.db_kind, TIX_DB_SQLITE);
    assert_string_equal(cfg.database_url, "sqlite://./data/ticketd.db");
    assert_string_equal(cfg.sqlite_path, "./data/ticketd.db");
    assert_string_equal(cfg.redis_url, "");
    assert_int_equal(cfg.access_ttl_s, 900);
    assert_int_equal(cfg.refresh_ttl_s, 2592000);
    assert_int_equal(cfg.workers, 16);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.connection_timeout_s, 15);
    assert_int_equal(cfg.request_timeout_s, 30);
    assert_int_equal(cfg.max_connections, 10000);
    assert_int_equal(cfg.per_ip_connections, 0);
    assert_int_equal(cfg.db_pool_size, 18); /* workers + 2 */
    assert_int_equal(cfg.log_level, TIX_LOG_INFO);
    assert_int_equal(cfg.pwhash_cost, TIX_PWHASH_INTERACTIVE);
    assert_string_equal(cfg.admin_email, "");
    assert_string_equal(cfg.admin_password, "");
}

static void test_secrets_generated_for_sqlite(void **state)
{
    (void)state;
    static const kv none[] = {{NULL, NULL}};
    tix_config a;
    tix_config b;
    char err[256];
    assert_int_equal(tix_test_load(none, &a, err, sizeof(err)), TIX_OK);
    assert_true(a.access_secret_generated);
    assert_true(a.refresh_secret_generated);
    assert_hex64(a.jwt_access_secret);
    assert_hex64(a.jwt_refresh_secret);
    assert_string_not_equal(a.jwt_access_secret, a.jwt_refresh_secret);
    /* random each time */
    assert_int_equal(tix_test_load(none, &b, err, sizeof(err)), TIX_OK);
    assert_string_not_equal(a.jwt_access_secret, b.jwt_access_secret);
    assert_string_not_equal(a.jwt_refresh_secret, b.jwt_refresh_secret);

    /* one given, the other generated */
    static const kv one[] = {{"JWT_ACCESS_SECRET", SECRET_A}, {NULL, NULL}};
    assert_int_equal(tix_test_load(one, &a, err, sizeof(err)), TIX_OK);
    assert_false(a.access_secret_generated);
    assert_true(a.refresh_secret_generated);
    assert_string_equal(a.jwt_access_secret, SECRET_A);
    assert_hex64(a.jwt_refresh_secret);

    /* both given: kept verbatim, not generated; 32 characters is enough */
    static const kv both[] = {
        {"JWT_ACCESS_SECRET", SECRET_32}, {"JWT_REFRESH_SECRET", SECRET_B}, {NULL, NULL}};
    assert_int_equal(tix_test_load(both, &a, err, sizeof(err)), TIX_OK);
    assert_false(a.access_secret_generated);
    assert_false(a.refresh_secret_generated);
    assert_string_equal(a.jwt_access_secret, SECRET_32);
    assert_string_equal(a.jwt_refresh_secret, SECRET_B);
}

static void test_postgres_requires_secrets(void **state)
{
    (void)state;
    tix_config cfg;
    char err[256];
    static const kv no_secrets[] = {{"DATABASE_URL", PG_URL}, {NULL, NULL}};
    assert_int_equal(tix_test_load(no_secrets, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_non_null(strstr(err, "JWT_ACCESS_SECRET"));

    static const kv no_refresh[] = {
        {"DATABASE_URL", PG_URL}, {"JWT_ACCESS_SECRET", SECRET_A}, {NULL, NULL}};
    assert_int_equal(tix_test_load(no_refresh, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_non_null(strstr(err, "JWT_REFRESH_SECRET"));

    static const kv no_access[] = {
        {"DATABASE_URL", PG_URL}, {"JWT_REFRESH_SECRET", SECRET_B}, {NULL, NULL}};
    assert_int_equal(tix_test_load(no_access, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_non_null(strstr(err, "JWT_ACCESS_SECRET"));

    static const kv ok[] = {{"DATABASE_URL", PG_URL},
                            {"JWT_ACCESS_SECRET", SECRET_A},
                            {"JWT_REFRESH_SECRET", SECRET_B},
                            {NULL, NULL}};
    assert_int_equal(tix_test_load(ok, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.db_kind, TIX_DB_POSTGRES);
    assert_string_equal(cfg.database_url, PG_URL);
    assert_false(cfg.access_secret_generated);
    assert_false(cfg.refresh_secret_generated);

    static const kv ok2[] = {{"DATABASE_URL", "postgresql://localhost/ticketd"},
                             {"JWT_ACCESS_SECRET", SECRET_A},
                             {"JWT_REFRESH_SECRET", SECRET_B},
                             {NULL, NULL}};
    assert_int_equal(tix_test_load(ok2, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.db_kind, TIX_DB_POSTGRES);
}

static void test_explicit_values(void **state)
{
    (void)state;
    static const kv vars[] = {
        {"PORT", "65535"},
        {"BIND_ADDRESS", "127.0.0.1"},
        {"DATABASE_URL", "sqlite:///var/lib/ticketd/t.db"},
        {"REDIS_URL", "redis://cache:6379/0"},
        {"ACCESS_TOKEN_TTL", "15m"},
        {"REFRESH_TOKEN_TTL", "7d"},
        {"CONNECTION_TIMEOUT", "1m"},
        {"REQUEST_TIMEOUT", "45s"},
        {"WORKERS", "4"},
        {"MAX_BODY_BYTES", "2048"},
        {"MAX_CONNECTIONS", "100"},
        {"PER_IP_CONNECTIONS", "10"},
        {"LOG_LEVEL", "debug"},
        {"PASSWORD_HASH_COST", "min"},
        {"ADMIN_EMAIL", "root@example.com"},
        {"ADMIN_PASSWORD", "correct horse battery"},
        {NULL, NULL},
    };
    tix_config cfg;
    char err[256];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.port, 65535);
    assert_string_equal(cfg.bind_address, "127.0.0.1");
    assert_int_equal(cfg.db_kind, TIX_DB_SQLITE);
    assert_string_equal(cfg.sqlite_path, "/var/lib/ticketd/t.db");
    assert_string_equal(cfg.redis_url, "redis://cache:6379/0");
    assert_int_equal(cfg.access_ttl_s, 900);
    assert_int_equal(cfg.refresh_ttl_s, 7 * 86400);
    assert_int_equal(cfg.connection_timeout_s, 60);
    assert_int_equal(cfg.request_timeout_s, 45);
    assert_int_equal(cfg.workers, 4);
    assert_int_equal(cfg.db_pool_size, 6); /* workers + 2 when unset */
    assert_int_equal(cfg.max_body_bytes, 2048);
    assert_int_equal(cfg.max_connections, 100);
    assert_int_equal(cfg.per_ip_connections, 10);
    assert_int_equal(cfg.log_level, TIX_LOG_DEBUG);
    assert_int_equal(cfg.pwhash_cost, TIX_PWHASH_MIN);
    assert_string_equal(cfg.admin_email, "root@example.com");
    assert_string_equal(cfg.admin_password, "correct horse battery");

    static const kv more[] = {{"PORT", "1"},
                              {"DB_POOL_SIZE", "3"},
                              {"LOG_LEVEL", "error"},
                              {"PASSWORD_HASH_COST", "moderate"},
                              {"REDIS_URL", "unix:///run/redis.sock"},
                              {NULL, NULL}};
    assert_int_equal(tix_test_load(more, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.port, 1);
    assert_int_equal(cfg.db_pool_size, 3);
    assert_int_equal(cfg.log_level, TIX_LOG_ERROR);
    assert_int_equal(cfg.pwhash_cost, TIX_PWHASH_MODERATE);
    assert_string_equal(cfg.redis_url, "unix:///run/redis.sock");

    static const kv lv[] = {{"LOG_LEVEL", "warn"}, {NULL, NULL}};
    assert_int_equal(tix_test_load(lv, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.log_level, TIX_LOG_WARN);
    static const kv cost[] = {{"PASSWORD_HASH_COST", "interactive"}, {NULL, NULL}};
    assert_int_equal(tix_test_load(cost, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.pwhash_cost, TIX_PWHASH_INTERACTIVE);
}

/* Each bad value fails with TIX_EINVAL and a message that names `mentions`. */
typedef struct bad_case {
    const char *name;
    const char *value;
    const char *name2; /* optional second variable */
    const char *value2;
    const char *mentions;
} bad_case;

static void test_bad_values(void **state)
{
    (void)state;
    static char long_url[TIX_CFG_STR + 16];
    static char long_secret[300];
    static char long_bind[80];
    memset(long_url, 'x', sizeof(long_url) - 1);
    memcpy(long_url, "sqlite://", 9);
    long_url[sizeof(long_url) - 1] = '\0';
    memset(long_secret, 's', sizeof(long_secret) - 1);
    long_secret[sizeof(long_secret) - 1] = '\0';
    memset(long_bind, '1', sizeof(long_bind) - 1);
    long_bind[sizeof(long_bind) - 1] = '\0';

    const bad_case cases[] = {
        {"PORT", "0", NULL, NULL, "PORT"},
        {"PORT", "70000", NULL, NULL, "PORT"},
        {"PORT", "65536", NULL, NULL, "PORT"},
        {"PORT", "-1", NULL, NULL, "PORT"},
        {"PORT", "abc", NULL, NULL, "PORT"},
        {"PORT", "8080x", NULL, NULL, "PORT"},
        {"PORT", " 8080", NULL, NULL, "PORT"},
        {"PORT", "8080 ", NULL, NULL, "PORT"},
        {"PORT", "", NULL, NULL, "PORT"},
        {"PORT", "99999999999999999999999", NULL, NULL, "PORT"},
        {"WORKERS", "0", NULL, NULL, "WORKERS"},
        {"WORKERS", "1025", NULL, NULL, "WORKERS"},
        {"WORKERS", "four", NULL, NULL, "WORKERS"},
        {"MAX_BODY_BYTES", "10", NULL, NULL, "MAX_BODY_BYTES"},
        {"MAX_BODY_BYTES", "1m", NULL, NULL, "MAX_BODY_BYTES"},
        {"MAX_CONNECTIONS", "1", NULL, NULL, "MAX_CONNECTIONS"},
        {"PER_IP_CONNECTIONS", "-1", NULL, NULL, "PER_IP_CONNECTIONS"},
        {"DB_POOL_SIZE", "-1", NULL, NULL, "DB_POOL_SIZE"},
        {"DB_POOL_SIZE", "2000", NULL, NULL, "DB_POOL_SIZE"},
        {"ACCESS_TOKEN_TTL", "abc", NULL, NULL, "ACCESS_TOKEN_TTL"},
        {"ACCESS_TOKEN_TTL", "5", NULL, NULL, "ACCESS_TOKEN_TTL"},
        {"ACCESS_TOKEN_TTL", "2d", NULL, NULL, "ACCESS_TOKEN_TTL"},
        {"ACCESS_TOKEN_TTL", "1.5h", NULL, NULL, "ACCESS_TOKEN_TTL"},
        {"REFRESH_TOKEN_TTL", "30s", NULL, NULL, "REFRESH_TOKEN_TTL"},
        {"REFRESH_TOKEN_TTL", "400d", NULL, NULL, "REFRESH_TOKEN_TTL"},
        {"REFRESH_TOKEN_TTL", "-5", NULL, NULL, "REFRESH_TOKEN_TTL"},
        {"CONNECTION_TIMEOUT", "0", NULL, NULL, "CONNECTION_TIMEOUT"},
        {"REQUEST_TIMEOUT", "2h", NULL, NULL, "REQUEST_TIMEOUT"},
        {"DATABASE_URL", "mysql://root@localhost/ticketd", NULL, NULL, "DATABASE_URL"},
        {"DATABASE_URL", "sqlite://", NULL, NULL, "DATABASE_URL"},
        {"DATABASE_URL", "./data/ticketd.db", NULL, NULL, "DATABASE_URL"},
        {"DATABASE_URL", long_url, NULL, NULL, "DATABASE_URL"},
        {"JWT_ACCESS_SECRET", "short", NULL, NULL, "JWT_ACCESS_SECRET"},
        {"JWT_ACCESS_SECRET", SECRET_31, NULL, NULL, "JWT_ACCESS_SECRET"},
        {"JWT_ACCESS_SECRET", long_secret, NULL, NULL, "JWT_ACCESS_SECRET"},
        {"JWT_REFRESH_SECRET", "short", NULL, NULL, "JWT_REFRESH_SECRET"},
        {"JWT_REFRESH_SECRET", SECRET_31, "JWT_ACCESS_SECRET", SECRET_A, "JWT_REFRESH_SECRET"},
        {"JWT_ACCESS_SECRET", SECRET_A, "JWT_REFRESH_SECRET", SECRET_A, "JWT_ACCESS_SECRET"},
        {"JWT_ACCESS_SECRET", SECRET_A, "JWT_REFRESH_SECRET", SECRET_A, "JWT_REFRESH_SECRET"},
        {"ADMIN_EMAIL", "root@example.com", NULL, NULL, "ADMIN_PASSWORD"},
        {"ADMIN_PASSWORD", "hunter2hunter2", NULL, NULL, "ADMIN_EMAIL"},
        {"LOG_LEVEL", "loud", NULL, NULL, "LOG_LEVEL"},
        {"PASSWORD_HASH_COST", "huge", NULL, NULL, "PASSWORD_HASH_COST"},
        {"REDIS_URL", "http://x", NULL, NULL, "REDIS_URL"},
        {"REDIS_URL", "redis:/x", NULL, NULL, "REDIS_URL"},
        {"BIND_ADDRESS", long_bind, NULL, NULL, "BIND_ADDRESS"},
        /* a retired name is refused naming its replacement, also beside it (config_table.c) */
        {"SEATMAP_STALE_MS", "1000ms", NULL, NULL, "renamed SEATMAP_STALE:"},
        {"SEATMAP_STALE_MS", "0", "SEATMAP_STALE", "1s", "SEATMAP_STALE_MS"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_case *c = &cases[i];
        kv vars[3] = {{c->name, c->value}, {c->name2, c->value2}, {NULL, NULL}};
        tix_config cfg;
        char err[512] = "";
        tix_rc rc = tix_test_load(vars, &cfg, err, sizeof(err));
        if (rc != TIX_EINVAL) {
            fail_msg("case %zu: %s=\"%.40s\" gave rc %d, want TIX_EINVAL", i, c->name, c->value,
                     (int)rc);
        }
        if (strstr(err, c->mentions) == NULL) {
            fail_msg("case %zu: %s=\"%.40s\": error \"%s\" does not name %s", i, c->name, c->value,
                     err, c->mentions);
        }
    }
}

static void test_error_message_fits_small_buffer(void **state)
{
    (void)state;
    static const kv vars[] = {{"PORT", "abc"}, {NULL, NULL}};
    tix_config cfg;
    char err[8];
    memset(err, 'z', sizeof(err));
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_true(memchr(err, '\0', sizeof(err)) != NULL);
    assert_string_equal(err, "PORT mu");
}

typedef struct dur_case {
    const char *in;
    bool ok;
    int64_t want;
} dur_case;

static void test_parse_duration(void **state)
{
    (void)state;
    static const dur_case cases[] = {
        {"900", true, 900},
        {"900s", true, 900},
        {"15m", true, 900},
        {"12h", true, 43200},
        {"30d", true, 2592000},
        {"0", true, 0},
        {"1s", true, 1},
        {"007m", true, 420},
        {"", false, 0},
        {"m", false, 0},
        {"s", false, 0},
        {"-5", false, 0},
        {"+5", false, 0},
        {"5x", false, 0},
        {"5w", false, 0},
        {"1.5h", false, 0},
        {" 5", false, 0},
        {"5 ", false, 0},
        {"5 m", false, 0},
        {"5mm", false, 0},
        {"5M", false, 0},
        {"0x10", false, 0},
        {"99999999999999999999999d", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = -12345;
        bool ok = tix_config_parse_duration(cases[i].in, &got);
        if (ok != cases[i].ok) {
            fail_msg("\"%s\": ok=%d, want %d", cases[i].in, ok, cases[i].ok);
        }
        if (ok && got != cases[i].want) {
            fail_msg("\"%s\": %lld, want %lld", cases[i].in, (long long)got,
                     (long long)cases[i].want);
        }
        if (!ok && got != -12345) {
            fail_msg("\"%s\": output written on failure", cases[i].in);
        }
    }
    int64_t v = 0;
    assert_false(tix_config_parse_duration(NULL, &v));
}

/* ---- .env files ---- */

static void write_file(char *path_out, size_t cap, const char *text)
{
    snprintf(path_out, cap, "/tmp/tix-dotenv-XXXXXX");
    int fd = mkstemp(path_out);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static const char *const dotenv_vars[] = {
    "TIXUT_PLAIN", "TIXUT_EXPORTED", "TIXUT_DQ",     "TIXUT_SQ",   "TIXUT_SPACED",
    "TIXUT_EMPTY", "TIXUT_EQ",       "TIXUT_PRESET", "TIXUT_CRLF", "TIXUT_HASHV",
    "TIXUT_AFTER", "TIXUT_BEFORE",   "TIXUT_INNER",
};

static void clear_dotenv_vars(void)
{
    for (size_t i = 0; i < sizeof(dotenv_vars) / sizeof(dotenv_vars[0]); i++) {
        unsetenv(dotenv_vars[i]);
    }
}

static void assert_env(const char *name, const char *want)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fail_msg("%s is not set, want \"%s\"", name, want);
    }
    if (strcmp(v, want) != 0) {
        fail_msg("%s=\"%s\", want \"%s\"", name, v, want);
    }
}

static void test_dotenv_load(void **state)
{
    (void)state;
    clear_dotenv_vars();
    setenv("TIXUT_PRESET", "from-environment", 1);
    char path[64];
    write_file(path, sizeof(path),
               "# a comment line\n"
               "\n"
               "   \n"
               "  # indented comment\n"
               "TIXUT_PLAIN=plain\n"
               "export TIXUT_EXPORTED=exported\n"
               "TIXUT_DQ=\"double quoted value\"\n"
               "TIXUT_SQ='single quoted'\n"
               "  TIXUT_SPACED  =  spaced value  \n"
               "TIXUT_EMPTY=\n"
               "TIXUT_EQ=postgres://u:p@h/db?sslmode=require\n"
               "TIXUT_PRESET=from-file\n"
               "TIXUT_CRLF=windows\r\n"
               "TIXUT_INNER=\"it's\"\n"
               "TIXUT_HASHV=abc#def\n");
    char err[256] = "";
    tix_rc rc = tix_config_load_dotenv(path, err, sizeof(err));
    unlink(path);
    assert_int_equal(rc, TIX_OK);
    assert_env("TIXUT_PLAIN", "plain");
    assert_env("TIXUT_EXPORTED", "exported");
    assert_env("TIXUT_DQ", "double quoted value");
    assert_env("TIXUT_SQ", "single quoted");
    assert_env("TIXUT_SPACED", "spaced value");
    assert_env("TIXUT_EMPTY", "");
    assert_env("TIXUT_EQ", "postgres://u:p@h/db?sslmode=require");
    assert_env("TIXUT_PRESET", "from-environment"); /* never overridden */
    assert_env("TIXUT_CRLF", "windows");
    assert_env("TIXUT_INNER", "it's");
    assert_env("TIXUT_HASHV", "abc#def");
    clear_dotenv_vars();
}

typedef struct dotenv_bad {
    const char *text;
    const char *line; /* "line N" expected in the message */
} dotenv_bad;

static void test_dotenv_bad_line(void **state)
{
    (void)state;
    static const dotenv_bad cases[] = {
        {"TIXUT_BEFORE=1\n# comment\nTHIS IS NOT A PAIR\nTIXUT_AFTER=2\n", "line 3"},
        {"1BAD=x\n", "line 1"},
        {"TIXUT_BEFORE=1\nBAD-NAME=x\n", "line 2"},
        {"\n\n\n\n=value\n", "line 5"},
        {"export\n", "line 1"},
        {"MY VAR=x\n", "line 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_dotenv_vars();
        char path[64];
        write_file(path, sizeof(path), cases[i].text);
        char err[512] = "";
        tix_rc rc = tix_config_load_dotenv(path, err, sizeof(err));
        unlink(path);
        if (rc != TIX_EINVAL) {
            fail_msg("case %zu: rc %d, want TIX_EINVAL", i, (int)rc);
        }
        if (strstr(err, cases[i].line) == NULL) {
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].line);
        }
        if (strstr(err, path) == NULL) {
            fail_msg("case %zu: message \"%s\" does not name the file", i, err);
        }
    }
    /* processing stops at the bad line */
    assert_null(getenv("TIXUT_AFTER"));
    clear_dotenv_vars();
}

static void test_dotenv_missing_file(void **state)
{
    (void)state;
    char err[64] = "";
    assert_int_equal(tix_config_load_dotenv("/nonexistent/dir/.env", err, sizeof(err)), TIX_OK);
    assert_string_equal(err, "");
}

static void test_dotenv_feeds_getenv_getter(void **state)
{
    (void)state;
    unsetenv("TIXUT_PLAIN");
    char path[64];
    write_file(path, sizeof(path), "TIXUT_PLAIN=42\n");
    char err[64] = "";
    tix_rc rc = tix_config_load_dotenv(path, err, sizeof(err));
    unlink(path);
    assert_int_equal(rc, TIX_OK);
    assert_string_equal(tix_config_getenv("TIXUT_PLAIN", NULL), "42");
    /* the real-environment getter treats an empty variable as unset */
    setenv("TIXUT_EMPTY", "", 1);
    assert_null(tix_config_getenv("TIXUT_EMPTY", NULL));
    assert_null(tix_config_getenv("TIXUT_NEVER_SET_ANYWHERE", NULL));
    clear_dotenv_vars();
}

/* ---- the table of variables (config_table.c) ---- */

/* A getter that serves the table's defaults, written out, and records every name asked. */
typedef struct asked {
    const char *names[256];
    size_t n;
    bool defaults; /* serve each variable's default as if it were set */
} asked;

static const char *recording_get(const char *name, void *ctx)
{
    asked *a = ctx;
    if (a->n < sizeof(a->names) / sizeof(a->names[0])) {
        a->names[a->n++] = name;
    }
    if (strcmp(name, "JWT_ACCESS_SECRET") == 0) {
        return SECRET_A;
    }
    if (strcmp(name, "JWT_REFRESH_SECRET") == 0) {
        return SECRET_B;
    }
    if (strcmp(name, "RAZORPAY_API_BASE") == 0 || strcmp(name, "RAZORPAY_CHECKOUT_URL") == 0) {
        return NULL; /* set without the keys it is refused (test_razorpay_config.c) */
    }
    const tix_config_var *v = tix_config_var_find(name);
    return a->defaults && v != NULL ? v->def : NULL;
}

static bool was_asked(const asked *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* The parser reads every variable of the table and nothing else (an unknown name fails the
 * load), and each default, set explicitly, gives the configuration the unset variable gives:
 * the default is written once and means the same in the parser and in --help. */
static void test_table_is_what_the_parser_reads(void **state)
{
    (void)state;
    char err[256] = "";
    asked unset = {.defaults = false};
    tix_config implicit;
    assert_int_equal(tix_config_load(&implicit, recording_get, &unset, err, sizeof(err)), TIX_OK);
    size_t nvars = 0;
    for (size_t i = 0; i < tix_config_nvars; i++) {
        const char *name = tix_config_vars[i].name;
        if (name == NULL) {
            continue;
        }
        nvars++;
        if (!was_asked(&unset, name)) {
            fail_msg("%s is in the table but the parser never reads it", name);
        }
        assert_non_null(tix_config_vars[i].help);
        assert_true(tix_config_vars[i].def == NULL || tix_config_vars[i].def_doc == NULL);
    }
    /* every name asked is the table's, or a retired one (asked only to refuse it) */
    for (size_t i = 0; i < unset.n; i++) {
        bool retired = false;
        for (size_t k = 0; k < tix_config_nretired; k++) {
            retired = retired || strcmp(tix_config_retired_vars[k].name, unset.names[i]) == 0;
        }
        assert_true(retired || tix_config_var_find(unset.names[i]) != NULL);
    }
    /* a retired name is not the table's, and its replacement is */
    assert_true(tix_config_nretired >= 1);
    for (size_t k = 0; k < tix_config_nretired; k++) {
        const tix_config_retired *r = &tix_config_retired_vars[k];
        assert_null(tix_config_var_find(r->name));
        assert_non_null(tix_config_var_find(r->replacement));
        assert_true(was_asked(&unset, r->name));
    }
    assert_true(nvars >= 67);

    asked set = {.defaults = true};
    tix_config explicit;
    if (tix_config_load(&explicit, recording_get, &set, err, sizeof(err)) != TIX_OK) {
        fail_msg("the defaults, set explicitly, are refused: %s", err);
    }
    assert_int_equal(memcmp(&implicit, &explicit, sizeof(implicit)), 0);
    assert_int_equal(explicit.hold_ttl_s, 480);
    assert_int_equal(explicit.db_pool_size, explicit.workers + 2);
    assert_int_equal(explicit.cache_pool_size, explicit.workers);
}

/* What --help shows of a variable: its default and range come from the table. */
static void test_table_range_text(void **state)
{
    (void)state;
    char range[64];
    tix_config_var_range(tix_config_var_find("HOLD_TTL"), range, sizeof(range));
    assert_string_equal(range, "1s..2h");
    tix_config_var_range(tix_config_var_find("PORT"), range, sizeof(range));
    assert_string_equal(range, "1..65535");
    tix_config_var_range(tix_config_var_find("CACHE_TIMEOUT"), range, sizeof(range));
    assert_string_equal(range, "10ms..10s");
    tix_config_var_range(tix_config_var_find("JOBS"), range, sizeof(range));
    assert_string_equal(range, "on | off");
    tix_config_var_range(tix_config_var_find("DATABASE_URL"), range, sizeof(range));
    assert_string_equal(range, "");
    assert_string_equal(tix_config_var_find("HOLD_TTL")->def, "480s");
    assert_null(tix_config_var_find("NO_SUCH_VARIABLE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_secrets_generated_for_sqlite),
        cmocka_unit_test(test_postgres_requires_secrets),
        cmocka_unit_test(test_explicit_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_error_message_fits_small_buffer),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_dotenv_load),
        cmocka_unit_test(test_dotenv_bad_line),
        cmocka_unit_test(test_dotenv_missing_file),
        cmocka_unit_test(test_dotenv_feeds_getenv_getter),
        cmocka_unit_test(test_table_is_what_the_parser_reads),
        cmocka_unit_test(test_table_range_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
