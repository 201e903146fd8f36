/*
 * The cache and the bus this process runs with, chosen from the configuration: Redis when
 * REDIS_URL is set, else in-process (backends.h). The only place that knows both backends, so
 * the interfaces (cache.h, bus.h) and the backends never call each other's constructors.
 * main.c calls these once at start; free what they make with tix_cache_destroy and
 * tix_bus_destroy (the bus first, after the server stopped).
 */
#ifndef TIX_CACHE_FACTORY_H
#define TIX_CACHE_FACTORY_H

#include "cache/bus.h"
#include "cache/cache.h"

/* TIX_EINVAL with err filled for a malformed REDIS_URL; a Redis that is down is no error. */
TIX_MUSTCHECK tix_rc tix_cache_create(const tix_config *cfg, tix_cache **out, char *err,
                                      size_t errlen);
/* The bus matching the cache (Redis or in-process), delivering to sink(sink_ctx, …). */
TIX_MUSTCHECK tix_rc tix_bus_create(tix_cache *cache, const tix_config *cfg, tix_bus_sink sink,
                                    void *sink_ctx, tix_bus **out);

#endif
