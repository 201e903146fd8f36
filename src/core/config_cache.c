/*
 * Configuration of the cache, the event bus and the event streams (src/cache, http/sse.c;
 * docs/cache.md), and REDIS_URL, which moves all three to Redis.
 */
#include "core/config_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* CACHE_PREFIX: 1..40 letters, digits, '_', '-' or '.' (it starts every key). */
static bool cache_prefix_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
            return false;
        }
    }
    return n > 0 && n <= 40;
}

/* The cache, the event bus and the event streams (docs/cache.md). */
tix_rc tix_config_load_cache(tix_config_parser *p, tix_config *cfg)
{
    const char *prefix = tix_config_text(p, "CACHE_PREFIX");
    int64_t pool = cfg->workers; /* the default */
    int64_t backlog = 0;
    int64_t streams = 0;
    if (tix_config_get_switch(p, "CACHE", &cfg->cache_enabled) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (!cache_prefix_ok(prefix)) {
        return tix_config_fail(p, "CACHE_PREFIX must be 1 to 40 letters, digits, '_', '-' or '.'");
    }
    snprintf(cfg->cache_prefix, sizeof(cfg->cache_prefix), "%s", prefix);
    if (tix_config_get_num(p, "CACHE_TTL", &cfg->cache_ttl_ms) != TIX_OK ||
        tix_config_get_num(p, "CACHE_TIMEOUT", &cfg->cache_timeout_ms) != TIX_OK ||
        tix_config_get_num(p, "SEATMAP_STALE", &cfg->seatmap_stale_ms) != TIX_OK ||
        tix_config_get_num(p, "CACHE_POOL_SIZE", &pool) != TIX_OK ||
        tix_config_get_num(p, "CACHE_MAX_BYTES", &cfg->cache_max_bytes) != TIX_OK ||
        tix_config_get_num(p, "EVENT_BACKLOG", &backlog) != TIX_OK ||
        tix_config_get_num(p, "EVENT_BACKLOG_TTL", &cfg->event_backlog_ttl_ms) != TIX_OK ||
        tix_config_get_num(p, "SSE_HEARTBEAT", &cfg->sse_heartbeat_ms) != TIX_OK ||
        tix_config_get_num(p, "SSE_MAX_STREAMS", &streams) != TIX_OK) {
        return TIX_EINVAL;
    }
    cfg->cache_pool_size = (int)pool;
    cfg->event_backlog = (int)backlog;
    cfg->sse_max_streams = (int)streams;
    return TIX_OK;
}

/* REDIS_URL: unset = the in-process cache and bus. */
tix_rc tix_config_load_redis(tix_config_parser *p, tix_config *cfg)
{
    const char *redis = tix_config_value(p, "REDIS_URL");
    if (redis != NULL) {
        if (strncmp(redis, "redis://", 8) != 0 && strncmp(redis, "unix://", 7) != 0 &&
            strncmp(redis, "redis+sentinel://", 17) != 0) {
            return tix_config_fail(
                p, "REDIS_URL must start with redis://, unix:// or redis+sentinel://");
        }
        if (tix_config_copy_str(p, cfg->redis_url, sizeof(cfg->redis_url), "REDIS_URL", redis) !=
            TIX_OK) {
            return TIX_EINVAL;
        }
    }
    return TIX_OK;
}
