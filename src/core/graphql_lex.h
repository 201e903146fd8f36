/*
 * Internal to core/graphql_parse.c and core/graphql_lex.c: the state of one parse and the
 * lexer's entry points. The parser (graphql_parse.c) pulls one token at a time from the lexer
 * (graphql_lex.c) into p->t, its one token of lookahead; the lexer keeps the position, line and
 * column (in code points: a byte that is not a UTF-8 continuation byte starts a new column) of
 * the byte it is at, so every token carries its start without rescanning the line.
 *
 * Errors leave through longjmp(p->fail) to tix_gql_parse, from the lexer and the parser alike:
 * the tree is arena-owned, so nothing needs unwinding.
 *
 * Memory: decoded strings go to p->a, the caller's arena, like the tree.
 */
#ifndef TIX_CORE_GRAPHQL_LEX_H
#define TIX_CORE_GRAPHQL_LEX_H

#include "core/graphql_parse.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum tok_kind { T_EOF, T_PUNCT, T_NAME, T_INT, T_FLOAT, T_STRING } tok_kind;

typedef struct tok {
    tok_kind kind;
    char punct;        /* T_PUNCT: one of !$&()[]{}:=@| and '.' for "..." */
    const char *start; /* T_NAME, T_INT, T_FLOAT: the text */
    size_t len;
    char *sval; /* T_STRING: the decoded value, arena-owned */
    bool block;
    int line, col;
} tok;

typedef struct tix_gql_parser {
    tix_arena *a;
    const char *s; /* NUL-terminated copy of the source */
    size_t n;
    size_t pos;
    int line, col;
    tok t; /* the current token (lookahead) */
    int tokens, max_tokens;
    int depth, max_depth, deepest;
    tix_gql_error *err;
    jmp_buf fail;
} tix_gql_parser;

/* Records the error (line, col and the formatted message in *p->err) and leaves the parse. */
__attribute__((noreturn, format(printf, 4, 5))) void tix_gql_fail_at(tix_gql_parser *p, int line,
                                                                     int col, const char *fmt, ...);
/* Checks the whole source p->s[0..p->n) once: valid UTF-8, no NUL, no control characters but
 * tab, LF and CR; fails otherwise. */
void tix_gql_check_source(tix_gql_parser *p);
/* Reads the next token into p->t (T_EOF at the end), counting it against p->max_tokens. */
void tix_gql_next(tix_gql_parser *p);

#endif
