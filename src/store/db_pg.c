/*
 * PostgreSQL driver over libpq: one PGconn per pooled connection, parameters sent as text with
 * int8 typed where we know it, results copied into tix_db_res. A lost server shows as
 * CONNECTION_BAD, which db.c answers by reconnecting on the next acquire (and retrying a
 * statement that ran outside a transaction once).
 *
 * Failover (docs in deploy/README.md): DATABASE_URL may name several hosts with
 * target_session_attrs=read-write, and a new connection goes to whichever accepts writes. A
 * failover shows here as a lost connection (CONNECTION_BAD), 57P01 admin_shutdown or 25006
 * read_only_sql_transaction (a session left on a server that is no longer the primary): all
 * TIX_EUNAVAIL (503 with Retry-After), and the connection is marked broken so the next acquire
 * reconnects. A COMMIT whose connection is lost has an unknown outcome: it is never re-run
 * here (db.c), the caller answers 503, and the client's retry with its Idempotency-Key decides.
 *
 * Statements with parameters are prepared once per connection (keyed by their SQL text) and
 * then only bound and executed: PostgreSQL skips parsing and planning on every later call,
 * which is most of its CPU for our short queries. A statement PostgreSQL will not prepare
 * falls back to PQexecParams.
 *
 * Batches (pg_exec_many) use libpq's pipeline mode: every statement of the batch (and a
 * pending BEGIN) is sent at once and the results are read in order, so the batch costs one
 * round trip. Statements are prepared before the pipeline starts (only their first use on a
 * connection costs a round trip of its own).
 *
 * Bounded waits (a read pool's connections: store/db_read.c). A replica that
 * stalls (stopped with SIGSTOP, a hung host, a network that drops packets without a reset)
 * keeps its TCP connection open and never answers, and libpq's blocking calls would wait for it
 * for ever, with the request that asked. On a connection opened with cfg->db_wait_ms > 0 every
 * call of the driver (connect, statement, batch) has that long in all: results are awaited
 * with poll() up to the deadline before PQgetResult (which then never blocks), and a server
 * that has not answered by then is given up: TIX_EUNAVAIL, the connection out of step (closed
 * and made anew on its next use), so the caller reads from the primary instead. The primary's
 * connections wait as long as the server takes (lock_timeout bounds a lock wait).
 */
#include "core/log.h"
#include "store/db_driver.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INT8OID            20
#define TEXTOID            25
#define MIGRATION_LOCK_KEY "7305202611"

#define STMT_CACHE 128

typedef struct pg_conn {
    PGconn *c;
    bool out_of_step; /* a pipeline left results unread: never use again */
    bool read_only;   /* the server refused a write (25006): not the primary any more */
    bool timed_out;   /* a bounded wait ran out (then out_of_step too) */
    int64_t wait_ms;  /* > 0: each driver call has this long in all (bounded waits) */
    int64_t deadline; /* the current call's, monotonic ms (bounded waits only) */
    int nstmts;
    char *sql[STMT_CACHE];     /* sql[i] was prepared as "s<i>" */
    uint64_t hash[STMT_CACHE]; /* sql_hash(sql[i]) */
} pg_conn;

#define CONN(db) (((pg_conn *)(db)->impl)->c)

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until c's socket is ready for events or the deadline passes: false when it passed.
 * An error on the socket counts as ready (libpq then finds and reports it). */
static bool wait_socket(PGconn *c, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            return false;
        }
        struct pollfd p = {.fd = PQsocket(c), .events = events, .revents = 0};
        int got = poll(&p, 1, (int)left);
        if (got != 0 && !(got < 0 && errno == EINTR)) {
            return true;
        }
    }
}

/* Whether a result can be read: on a bounded connection, waits for it until the call's
 * deadline (then PQgetResult does not block); false when the server did not answer in time,
 * and the connection is out of step. Unbounded: true at once (PQgetResult waits). */
static bool await_result(pg_conn *pc)
{
    while (pc->wait_ms > 0 && PQisBusy(pc->c) && PQstatus(pc->c) == CONNECTION_OK) {
        if (!wait_socket(pc->c, POLLIN, pc->deadline)) {
            pc->timed_out = pc->out_of_step = true;
            return false;
        }
        if (PQconsumeInput(pc->c) == 0) {
            break; /* the connection broke: PQgetResult reports it */
        }
    }
    return true;
}

