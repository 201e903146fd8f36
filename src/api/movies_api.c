/*
 * Movies: admin writes, public reads. Certificates follow India's CBFC: U (universal), UA
 * (parental guidance), A (adults), S (restricted to specialised audiences). The handlers check
 * the shape of a request and leave the rules and the transaction of a deletion to the
 * catalogue service (catalog/catalog.h, movies.c).
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "catalog/show_time.h"
#include "core/util.h"

#include <string.h>

typedef struct movie_input {
    const char *title;
    const char *description;
    const char *release_date;
    const char *certificate;
    const char *status;
    int64_t duration;
    bool has_duration;
    json_t *languages; /* owned; NULL when absent */
    json_t *genres;
} movie_input;

static bool one_of(const char *s, const char *const *set)
{
    for (; *set != NULL; set++) {
        if (strcmp(s, *set) == 0) {
            return true;
        }
    }
    return false;
}

/* Checks the enumerated and dated fields once their types are known. */
static bool check_values(const movie_input *in, tix_verr *e)
{
    static const char *const certs[] = {"U", "UA", "A", "S", NULL};
    static const char *const statuses[] = {"active", "inactive", NULL};
    int64_t day = 0;
    if (in->release_date != NULL && !tix_parse_date(in->release_date, &day)) {
        return tix_v_fail(e, "release_date", "must be a real date as YYYY-MM-DD");
    }
    if (in->certificate != NULL && !one_of(in->certificate, certs)) {
        return tix_v_fail(e, "certificate", "must be one of U, UA, A, S");
    }
    if (in->status != NULL && !one_of(in->status, statuses)) {
        return tix_v_fail(e, "status", "must be active or inactive");
    }
    return true;
}

/* Reads a movie body; partial = PATCH (every field optional). Answers and returns false on a
 * problem. */
static bool read_movie_input(tix_req *r, json_t *body, bool partial, movie_input *in)
{
    tix_verr e;
    bool req = !partial;
    memset(in, 0, sizeof(*in));
    bool ok =
        tix_v_text(body, "title", req, 1, 200, TIX_TEXT_LINE, &in->title, &e) &&
        tix_v_text(body, "description", false, 0, 5000, TIX_TEXT_MULTILINE, &in->description, &e) &&
        tix_v_int(body, "duration_minutes", req, 1, 600, &in->duration, &in->has_duration, &e) &&
        tix_v_string(body, "release_date", req, 10, 10, &in->release_date, &e) &&
        tix_v_string(body, "certificate", req, 1, 2, &in->certificate, &e) &&
        tix_v_string(body, "status", false, 1, 16, &in->status, &e) &&
        tix_v_string_list(body, "languages", 10, 32, &in->languages, &e) &&
        tix_v_string_list(body, "genres", 10, 32, &in->genres, &e) && check_values(in, &e);
    if (!ok) {
        json_decref(in->languages);
        json_decref(in->genres);
        in->languages = in->genres = NULL;
        tix_reply_verr(r, &e);
    }
    return ok;
}

static char *dump(tix_req *r, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    char *copy = tix_arena_strdup(r->arena, s ? s : "[]");
    free(s);
    return copy;
}

/* The change `in` asks for, as the service takes it (lists as JSON text in r's arena). */
static tix_movie_change change_of(tix_req *r, const movie_input *in)
{
    return (tix_movie_change){.title = in->title,
                              .description = in->description,
                              .release_date = in->release_date,
                              .certificate = in->certificate,
                              .status = in->status,
                              .languages = in->languages ? dump(r, in->languages) : NULL,
                              .genres = in->genres ? dump(r, in->genres) : NULL,
                              .has_duration = in->has_duration,
                              .duration_minutes = (int)in->duration};
}

static void reply_movie(tix_req *r, unsigned status, const tix_movie *m)
{
    char today[11];
    tix_format_date(today, tix_now_ms());
    tix_reply_json(r, status, tix_view_movie(m, today));
}

/* Reads the request's body (partial: an update's, where every field may be left out) into *ch
 * and gives the request's connection; NULL when it has answered (a bad body, no database). */
static tix_db *read_change(tix_req *r, bool partial, tix_movie_change *ch)
{
    json_t *body = tix_req_json(r);
    movie_input in;
    if (body == NULL || !read_movie_input(r, body, partial, &in)) {
        return NULL;
    }
    *ch = change_of(r, &in);
    json_decref(in.languages);
    json_decref(in.genres);
    return tix_req_db(r);
}

