/*
 * The resolvers of api/graphql_resolve.c, which the schema tables of graphql_schema.c name.
 * Each follows tix_gql_resolve_fn / tix_gql_batch_fn (api/graphql.h).
 */
#ifndef TIX_API_GRAPHQL_INT_H
#define TIX_API_GRAPHQL_INT_H

#include "api/graphql.h"

json_t *tix_gqlr_movies(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_movie(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_theatres(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_shows(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_show(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_me(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_show_movie(tix_gql_ctx *c, json_t *parent, json_t *args);
void tix_gqlb_show_movie(tix_gql_ctx *c, json_t *parents, json_t *args);
json_t *tix_gqlr_show_prices(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_show_seats(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_money(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_total(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_user_bookings(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_hold(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_release_hold(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_book(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_cancel_booking(tix_gql_ctx *c, json_t *parent, json_t *args);

/* introspection (graphql_schema.c) */
json_t *tix_gqlr_schema(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_type(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_type_description(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_type_fields(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_type_interfaces(tix_gql_ctx *c, json_t *parent, json_t *args);
json_t *tix_gqlr_type_enum_values(tix_gql_ctx *c, json_t *parent, json_t *args);

#endif