/* The results of the command just sent (PQexec's way: the last one), or NULL when the sending
 * failed or a bounded wait ran out. Caller PQclears. */
static PGresult *collect(pg_conn *pc, bool sent)
{
    PGresult *last = NULL;
    while (sent) {
        if (!await_result(pc)) {
            PQclear(last);
            return NULL;
        }
        PGresult *r = PQgetResult(pc->c);
        if (r == NULL) {
            break;
        }
        PQclear(last);
        last = r;
    }
    return last;
}

/* PQconnectdbParams, but giving up at deadline (connect_timeout counts whole seconds, at least
 * 2). NULL on time-out. */
static PGconn *connect_by(const char *const *keys, const char *const *vals, int64_t deadline)
{
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (c != NULL && PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        if (!wait_socket(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    return c;
}

static tix_rc pg_open(tix_db *db, const tix_config *cfg)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {cfg->database_url, "3", "ticketd", NULL};
    pg_conn *pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        return TIX_ENOMEM;
    }
    pc->wait_ms = cfg->db_wait_ms;
    pc->deadline = mono_ms() + pc->wait_ms;
    PGconn *c =
        pc->wait_ms > 0 ? connect_by(keys, vals, pc->deadline) : PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        tix_db_set_error(db, "connect",
                         c                 ? PQerrorMessage(c)
                         : pc->wait_ms > 0 ? "no answer in time"
                                           : "out of memory");
        PQfinish(c);
        free(pc);
        return TIX_EUNAVAIL;
    }
    pc->c = c;
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    /* Terse: error messages must never carry row values (DETAIL lines quote them). */
    PQsetErrorVerbosity(c, PQERRORS_TERSE);
    const char *set = "SET TIME ZONE 'UTC'; SET lock_timeout = '5s'; "
                      "SET idle_in_transaction_session_timeout = '60s'";
    PGresult *r = collect(pc, PQsendQuery(c, set) == 1);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        tix_db_set_error(db, "SET", pc->timed_out ? "no answer in time" : PQerrorMessage(c));
        PQfinish(c);
        free(pc);
        return TIX_EUNAVAIL;
    }
    db->impl = pc;
    return TIX_OK;
}

static void pg_close(tix_db *db)
{
    pg_conn *pc = db->impl;
    if (pc == NULL) {
        return;
    }
    PQfinish(pc->c);
    for (int i = 0; i < pc->nstmts; i++) {
        free(pc->sql[i]);
    }
    free(pc);
    db->impl = NULL;
}

static bool pg_broken(tix_db *db)
{
    return db->impl == NULL || PQstatus(CONN(db)) != CONNECTION_OK ||
           ((pg_conn *)db->impl)->out_of_step || ((pg_conn *)db->impl)->read_only;
}

static tix_rc map_error(tix_db *db, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (pg_broken(db) || state == NULL) {
        return TIX_EUNAVAIL;
    }
    if (strcmp(state, "25006") == 0) {
        /* read_only_sql_transaction: this session's server is (now) a standby, or a primary
         * told to refuse writes. A failover seen from inside: 503, and the connection is
         * replaced, so that target_session_attrs=read-write finds the primary. */
        ((pg_conn *)db->impl)->read_only = true;
        return TIX_EUNAVAIL;
    }
    if (strcmp(state, "23505") == 0) {
        return TIX_ECONFLICT;
    }
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
        return TIX_EINVAL; /* constraint or data exception (e.g. bytes that are not UTF-8) */
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0) {
        return TIX_EBUSY;
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "53300") == 0) {
        return TIX_EUNAVAIL;
    }
    return TIX_EDB;
}

static tix_db_res *copy_result(const PGresult *r)
{
    int rows = PQntuples(r);
    int cols = PQnfields(r);
    size_t n = (size_t)rows * (size_t)cols;
    const char **cells = calloc(n ? n : 1, sizeof(*cells));
    int *lens = calloc(n ? n : 1, sizeof(*lens));
    tix_db_res *res = NULL;
    if (cells != NULL && lens != NULL) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                size_t k = (size_t)i * (size_t)cols + (size_t)j;
                cells[k] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
                lens[k] = PQgetlength(r, i, j);
            }
        }
        res = tix_db_res_build(rows, cols, cells, lens);
    }
    free(cells);
    free(lens);
    if (res != NULL) {
        const char *t = PQcmdTuples((PGresult *)r);
        res->changes = (t != NULL && *t) ? strtoll(t, NULL, 10) : 0;
    }
    return res;
}

