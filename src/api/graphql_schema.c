/*
 * The schema as tables (api/graphql.h), the twin of docs/schema.graphql: the test
 * tests/graphql/check.mjs builds graphql-js's client schema from this server's introspection
 * and prints it, and the print must equal that file, so the two cannot drift.
 *
 * Introspection (the October 2021 spec, section 4) is served by the same executor as every other
 * field: __schema and __type answer small JSON objects ({"kind", "name", "ofType"} for a type),
 * and the fields of __Type that need more (fields, enumValues, description, interfaces) are
 * resolvers that look the named type up in these tables. Wrapper types (NON_NULL, LIST) are
 * built from a field's type text. Nothing is cached: an introspection answer is a few hundred
 * small objects.
 */
#include "api/graphql.h"
#include "api/graphql_int.h"

#include <string.h>

#define END_ARGS                                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, NULL                                                                     \
    }
#define END_FIELDS                                                                                 \
    {                                                                                              \
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0                                                \
    }
#define FIRST(n)                                                                                   \
    {                                                                                              \
        "first", "Int", n, "How many (1 to 100)."                                                  \
    }

static const tix_gql_arg_def movies_args[] = {{"status", "String", "\"all\"", NULL},
                                              {"q", "String", NULL, "Words of the title."},
                                              {"genre", "String", NULL, NULL},
                                              {"language", "String", NULL, NULL},
                                              FIRST("20"),
                                              END_ARGS};
static const tix_gql_arg_def id_args[] = {{"id", "ID!", NULL, NULL}, END_ARGS};
static const tix_gql_arg_def theatres_args[] = {
    {"city", "String", NULL, NULL}, FIRST("20"), END_ARGS};
static const tix_gql_arg_def shows_args[] = {{"movieId", "ID", NULL, NULL},
                                             {"city", "String", NULL, NULL},
                                             {"date", "String", NULL, NULL},
                                             FIRST("20"),
                                             END_ARGS};
static const tix_gql_arg_def first_args[] = {FIRST("20"), END_ARGS};
static const tix_gql_arg_def hold_args[] = {{"showId", "ID!", NULL, NULL},
                                            {"seatIds", "[ID!]", NULL, NULL},
                                            {"quantity", "Int", NULL, NULL},
                                            {"category", "String", NULL, NULL},
                                            END_ARGS};
static const tix_gql_arg_def hold_id_args[] = {{"holdId", "ID!", NULL, NULL}, END_ARGS};
static const tix_gql_arg_def name_args[] = {{"name", "String!", NULL, NULL}, END_ARGS};
static const tix_gql_arg_def deprecated_args[] = {{"includeDeprecated", "Boolean", "false", NULL},
                                                  END_ARGS};

static const tix_gql_field_def query_fields[] = {
    {"movies", "[Movie!]!", "Movies, as GET /movies (status upcoming, released or all).",
     movies_args, tix_gqlr_movies, NULL, NULL, 1},
    {"movie", "Movie",
     "One movie, as GET /movies/{id}; null (with an error not_found) when there is none.", id_args,
     tix_gqlr_movie, NULL, NULL, 1},
    {"theatres", "[Theatre!]!", "Approved theatres, as GET /theatres?city=.", theatres_args,
     tix_gqlr_theatres, NULL, NULL, 1},
    {"shows", "[Show!]!", "Shows, as GET /shows?movie_id=&city=&date= (date YYYY-MM-DD).",
     shows_args, tix_gqlr_shows, NULL, NULL, 1},
    {"show", "Show", "One show, as GET /shows/{id}.", id_args, tix_gqlr_show, NULL, NULL, 1},
    {"me", "User", "The caller (a bearer token is needed: unauthorized otherwise).", NULL,
     tix_gqlr_me, NULL, NULL, 1},
    {"__schema", "__Schema!", NULL, NULL, tix_gqlr_schema, NULL, NULL, 0},
    {"__type", "__Type", NULL, name_args, tix_gqlr_type, NULL, NULL, 0},
    END_FIELDS};

