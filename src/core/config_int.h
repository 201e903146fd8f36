/*
 * Private to the configuration (core/config*.c): the parser every parse step shares, the
 * helpers that read one variable each, and the loaders of each area. config.c drives them in
 * a fixed order and stops at the first problem; every step that fails has written one sentence
 * into the parser's err and returns TIX_EINVAL.
 */
#ifndef TIX_CORE_CONFIG_INT_H
#define TIX_CORE_CONFIG_INT_H

#include "core/config.h"

/* What every parse step needs: where variables come from and where the error goes. */
typedef struct tix_config_parser {
    tix_config_getter get;
    void *ctx;
    char *err;
    size_t errlen;
} tix_config_parser;

/* Writes the error sentence into p->err; returns TIX_EINVAL. */
tix_rc tix_config_fail(tix_config_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A whole number in [min, max], def when unset. */
tix_rc tix_config_get_int(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                          int64_t max, int64_t *out);
/* A duration in seconds ("900", "15m") in [min, max], def when unset. */
tix_rc tix_config_get_duration(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                               int64_t max, int64_t *out);
/* A duration in milliseconds ("250ms" or anything get_duration takes), within [min, max]. */
tix_rc tix_config_get_duration_ms(tix_config_parser *p, const char *name, int64_t def, int64_t min,
                                  int64_t max, int64_t *out);
/* Copies v into dst[cap]; an error naming name when it does not fit. */
tix_rc tix_config_copy_str(tix_config_parser *p, char *dst, size_t cap, const char *name,
                           const char *v);

/* on/1 or off/0 into *out; def when unset. */
tix_rc tix_config_get_switch(tix_config_parser *p, const char *name, bool def, bool *out);
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
tix_rc tix_config_load_jobs(tix_config_parser *p, tix_config *cfg);        /* config_jobs.c */
tix_rc tix_config_load_proxies(tix_config_parser *p, tix_config *cfg);     /* config_limits.c */
tix_rc tix_config_load_rate_limits(tix_config_parser *p, tix_config *cfg); /* config_limits.c */
tix_rc tix_config_load_cache(tix_config_parser *p, tix_config *cfg);       /* config_cache.c */
tix_rc tix_config_load_redis(tix_config_parser *p, tix_config *cfg);       /* config_cache.c */
tix_rc tix_config_load_secrets(tix_config_parser *p, tix_config *cfg);     /* config_core.c */

#endif
