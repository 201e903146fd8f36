/*
 * The audit trail's recorder (see audit.h for what and why). Pure parts first (the action name
 * and the target from a route pattern), then the write after the handler.
 */
#include "http/audit.h"

#include "app.h"
#include "core/log.h"
#include "core/util.h"
#include "http/clientip.h"
#include "http/req.h"
#include "store/audit.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 16

/* One segment of a pattern: a literal ("theatres") or a parameter ("{id}"). */
typedef struct seg {
    const char *p;
    size_t n;
    bool param;
} seg;

/* The segments of pattern that name things: "/api/v1" and a leading "admin" left out (an
 * admin's approval of a theatre is "theatre.approve", as the owner's submission is
 * "theatre.submit"). Returns how many (at most MAX_SEGS). */
static int split(const char *pattern, seg *segs)
{
    if (strncmp(pattern, "/api/v1/", 8) == 0) {
        pattern += 7;
    }
    int n = 0;
    const char *s = pattern;
    while (*s != '\0' && n < MAX_SEGS) {
        while (*s == '/') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        const char *e = strchr(s, '/');
        size_t len = e != NULL ? (size_t)(e - s) : strlen(s);
        segs[n++] = (seg){s, len, s[0] == '{'};
        s += len;
    }
    if (n > 1 && !segs[0].param && segs[0].n == 5 && memcmp(segs[0].p, "admin", 5) == 0) {
        memmove(segs, segs + 1, sizeof(seg) * (size_t)(n - 1));
        n--;
    }
    return n;
}

/* Whether a literal reads as a plural noun: "halls", "check-ins", not "toggle-status", "access". */
static bool plural(const seg *s)
{
    return !s->param && s->n > 1 && s->p[s->n - 1] == 's' && s->p[s->n - 2] != 's' &&
           s->p[s->n - 2] != 'u';
}

static size_t singular_len(const seg *s)
{
    return plural(s) ? s->n - 1 : s->n;
}

typedef struct namebuf {
    char *out;
    size_t cap;
    size_t n;
} namebuf;

static void put(namebuf *b, const char *p, size_t n)
{
    if (b->n > 0 && b->n + 1 < b->cap) {
        b->out[b->n++] = '.';
    }
    size_t room = b->n < b->cap ? b->cap - 1 - b->n : 0;
    n = n < room ? n : room;
    memcpy(b->out + b->n, p, n);
    b->n += n;
    b->out[b->n] = '\0';
}