void tix_api_movie_create(tix_req *r)
{
    tix_movie_change ch;
    tix_db *db = read_change(r, false, &ch);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_movie m;
    tix_rc rc = tix_catalog_movie_create(&c, &ch, &m);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_movie(r, 201, &m);
}

void tix_api_movie_update(tix_req *r)
{
    tix_movie_change ch;
    tix_db *db = read_change(r, true, &ch);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_movie m;
    tix_rc rc = tix_catalog_movie_update(&c, tix_req_param(r, "id"), &ch, &m, &why);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    reply_movie(r, 200, &m);
}

void tix_api_movie_toggle(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_movie m;
    tix_rc rc = tix_catalog_movie_toggle(&c, tix_req_param(r, "id"), &m);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_movie(r, 200, &m);
}

void tix_api_movie_delete(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_movie_delete(&c, tix_req_param(r, "id"), &why);
    tix_api_reply_catalog(r, rc, &why);
}

void tix_api_movie_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_movie m;
    tix_rc rc = tix_movie_get(db, r->arena, tix_req_param(r, "id"), &m);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_movie(r, 200, &m);
}

/* "%<q with % _ \ escaped>%" in lower case, for LIKE ... ESCAPE '\'. */
char *tix_api_like_pattern(tix_req *r, const char *q)
{
    size_t n = strlen(q);
    char *out = tix_arena_alloc(r->arena, n * 2 + 3);
    size_t k = 0;
    out[k++] = '%';
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (c == '%' || c == '_' || c == '\\') {
            out[k++] = '\\';
        }
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[k++] = '%';
    out[k] = '\0';
    return out;
}

static char *lower_copy(tix_req *r, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    char *k = tix_arena_strdup(r->arena, s);
    for (char *p = k; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    return k;
}

/* Reads the list filters; answers 400 and returns false on a bad one. */
static bool read_movie_filter(tix_req *r, tix_movie_filter *f, char *today)
{
    const char *status = tix_req_query(r, "status");
    const char *q = tix_req_query(r, "q");
    memset(f, 0, sizeof(*f));
    if (!tix_req_page(r, &f->limit, &f->after)) {
        return false;
    }
    if (status != NULL && strcmp(status, "upcoming") != 0 && strcmp(status, "released") != 0 &&
        strcmp(status, "all") != 0) {
        tix_reply_error(r, 400, "invalid_parameter", "status must be upcoming, released or all",
                        json_pack("{s:s}", "parameter", "status"));
        return false;
    }
    if (q != NULL && tix_utf8_len(q) > 200) { /* characters, as documented */
        tix_reply_error(r, 400, "invalid_parameter", "q is too long",
                        json_pack("{s:s}", "parameter", "q"));
        return false;
    }
    tix_format_date(today, tix_now_ms());
    f->today = today;
    f->release = status && strcmp(status, "all") != 0 ? status : NULL;
    f->q_like = q && *q ? tix_api_like_pattern(r, q) : NULL;
    f->genre = lower_copy(r, tix_req_query(r, "genre"));
    f->language = lower_copy(r, tix_req_query(r, "language"));
    f->include_inactive = r->auth.authenticated && r->auth.role == TIX_ROLE_ADMIN;
    return true;
}

void tix_api_movie_list(tix_req *r)
{
    tix_movie_filter f;
    char today[11];
    if (!read_movie_filter(r, &f, today)) {
        return;
    }
    tix_db *db = tix_req_db_read(r); /* a listing may come from a replica */
    if (db == NULL) {
        return;
    }
    tix_movie *items = NULL;
    int n = 0;
    r->cache_until = (tix_now_ms() / 86400000 + 1) * 86400000; /* "upcoming" moves at midnight */
    tix_rc rc = tix_movie_list(db, r->arena, &f, &items, &n);
    if (tix_req_db_read_again(r, rc, &db)) {
        rc = tix_movie_list(db, r->arena, &f, &items, &n);
    } else if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < f.limit; i++) {
        json_array_append_new(list, tix_view_movie(&items[i], today));
    }
    tix_reply_page(r, list, n > f.limit ? items[f.limit - 1].id : NULL);
}
