/*
 * ticketd: start-up, the command line, and graceful stop. Signals are blocked in every thread
 * and taken synchronously here with sigwait, so a SIGTERM drains in-flight requests and the
 * process exits 0; no handler code runs in signal context.
 */
#include "api/routes.h"
#include "app.h"
#include "auth/password.h"
#include "auth/session.h"
#include "booking/seat_events.h"
#include "booking/ticket_keys.h"
#include "cache/bus.h"
#include "cache/cache.h"
#include "cache/factory.h"
#include "core/config.h"
#include "core/i18n.h"
#include "core/log.h"
#include "core/util.h"
#include "demo/demo.h"
#include "http/server.h"
#include "http/sse.h"
#include "http/validate.h"
#include "http/ws.h"
#include "jobs/jobs.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIX_VERSION   "0.1.0"
#define EXIT_CONFIG   2
#define DRAIN_SECONDS 30

static const char usage[] =
    "ticketd " TIX_VERSION " - movie-ticket booking server\n"
    "\n"
    "Usage:\n"
    "  ticketd [serve]                 run the HTTP server (default)\n"
    "  ticketd migrate                 apply database migrations and exit\n"
    "  ticketd admin create --email E --password P [--name N]\n"
    "                                  create an admin account and exit\n"
    "  ticketd jobs run-once NAME      run one lifecycle job now (shows, expire, refunds,\n"
    "                                  reconcile, purge, refund_poll or mail), print its counts\n"
    "                                  and exit\n"
    "  ticketd --help | --version\n"
    "  ticketd --help-markdown         the variables below as the README's markdown table\n"
    "\n"
    "Configuration comes from the environment, and from ./.env when present (variables\n"
    "already set win). Durations take 900, 900s, 15m, 12h or 30d. Each variable is shown\n"
    "with its default and range in parentheses.\n";

static const char usage_end[] =
    "\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.\n";

static int load_config(tix_config *cfg)
{
    char err[512];
    if (tix_config_load_dotenv(".env", err, sizeof(err)) != TIX_OK ||
        tix_config_load(cfg, tix_config_getenv, NULL, err, sizeof(err)) != TIX_OK) {
        fprintf(stderr, "ticketd: configuration error: %s\n", err);
        return EXIT_CONFIG;
    }
    tix_log_set_level(cfg->log_level);
    tix_i18n_init(cfg->locale_dir); /* before any thread: it edits the environment */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    tix_password_init(cfg->pwhash_cost, cores > 0 ? (int)cores : 1);
    return 0;
}

static int open_db(tix_app *app)
{
    char err[512];
    tix_db *db = NULL;
    int applied = 0;
    if (tix_db_pool_create(&app->cfg, app->cfg.db_pool_size, &app->db, err, sizeof(err)) !=
        TIX_OK) {
        tix_log_error("%s", err);
        return 1;
    }
    if (tix_db_acquire(app->db, &db) != TIX_OK || tix_db_migrate(db, &applied) != TIX_OK) {
        tix_log_error("database migration failed: %s", db ? tix_db_errmsg(db) : "no connection");
        tix_db_release(app->db, db);
        return 1;
    }
    tix_db_release(app->db, db);
    if (applied > 0) {
        tix_log_info("database schema up to date (%d migrations applied)", applied);
    }
    return 0;
}

/* The admin's e-mail (normalised into email[256]) and password are acceptable; false with a
 * message. Checked before the database is opened, so a refused command changes nothing. */
static bool admin_input_ok(const char *email_in, const char *password, char *email)
{
    if (!tix_email_normalize(email_in, email, 256)) {
        tix_log_error("admin e-mail %s is not a valid address", email_in);
        return false;
    }
    if (tix_utf8_len(password) < TIX_PASSWORD_MIN_CHARS) {
        tix_log_error("admin password must be at least %d characters", TIX_PASSWORD_MIN_CHARS);
        return false;
    }
    return true;
}