static const tix_gql_field_def mutation_fields[] = {
    {"hold", "Hold!",
     "Holds seats, as POST /shows/{id}/holds: seatIds, or quantity (and category) for the best "
     "available.",
     hold_args, tix_gqlr_hold, NULL, NULL, 1},
    {"releaseHold", "Boolean!", "Releases the caller's hold, as DELETE /holds/{id}.", id_args,
     tix_gqlr_release_hold, NULL, NULL, 1},
    {"book", "BookingResult!", "Books a hold, as POST /bookings: the booking waits for payment.",
     hold_id_args, tix_gqlr_book, NULL, NULL, 1},
    {"cancelBooking", "Booking!",
     "Cancels the caller's booking, as POST /bookings/{id}/cancel (refund per policy).", id_args,
     tix_gqlr_cancel_booking, NULL, NULL, 1},
    END_FIELDS};

#define PLAIN(n, t)                                                                                \
    {                                                                                              \
        n, t, NULL, NULL, NULL, NULL, NULL, 0                                                      \
    }

static const tix_gql_field_def money_fields[] = {PLAIN("amount", "Int!"),
                                                 PLAIN("currency", "String!"), END_FIELDS};

static const tix_gql_field_def movie_fields[] = {PLAIN("id", "ID!"),
                                                 PLAIN("title", "String!"),
                                                 PLAIN("description", "String!"),
                                                 PLAIN("durationMinutes", "Int!"),
                                                 PLAIN("releaseDate", "String!"),
                                                 PLAIN("languages", "[String!]!"),
                                                 PLAIN("genres", "[String!]!"),
                                                 PLAIN("certificate", "String!"),
                                                 PLAIN("posterUrl", "String"),
                                                 PLAIN("trailerUrl", "String"),
                                                 PLAIN("status", "String!"),
                                                 PLAIN("releaseStatus", "String!"),
                                                 END_FIELDS};

static const tix_gql_field_def theatre_fields[] = {
    PLAIN("id", "ID!"),          PLAIN("name", "String!"),          PLAIN("city", "String!"),
    PLAIN("address", "String!"), PLAIN("utcOffsetMinutes", "Int!"), END_FIELDS};

static const tix_gql_field_def show_fields[] = {
    PLAIN("id", "ID!"),
    PLAIN("movieId", "ID!"),
    PLAIN("movieTitle", "String!"),
    PLAIN("hallId", "ID!"),
    PLAIN("hallName", "String!"),
    PLAIN("theatreId", "ID!"),
    PLAIN("theatreName", "String!"),
    PLAIN("city", "String!"),
    PLAIN("startsAt", "String!"),
    PLAIN("endsAt", "String!"),
    PLAIN("currency", "String!"),
    PLAIN("status", "String!"),
    {"movie", "Movie!", "The movie (fetched once for all the shows of a list).", NULL,
     tix_gqlr_show_movie, tix_gqlb_show_movie, NULL, 1},
    {"prices", "[CategoryPrice!]!", "The price of each seat category.", NULL, tix_gqlr_show_prices,
     NULL, NULL, 1},
    {"seats", "[Seat!]!", "Every seat with its status, as GET /shows/{id}/seats.", NULL,
     tix_gqlr_show_seats, NULL, NULL, 5},
    END_FIELDS};

static const tix_gql_field_def category_price_fields[] = {PLAIN("category", "String!"),
                                                          PLAIN("price", "Money!"), END_FIELDS};

static const tix_gql_field_def seat_fields[] = {
    PLAIN("id", "ID!"),
    PLAIN("label", "String!"),
    PLAIN("row", "String!"),
    PLAIN("number", "Int!"),
    PLAIN("x", "Int!"),
    PLAIN("y", "Int!"),
    PLAIN("category", "String!"),
    PLAIN("price", "Money!"),
    {"status", "String!", "available, held, booked or blocked.", NULL, NULL, NULL, NULL, 0},
    END_FIELDS};