bool tix_audit_is_write(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/* Whether route is a POST to a plural collection (POST /theatres, POST /shows/{id}/holds). */
static bool is_create(const tix_route *route, const seg *segs, int n)
{
    return strcmp(route->method, "POST") == 0 && n > 0 && plural(&segs[n - 1]);
}

static const char *verb(const char *method)
{
    if (strcmp(method, "PATCH") == 0) {
        return "update";
    }
    if (strcmp(method, "PUT") == 0) {
        return "replace";
    }
    if (strcmp(method, "DELETE") == 0) {
        return "delete";
    }
    return strcmp(method, "POST") == 0 ? "post" : "read";
}

void tix_audit_action(const tix_route *route, char *out, size_t cap)
{
    seg segs[MAX_SEGS];
    int n = split(route->pattern, segs);
    namebuf b = {out, cap, 0};
    if (cap > 0) {
        out[0] = '\0';
    }
    if (is_create(route, segs, n)) { /* "hall.create": the new object is the subject */
        put(&b, segs[n - 1].p, singular_len(&segs[n - 1]));
        put(&b, "create", 6);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (segs[i].param) {
            continue;
        }
        bool named = i + 1 < n && segs[i + 1].param; /* "theatres/{id}": one theatre */
        put(&b, segs[i].p, named ? singular_len(&segs[i]) : segs[i].n);
    }
    /* A POST to a literal is that action ("theatre.approve"); anything else says its verb. */
    if (n == 0 || segs[n - 1].param || strcmp(route->method, "POST") != 0) {
        const char *v = verb(route->method);
        put(&b, v, strlen(v));
    }
}

bool tix_audit_wants(const tix_route *route, const tix_principal *p)
{
    if (route == NULL || route->audit_exempt != NULL || !tix_audit_is_write(route->method) ||
        !p->authenticated) {
        return false;
    }
    return (route->flags & TIX_ROUTE_AUDIT_ALL) != 0 || p->role >= TIX_ROLE_OWNER;
}

void tix_audit_target(tix_req *r, const char *type, const char *id)
{
    r->audit_target_type = type;
    r->audit_target_id = id;
}

/* The id of what a create made, from its JSON answer: "id", "<noun>_id" or "<noun>": {"id"}.
 * NULL when the answer holds none (arena copy otherwise). */
static const char *created_id(tix_req *r, const char *noun)
{
    if (r->resp == NULL || r->resp_len == 0 || r->resp_file || r->stream != NULL) {
        return NULL;
    }
    json_t *body = json_loadb(r->resp, r->resp_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return NULL;
    }
    char key[TIX_AUDIT_ACTION_MAX];
    const char *id = json_string_value(json_object_get(body, "id"));
    if (id == NULL) {
        snprintf(key, sizeof(key), "%s_id", noun);
        for (char *c = strchr(key, '-'); c != NULL; c = strchr(c, '-')) {
            *c = '_'; /* "check-in" -> "check_in_id" */
        }
        id = json_string_value(json_object_get(body, key));
    }
    if (id == NULL) {
        id = json_string_value(json_object_get(json_object_get(body, noun), "id"));
    }
    const char *copy = id != NULL ? tix_arena_strdup(r->arena, id) : NULL;
    json_decref(body);
    return copy;
}

/* What r acted on (see audit.h); both NULL when nothing is named. */
static void find_target(tix_req *r, const char **type, const char **id)
{
    *type = r->audit_target_type;
    *id = r->audit_target_id;
    if (*id != NULL) {
        return;
    }
    seg segs[MAX_SEGS];
    int n = split(r->route->pattern, segs);
    if (is_create(r->route, segs, n) && r->status >= 200 && r->status < 300) {
        const char *noun = tix_arena_strndup(r->arena, segs[n - 1].p, singular_len(&segs[n - 1]));
        const char *made = created_id(r, noun);
        if (made != NULL) {
            *type = noun;
            *id = made;
            return;
        }
    }
    for (int i = n - 1; i > 0; i--) { /* the last parameter, typed by the segment before it */
        if (segs[i].param && !segs[i - 1].param) {
            *type = tix_arena_strndup(r->arena, segs[i - 1].p, singular_len(&segs[i - 1]));
            break;
        }
    }
    if (*type != NULL && r->match.nparams > 0) {
        const tix_slice *v = &r->match.values[r->match.nparams - 1];
        *id = tix_arena_strndup(r->arena, v->p, v->n);
    } else {
        *type = NULL;
    }
}

/* The row, whole, into the error log: the trail's fallback when the table refused it. */
static void log_lost(const tix_audit_row *row, tix_rc rc)
{
    json_t *j = json_pack(
        "{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:i,s:s?,s:s}", "audit_id", row->id, "at",
        (json_int_t)row->at, "actor_id", row->actor_id, "actor_role", row->actor_role, "action",
        row->action, "method", row->method, "route", row->route, "target_type", row->target_type,
        "target_id", row->target_id, "request_id", row->request_id, "client_ip", row->client_ip,
        "status", row->status, "detail", row->detail, "error", tix_rc_name(rc));
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    size_t len = s != NULL ? strlen(s) : 0;
    if (len >= 2) { /* "{…}" → the member list tix_log_fields takes */
        s[len - 1] = '\0';
        tix_log_fields(TIX_LOG_ERROR, "audit write failed; the row is this line", s + 1);
    } else {
        tix_log_error("audit write failed for request %s; the row could not even be logged",
                      row->request_id);
    }
    free(s);
    json_decref(j);
}

void tix_audit_record(tix_req *r)
{
    if (!tix_audit_wants(r->route, &r->auth)) {
        return;
    }
    char id[TIX_ID_MAX];
    char action[TIX_AUDIT_ACTION_MAX];
    char ip[TIX_IP_TEXT];
    char detail[65];
    tix_id_new(id, "aud");
    tix_audit_action(r->route, action, sizeof(action));
    tix_client_ip(r, ip);
    unsigned status = r->status != 0 ? r->status : 500; /* unanswered: the server says 500 */
    if (status >= 400 && r->error_code != NULL) {
        snprintf(detail, sizeof(detail), "%s", r->error_code);
    }
    tix_audit_row row = {
        .id = id,
        .at = tix_now_ms(),
        .actor_id = r->auth.user_id,
        .actor_role = (char *)tix_role_name(r->auth.role),
        .action = action,
        .method = (char *)r->method,
        .route = (char *)r->route->pattern,
        .request_id = r->request_id,
        .client_ip = ip,
        .status = (int)status,
        .detail = status >= 400 && r->error_code != NULL ? detail : NULL,
    };
    const char *type = NULL;
    const char *target = NULL;
    find_target(r, &type, &target);
    row.target_type = (char *)type;
    row.target_id = (char *)target;
    /* The request's connection, unless a transaction is still open on it (a handler's bug: the
     * release would roll the row back with it); then a connection of its own. */
    tix_db *db = r->db;
    tix_db *own = NULL;
    tix_rc rc = TIX_OK;
    if (db == NULL || tix_db_in_tx(db)) {
        rc = tix_req_acquire(r, &own);
        db = own;
    }
    if (rc == TIX_OK) {
        rc = tix_audit_insert(db, &row);
    }
    tix_db_release(r->app->db, own); /* NULL does nothing */
    if (rc != TIX_OK) {
        atomic_fetch_add(&r->app->audit_failures, 1);
        log_lost(&row, rc);
    }
}
