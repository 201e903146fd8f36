/*
 * GraphQL executable documents (the October 2021 specification, sections 2 "Language" and
 * B "Grammar Summary"): a hand-written lexer (graphql_lex.c) and recursive-descent parser
 * (graphql_parse.c) that turns the text of a request's `query` into a syntax tree the validator
 * and executor of api/graphql_*.c walk.
 *
 * Why ours: Debian 12 packages no C GraphQL parser (libgraphqlparser is not in the archive), and
 * the grammar of executable documents is small. Only executable definitions are accepted
 * (operations and fragments); a type-system definition (`type`, `schema`, ...) is a syntax error
 * here, as the GraphQL over HTTP spec asks of a server.
 *
 * What the parser covers: operations (query/mutation/subscription, named or the `{ ... }`
 * shorthand) with variable definitions (types, defaults, directives), selection sets, fields with
 * aliases, arguments and directives, fragment spreads, inline fragments (with or without a type
 * condition), fragment definitions, and every value literal: variables (not inside constants such
 * as defaults), Int, Float, String (escapes \" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs
 * joined, lone surrogates refused), block strings (\""" escape, common indentation and blank
 * first/last lines removed as the spec's BlockStringValue() does), true/false/null, enum values,
 * lists and input objects. Ignored tokens: a BOM, white space, line terminators, commas and
 * comments.
 *
 * Limits, checked while parsing so a hostile document costs bounded time and memory: the size in
 * bytes, the number of tokens, and the nesting depth (selection sets, list/object values and
 * list types together), which also bounds the parser's recursion. Source must be valid UTF-8
 * with no control characters other than tab, LF and CR (SourceCharacter).
 *
 * Memory: every node and string of the tree is allocated from the caller's arena and lives as
 * long as it; nothing is freed separately. Lists are singly linked through `next`, in source
 * order. Strings in the tree are NUL-terminated UTF-8 (a string value may contain U+0000 only
 * as "\u0000", which is refused, so C strings are safe). Pure: no I/O, no globals, thread-safe.
 */
#ifndef TIX_CORE_GRAPHQL_PARSE_H
#define TIX_CORE_GRAPHQL_PARSE_H

#include "core/arena.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum tix_gql_value_kind {
    TIX_GQL_VARIABLE, /* $name: s is the name without '$' */
    TIX_GQL_INT,      /* s is the literal text ("-12"), range checks are the validator's */
    TIX_GQL_FLOAT,    /* s is the literal text ("1.5e3") */
    TIX_GQL_STRING,   /* s is the decoded value (block strings too) */
    TIX_GQL_BOOLEAN,  /* b */
    TIX_GQL_NULL,
    TIX_GQL_ENUM,  /* s is the name */
    TIX_GQL_LIST,  /* items */
    TIX_GQL_OBJECT /* fields (name, value) */
} tix_gql_value_kind;

typedef struct tix_gql_value tix_gql_value;
typedef struct tix_gql_arg tix_gql_arg;

struct tix_gql_value {
    tix_gql_value_kind kind;
    const char *s;
    bool b;
    bool block;           /* a STRING written as a block string """...""" */
    tix_gql_value *items; /* LIST: first item, linked through next */
    tix_gql_arg *fields;  /* OBJECT: first field */
    tix_gql_value *next;  /* the next item of the enclosing list */
    int line, col;
};

/* An argument name: value, also one field of an input object value. */
struct tix_gql_arg {
    const char *name;
    tix_gql_value *value;
    tix_gql_arg *next;
    int line, col;
};

typedef struct tix_gql_directive {
    const char *name; /* without '@' */
    tix_gql_arg *args;
    struct tix_gql_directive *next;
    int line, col;
} tix_gql_directive;

typedef enum tix_gql_type_kind {
    TIX_GQL_NAMED,
    TIX_GQL_LIST_TYPE,
    TIX_GQL_NON_NULL
} tix_gql_type_kind;

/* A variable's type: [Int!]! is NON_NULL(LIST(NON_NULL(NAMED Int))). */
typedef struct tix_gql_type {
    tix_gql_type_kind kind;
    const char *name;        /* NAMED */
    struct tix_gql_type *of; /* LIST_TYPE, NON_NULL */
} tix_gql_type;

typedef struct tix_gql_vardef {
    const char *name; /* without '$' */
    tix_gql_type *type;
    tix_gql_value *default_value; /* NULL when none; a constant (no variables) */
    tix_gql_directive *directives;
    struct tix_gql_vardef *next;
    int line, col;
} tix_gql_vardef;

typedef enum tix_gql_selection_kind {
    TIX_GQL_FIELD,
    TIX_GQL_FRAGMENT_SPREAD,
    TIX_GQL_INLINE_FRAGMENT
} tix_gql_selection_kind;

typedef struct tix_gql_selection {
    tix_gql_selection_kind kind;
    const char *alias;     /* FIELD: NULL when none */
    const char *name;      /* FIELD: the field; FRAGMENT_SPREAD: the fragment */
    const char *type_cond; /* INLINE_FRAGMENT: NULL when none */
    tix_gql_arg *args;     /* FIELD */
    tix_gql_directive *directives;
    struct tix_gql_selection *selections; /* FIELD (NULL: a leaf), INLINE_FRAGMENT */
    struct tix_gql_selection *next;
    int line, col;
} tix_gql_selection;

typedef enum tix_gql_operation {
    TIX_GQL_QUERY,
    TIX_GQL_MUTATION,
    TIX_GQL_SUBSCRIPTION
} tix_gql_operation;

typedef enum tix_gql_definition_kind {
    TIX_GQL_OPERATION_DEF,
    TIX_GQL_FRAGMENT_DEF
} tix_gql_definition_kind;

typedef struct tix_gql_definition {
    tix_gql_definition_kind kind;
    tix_gql_operation operation; /* OPERATION_DEF */
    const char *name;            /* NULL for an anonymous operation; always set for a fragment */
    const char *type_cond;       /* FRAGMENT_DEF */
    tix_gql_vardef *variables;   /* OPERATION_DEF */
    tix_gql_directive *directives;
    tix_gql_selection *selections;
    struct tix_gql_definition *next;
    int line, col;
} tix_gql_definition;

typedef struct tix_gql_document {
    tix_gql_definition *definitions; /* at least one */
    int tokens;                      /* tokens read (for tests and metrics) */
    int max_depth;                   /* the deepest nesting seen */
} tix_gql_document;

typedef struct tix_gql_limits {
    size_t max_bytes; /* 0: TIX_GQL_MAX_BYTES */
    int max_tokens;   /* 0: TIX_GQL_MAX_TOKENS */
    int max_depth;    /* 0: TIX_GQL_MAX_DEPTH */
} tix_gql_limits;

#define TIX_GQL_MAX_BYTES  ((size_t)64 * 1024)
#define TIX_GQL_MAX_TOKENS 10000
#define TIX_GQL_MAX_DEPTH  48

/* Where and why parsing stopped: message is English, without the position; line and col are
 * 1-based (col counts Unicode code points, as the spec's locations do). */
typedef struct tix_gql_error {
    int line, col;
    char message[160];
} tix_gql_error;

/* Parses src[0..len) (no NUL needed; a NUL byte inside is an error). limits may be NULL for the
 * defaults. Returns the document, owned by a, or NULL with *err filled: a syntax error, invalid
 * UTF-8 or control character, or a limit passed. */
tix_gql_document *tix_gql_parse(tix_arena *a, const char *src, size_t len,
                                const tix_gql_limits *limits, tix_gql_error *err);

#endif
