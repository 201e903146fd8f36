/*
 * Strict query strings: a handler that takes a fixed set of filters refuses any other name with
 * a 400, rather than silently ignoring a misspelt filter and answering more than was asked
 * (GET /admin/audit?actor=… must not list everyone's rows).
 */
#ifndef TIX_HTTP_QUERY_H
#define TIX_HTTP_QUERY_H

#include <stdbool.h>

typedef struct tix_req tix_req;

/* Whether every query parameter of r is one of allowed ("actor_id action limit cursor",
 * space-separated) and has a non-empty value. If not it answers 400 invalid_parameter naming
 * the first offender and returns false. */
bool tix_req_query_only(tix_req *r, const char *allowed);

#endif
