/*
 * The GraphQL lexer and parser (graphql_parse.h). One pass: the parser pulls one token at a time
 * from the lexer (one token of lookahead is all the grammar of executable documents needs) and
 * builds the tree in the caller's arena.
 *
 * Errors leave through longjmp to tix_gql_parse: the tree is arena-owned, so nothing needs
 * unwinding, and the recursive functions stay short. No local of tix_gql_parse is changed between
 * setjmp and longjmp.
 *
 * Positions: the lexer keeps the line and the column (in code points: a byte that is not a UTF-8
 * continuation byte starts a new column) of the byte it is at, so every token and node carries
 * its start without rescanning the line.
 */
#include "core/graphql_parse.h"

#include "core/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

typedef struct parser {
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
} parser;

__attribute__((noreturn, format(printf, 4, 5))) static void fail_at(parser *p, int line, int col,
                                                                    const char *fmt, ...)
{
    p->err->line = line;
    p->err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
    longjmp(p->fail, 1);
}

/* ---- lexer ---- */

/* Moves over one byte, keeping line and column (CR LF is one line break). */
static void adv(parser *p)
{
    unsigned char c = (unsigned char)p->s[p->pos];
    p->pos++;
    if (c == '\n' || (c == '\r' && p->s[p->pos] != '\n')) {
        p->line++;
        p->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        p->col++;
    }
}

/* Checks the whole source once: valid UTF-8, no NUL, no control characters but tab, LF, CR. */
static void check_source(parser *p)
{
    size_t i = 0;
    int line = 1;
    int col = 1;
    while (i < p->n) {
        const unsigned char *u = (const unsigned char *)p->s + i;
        size_t k = tix_utf8_seq(u);
        if (k == 0 || *u == 0 || (*u < 0x20 && *u != '\t' && *u != '\n' && *u != '\r')) {
            fail_at(p, line, col, "invalid character (not UTF-8, or a control character)");
        }
        if (*u == '\n' || (*u == '\r' && u[1] != '\n')) {
            line++;
            col = 1;
        } else if (*u != '\r') {
            col++;
        }
        i += k;
    }
}

static void skip_ignored(parser *p)
{
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            adv(p);
        } else if (c == 0xEF && (unsigned char)p->s[p->pos + 1] == 0xBB &&
                   (unsigned char)p->s[p->pos + 2] == 0xBF) {
            p->pos += 3; /* BOM: one column, like any character */
            p->col++;
        } else if (c == '#') {
            while (p->s[p->pos] != 0 && p->s[p->pos] != '\n' && p->s[p->pos] != '\r') {
                adv(p);
            }
        } else {
            return;
        }
    }
}