/* FNV-1a of the statement's text. Looking a statement up compares hashes first: our texts
 * share long prefixes (four INSERT INTO seat_claims forms, say), so comparing every cached
 * text with strcmp cost more than the hash's one pass (1 % of the opening bench's CPU). */
static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *c = (const unsigned char *)sql; *c; c++) {
        h = (h ^ *c) * 1099511628211ULL;
    }
    return h;
}

/* The cache slot of sql if it was prepared, else -1. */
static int find_slot(const pg_conn *pc, const char *sql)
{
    uint64_t h = sql_hash(sql);
    for (int i = 0; i < pc->nstmts; i++) {
        if (pc->hash[i] == h && strcmp(pc->sql[i], sql) == 0) {
            return i;
        }
    }
    return -1;
}

/* The cache slot of sql, preparing it on first use; -1 when it cannot be prepared. */
static int prepared(pg_conn *pc, const char *sql, int n, const unsigned int *types)
{
    int slot = find_slot(pc, sql);
    if (slot >= 0) {
        return slot;
    }
    if (pc->nstmts == STMT_CACHE) {
        return -1; /* full: the rest run unprepared (our SQL is a fixed, small set) */
    }
    char name[16];
    snprintf(name, sizeof(name), "s%d", pc->nstmts);
    PGresult *r = collect(pc, PQsendPrepare(pc->c, name, sql, n, n ? types : NULL) == 1);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    char *copy = ok ? strdup(sql) : NULL;
    if (copy == NULL) {
        return -1;
    }
    pc->sql[pc->nstmts] = copy;
    pc->hash[pc->nstmts] = sql_hash(copy);
    return pc->nstmts++;
}

static PGresult *run(pg_conn *pc, const char *sql, int n, const unsigned int *types,
                     const char *const *values)
{
    /* Statements without parameters (BEGIN, COMMIT, scripts) are not worth a slot. */
    int slot =
        n > 0 && PQtransactionStatus(pc->c) != PQTRANS_INERROR ? prepared(pc, sql, n, types) : -1;
    if (slot < 0) {
        return collect(pc, PQsendQueryParams(pc->c, sql, n, n ? types : NULL, n ? values : NULL,
                                             NULL, NULL, 0) == 1);
    }
    char name[16];
    snprintf(name, sizeof(name), "s%d", slot);
    return collect(pc, PQsendQueryPrepared(pc->c, name, n, values, NULL, NULL, 0) == 1);
}

/* Fills values/types for params (ints are printed into ints). */
static void bind_params(const tix_dbv *params, int n, const char **values, unsigned int *types,
                        char (*ints)[24])
{
    for (int i = 0; i < n; i++) {
        types[i] = 0;
        values[i] = NULL;
        if (params[i].type == TIX_DBV_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%" PRId64, params[i].i);
            values[i] = ints[i];
            types[i] = INT8OID;
        } else if (params[i].type == TIX_DBV_TEXT) {
            values[i] = params[i].s;
            types[i] = TEXTOID; /* typed, so "$1 IS NULL OR col = $1" resolves */
        }
    }
}

/* The outcome of one result: TIX_OK with *out filled (when out is not NULL), or the error. */
static tix_rc take_result(tix_db *db, const char *sql, PGresult *r, const char *msg,
                          tix_db_res **out)
{
    ExecStatusType st = PQresultStatus(r);
    tix_rc rc = TIX_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tix_db_set_error(db, sql, msg);
        rc = map_error(db, r);
        if (rc == TIX_EDB || rc == TIX_EUNAVAIL) {
            tix_log_error("postgres: %s", db->err);
        }
    } else if (out != NULL) {
        *out = copy_result(r);
        rc = *out ? TIX_OK : TIX_ENOMEM;
    }
    return rc;
}

