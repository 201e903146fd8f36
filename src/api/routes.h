/*
 * The route table (routes.c): every endpoint, its handler, the role it needs and its flags.
 * main.c compiles it into the router (http/router.h) that the server matches requests with;
 * it is static data, read-only for the life of the process.
 */
#ifndef TIX_API_ROUTES_H
#define TIX_API_ROUTES_H

#include "http/router.h"

#include <stddef.h>

extern const tix_route tix_routes[];
extern const size_t tix_routes_count;

#endif