static bool name_start(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads digits (at least one) or fails. */
static void lex_digits(parser *p)
{
    if (!digit(p->s[p->pos])) {
        fail_at(p, p->line, p->col, "expected a digit in a number");
    }
    while (digit(p->s[p->pos])) {
        adv(p);
    }
}

static void lex_number(parser *p)
{
    size_t start = p->pos;
    bool is_float = false;
    if (p->s[p->pos] == '-') {
        adv(p);
    }
    if (p->s[p->pos] == '0') {
        adv(p);
        if (digit(p->s[p->pos])) {
            fail_at(p, p->line, p->col, "a number may not start with 0 followed by a digit");
        }
    } else {
        lex_digits(p);
    }
    if (p->s[p->pos] == '.') {
        is_float = true;
        adv(p);
        lex_digits(p);
    }
    if (p->s[p->pos] == 'e' || p->s[p->pos] == 'E') {
        is_float = true;
        adv(p);
        if (p->s[p->pos] == '+' || p->s[p->pos] == '-') {
            adv(p);
        }
        lex_digits(p);
    }
    if (p->s[p->pos] == '.' || name_start(p->s[p->pos])) {
        fail_at(p, p->line, p->col, "invalid character after a number");
    }
    p->t.kind = is_float ? T_FLOAT : T_INT;
    p->t.start = p->s + start;
    p->t.len = p->pos - start;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The four hex digits after "\u" at p->pos (which is at the 'u'); -1 if they are not hex. */
static long read_u4(parser *p)
{
    long v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX at p->pos (at the 'u'), with a following \uXXXX low surrogate when the first is a high
 * one. Writes UTF-8 to out, moves past the escape. */
static size_t lex_unicode(parser *p, char *out, int line, int col)
{
    long hi = read_u4(p);
    if (hi < 0) {
        fail_at(p, line, col, "invalid unicode escape (\\u and four hex digits)");
    }
    unsigned long cp = (unsigned long)hi;
    size_t skip = 5;
    if (hi >= 0xD800 && hi <= 0xDBFF && p->s[p->pos + 5] == '\\' && p->s[p->pos + 6] == 'u') {
        p->pos += 6;
        long lo = read_u4(p);
        p->pos -= 6;
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
            skip = 11;
        }
    }
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        fail_at(p, line, col, "invalid unicode escape (a lone surrogate or U+0000)");
    }
    for (size_t i = 0; i < skip; i++) {
        adv(p);
    }
    return put_utf8(out, cp);
}

static char simple_escape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

/* A "..." string; p->pos is at the opening quote. The decoded value is never longer than the
 * source text (every escape is at least as long as its UTF-8), so a buffer the size of the raw
 * string (found by a first scan) suffices. */
static void lex_string(parser *p)
{
    size_t end = p->pos + 1;
    while (p->s[end] != 0 && p->s[end] != '"' && p->s[end] != '\n' && p->s[end] != '\r') {
        end += (p->s[end] == '\\' && p->s[end + 1] != 0) ? 2 : 1;
    }
    char *out = tix_arena_alloc(p->a, end - p->pos + 1);
    size_t o = 0;
    adv(p);
    for (;;) {
        char c = p->s[p->pos];
        if (c == 0 || c == '\n' || c == '\r') {
            fail_at(p, p->line, p->col, "unterminated string");
        }
        if (c == '"') {
            adv(p);
            break;
        }
        if (c != '\\') {
            out[o++] = c;
            adv(p);
            continue;
        }
        int line = p->line;
        int col = p->col;
        adv(p);
        char e = p->s[p->pos];
        if (e == 'u') {
            o += lex_unicode(p, out + o, line, col);
            continue;
        }
        char v = simple_escape(e);
        if (v == 0) {
            fail_at(p, line, col, "invalid escape sequence in a string");
        }
        out[o++] = v;
        adv(p);
    }
    out[o] = 0;
    p->t.kind = T_STRING;
    p->t.sval = out;
    p->t.block = false;
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return false;
        }
    }
    return true;
}

static size_t indent_of(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i;
}

/* Splits raw into lines (LF, CR LF, CR), computing each line's start and length. Returns the
 * count; starts/lens are arena arrays of at most n+1 entries. */
static size_t split_lines(parser *p, const char *raw, size_t n, size_t **starts, size_t **lens)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        cap += raw[i] == '\n' || raw[i] == '\r';
    }
    *starts = tix_arena_alloc(p->a, cap * sizeof(size_t));
    *lens = tix_arena_alloc(p->a, cap * sizeof(size_t));
    size_t k = 0;
    size_t from = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || raw[i] == '\n' || raw[i] == '\r') {
            (*starts)[k] = from;
            (*lens)[k++] = i - from;
            if (i < n && raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n') {
                i++;
            }
            from = i + 1;
        }
    }
    return k;
}

/* The spec's BlockStringValue(raw): common indentation (not counting the first line) removed,
 * leading and trailing blank lines dropped, lines joined with LF. */
static char *block_value(parser *p, const char *raw, size_t n)
{
    size_t *st = NULL;
    size_t *ln = NULL;
    size_t k = split_lines(p, raw, n, &st, &ln);
    size_t common = SIZE_MAX;
    for (size_t i = 1; i < k; i++) {
        size_t ind = indent_of(raw + st[i], ln[i]);
        if (ind < ln[i] && ind < common) {
            common = ind;
        }
    }
    size_t first = 0;
    size_t last = k; /* one past */
    while (first < k && blank_line(raw + st[first], ln[first])) {
        first++;
    }
    while (last > first && blank_line(raw + st[last - 1], ln[last - 1])) {
        last--;
    }
    char *out = tix_arena_alloc(p->a, n + 1);
    size_t o = 0;
    for (size_t i = first; i < last; i++) {
        size_t drop = (i == 0 || common == SIZE_MAX) ? 0 : (common < ln[i] ? common : ln[i]);
        if (i > first) {
            out[o++] = '\n';
        }
        memcpy(out + o, raw + st[i] + drop, ln[i] - drop);
        o += ln[i] - drop;
    }
    out[o] = 0;
    return out;
}