static const tix_gql_field_def user_fields[] = {
    PLAIN("id", "ID!"),
    PLAIN("email", "String!"),
    PLAIN("name", "String!"),
    PLAIN("role", "String!"),
    {"bookings", "[Booking!]!", "The caller's bookings, newest first, as GET /bookings.",
     first_args, tix_gqlr_user_bookings, NULL, NULL, 2},
    END_FIELDS};

static const tix_gql_field_def booking_fields[] = {
    PLAIN("id", "ID!"),
    PLAIN("showId", "ID!"),
    PLAIN("status", "String!"),
    {"total", "Money!", NULL, NULL, tix_gqlr_total, NULL, NULL, 0},
    PLAIN("seats", "[BookedSeat!]!"),
    PLAIN("expiresAt", "String"),
    PLAIN("createdAt", "String!"),
    END_FIELDS};

static const tix_gql_field_def booked_seat_fields[] = {
    PLAIN("id", "ID!"), PLAIN("label", "String!"), PLAIN("category", "String!"),
    PLAIN("price", "Money!"), END_FIELDS};

static const tix_gql_field_def hold_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL, "hold_id", 0},
    PLAIN("showId", "ID!"),
    PLAIN("seats", "[BookedSeat!]!"),
    {"total", "Money!", NULL, NULL, tix_gqlr_total, NULL, NULL, 0},
    PLAIN("expiresAt", "String!"),
    END_FIELDS};

static const tix_gql_field_def booking_result_fields[] = {PLAIN("booking", "Booking!"),
                                                          PLAIN("payment", "Payment!"), END_FIELDS};

static const tix_gql_field_def payment_fields[] = {
    PLAIN("provider", "String!"),
    PLAIN("orderId", "String!"),
    PLAIN("keyId", "String"),
    {"amount", "Money!", NULL, NULL, tix_gqlr_total, NULL, "amount", 0},
    END_FIELDS};

/* ---- introspection types (spec section 4.2) ---- */

#define META(n, t)                                                                                 \
    {                                                                                              \
        n, t, NULL, NULL, NULL, NULL, n, 0                                                         \
    }

static const tix_gql_field_def schema_fields[] = {META("description", "String"),
                                                  META("types", "[__Type!]!"),
                                                  META("queryType", "__Type!"),
                                                  META("mutationType", "__Type"),
                                                  META("subscriptionType", "__Type"),
                                                  META("directives", "[__Directive!]!"),
                                                  END_FIELDS};

static const tix_gql_field_def type_fields[] = {
    META("kind", "__TypeKind!"),
    META("name", "String"),
    {"description", "String", NULL, NULL, tix_gqlr_type_description, NULL, NULL, 0},
    META("specifiedByURL", "String"),
    {"fields", "[__Field!]", NULL, deprecated_args, tix_gqlr_type_fields, NULL, NULL, 0},
    {"interfaces", "[__Type!]", NULL, NULL, tix_gqlr_type_interfaces, NULL, NULL, 0},
    META("possibleTypes", "[__Type!]"),
    {"enumValues", "[__EnumValue!]", NULL, deprecated_args, tix_gqlr_type_enum_values, NULL, NULL,
     0},
    {"inputFields", "[__InputValue!]", NULL, deprecated_args, NULL, NULL, "inputFields", 0},
    META("ofType", "__Type"),
    END_FIELDS};

static const tix_gql_field_def field_fields[] = {
    META("name", "String!"),
    META("description", "String"),
    {"args", "[__InputValue!]!", NULL, deprecated_args, NULL, NULL, "args", 0},
    META("type", "__Type!"),
    META("isDeprecated", "Boolean!"),
    META("deprecationReason", "String"),
    END_FIELDS};

static const tix_gql_field_def input_value_fields[] = {META("name", "String!"),
                                                       META("description", "String"),
                                                       META("type", "__Type!"),
                                                       META("defaultValue", "String"),
                                                       META("isDeprecated", "Boolean!"),
                                                       META("deprecationReason", "String"),
                                                       END_FIELDS};

