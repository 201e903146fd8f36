/*
 * The GraphQL lexer (core/graphql_lex.h; the October 2021 spec, section 2.1 "Source Text"):
 * ignored tokens (BOM, white space, line terminators, commas, comments), punctuators, names,
 * Int and Float, strings with their escapes and block strings with the spec's
 * BlockStringValue(). One token at a time into p->t, on the parser's demand.
 */
#include "core/graphql_lex.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

__attribute__((noreturn, format(printf, 4, 5))) void tix_gql_fail_at(tix_gql_parser *p, int line,
                                                                     int col, const char *fmt, ...)
{
    p->err->line = line;
    p->err->col = col;
    va_list ap;
    va_start(ap, fmt);
    char *m = p->err->message;
    /* va_start is the line above: clang 14's valist checker reports it uninitialized when it
     * analyses this file beside others (a false report) */
    vsnprintf(m, sizeof p->err->message, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    longjmp(p->fail, 1);
}

/* Moves over one byte, keeping line and column (CR LF is one line break). */
static void adv(tix_gql_parser *p)
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
void tix_gql_check_source(tix_gql_parser *p)
{
    size_t i = 0;
    int line = 1;
    int col = 1;
    while (i < p->n) {
        const unsigned char *u = (const unsigned char *)p->s + i;
        size_t k = tix_utf8_seq(u);
        if (k == 0 || *u == 0 || (*u < 0x20 && *u != '\t' && *u != '\n' && *u != '\r')) {
            tix_gql_fail_at(p, line, col, "invalid character (not UTF-8, or a control character)");
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

static void skip_ignored(tix_gql_parser *p)
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
static void lex_digits(tix_gql_parser *p)
{
    if (!digit(p->s[p->pos])) {
        tix_gql_fail_at(p, p->line, p->col, "expected a digit in a number");
    }
    while (digit(p->s[p->pos])) {
        adv(p);
    }
}

static void lex_number(tix_gql_parser *p)
{
    size_t start = p->pos;
    bool is_float = false;
    if (p->s[p->pos] == '-') {
        adv(p);
    }
    if (p->s[p->pos] == '0') {
        adv(p);
        if (digit(p->s[p->pos])) {
            tix_gql_fail_at(p, p->line, p->col,
                            "a number may not start with 0 followed by a digit");
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
        tix_gql_fail_at(p, p->line, p->col, "invalid character after a number");
    }
    p->t.kind = is_float ? T_FLOAT : T_INT;
    p->t.start = p->s + start;
    p->t.len = p->pos - start;
}

/* The four hex digits after "\u" at p->pos (which is at the 'u'); -1 if they are not hex. */
static long read_u4(tix_gql_parser *p)
{
    long v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = tix_hex_digit(p->s[p->pos + (size_t)i]);
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
static size_t lex_unicode(tix_gql_parser *p, char *out, int line, int col)
{
    long hi = read_u4(p);
    if (hi < 0) {
        tix_gql_fail_at(p, line, col, "invalid unicode escape (\\u and four hex digits)");
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
        tix_gql_fail_at(p, line, col, "invalid unicode escape (a lone surrogate or U+0000)");
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
static void lex_string(tix_gql_parser *p)
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
            tix_gql_fail_at(p, p->line, p->col, "unterminated string");
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
            tix_gql_fail_at(p, line, col, "invalid escape sequence in a string");
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
static size_t split_lines(tix_gql_parser *p, const char *raw, size_t n, size_t **starts,
                          size_t **lens)
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
static char *block_value(tix_gql_parser *p, const char *raw, size_t n)
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
static void lex_block_string(tix_gql_parser *p)
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
            tix_gql_fail_at(p, line, col, "unterminated block string");
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
static void lex_punct(tix_gql_parser *p, char c)
{
    if (c == '.') {
        if (p->s[p->pos + 1] != '.' || p->s[p->pos + 2] != '.') {
            tix_gql_fail_at(p, p->line, p->col, "unexpected '.' (did you mean '...'?)");
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
void tix_gql_next(tix_gql_parser *p)
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
        tix_gql_fail_at(p, p->line, p->col, "the document has more than %d tokens", p->max_tokens);
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
        tix_gql_fail_at(p, p->line, p->col, "unexpected character '%s'",
                        (unsigned char)c < 0x80 ? (char[]){c, 0} : "(non-ASCII)");
    }
}