/* A """...""" block string; p->pos is at the first quote. The raw text keeps everything but
 * the escape \""" (which stands for """). */
static void lex_block_string(parser *p)
{
    int line = p->line;
    int col = p->col;
    for (int i = 0; i < 3; i++) {
        adv(p);
    }
    size_t end = p->pos;
    while (p->s[end] != 0 && strncmp(p->s + end, "\"\"\"", 3) != 0) {
        end += strncmp(p->s + end, "\\\"\"\"", 4) == 0 ? 4 : 1;
    }
    char *raw = tix_arena_alloc(p->a, end - p->pos + 1);
    size_t r = 0;
    for (;;) {
        const char *s = p->s + p->pos;
        if (*s == 0) {
            fail_at(p, line, col, "unterminated block string");
        }
        if (s[0] == '"' && s[1] == '"' && s[2] == '"') {
            for (int i = 0; i < 3; i++) {
                adv(p);
            }
            break;
        }
        if (s[0] == '\\' && s[1] == '"' && s[2] == '"' && s[3] == '"') {
            raw[r++] = '"';
            raw[r++] = '"';
            raw[r++] = '"';
            for (int i = 0; i < 4; i++) {
                adv(p);
            }
            continue;
        }
        raw[r++] = *s;
        adv(p);
    }
    p->t.kind = T_STRING;
    p->t.sval = block_value(p, raw, r);
    p->t.block = true;
}

/* One punctuator c ('.' must be the start of "..."). */
static void lex_punct(parser *p, char c)
{
    if (c == '.') {
        if (p->s[p->pos + 1] != '.' || p->s[p->pos + 2] != '.') {
            fail_at(p, p->line, p->col, "unexpected '.' (did you mean '...'?)");
        }
        p->pos += 3;
        p->col += 3;
    } else {
        adv(p);
    }
    p->t.kind = T_PUNCT;
    p->t.punct = c;
}

/* Reads the next token into p->t. */
static void next(parser *p)
{
    skip_ignored(p);
    memset(&p->t, 0, sizeof p->t);
    p->t.line = p->line;
    p->t.col = p->col;
    char c = p->s[p->pos];
    if (c == 0) {
        p->t.kind = T_EOF;
        return;
    }
    if (++p->tokens > p->max_tokens) {
        fail_at(p, p->line, p->col, "the document has more than %d tokens", p->max_tokens);
    }
    if (c == '.' || strchr("!$&()[]{}:=@|", c) != NULL) {
        lex_punct(p, c);
    } else if (name_start(c)) {
        size_t start = p->pos;
        while (name_char(p->s[p->pos])) {
            adv(p);
        }
        p->t.kind = T_NAME;
        p->t.start = p->s + start;
        p->t.len = p->pos - start;
    } else if (c == '-' || digit(c)) {
        lex_number(p);
    } else if (c == '"') {
        if (p->s[p->pos + 1] == '"' && p->s[p->pos + 2] == '"') {
            lex_block_string(p);
        } else {
            lex_string(p);
        }
    } else {
        fail_at(p, p->line, p->col, "unexpected character '%s'",
                (unsigned char)c < 0x80 ? (char[]){c, 0} : "(non-ASCII)");
    }
}

/* ---- parser helpers ---- */

static const char *describe(const tok *t)
{
    switch (t->kind) {
    case T_EOF:
        return "the end of the document";
    case T_NAME:
        return "a name";
    case T_INT:
    case T_FLOAT:
        return "a number";
    case T_STRING:
        return "a string";
    default:
        return "punctuation";
    }
}

static bool is_punct(const parser *p, char c)
{
    return p->t.kind == T_PUNCT && p->t.punct == c;
}

static bool is_keyword(const parser *p, const char *kw)
{
    return p->t.kind == T_NAME && p->t.len == strlen(kw) && memcmp(p->t.start, kw, p->t.len) == 0;
}