static tix_rc pg_exec(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_db_res **out)
{
    if (db->impl == NULL) {
        tix_db_set_error(db, sql, "no connection (the server was unreachable)");
        return TIX_EUNAVAIL;
    }
    const char *values[TIX_DB_MAX_PARAMS];
    unsigned int types[TIX_DB_MAX_PARAMS];
    char ints[TIX_DB_MAX_PARAMS][24];
    bind_params(params, n, values, types, ints);
    pg_conn *pc = db->impl;
    pc->deadline = mono_ms() + pc->wait_ms;
    PGresult *r = run(pc, sql, n, types, values);
    const char *msg = pc->timed_out ? "no answer in time" : PQerrorMessage(pc->c);
    tix_rc rc = take_result(db, sql, r, msg, out);
    PQclear(r);
    return rc;
}

/* Queues one statement of a pipeline (slot: its cache slot, from prepare_all; -1 to run it
 * unprepared); false if libpq could not. */
static bool send_one(pg_conn *pc, const char *sql, const tix_dbv *params, int n, int slot)
{
    const char *values[TIX_DB_MAX_PARAMS];
    unsigned int types[TIX_DB_MAX_PARAMS];
    char ints[TIX_DB_MAX_PARAMS][24];
    bind_params(params, n, values, types, ints);
    if (slot < 0) {
        return PQsendQueryParams(pc->c, sql, n, n ? types : NULL, n ? values : NULL, NULL, NULL,
                                 0) == 1;
    }
    char name[16];
    snprintf(name, sizeof(name), "s%d", slot);
    return PQsendQueryPrepared(pc->c, name, n, values, NULL, NULL, 0) == 1;
}

/* Files one result of a pipeline: the BEGIN's when *next is -1, else statement *next's. */
static void file_result(tix_db *db, const char *begin, tix_db_stmt *st, int n, int *next,
                        PGresult *r, tix_rc *begin_rc)
{
    ExecStatusType s = PQresultStatus(r);
    if (*next == -1) {
        *begin_rc = take_result(db, begin, r, PQresultErrorMessage(r), NULL);
    } else if (*next < n) {
        tix_db_stmt *t = &st[*next];
        t->ran = s != PGRES_PIPELINE_ABORTED;
        t->rc = t->ran ? take_result(db, t->sql, r, PQresultErrorMessage(r), &t->res)
                       : TIX_EDB; /* replaced by what stopped the batch (settle) */
    }
    (*next)++;
}

/* The batch's outcome once the results are read: the first failure (TIX_EUNAVAIL when results
 * are missing), also given to every statement that did not run. */
static tix_rc settle(tix_db_stmt *st, int n, int next, int syncs, tix_rc begin_rc)
{
    tix_rc first = begin_rc;
    for (int i = 0; i < n && first == TIX_OK; i++) {
        first = i < next && st[i].ran ? st[i].rc : TIX_OK;
    }
    if (first == TIX_OK && (next < n || syncs > 0)) {
        first = TIX_EUNAVAIL; /* results missing: the connection broke */
    }
    for (int i = 0; i < n; i++) {
        if (i >= next || !st[i].ran) {
            st[i].ran = false;
            st[i].rc = first;
        }
    }
    return first;
}

/* Reads the pipeline's results: the BEGIN's (when sent), one per statement, and `syncs` sync
 * points (a NULL ends each statement's results; two in a row: nothing more will come). */
static tix_rc read_pipeline(tix_db *db, const char *begin, tix_db_stmt *st, int n, int syncs)
{
    PGconn *c = CONN(db);
    int next = begin != NULL ? -1 : 0;
    bool last_null = false;
    tix_rc begin_rc = TIX_OK;
    while (syncs > 0) {
        if (!await_result(db->impl)) {
            tix_db_set_error(db, begin ? begin : st[0].sql, "no answer in time");
            tix_log_error("postgres: %s", db->err);
            break; /* the missing results make it TIX_EUNAVAIL */
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL && (last_null || PQstatus(c) != CONNECTION_OK)) {
            break;
        }
        last_null = r == NULL;
        if (r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            syncs--;
        } else if (r != NULL) {
            file_result(db, begin, st, n, &next, r, &begin_rc);
        }
        PQclear(r);
    }
    return settle(st, n, next, syncs, begin_rc);
}

/* Prepares the batch's statements not prepared yet (a pipeline cannot wait for PQprepare) and
 * fills slots[i] with statement i's cache slot, -1 for one that runs unprepared: each text is
 * looked up once per batch. */
