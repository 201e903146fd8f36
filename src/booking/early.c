/* Hold refusals that need no database (see early.h). */
#include "booking/early.h"

#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* One seat line of a view, pointing into the arena copy of the text. */
typedef struct view_seat {
    const char *id;
    char state; /* 'f', 'c' or 'b' */
    const char *category;
    const char *claimant; /* "" unless claimed */
} view_seat;

typedef struct view {
    bool cancelled;
    int64_t starts_at;
    view_seat *seats; /* sorted by id */
    int n;
} view;

static bool plain_field(const char *s)
{
    return s != NULL && strpbrk(s, "\t\n") == NULL;
}

static char state_of(const tix_map_seat *s)
{
    if (s->blocked || s->price < 0) {
        return 'b';
    }
    return s->claim == TIX_CLAIM_FREE ? 'f' : 'c';
}

bool tix_early_useful(const tix_show *show, const tix_map_seat *seats, int n, int64_t now_ms)
{
    if (show->cancelled || show->starts_at <= now_ms) {
        return false; /* not on sale: tix_early_refusal would refuse nothing */
    }
    for (int i = 0; i < n; i++) {
        if (state_of(&seats[i]) == 'c') {
            return true;
        }
    }
    return false;
}

static int cmp_map_seat_id(const void *x, const void *y)
{
    return strcmp((*(const tix_map_seat *const *)x)->id, (*(const tix_map_seat *const *)y)->id);
}

char *tix_early_view(tix_arena *a, const tix_show *show, const tix_map_seat *seats, int n,
                     size_t *len)
{
    /* The seats in id order: sorted once here, per build, not by every refusal that reads it. */
    const tix_map_seat **by_id = tix_arena_alloc(a, sizeof(*by_id) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        by_id[i] = &seats[i];
    }
    qsort(by_id, (size_t)n, sizeof(*by_id), cmp_map_seat_id);
    size_t cap = 64;
    for (int i = 0; i < n; i++) {
        const tix_map_seat *s = &seats[i];
        const char *who = s->claim_user ? s->claim_user : "";
        if (!plain_field(s->id) || !plain_field(s->category) || !plain_field(who)) {
            return NULL;
        }
        cap += strlen(s->id) + strlen(s->category) + strlen(who) + 8;
    }
    char *text = tix_arena_alloc(a, cap);
    size_t at = (size_t)snprintf(text, cap, "v1 %d %lld\n", show->cancelled ? 1 : 0,
                                 (long long)show->starts_at);
    for (int i = 0; i < n; i++) {
        const tix_map_seat *s = by_id[i];
        char state = state_of(s);
        const char *who = state == 'c' && s->claim_user ? s->claim_user : "";
        at += (size_t)snprintf(text + at, cap - at, "%s\t%c\t%s\t%s\n", s->id, state, s->category,
                               who);
    }
    *len = at;
    return text;
}

static int cmp_view_seat(const void *x, const void *y)
{
    return strcmp(((const view_seat *)x)->id, ((const view_seat *)y)->id);
}

/* The first line, "v1 <cancelled> <starts_at>" (NUL-terminated in place). */
static bool parse_head(char *line, view *v)
{
    int64_t cancelled = 0;
    char *sp = strncmp(line, "v1 ", 3) == 0 ? strchr(line + 3, ' ') : NULL;
    if (sp == NULL) {
        return false;
    }
    *sp = '\0';
    if (!tix_parse_int(line + 3, 0, 1, &cancelled) ||
        !tix_parse_int(sp + 1, INT64_MIN, INT64_MAX, &v->starts_at)) {
        return false;
    }
    v->cancelled = cancelled != 0;
    return true;
}

/* A seat line "<id>\t<state>\t<category>\t<claimant>" (NUL-terminated in place) into *out. */
static bool parse_seat(char *line, view_seat *out)
{
    char *f[4];
    f[0] = line;
    for (int k = 1; k < 4; k++) {
        char *tab = strchr(f[k - 1], '\t');
        if (tab == NULL) {
            return false;
        }
        *tab = '\0';
        f[k] = tab + 1;
    }
    if (strlen(f[1]) != 1 || strchr("fcb", f[1][0]) == NULL) {
        return false;
    }
    *out = (view_seat){f[0], f[1][0], f[2], f[3]};
    return true;
}