static void expect(parser *p, char c)
{
    if (!is_punct(p, c)) {
        fail_at(p, p->t.line, p->t.col, "expected '%s', found %s",
                c == '.' ? "..." : (char[]){c, 0}, describe(&p->t));
    }
    next(p);
}

static const char *name(parser *p)
{
    if (p->t.kind != T_NAME) {
        fail_at(p, p->t.line, p->t.col, "expected a name, found %s", describe(&p->t));
    }
    const char *s = tix_arena_strndup(p->a, p->t.start, p->t.len);
    next(p);
    return s;
}

static void enter(parser *p)
{
    if (++p->depth > p->max_depth) {
        fail_at(p, p->t.line, p->t.col, "the document is nested deeper than %d levels",
                p->max_depth);
    }
    if (p->depth > p->deepest) {
        p->deepest = p->depth;
    }
}

static void leave(parser *p)
{
    p->depth--;
}

static bool run_more(parser *p, char close)
{
    if (is_punct(p, close)) {
        next(p);
        return false;
    }
    return true;
}

/* The grammar's delimited runs: "(" item+ ")" (arguments, variable definitions), "{" item+ "}"
 * (selection sets), "{" item* "}" (object values), "[" item* "]" (list values). A run is read
 * as
 *
 *     for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) { item }
 *
 * run_open reads the opening punctuator; with at_least_one the first item is read whatever
 * follows (so "()" fails where the item expects a name, as the grammar says), without it an
 * empty run is read whole. run_more reads the closing punctuator when it is next. */
static bool run_open(parser *p, char open, char close, bool at_least_one)
{
    expect(p, open);
    return at_least_one || run_more(p, close);
}

/* ---- values ----
 * From here on the functions call each other recursively, as the grammar nests; enter() bounds
 * the depth (limits.max_depth), so the recursion cannot exhaust the stack. */
/* NOLINTBEGIN(misc-no-recursion) */

static tix_gql_value *value(parser *p, bool is_const);

/* "name: value": an argument, or a field of an object value. */
static tix_gql_arg *name_and_value(parser *p, bool is_const)
{
    tix_gql_arg *a = tix_arena_calloc(p->a, sizeof *a);
    a->line = p->t.line;
    a->col = p->t.col;
    a->name = name(p);
    expect(p, ':');
    a->value = value(p, is_const);
    return a;
}

static tix_gql_arg *object_fields(parser *p, bool is_const)
{
    tix_gql_arg *first = NULL;
    tix_gql_arg **tail = &first;
    for (bool more = run_open(p, '{', '}', false); more; more = run_more(p, '}')) {
        *tail = name_and_value(p, is_const);
        tail = &(*tail)->next;
    }
    return first;
}

static void list_items(parser *p, tix_gql_value *v, bool is_const)
{
    tix_gql_value **tail = &v->items;
    for (bool more = run_open(p, '[', ']', false); more; more = run_more(p, ']')) {
        *tail = value(p, is_const);
        tail = &(*tail)->next;
    }
}

static void name_value(parser *p, tix_gql_value *v)
{
    if (is_keyword(p, "true") || is_keyword(p, "false")) {
        v->kind = TIX_GQL_BOOLEAN;
        v->b = is_keyword(p, "true");
        next(p);
    } else if (is_keyword(p, "null")) {
        v->kind = TIX_GQL_NULL;
        next(p);
    } else {
        v->kind = TIX_GQL_ENUM;
        v->s = name(p);
    }
}

static tix_gql_value *value(parser *p, bool is_const)
{
    tix_gql_value *v = tix_arena_calloc(p->a, sizeof *v);
    v->line = p->t.line;
    v->col = p->t.col;
    if (is_punct(p, '$')) {
        if (is_const) {
            fail_at(p, v->line, v->col, "a variable is not allowed in a constant value");
        }
        next(p);
        v->kind = TIX_GQL_VARIABLE;
        v->s = name(p);
    } else if (p->t.kind == T_INT || p->t.kind == T_FLOAT) {
        v->kind = p->t.kind == T_INT ? TIX_GQL_INT : TIX_GQL_FLOAT;
        v->s = tix_arena_strndup(p->a, p->t.start, p->t.len);
        next(p);
    } else if (p->t.kind == T_STRING) {
        v->kind = TIX_GQL_STRING;
        v->s = p->t.sval;
        v->block = p->t.block;
        next(p);
    } else if (p->t.kind == T_NAME) {
        name_value(p, v);
    } else if (is_punct(p, '[')) {
        v->kind = TIX_GQL_LIST;
        enter(p);
        list_items(p, v, is_const);
        leave(p);
    } else if (is_punct(p, '{')) {
        v->kind = TIX_GQL_OBJECT;
        enter(p);
        v->fields = object_fields(p, is_const);
        leave(p);
    } else {
        fail_at(p, v->line, v->col, "expected a value, found %s", describe(&p->t));
    }
    return v;
}

