/*
 * Private to the configuration (core/config*.c): the parser every parse step shares, the
 * helpers that read one variable each, and the loaders of each area. config.c drives them in
 * a fixed order and stops at the first problem; every step that fails has written one sentence
 * into the parser's err and returns TIX_EINVAL. Every variable is read through the table of
 * config_table.c, which holds its default and range: a parse step names it and nothing more.
 */
#ifndef TIX_CORE_CONFIG_INT_H
#define TIX_CORE_CONFIG_INT_H

#include "core/config.h"

/* How a variable's text is read. */
typedef enum tix_config_kind {
    TIX_CFG_TEXT,        /* any text; its parse step checks it */
    TIX_CFG_INT,         /* a whole number in [min, max] */
    TIX_CFG_DURATION,    /* seconds (900, 900s, 15m, 12h, 30d) in [min, max] */
    TIX_CFG_DURATION_MS, /* milliseconds (also 250ms) in [min, max] */
    TIX_CFG_SWITCH,      /* on/1 or off/0 */
    TIX_CFG_RATE,        /* COUNT/WINDOW or COUNT (per minute) */
} tix_config_kind;

/* One variable (or, with name NULL, a section heading whose title is help). */
typedef struct tix_config_var {
    const char *name;
    tix_config_kind kind;
    const char *def;     /* the default as a user would write it; NULL: none (unset, or def_doc) */
    const char *def_doc; /* NULL, or what the default is when its parse step supplies it */
    int64_t min, max;    /* INT and durations (in the kind's unit) */
    const char *help;    /* one sentence, without the default or range */
} tix_config_var;

extern const tix_config_var tix_config_vars[];
extern const size_t tix_config_nvars;
/* A name that was renamed: set, it fails the load with a sentence naming its replacement
 * (config_table.c says why it fails rather than warns). Never in tix_config_vars. */
typedef struct tix_config_retired {
    const char *name;        /* the old name */
    const char *replacement; /* the variable of the table that took its place */
    const char *note;        /* how to write the value under the new name */
} tix_config_retired;

extern const tix_config_retired tix_config_retired_vars[];
extern const size_t tix_config_nretired;

/* The variable called name; NULL when the table has none. */
const tix_config_var *tix_config_var_find(const char *name);
/* The range of v as --help shows it ("1..65535", "1s..2h", "on | off"; "" for text). */
void tix_config_var_range(const tix_config_var *v, char *out, size_t cap);

/* What every parse step needs: where variables come from and where the error goes. */
typedef struct tix_config_parser {
    tix_config_getter get;
    void *ctx;
    char *err;
    size_t errlen;
    const char *unknown; /* the first name asked for that the table lacks (a bug) */
} tix_config_parser;

/* Writes the error sentence into p->err; returns TIX_EINVAL. */
tix_rc tix_config_fail(tix_config_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The text of variable name (NULL when unset). name must be in the table: an unknown one
 * fails the load (a bug, caught by every test that loads a configuration). */
const char *tix_config_value(tix_config_parser *p, const char *name);
/* The text of variable name, or its table default when unset (NULL when it has none). */
const char *tix_config_text(tix_config_parser *p, const char *name);
/* A number variable (INT, DURATION in seconds or DURATION_MS in ms, as the table says) within
 * the table's range into *out; unset: the table's default, or *out left alone when it has none
 * (the caller set it first). */
tix_rc tix_config_get_num(tix_config_parser *p, const char *name, int64_t *out);
/* Copies v into dst[cap]; an error naming name when it does not fit. */
tix_rc tix_config_copy_str(tix_config_parser *p, char *dst, size_t cap, const char *name,
                           const char *v);

/* on/1 or off/0 into *out; the table's default when unset. */
tix_rc tix_config_get_switch(tix_config_parser *p, const char *name, bool *out);
/* Drops the trailing slashes of a base URL in place. */
void tix_config_trim_slashes(char *url);

/* The areas, in the order tix_config_load calls them (later steps may read earlier fields). */
tix_rc tix_config_load_database(tix_config_parser *p, tix_config *cfg);    /* config_core.c */
tix_rc tix_config_load_numbers(tix_config_parser *p, tix_config *cfg);     /* config_core.c */
tix_rc tix_config_load_booking(tix_config_parser *p, tix_config *cfg);     /* config_booking.c */
tix_rc tix_config_load_misc(tix_config_parser *p, tix_config *cfg);        /* config_core.c */
tix_rc tix_config_load_admin(tix_config_parser *p, tix_config *cfg);       /* config_core.c */
tix_rc tix_config_load_media(tix_config_parser *p, tix_config *cfg);       /* config_media.c */
tix_rc tix_config_load_razorpay(tix_config_parser *p, tix_config *cfg);    /* config_booking.c */
tix_rc tix_config_load_mail(tix_config_parser *p, tix_config *cfg);        /* config_mail.c */
tix_rc tix_config_load_jobs(tix_config_parser *p, tix_config *cfg);        /* config_jobs.c */
tix_rc tix_config_load_proxies(tix_config_parser *p, tix_config *cfg);     /* config_limits.c */
tix_rc tix_config_load_rate_limits(tix_config_parser *p, tix_config *cfg); /* config_limits.c */
tix_rc tix_config_load_cache(tix_config_parser *p, tix_config *cfg);       /* config_cache.c */
tix_rc tix_config_load_redis(tix_config_parser *p, tix_config *cfg);       /* config_cache.c */
tix_rc tix_config_load_secrets(tix_config_parser *p, tix_config *cfg);     /* config_core.c */

#endif
