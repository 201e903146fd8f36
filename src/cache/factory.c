/* Choosing the cache and bus backends; see factory.h. */
#include "cache/factory.h"

#include "cache/backends.h"

tix_rc tix_cache_create(const tix_config *cfg, tix_cache **out, char *err, size_t errlen)
{
    if (cfg->redis_url[0] != '\0') {
        return tix_cache_redis_create(cfg, out, err, errlen);
    }
    return tix_cache_local_create(cfg, out);
}

tix_rc tix_bus_create(tix_cache *cache, const tix_config *cfg, tix_bus_sink sink, void *sink_ctx,
                      tix_bus **out)
{
    if (cfg->redis_url[0] != '\0') {
        return tix_bus_redis_create(cache, cfg, sink, sink_ctx, out);
    }
    return tix_bus_local_create(cache, cfg, sink, sink_ctx, out);
}
