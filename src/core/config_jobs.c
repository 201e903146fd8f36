/* Configuration of the lifecycle jobs (src/jobs): the scheduler's switch, tick and lease. */
#include "core/config_int.h"

#include <string.h>

/* The scheduler's switch, tick and lease, and each job's interval (all in ms). */
tix_rc tix_config_load_jobs(tix_config_parser *p, tix_config *cfg)
{
    if (tix_config_get_switch(p, "JOBS", &cfg->jobs_enabled) != TIX_OK) {
        return TIX_EINVAL;
    }
    const struct {
        const char *name;
        int64_t *out;
    } vars[] = {
        {"JOB_TICK", &cfg->job_tick_ms},
        {"JOB_LEASE", &cfg->job_lease_ms},
        {"JOB_INTERVAL_SHOWS", &cfg->job_shows_ms},
        {"JOB_INTERVAL_EXPIRE", &cfg->job_expire_ms},
        {"JOB_INTERVAL_REFUNDS", &cfg->job_refunds_ms},
        {"JOB_INTERVAL_RECONCILE", &cfg->job_reconcile_ms},
        {"JOB_INTERVAL_PURGE", &cfg->job_purge_ms},
        {"JOB_INTERVAL_REFUND_POLL", &cfg->job_refund_poll_ms},
        {"JOB_INTERVAL_MAIL", &cfg->job_mail_ms},
        {"REFUND_POLL_AGE", &cfg->refund_poll_age_ms},
        {"REFUND_POLL_BATCH", &cfg->refund_poll_batch},
        {"JOB_INTERVAL_RECO", &cfg->job_reco_ms},
        {"RECO_WINDOW", &cfg->reco_window_ms},
        {"RECO_NEIGHBOURS", &cfg->reco_neighbours},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (tix_config_get_num(p, vars[i].name, vars[i].out) != TIX_OK) {
            return TIX_EINVAL;
        }
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