/* Parses a copy of text; false on anything but the format early.h describes. */
static bool parse_view(tix_arena *a, const char *text, view *v)
{
    char *copy = tix_arena_strdup(a, text);
    char *nl = strchr(copy, '\n');
    if (nl == NULL) {
        return false;
    }
    *nl = '\0';
    if (!parse_head(copy, v)) {
        return false;
    }
    int lines = 0;
    for (const char *p = nl + 1; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    v->seats = tix_arena_calloc(a, sizeof(view_seat) * (size_t)(lines ? lines : 1));
    v->n = 0;
    for (char *line = nl + 1; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL || v->n >= lines) {
            return false;
        }
        *nl = '\0';
        if (!parse_seat(line, &v->seats[v->n++])) {
            return false;
        }
    }
    /* Written in id order (tix_early_view); sorted here only if not (a view of another build). */
    for (int i = 1; i < v->n; i++) {
        if (cmp_view_seat(&v->seats[i - 1], &v->seats[i]) > 0) {
            qsort(v->seats, (size_t)v->n, sizeof(view_seat), cmp_view_seat);
            break;
        }
    }
    return true;
}

static const view_seat *find(const view *v, const char *id)
{
    view_seat key = {.id = id};
    return v->n ? bsearch(&key, v->seats, (size_t)v->n, sizeof(view_seat), cmp_view_seat) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* By seat ids: every asked seat known, sellable, and claimed by someone else. */
static bool refuse_ids(tix_arena *a, const view *v, const tix_hold_request *req,
                       const char *user_id, tix_hold_result *out)
{
    const char **ids = tix_arena_calloc(a, sizeof(char *) * (size_t)req->nseat_ids);
    memcpy(ids, req->seat_ids, sizeof(char *) * (size_t)req->nseat_ids);
    qsort(ids, (size_t)req->nseat_ids, sizeof(char *), cmp_str);
    const char **taken = tix_arena_calloc(a, sizeof(char *) * (size_t)req->nseat_ids);
    int n = 0;
    for (int i = 0; i < req->nseat_ids; i++) {
        if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0) {
            continue; /* duplicates count once, as on the database path */
        }
        const view_seat *s = find(v, ids[i]);
        if (s == NULL || s->state != 'c' || strcmp(s->claimant, user_id) == 0) {
            return false; /* unknown or never sold (422), shown free, or his own */
        }
        taken[n++] = s->id;
    }
    out->problem = TIX_HOLD_SEAT_UNAVAILABLE;
    out->problem_ids = taken;
    out->nproblems = n;
    return n > 0;
}

/* Best available: fewer free seats (of the category) than asked, none of them his own. */
static bool refuse_quantity(const view *v, const tix_hold_request *req, const char *user_id,
                            tix_hold_result *out)
{
    int free = 0;
    for (int i = 0; i < v->n; i++) {
        const view_seat *s = &v->seats[i];
        if (s->state == 'c' && strcmp(s->claimant, user_id) == 0) {
            return false; /* the replacement could free it for him */
        }
        if (s->state == 'f' && (req->category == NULL || strcmp(req->category, s->category) == 0)) {
            free++;
        }
    }
    if (req->quantity < 1 || free >= req->quantity) {
        return false;
    }
    out->problem = TIX_HOLD_NO_SEATS_AVAILABLE;
    out->problem_ids = NULL;
    out->nproblems = 0;
    return true;
}

bool tix_early_refusal(tix_arena *a, const char *view_text, const tix_hold_request *req,
                       const char *user_id, int64_t now_ms, tix_hold_result *out)
{
    view v;
    memset(out, 0, sizeof(*out));
    if (view_text == NULL || user_id == NULL || user_id[0] == '\0' ||
        !parse_view(a, view_text, &v) || v.cancelled || v.starts_at <= now_ms) {
        return false; /* not on sale: the ordinary path says so (show_not_bookable) */
    }
    bool refused = req->seat_ids != NULL
                       ? req->nseat_ids > 0 && refuse_ids(a, &v, req, user_id, out)
                       : refuse_quantity(&v, req, user_id, out);
    if (!refused) {
        memset(out, 0, sizeof(*out));
    }
    return refused;
}
