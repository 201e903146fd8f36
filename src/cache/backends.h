/*
 * The implementations of the cache and bus interfaces (cache.h, bus.h), each made by its own
 * constructor: in-process (local.c, bus.c) or Redis (redis.c, bus_redis.c). The interfaces do
 * not know these; the factory (factory.h) chooses one from the configuration, and tests make
 * one directly. A Redis constructor does not wait for Redis: a Redis that is down at start is
 * a cache that is down (and retried), not an error; it fails with TIX_EINVAL (err filled) only
 * for a malformed REDIS_URL. Free what they make with tix_cache_destroy / tix_bus_destroy.
 */
#ifndef TIX_CACHE_BACKENDS_H
#define TIX_CACHE_BACKENDS_H

#include "cache/bus.h"
#include "cache/cache.h"

TIX_MUSTCHECK tix_rc tix_cache_local_create(const tix_config *cfg, tix_cache **out);
TIX_MUSTCHECK tix_rc tix_cache_redis_create(const tix_config *cfg, tix_cache **out, char *err,
                                            size_t errlen);

/* The Redis bus starts its subscriber thread (which reconnects by itself). */
TIX_MUSTCHECK tix_rc tix_bus_local_create(tix_cache *cache, const tix_config *cfg,
                                          tix_bus_sink sink, void *sink_ctx, tix_bus **out);
TIX_MUSTCHECK tix_rc tix_bus_redis_create(tix_cache *cache, const tix_config *cfg,
                                          tix_bus_sink sink, void *sink_ctx, tix_bus **out);

#endif