static const tix_gql_field_def enum_value_fields[] = {
    META("name", "String!"), META("description", "String"), META("isDeprecated", "Boolean!"),
    META("deprecationReason", "String"), END_FIELDS};

static const tix_gql_field_def directive_fields[] = {
    META("name", "String!"),
    META("description", "String"),
    META("isRepeatable", "Boolean!"),
    META("locations", "[__DirectiveLocation!]!"),
    {"args", "[__InputValue!]!", NULL, deprecated_args, NULL, NULL, "args", 0},
    END_FIELDS};

static const char *const type_kinds[] = {"SCALAR",       "OBJECT", "INTERFACE", "UNION", "ENUM",
                                         "INPUT_OBJECT", "LIST",   "NON_NULL",  NULL};
static const char *const directive_locations[] = {"QUERY",
                                                  "MUTATION",
                                                  "SUBSCRIPTION",
                                                  "FIELD",
                                                  "FRAGMENT_DEFINITION",
                                                  "FRAGMENT_SPREAD",
                                                  "INLINE_FRAGMENT",
                                                  "VARIABLE_DEFINITION",
                                                  "SCHEMA",
                                                  "SCALAR",
                                                  "OBJECT",
                                                  "FIELD_DEFINITION",
                                                  "ARGUMENT_DEFINITION",
                                                  "INTERFACE",
                                                  "UNION",
                                                  "ENUM",
                                                  "ENUM_VALUE",
                                                  "INPUT_OBJECT",
                                                  "INPUT_FIELD_DEFINITION",
                                                  NULL};

const tix_gql_type_def tix_gql_types[] = {
    {"Query", TIX_GQL_K_OBJECT,
     "The read side of ticketd's catalogue and the caller's own bookings, and the booking "
     "mutations\n(API.md, \"GraphQL and recommendations\"). Every field is served by the same "
     "domain and store\nfunctions as the REST API, with the same access rules; an error carries "
     "extensions.code equal\nto the REST error code.",
     query_fields, NULL},
    {"Mutation", TIX_GQL_K_OBJECT, NULL, mutation_fields, NULL},
    {"Money", TIX_GQL_K_OBJECT,
     "An amount of money in minor units (paise, cents) and its ISO 4217 currency.", money_fields,
     NULL},
    {"Movie", TIX_GQL_K_OBJECT, NULL, movie_fields, NULL},
    {"Theatre", TIX_GQL_K_OBJECT, NULL, theatre_fields, NULL},
    {"Show", TIX_GQL_K_OBJECT, NULL, show_fields, NULL},
    {"CategoryPrice", TIX_GQL_K_OBJECT, NULL, category_price_fields, NULL},
    {"Seat", TIX_GQL_K_OBJECT, NULL, seat_fields, NULL},
    {"User", TIX_GQL_K_OBJECT, NULL, user_fields, NULL},
    {"Booking", TIX_GQL_K_OBJECT, NULL, booking_fields, NULL},
    {"BookedSeat", TIX_GQL_K_OBJECT, NULL, booked_seat_fields, NULL},
    {"Hold", TIX_GQL_K_OBJECT, NULL, hold_fields, NULL},
    {"BookingResult", TIX_GQL_K_OBJECT, NULL, booking_result_fields, NULL},
    {"Payment", TIX_GQL_K_OBJECT, NULL, payment_fields, NULL},
    {"ID", TIX_GQL_K_SCALAR, NULL, NULL, NULL},
    {"String", TIX_GQL_K_SCALAR, NULL, NULL, NULL},
    {"Int", TIX_GQL_K_SCALAR, NULL, NULL, NULL},
    {"Boolean", TIX_GQL_K_SCALAR, NULL, NULL, NULL},
    {"__Schema", TIX_GQL_K_OBJECT, NULL, schema_fields, NULL},
    {"__Type", TIX_GQL_K_OBJECT, NULL, type_fields, NULL},
    {"__Field", TIX_GQL_K_OBJECT, NULL, field_fields, NULL},
    {"__InputValue", TIX_GQL_K_OBJECT, NULL, input_value_fields, NULL},
    {"__EnumValue", TIX_GQL_K_OBJECT, NULL, enum_value_fields, NULL},
    {"__Directive", TIX_GQL_K_OBJECT, NULL, directive_fields, NULL},
    {"__TypeKind", TIX_GQL_K_ENUM, NULL, NULL, type_kinds},
    {"__DirectiveLocation", TIX_GQL_K_ENUM, NULL, NULL, directive_locations},
    {NULL, TIX_GQL_K_SCALAR, NULL, NULL, NULL}};

