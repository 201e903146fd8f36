/*
 * Router: each pattern is split into segments once; matching splits the path the same way and
 * walks the table (a few dozen routes: a linear scan beats any tree at this size).
 */
#include "http/router.h"

#include "core/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct compiled {
    const tix_route *route;
    int nseg;
    tix_slice seg[TIX_ROUTE_MAX_SEGMENTS];
    unsigned char is_param[TIX_ROUTE_MAX_SEGMENTS];
} compiled;

struct tix_router {
    size_t n;
    compiled *routes;
};

/* Splits "/a/b/" into {"a","b"}; returns the count or -1 if too many segments. */
static int split(const char *path, tix_slice *seg)
{
    int n = 0;
    const char *p = path;
    while (*p == '/') {
        p++;
    }
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == TIX_ROUTE_MAX_SEGMENTS) {
            return -1;
        }
        seg[n].p = p;
        seg[n].n = len;
        n++;
        p += len;
        while (*p == '/') {
            p++;
        }
    }
    return n;
}

static bool slice_eq(tix_slice a, tix_slice b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool compile(const tix_route *r, compiled *c)
{
    c->route = r;
    if (r->pattern[0] != '/' || r->handler == NULL || r->method == NULL) {
        return false;
    }
    c->nseg = split(r->pattern, c->seg);
    if (c->nseg < 0) {
        return false;
    }
    int nparams = 0;
    for (int i = 0; i < c->nseg; i++) {
        tix_slice s = c->seg[i];
        c->is_param[i] = s.n >= 3 && s.p[0] == '{' && s.p[s.n - 1] == '}';
        if (c->is_param[i]) {
            c->seg[i].p++;
            c->seg[i].n -= 2;
            if (memchr(c->seg[i].p, '{', c->seg[i].n) || memchr(c->seg[i].p, '}', c->seg[i].n)) {
                return false;
            }
            nparams++;
        } else if (memchr(s.p, '{', s.n) || memchr(s.p, '}', s.n)) {
            return false;
        }
    }
    return nparams <= TIX_ROUTE_MAX_PARAMS;
}

static bool same_shape(const compiled *a, const compiled *b)
{
    if (a->nseg != b->nseg || strcmp(a->route->method, b->route->method) != 0) {
        return false;
    }
    for (int i = 0; i < a->nseg; i++) {
        if (a->is_param[i] != b->is_param[i] ||
            (!a->is_param[i] && !slice_eq(a->seg[i], b->seg[i]))) {
            return false;
        }
    }
    return true;
}

tix_rc tix_router_create(const tix_route *routes, size_t n, tix_router **out)
{
    tix_router *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return TIX_ENOMEM;
    }
    r->routes = calloc(n ? n : 1, sizeof(*r->routes));
    if (r->routes == NULL) {
        free(r);
        return TIX_ENOMEM;
    }
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        if (!compile(&routes[i], &r->routes[i])) {
            tix_router_destroy(r);
            return TIX_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (same_shape(&r->routes[i], &r->routes[j])) {
                tix_router_destroy(r);
                return TIX_EINVAL;
            }
        }
    }
    *out = r;
    return TIX_OK;
}

void tix_router_destroy(tix_router *router)
{
    if (router == NULL) {
        return;
    }
    free(router->routes);
    free(router);
}

/* Whether c matches the path segments; fills m's parameters when it does. */
static bool match_path(const compiled *c, const tix_slice *seg, int nseg, tix_match *m)
{
    if (c->nseg != nseg) {
        return false;
    }
    int np = 0;
    for (int i = 0; i < nseg; i++) {
        if (c->is_param[i]) {
            if (seg[i].n == 0) {
                return false;
            }
            m->names[np] = c->seg[i];
            m->values[np] = seg[i];
            np++;
        } else if (!slice_eq(c->seg[i], seg[i])) {
            return false;
        }
    }
    m->nparams = np;
    return true;
}

static void add_allow(tix_match *m, const char *method)
{
    if (strstr(m->allow, method) != NULL) {
        return;
    }
    size_t len = strlen(m->allow);
    size_t need = strlen(method) + (len ? 2 : 0);
    if (len + need + 1 > sizeof(m->allow)) {
        return;
    }
    snprintf(m->allow + len, sizeof(m->allow) - len, "%s%s", len ? ", " : "", method);
}

tix_match_result tix_router_match(const tix_router *router, const char *method, const char *path,
                                  tix_match *m)
{
    tix_slice seg[TIX_ROUTE_MAX_SEGMENTS];
    memset(m, 0, sizeof(*m));
    int nseg = split(path, seg);
    if (nseg < 0) {
        return TIX_MATCH_NOT_FOUND;
    }
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_found = false;
    tix_match best;
    best.route = NULL;
    best.nparams = TIX_ROUTE_MAX_PARAMS + 1;
    for (size_t i = 0; i < router->n; i++) {
        const compiled *c = &router->routes[i];
        tix_match tmp;
        if (!match_path(c, seg, nseg, &tmp)) {
            continue;
        }
        path_found = true;
        if (strcmp(c->route->method, want) == 0) {
            /* A literal segment beats a parameter: "/theatres/mine" over "/theatres/{id}". */
            if (tmp.nparams < best.nparams) {
                best = tmp;
                best.route = c->route;
            }
            continue;
        }
        add_allow(m, c->route->method);
        if (strcmp(c->route->method, "GET") == 0) {
            add_allow(m, "HEAD");
        }
    }
    if (best.route != NULL) {
        memcpy(best.allow, m->allow, sizeof(best.allow));
        *m = best;
        return TIX_MATCH_OK;
    }
    return path_found ? TIX_MATCH_BAD_METHOD : TIX_MATCH_NOT_FOUND;
}

bool tix_route_reads(const tix_route *route, const char *name)
{
    return route != NULL && tix_word_in(route->query, name);
}