static tix_gql_arg *arguments(parser *p, bool is_const)
{
    if (!is_punct(p, '(')) {
        return NULL;
    }
    tix_gql_arg *first = NULL;
    tix_gql_arg **tail = &first;
    for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) {
        *tail = name_and_value(p, is_const);
        tail = &(*tail)->next;
    }
    return first;
}

static tix_gql_directive *directives(parser *p, bool is_const)
{
    tix_gql_directive *first = NULL;
    tix_gql_directive **tail = &first;
    while (is_punct(p, '@')) {
        tix_gql_directive *d = tix_arena_calloc(p->a, sizeof *d);
        d->line = p->t.line;
        d->col = p->t.col;
        next(p);
        d->name = name(p);
        d->args = arguments(p, is_const);
        *tail = d;
        tail = &d->next;
    }
    return first;
}

/* ---- types and variables ---- */

static tix_gql_type *type_ref(parser *p)
{
    tix_gql_type *t = tix_arena_calloc(p->a, sizeof *t);
    if (is_punct(p, '[')) {
        enter(p);
        next(p);
        t->kind = TIX_GQL_LIST_TYPE;
        t->of = type_ref(p);
        expect(p, ']');
        leave(p);
    } else {
        t->kind = TIX_GQL_NAMED;
        t->name = name(p);
    }
    if (is_punct(p, '!')) {
        next(p);
        tix_gql_type *nn = tix_arena_calloc(p->a, sizeof *nn);
        nn->kind = TIX_GQL_NON_NULL;
        nn->of = t;
        return nn;
    }
    return t;
}

/* "$name: Type = default @directives" */
static tix_gql_vardef *variable_definition(parser *p)
{
    tix_gql_vardef *v = tix_arena_calloc(p->a, sizeof *v);
    v->line = p->t.line;
    v->col = p->t.col;
    expect(p, '$');
    v->name = name(p);
    expect(p, ':');
    v->type = type_ref(p);
    if (is_punct(p, '=')) {
        next(p);
        v->default_value = value(p, true);
    }
    v->directives = directives(p, true);
    return v;
}

static tix_gql_vardef *variable_definitions(parser *p)
{
    if (!is_punct(p, '(')) {
        return NULL;
    }
    tix_gql_vardef *first = NULL;
    tix_gql_vardef **tail = &first;
    for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) {
        *tail = variable_definition(p);
        tail = &(*tail)->next;
    }
    return first;
}

/* ---- selections ---- */

static tix_gql_selection *selection_set(parser *p);

static void fragment_selection(parser *p, tix_gql_selection *s)
{
    next(p); /* "..." */
    if (p->t.kind == T_NAME && !is_keyword(p, "on")) {
        s->kind = TIX_GQL_FRAGMENT_SPREAD;
        s->name = name(p);
        s->directives = directives(p, false);
        return;
    }
    s->kind = TIX_GQL_INLINE_FRAGMENT;
    if (is_keyword(p, "on")) {
        next(p);
        s->type_cond = name(p);
    }
    s->directives = directives(p, false);
    s->selections = selection_set(p);
}

static tix_gql_selection *selection(parser *p)
{
    tix_gql_selection *s = tix_arena_calloc(p->a, sizeof *s);
    s->line = p->t.line;
    s->col = p->t.col;
    if (is_punct(p, '.')) {
        fragment_selection(p, s);
        return s;
    }
    s->kind = TIX_GQL_FIELD;
    s->name = name(p);
    if (is_punct(p, ':')) {
        next(p);
        s->alias = s->name;
        s->name = name(p);
    }
    s->args = arguments(p, false);
    s->directives = directives(p, false);
    if (is_punct(p, '{')) {
        s->selections = selection_set(p);
    }
    return s;
}