const tix_gql_type_def *tix_gql_find_type(const char *name)
{
    for (const tix_gql_type_def *t = tix_gql_types; name != NULL && t->name != NULL; t++) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

const tix_gql_field_def *tix_gql_field(const tix_gql_type_def *t, const char *name)
{
    for (const tix_gql_field_def *f = t != NULL ? t->fields : NULL; f != NULL && f->name != NULL;
         f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Type references nest (a list of a non-null of ...): the tables' own texts nest at most
 * three deep, and introspection follows the same texts. */
/* NOLINTBEGIN(misc-no-recursion) */

/* Parses text[*i..] as a type reference (the tables' own texts: trusted, well formed). */
static tix_gql_type *parse_ref(tix_arena *a, const char *text, size_t *i)
{
    tix_gql_type *t = tix_arena_calloc(a, sizeof *t);
    if (text[*i] == '[') {
        (*i)++;
        t->kind = TIX_GQL_LIST_TYPE;
        t->of = parse_ref(a, text, i); /* NOLINT(misc-no-recursion): table texts nest twice */
        (*i)++;                        /* ']' */
    } else {
        size_t from = *i;
        while (text[*i] != 0 && text[*i] != '!' && text[*i] != ']') {
            (*i)++;
        }
        t->kind = TIX_GQL_NAMED;
        t->name = tix_arena_strndup(a, text + from, *i - from);
    }
    if (text[*i] == '!') {
        (*i)++;
        tix_gql_type *nn = tix_arena_calloc(a, sizeof *nn);
        nn->kind = TIX_GQL_NON_NULL;
        nn->of = t;
        return nn;
    }
    return t;
}

tix_gql_type *tix_gql_type_ref(tix_arena *a, const char *text)
{
    size_t i = 0;
    return parse_ref(a, text, &i);
}

const char *tix_gql_type_name(const tix_gql_type *t)
{
    while (t->kind != TIX_GQL_NAMED) {
        t = t->of;
    }
    return t->name;
}

static const char *kind_name(tix_gql_kind k)
{
    return k == TIX_GQL_K_OBJECT ? "OBJECT" : k == TIX_GQL_K_ENUM ? "ENUM" : "SCALAR";
}

json_t *tix_gql_introspect_type_ref(const tix_gql_type *t)
{
    if (t->kind == TIX_GQL_NAMED) {
        const tix_gql_type_def *d = tix_gql_find_type(t->name);
        return json_pack("{s:s,s:s,s:n}", "kind", d ? kind_name(d->kind) : "SCALAR", "name",
                         t->name, "ofType");
    }
    return json_pack("{s:s,s:n,s:o}", "kind", t->kind == TIX_GQL_LIST_TYPE ? "LIST" : "NON_NULL",
                     "name", "ofType", tix_gql_introspect_type_ref(t->of));
}

/* NOLINTEND(misc-no-recursion) */

static json_t *named_ref(tix_gql_ctx *c, const char *name)
{
    return tix_gql_introspect_type_ref(tix_gql_type_ref(c->a, name));
}

static json_t *input_values(tix_gql_ctx *c, const tix_gql_arg_def *args)
{
    json_t *list = json_array();
    for (const tix_gql_arg_def *a = args; a != NULL && a->name != NULL; a++) {
        json_array_append_new(
            list,
            json_pack("{s:s,s:s?,s:o,s:s?,s:b,s:n}", "name", a->name, "description", a->description,
                      "type", tix_gql_introspect_type_ref(tix_gql_type_ref(c->a, a->type)),
                      "defaultValue", a->default_value, "isDeprecated", 0, "deprecationReason"));
    }
    return list;
}

static json_t *directive(tix_gql_ctx *c, const char *name, const char *description)
{
    static const tix_gql_arg_def if_arg[] = {{"if", "Boolean!", NULL, NULL}, END_ARGS};
    return json_pack("{s:s,s:s,s:b,s:[sss],s:o}", "name", name, "description", description,
                     "isRepeatable", 0, "locations", "FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT",
                     "args", input_values(c, if_arg));
}

json_t *tix_gql_introspect_schema(tix_gql_ctx *c)
{
    json_t *types = json_array();
    for (const tix_gql_type_def *t = tix_gql_types; t->name != NULL; t++) {
        json_array_append_new(types, named_ref(c, t->name));
    }
    json_t *dirs = json_array();
    json_array_append_new(dirs, directive(c, "include",
                                          "Directs the executor to include this field or fragment "
                                          "only when the `if` argument is true."));
    json_array_append_new(
        dirs, directive(c, "skip",
                        "Directs the executor to skip this field or fragment when the `if` "
                        "argument is true."));
    return json_pack("{s:n,s:o,s:o,s:o,s:n,s:o}", "description", "types", types, "queryType",
                     named_ref(c, "Query"), "mutationType", named_ref(c, "Mutation"),
                     "subscriptionType", "directives", dirs);
}

json_t *tix_gqlr_schema(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    (void)args;
    return tix_gql_introspect_schema(c);
}

json_t *tix_gqlr_type(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *name = json_string_value(json_object_get(args, "name"));
    return tix_gql_find_type(name) != NULL ? named_ref(c, name) : json_null();
}

/* The table entry of a __Type object (NULL for a wrapper). */
static const tix_gql_type_def *def_of(json_t *type)
{
    return tix_gql_find_type(json_string_value(json_object_get(type, "name")));
}

json_t *tix_gqlr_type_description(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)c;
    (void)args;
    const tix_gql_type_def *d = def_of(parent);
    return d != NULL && d->description != NULL ? json_string(d->description) : json_null();
}

json_t *tix_gqlr_type_fields(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)args;
    const tix_gql_type_def *d = def_of(parent);
    if (d == NULL || d->kind != TIX_GQL_K_OBJECT) {
        return json_null();
    }
    json_t *list = json_array();
    for (const tix_gql_field_def *f = d->fields; f->name != NULL; f++) {
        if (strncmp(f->name, "__", 2) == 0) {
            continue; /* __schema and __type are implicit (spec 4.2) */
        }
        json_array_append_new(
            list, json_pack("{s:s,s:s?,s:o,s:o,s:b,s:n}", "name", f->name, "description",
                            f->description, "args", input_values(c, f->args), "type",
                            tix_gql_introspect_type_ref(tix_gql_type_ref(c->a, f->type)),
                            "isDeprecated", 0, "deprecationReason"));
    }
    return list;
}

json_t *tix_gqlr_type_interfaces(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)c;
    (void)args;
    const tix_gql_type_def *d = def_of(parent);
    return d != NULL && d->kind == TIX_GQL_K_OBJECT ? json_array() : json_null();
}

json_t *tix_gqlr_type_enum_values(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)c;
    (void)args;
    const tix_gql_type_def *d = def_of(parent);
    if (d == NULL || d->kind != TIX_GQL_K_ENUM) {
        return json_null();
    }
    json_t *list = json_array();
    for (const char *const *v = d->enum_values; *v != NULL; v++) {
        json_array_append_new(list, json_pack("{s:s,s:n,s:b,s:n}", "name", *v, "description",
                                              "isDeprecated", 0, "deprecationReason"));
    }
    return list;
}
