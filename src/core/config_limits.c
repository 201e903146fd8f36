/*
 * Configuration of client addresses and rate limits (http/clientip.c, http/ratelimit.c):
 * TRUST_PROXY, TRUSTED_PROXIES as CIDR blocks, and the RATE_LIMIT_* COUNT/WINDOW limits.
 */
#include "core/config_int.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <string.h>

bool tix_config_parse_cidr(const char *s, tix_cidr *out)
{
    char ip[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int64_t bits = -1;
    if (n == 0 || n >= sizeof(ip)) {
        return false;
    }
    memcpy(ip, s, n);
    ip[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->v6 = false;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->v6 = true;
    } else {
        return false;
    }
    int max = out->v6 ? 128 : 32;
    if (slash != NULL && !tix_parse_int(slash + 1, 0, max, &bits)) {
        return false;
    }
    out->bits = slash ? (int)bits : max;
    for (int i = out->bits; i < max; i++) { /* keep the network part only */
        out->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
    }
    return true;
}

/* TRUST_PROXY and TRUSTED_PROXIES: a comma-separated list of addresses or CIDR blocks. */
tix_rc tix_config_load_proxies(tix_config_parser *p, tix_config *cfg)
{
    const char *list = tix_config_text(p, "TRUSTED_PROXIES");
    if (tix_config_get_switch(p, "TRUST_PROXY", &cfg->trust_proxy) != TIX_OK) {
        return TIX_EINVAL;
    }
    char buf[TIX_CFG_STR];
    if (tix_config_copy_str(p, buf, sizeof(buf), "TRUSTED_PROXIES", list) != TIX_OK) {
        return TIX_EINVAL;
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (cfg->ntrusted_proxies == TIX_MAX_TRUSTED_PROXIES) {
            return tix_config_fail(p, "TRUSTED_PROXIES may list at most %d blocks",
                                   TIX_MAX_TRUSTED_PROXIES);
        }
        if (!tix_config_parse_cidr(tok, &cfg->trusted_proxies[cfg->ntrusted_proxies++])) {
            return tix_config_fail(
                p,
                "TRUSTED_PROXIES must list addresses or blocks such as 10.0.0.0/8 "
                "(got \"%.60s\")",
                tok);
        }
    }
    return TIX_OK;
}

/* "COUNT/WINDOW" ("10/1m", "3/500ms") or COUNT (per minute) into rl; false if invalid. */
static bool parse_rate(const char *v, tix_rate_limit *rl)
{
    char count[32];
    size_t n = strcspn(v, "/");
    if (n >= sizeof(count)) {
        return false;
    }
    memcpy(count, v, n);
    count[n] = '\0';
    if (!tix_parse_int(count, 0, 1000000, &rl->limit)) {
        return false;
    }
    return v[n] == '\0' || (tix_config_parse_duration_ms(v + n + 1, &rl->window_ms) &&
                            rl->window_ms >= 100 && rl->window_ms <= 86400000);
}

/* RATE_LIMIT=on|off and the RATE_LIMIT_* limits; COUNT 0 turns one limit off. */
tix_rc tix_config_load_rate_limits(tix_config_parser *p, tix_config *cfg)
{
    if (tix_config_get_switch(p, "RATE_LIMIT", &cfg->rate_limit_enabled) != TIX_OK) {
        return TIX_EINVAL;
    }
    const struct {
        const char *name;
        tix_rate_limit *out;
    } vars[] = {
        {"RATE_LIMIT_LOGIN_IP", &cfg->rl_login_ip},
        {"RATE_LIMIT_LOGIN_EMAIL", &cfg->rl_login_mail},
        {"RATE_LIMIT_REGISTER_IP", &cfg->rl_register_ip},
        {"RATE_LIMIT_HOLD_USER", &cfg->rl_hold_user},
        {"RATE_LIMIT_RESET_IP", &cfg->rl_reset_ip},
        {"RATE_LIMIT_RESET_EMAIL", &cfg->rl_reset_mail},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = tix_config_text(p, vars[i].name); /* the default when unset */
        *vars[i].out = (tix_rate_limit){0, 60000};
        if (v == NULL || !parse_rate(v, vars[i].out)) {
            return tix_config_fail(
                p,
                "%s must be COUNT/WINDOW such as 10/1m or 5/30s (COUNT 0 to 1000000, "
                "WINDOW 100ms to 1d; got \"%.40s\")",
                vars[i].name, v);
        }
    }
    return TIX_OK;
}