/* Creates an admin; returns 0, or 1 with a message. exists_ok: an existing e-mail is fine. */
static int create_admin(tix_app *app, const char *email_in, const char *password, const char *name,
                        bool exists_ok)
{
    char email[256];
    if (!admin_input_ok(email_in, password, email)) {
        return 1;
    }
    tix_db *db = NULL;
    tix_user u;
    tix_rc rc = tix_db_acquire(app->db, &db);
    if (rc == TIX_OK && exists_ok && tix_user_by_email(db, email, &u) == TIX_OK) {
        tix_db_release(app->db, db);
        return 0;
    }
    if (rc == TIX_OK) {
        rc = tix_account_create(db, email, password, name, TIX_ROLE_ADMIN, &u);
    }
    tix_db_release(app->db, db);
    if (rc == TIX_ECONFLICT && exists_ok) {
        return 0; /* another server created it at the same moment */
    }
    if (rc != TIX_OK) {
        tix_log_error("cannot create admin %s: %s", email,
                      rc == TIX_ECONFLICT ? "an account with this e-mail exists" : tix_rc_name(rc));
        return 1;
    }
    tix_log_info("admin account %s created (%s)", email, u.id);
    return 0;
}

/* Loads the demo set into an empty database and prints how to sign in. */
static int load_demo(tix_app *app)
{
    tix_db *db = NULL;
    bool loaded = false;
    tix_rc rc = tix_db_acquire(app->db, &db);
    rc = rc ? rc : tix_demo_load(db, &app->cfg, &loaded);
    tix_db_release(app->db, db);
    if (rc != TIX_OK) {
        tix_log_error("loading the demo data failed: %s", tix_rc_name(rc));
        return 1;
    }
    if (loaded) {
        tix_log_info("demo data loaded: 4 movies, 2 theatres (Mumbai, Bengaluru), 3 halls "
                     "(one of 330 seats), shows over the next 3 days");
        printf("\nDemo logins:\n  owner  owner@ticketd.local / owner-password\n"
               "  user   user@ticketd.local / user-password\n\n");
        fflush(stdout);
    }
    return 0;
}

static void announce(const tix_app *app)
{
    if (app->cfg.access_secret_generated) {
        tix_log_warn("JWT_ACCESS_SECRET was not set; a random one is in use (tokens end at "
                     "restart)");
    }
    if (app->cfg.refresh_secret_generated) {
        tix_log_warn("JWT_REFRESH_SECRET was not set; a random one is in use (sessions end at "
                     "restart)");
    }
}

/* The cache and the bus (delivering to sink), attached so that the booking core's change
 * notices reach them (seat_events.h): cached answers are invalidated and other servers' event
 * streams hear of seat changes. stop_cache (called by main at exit) frees them. */
static int open_cache(tix_app *app, tix_bus_sink sink, void *sink_ctx)
{
    char err[512] = "out of memory";
    if (tix_cache_create(&app->cfg, &app->cache, err, sizeof(err)) != TIX_OK ||
        tix_bus_create(app->cache, &app->cfg, sink, sink_ctx, &app->bus) != TIX_OK) {
        tix_log_error("the cache could not be set up: %s", err);
        return 1;
    }
    tix_seat_events_attach(app->cache, app->bus);
    return 0;
}

/* A command that runs once has no event streams: the bus's deliveries go nowhere. */
static void no_streams(void *ctx, const tix_bus_event *ev)
{
    (void)ctx;
    (void)ev;
}

/* The bus's sink while serving: every event goes to the SSE streams and the WebSockets. */
static void to_streams(void *ctx, const tix_bus_event *ev)
{
    tix_app *app = ctx;
    tix_sse_deliver(app->sse, ev);
    tix_ws_deliver(app->ws, ev);
}

/* The event streams' hubs (SSE and WebSocket), then the cache and the bus delivering to them;
 * stop_cache (called by main after the server and jobs stopped) frees them in reverse. */
static int start_cache(tix_app *app)
{
    if (tix_sse_hub_create(&app->cfg, &app->sse) != TIX_OK ||
        tix_ws_hub_create(app, app->cfg.sse_max_streams, app->cfg.per_ip_connections,
                          app->cfg.handler_nice, &app->ws) != TIX_OK) {
        tix_log_error("the cache could not be set up: out of memory");
        return 1;
    }
    if (open_cache(app, to_streams, app) != 0) {
        return 1;
    }
    tix_catalog_changed(); /* the database may have changed while no server ran */
    tix_log_info("cache: %s%s", app->cfg.redis_url[0] ? "redis" : "in-process",
                 app->cfg.cache_enabled ? "" : " (answers not cached: CACHE=off)");
    return 0;
}

