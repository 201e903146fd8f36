/* Configuration of the lifecycle jobs (src/jobs): the scheduler's switch, tick and lease. */
#include "core/config_int.h"

#include <string.h>

/* The scheduler's switch, tick and lease, and each job's interval (all in ms). */
tix_rc tix_config_load_jobs(tix_config_parser *p, tix_config *cfg)
{
    if (tix_config_get_switch(p, "JOBS", true, &cfg->jobs_enabled) != TIX_OK) {
        return TIX_EINVAL;
    }
    const int64_t week = 7LL * 86400 * 1000;
    const struct {
        const char *name;
        int64_t def, min, max;
        int64_t *out;
    } vars[] = {
        {"JOB_TICK", 1000, 10, 60000, &cfg->job_tick_ms},
        {"JOB_LEASE", 30000, 200, 3600000, &cfg->job_lease_ms},
        {"JOB_INTERVAL_SHOWS", 30000, 100, week, &cfg->job_shows_ms},
        {"JOB_INTERVAL_EXPIRE", 15000, 100, week, &cfg->job_expire_ms},
        {"JOB_INTERVAL_REFUNDS", 60000, 100, week, &cfg->job_refunds_ms},
        {"JOB_INTERVAL_RECONCILE", 300000, 100, week, &cfg->job_reconcile_ms},
        {"JOB_INTERVAL_PURGE", 3600000, 100, week, &cfg->job_purge_ms},
        {"JOB_INTERVAL_REFUND_POLL", 600000, 100, week, &cfg->job_refund_poll_ms},
        {"REFUND_POLL_AGE", 3600000, 0, 30 * 86400000LL, &cfg->refund_poll_age_ms},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (tix_config_get_duration_ms(p, vars[i].name, vars[i].def, vars[i].min, vars[i].max,
                                       vars[i].out) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    if (tix_config_get_int(p, "REFUND_POLL_BATCH", 50, 1, 1000, &cfg->refund_poll_batch) !=
        TIX_OK) {
        return TIX_EINVAL;
    }
    if (cfg->job_lease_ms < 2 * cfg->job_tick_ms) {
        return tix_config_fail(
            p,
            "JOB_LEASE (%lldms) must be at least twice JOB_TICK (%lldms): the holder "
            "renews its leases every tick",
            (long long)cfg->job_lease_ms, (long long)cfg->job_tick_ms);
    }
    return TIX_OK;
}