static tix_gql_selection *selection_set(parser *p)
{
    enter(p);
    tix_gql_selection *first = NULL;
    tix_gql_selection **tail = &first;
    for (bool more = run_open(p, '{', '}', true); more; more = run_more(p, '}')) {
        *tail = selection(p);
        tail = &(*tail)->next;
    }
    leave(p);
    return first;
}

/* NOLINTEND(misc-no-recursion) */

/* ---- definitions ---- */

static void operation_definition(parser *p, tix_gql_definition *d)
{
    d->kind = TIX_GQL_OPERATION_DEF;
    if (is_punct(p, '{')) {
        d->operation = TIX_GQL_QUERY;
        d->selections = selection_set(p);
        return;
    }
    if (is_keyword(p, "query")) {
        d->operation = TIX_GQL_QUERY;
    } else if (is_keyword(p, "mutation")) {
        d->operation = TIX_GQL_MUTATION;
    } else if (is_keyword(p, "subscription")) {
        d->operation = TIX_GQL_SUBSCRIPTION;
    } else {
        fail_at(p, p->t.line, p->t.col,
                "expected an operation (query, mutation, subscription, '{') or a fragment");
    }
    next(p);
    if (p->t.kind == T_NAME) {
        d->name = name(p);
    }
    d->variables = variable_definitions(p);
    d->directives = directives(p, false);
    d->selections = selection_set(p);
}

static void fragment_definition(parser *p, tix_gql_definition *d)
{
    d->kind = TIX_GQL_FRAGMENT_DEF;
    next(p); /* "fragment" */
    if (is_keyword(p, "on")) {
        fail_at(p, p->t.line, p->t.col, "a fragment may not be named 'on'");
    }
    d->name = name(p);
    if (!is_keyword(p, "on")) {
        fail_at(p, p->t.line, p->t.col, "expected 'on' and a type after the fragment name");
    }
    next(p);
    d->type_cond = name(p);
    d->directives = directives(p, false);
    d->selections = selection_set(p);
}

static tix_gql_definition *definitions(parser *p)
{
    tix_gql_definition *first = NULL;
    tix_gql_definition **tail = &first;
    do {
        tix_gql_definition *d = tix_arena_calloc(p->a, sizeof *d);
        d->line = p->t.line;
        d->col = p->t.col;
        if (is_keyword(p, "fragment")) {
            fragment_definition(p, d);
        } else {
            operation_definition(p, d);
        }
        *tail = d;
        tail = &d->next;
    } while (p->t.kind != T_EOF);
    return first;
}

tix_gql_document *tix_gql_parse(tix_arena *a, const char *src, size_t len,
                                const tix_gql_limits *limits, tix_gql_error *err)
{
    tix_gql_error scratch = {0, 0, {0}};
    parser *p = tix_arena_calloc(a, sizeof *p);
    p->a = a;
    p->err = err != NULL ? err : &scratch;
    memset(p->err, 0, sizeof *p->err);
    size_t max_bytes =
        limits != NULL && limits->max_bytes > 0 ? limits->max_bytes : TIX_GQL_MAX_BYTES;
    p->max_tokens =
        limits != NULL && limits->max_tokens > 0 ? limits->max_tokens : TIX_GQL_MAX_TOKENS;
    p->max_depth = limits != NULL && limits->max_depth > 0 ? limits->max_depth : TIX_GQL_MAX_DEPTH;
    p->line = 1;
    p->col = 1;
    if (setjmp(p->fail) != 0) {
        return NULL;
    }
    if (len > max_bytes) {
        fail_at(p, 1, 1, "the document is larger than %zu bytes", max_bytes);
    }
    char *copy = tix_arena_alloc(a, len + 1);
    if (len > 0) {
        memcpy(copy, src, len);
    }
    copy[len] = 0;
    p->s = copy;
    p->n = len;
    check_source(p);
    next(p);
    if (p->t.kind == T_EOF) {
        fail_at(p, p->t.line, p->t.col, "the document has no operation");
    }
    tix_gql_document *doc = tix_arena_calloc(a, sizeof *doc);
    doc->definitions = definitions(p);
    doc->tokens = p->tokens;
    doc->max_depth = p->deepest;
    return doc;
}