static void stop_cache(tix_app *app)
{
    tix_seat_events_attach(NULL, NULL);
    tix_bus_destroy(app->bus);
    tix_sse_hub_destroy(app->sse);
    tix_ws_hub_destroy(app->ws);
    tix_cache_destroy(app->cache);
    app->bus = NULL;
    app->sse = NULL;
    app->ws = NULL;
    app->cache = NULL;
}

/* The ticket keyring (booking/ticket_keys.h); 0, or 1 / EXIT_CONFIG with a message. */
static int open_ticket_keys(tix_app *app)
{
    static tix_ticket_keyring keys; /* lives for the whole process, like app */
    char err[512];
    char kid[TIX_TICKET_KID_LEN + 1];
    char pk[TIX_TICKET_KEY_B64];
    tix_db *db = NULL;
    tix_rc rc = tix_db_acquire(app->db, &db);
    if (rc == TIX_OK) {
        rc = tix_ticket_keys_open(&app->cfg, db, &keys, err, sizeof(err));
        tix_db_release(app->db, db);
    } else {
        snprintf(err, sizeof(err), "no database connection for the ticket key");
    }
    if (rc != TIX_OK || tix_ticket_public(&keys, kid, pk) != TIX_OK) {
        tix_log_error("%s", err);
        /* a malformed TICKET_SIGNING_KEY / TICKET_VERIFY_KEYS (or key file) is the operator's
         * to fix, like any bad setting; an unreadable file or database is a runtime failure */
        return rc == TIX_EINVAL || rc == TIX_ETOOBIG ? EXIT_CONFIG : 1;
    }
    app->ticket_keys = &keys;
    tix_log_info("tickets: signing key %s, %d key(s) verify", kid, keys.n);
    return 0;
}

static int serve(tix_app *app)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started from here inherits it */
    announce(app);
    if (app->cfg.admin_email[0] && create_admin(app, app->cfg.admin_email, app->cfg.admin_password,
                                                "Administrator", true) != 0) {
        return 1;
    }
    if (tix_pay_create(&app->cfg, &app->pay) != TIX_OK) {
        tix_log_error("the payment provider could not be set up");
        return 1;
    }
    tix_log_info("payments: %s provider", app->pay->name);
    int keys_rc = open_ticket_keys(app);
    if (keys_rc != 0) {
        return keys_rc;
    }
    if (app->cfg.demo_data && load_demo(app) != 0) {
        return 1;
    }
    if (tix_router_create(tix_routes, tix_routes_count, &app->router) != TIX_OK) {
        tix_log_error("the route table is malformed");
        return 1;
    }
    tix_server *srv = NULL;
    if (start_cache(app) != 0 || tix_server_start(app, &srv) != TIX_OK) {
        return 1;
    }
    char fields[160];
    snprintf(fields, sizeof(fields), "\"port\":%d,\"workers\":%d,\"database\":\"%s\"",
             app->cfg.port, app->cfg.workers,
             app->cfg.db_kind == TIX_DB_POSTGRES ? "postgres" : "sqlite");
    tix_log_fields(TIX_LOG_INFO, "listening", fields);
    tix_jobs *jobs = NULL;
    if (app->cfg.jobs_enabled && tix_jobs_start(app, &jobs) != TIX_OK) {
        tix_log_error("the jobs scheduler could not start");
        tix_server_stop(srv, 0);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    tix_log_info("received %s; draining in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    tix_jobs_stop(jobs); /* the leases pass to other servers while this one drains */
    tix_server_stop(srv, DRAIN_SECONDS);
    tix_log_info("stopped");
    return 0;
}

static const char *flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

/* ticketd jobs run-once NAME: one run now, recorded in job_runs like a scheduled one. It takes
 * no lease: the jobs are idempotent and safe next to a server running the same job. Like a
 * server, it opens the cache and the bus, so that what the job changes is seen at once by the
 * servers' caches (version bumps) and event streams, not only after CACHE_TTL. */
static int run_job_once(tix_app *app, const char *name)
{
    const tix_job *job = tix_job_find(name);
    if (job == NULL) {
        fprintf(stderr,
                "ticketd: no job \"%s\" (shows, expire, refunds, reconcile, purge,"
                " refund_poll, mail)\n",
                name ? name : "");
        return EXIT_CONFIG;
    }
    char holder[TIX_JOBS_HOLDER_MAX];
    char json[512];
    tix_job_counts counts;
    tix_db *db = NULL;
    tix_jobs_holder_id(holder, "cli:");
    if (open_cache(app, no_streams, NULL) != 0) {
        return 1;
    }
    int keys_rc = open_ticket_keys(app); /* the mail job attaches signed tickets */
    if (keys_rc != 0) {
        return keys_rc;
    }
    tix_rc rc = tix_pay_create(&app->cfg, &app->pay);
    rc = rc ? rc : tix_db_acquire(app->db, &db);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = {db, a, &app->cfg, app->pay, tix_now_ms(), NULL, app->ticket_keys};
    rc = rc ? rc : tix_jobs_run_recorded(&c, job, holder, &counts);
    tix_arena_destroy(a);
    tix_db_release(app->db, db);
    if (rc != TIX_OK) {
        tix_log_error("job %s failed: %s", name, tix_rc_name(rc));
        return 1;
    }
    tix_job_counts_json(&counts, json, sizeof(json));
    printf("%s\n", json);
    return 0;
}

static int run_command(tix_app *app, int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "serve") == 0) {
        return serve(app);
    }
    if (strcmp(cmd, "migrate") == 0) {
        tix_log_info("migrations applied");
        return 0;
    }
    if (strcmp(cmd, "admin") == 0 && argc > 2 && strcmp(argv[2], "create") == 0) {
        const char *email = flag(argc, argv, "--email");
        const char *password = flag(argc, argv, "--password");
        const char *name = flag(argc, argv, "--name");
        if (email == NULL || password == NULL) {
            fprintf(stderr, "ticketd: admin create needs --email and --password\n");
            return EXIT_CONFIG;
        }
        return create_admin(app, email, password, name ? name : "Administrator", false);
    }
    if (strcmp(cmd, "jobs") == 0) {
        if (argc > 2 && strcmp(argv[2], "run-once") == 0) {
            return run_job_once(app, argc > 3 ? argv[3] : NULL);
        }
        fprintf(stderr, "ticketd: usage: ticketd jobs run-once NAME\n");
        return EXIT_CONFIG;
    }
    fprintf(stderr, "ticketd: unknown command \"%s\" (see ticketd --help)\n", cmd);
    return EXIT_CONFIG;
}