static void prepare_all(pg_conn *pc, const tix_db_stmt *st, int n, int *slots)
{
    for (int i = 0; i < n; i++) {
        slots[i] = st[i].n > 0 ? find_slot(pc, st[i].sql) : -1;
        if (slots[i] < 0 && st[i].n > 0 && PQtransactionStatus(pc->c) != PQTRANS_INERROR) {
            unsigned int types[TIX_DB_MAX_PARAMS];
            const char *values[TIX_DB_MAX_PARAMS];
            char ints[TIX_DB_MAX_PARAMS][24];
            bind_params(st[i].params, st[i].n, values, types, ints);
            slots[i] = prepared(pc, st[i].sql, st[i].n, types);
        }
    }
}

/* Queues begin (if any) and the statements with their sync points; false if libpq could not.
 * OUT: *syncs, the sync points queued. */
static bool send_all(pg_conn *pc, const char *begin, const tix_db_stmt *st, const int *slots, int n,
                     bool sync_each, int *syncs)
{
    *syncs = 0;
    bool ok = begin == NULL || PQsendQueryParams(pc->c, begin, 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (int i = 0; ok && i < n; i++) {
        ok = send_one(pc, st[i].sql, st[i].params, st[i].n, slots[i]);
        if (ok && sync_each) {
            ok = PQpipelineSync(pc->c) == 1;
            *syncs += ok;
        }
    }
    if (ok && !sync_each) {
        ok = PQpipelineSync(pc->c) == 1;
        *syncs += ok;
    }
    return ok;
}

static tix_rc pg_exec_many(tix_db *db, const char *begin, tix_db_stmt *st, int n, bool sync_each)
{
    if (db->impl == NULL) {
        tix_db_set_error(db, st[0].sql, "no connection (the server was unreachable)");
        for (int i = 0; i < n; i++) {
            st[i].rc = TIX_EUNAVAIL;
        }
        return TIX_EUNAVAIL;
    }
    pg_conn *pc = db->impl;
    pc->deadline = mono_ms() + pc->wait_ms;
    assert(n >= 1 && n <= TIX_DB_MAX_BATCH + 1); /* db.c refuses more */
    int slots[TIX_DB_MAX_BATCH + 1];
    prepare_all(pc, st, n, slots);
    int syncs = 0;
    bool ok =
        PQenterPipelineMode(pc->c) == 1 && send_all(pc, begin, st, slots, n, sync_each, &syncs);
    if (!ok) {
        tix_db_set_error(db, st[0].sql, PQerrorMessage(pc->c));
        tix_log_error("postgres: %s", db->err);
    }
    tix_rc rc = read_pipeline(db, begin, st, n, syncs);
    if (PQexitPipelineMode(pc->c) != 1 && PQstatus(pc->c) == CONNECTION_OK) {
        /* results left unread: this connection is out of step, so a new one replaces it */
        tix_log_error("postgres: pipeline left unfinished: %s", PQerrorMessage(pc->c));
        pc->out_of_step = true;
    }
    return !ok && rc == TIX_OK ? TIX_EUNAVAIL : rc;
}

static tix_rc pg_exec_script(tix_db *db, const char *sql)
{
    if (db->impl == NULL) {
        return TIX_EUNAVAIL;
    }
    PGresult *r = PQexec(CONN(db), sql);
    ExecStatusType st = PQresultStatus(r);
    tix_rc rc = TIX_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tix_db_set_error(db, sql, PQerrorMessage(CONN(db)));
        rc = map_error(db, r);
    }
    PQclear(r);
    return rc;
}

static tix_rc pg_lock_migrations(tix_db *db)
{
    return pg_exec_script(db, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")");
}

static void pg_unlock_migrations(tix_db *db)
{
    tix_rc rc = pg_exec_script(db, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")");
    (void)rc; /* the session lock also ends with the connection */
}

const tix_db_driver tix_db_pg_driver = {
    .name = "PostgreSQL",
    .open = pg_open,
    .close = pg_close,
    .broken = pg_broken,
    .exec = pg_exec,
    .exec_many = pg_exec_many,
    .exec_script = pg_exec_script,
    .lock_migrations = pg_lock_migrations,
    .unlock_migrations = pg_unlock_migrations,
    .begin_sql = "BEGIN",
    .lazy_begin = true,
};