/* glibc's malloc gives the top of a heap back to the kernel (madvise MADV_DONTNEED) as soon as
 * 128 KiB of it is free, and every request's arena (core/arena.h) is freed at its end, on the
 * MHD thread that then serves cached seat maps: in an opening-night stampede 12 % of that
 * thread's samples were those madvise calls (most of it their TLB shoot-down on the other core)
 * and 7 % the page faults that took the pages back for the next requests (perf record -g on the
 * servers, the stampede's first 8 s; bench/results/2026-12-07-opening-malloc.txt). So a few MiB of
 * free memory stay with each malloc arena, and blocks up to 1 MiB come from the heap rather than
 * from mmap/munmap each (setting the trim threshold turns glibc's self-adjusting mmap threshold
 * off, leaving it at 128 KiB). */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "help") == 0)) {
        fputs(usage, stdout);
        tix_config_print_help(stdout);
        fputs(usage_end, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--help-markdown") == 0) {
        tix_config_print_markdown(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("ticketd " TIX_VERSION);
        return 0;
    }
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "admin") != 0 &&
        strcmp(cmd, "jobs") != 0) {
        fprintf(stderr, "ticketd: unknown command \"%s\" (see ticketd --help)\n", cmd);
        return EXIT_CONFIG;
    }
    if (sodium_init() < 0) {
        fputs("ticketd: libsodium failed to start\n", stderr);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    keep_freed_memory();
    static tix_app app; /* big (the config), and lives for the whole process */
    int rc = load_config(&app.cfg);
    if (rc == 0 && strcmp(cmd, "admin") == 0 && argc > 2 && strcmp(argv[2], "create") == 0) {
        /* refused input never opens (nor migrates) the database */
        const char *email = flag(argc, argv, "--email");
        const char *password = flag(argc, argv, "--password");
        char normalized[256];
        if (email != NULL && password != NULL && !admin_input_ok(email, password, normalized)) {
            rc = 1;
        }
    }
    if (rc == 0) {
        rc = open_db(&app);
    }
    if (rc == 0) {
        rc = run_command(&app, argc, argv);
    }
    stop_cache(&app);
    tix_router_destroy(app.router);
    if (app.pay != NULL) {
        app.pay->destroy(app.pay);
    }
    tix_db_pool_destroy(app.db);
    return rc;
}
