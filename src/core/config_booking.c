/*
 * Configuration of selling seats: holds, cancellation refunds and show timing (src/booking,
 * src/catalog), and payments (src/pay): Razorpay's keys and API base. Unset keys select the
 * embedded test provider; a partial set is an error, never a silent fall-back.
 */
#include "core/config_int.h"

#include <ctype.h>
#include <string.h>

/* Seats per hold, how long a hold lasts, the full-refund window (and the free-cancel window
 * after a show was moved), the cleaning time after each show and when the door admits a show's
 * tickets. */
tix_rc tix_config_load_booking(tix_config_parser *p, tix_config *cfg)
{
    int64_t seats = 0;
    if (tix_config_get_num(p, "MAX_SEATS_PER_HOLD", &seats) != TIX_OK ||
        tix_config_get_num(p, "HOLD_TTL", &cfg->hold_ttl_s) != TIX_OK ||
        tix_config_get_num(p, "IDEMPOTENCY_LEASE", &cfg->idem_lease_s) != TIX_OK ||
        tix_config_get_num(p, "CANCEL_FULL_REFUND_HOURS", &cfg->cancel_full_refund_s) != TIX_OK ||
        tix_config_get_num(p, "RESCHEDULE_FREE_CANCEL_MINUTES", &cfg->reschedule_free_cancel_s) !=
            TIX_OK ||
        tix_config_get_num(p, "SHOW_CLEANING_BUFFER", &cfg->show_buffer_s) != TIX_OK ||
        tix_config_get_num(p, "CHECKIN_WINDOW_BEFORE", &cfg->checkin_before_s) != TIX_OK ||
        tix_config_get_num(p, "CHECKIN_WINDOW_AFTER", &cfg->checkin_after_s) != TIX_OK ||
        tix_config_get_num(p, "FX_MAX_AGE", &cfg->fx_max_age_s) != TIX_OK) {
        return TIX_EINVAL;
    }
    cfg->max_seats_per_hold = (int)seats;
    cfg->cancel_full_refund_s *= 3600;
    cfg->reschedule_free_cancel_s *= 60;
    const char *key = tix_config_value(p, "TICKET_SIGNING_KEY");
    const char *old = tix_config_value(p, "TICKET_VERIFY_KEYS");
    if (tix_config_copy_str(p, cfg->ticket_signing_key, sizeof(cfg->ticket_signing_key),
                            "TICKET_SIGNING_KEY", key ? key : "") != TIX_OK ||
        tix_config_copy_str(p, cfg->ticket_verify_keys, sizeof(cfg->ticket_verify_keys),
                            "TICKET_VERIFY_KEYS", old ? old : "") != TIX_OK) {
        return TIX_EINVAL;
    }
    return TIX_OK;
}

/* Whether s is min..cap-1 printable ASCII characters without spaces (Razorpay keys and secrets
 * travel in a Basic auth header). */
static bool razorpay_token(const char *s, size_t min, size_t cap)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)s[i])) {
            return false;
        }
    }
    return n >= min && n < cap;
}

/* RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET: all or none. Any one of
 * them alone is an error, never a silent fall-back to the test provider (which takes no money).
 * Messages never repeat a value. */
static tix_rc parse_razorpay_keys(tix_config_parser *p, tix_config *cfg, int *set)
{
    static const char *const names[] = {"RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET",
                                        "RAZORPAY_WEBHOOK_SECRET"};
    char *const dst[] = {cfg->razorpay_key_id, cfg->razorpay_key_secret,
                         cfg->razorpay_webhook_secret};
    const size_t cap[] = {sizeof(cfg->razorpay_key_id), sizeof(cfg->razorpay_key_secret),
                          sizeof(cfg->razorpay_webhook_secret)};
    const char *v[3];
    *set = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = tix_config_value(p, names[i]);
        *set += v[i] != NULL;
    }
    for (int i = 0; i < 3 && *set > 0; i++) {
        if (v[i] == NULL) {
            return tix_config_fail(
                p,
                "%s is required: Razorpay needs RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET "
                "and RAZORPAY_WEBHOOK_SECRET together",
                names[i]);
        }
        if (!razorpay_token(v[i], i == 0 ? 10 : 8, cap[i])) {
            return tix_config_fail(p, "%s must be %d to %zu printable characters without spaces",
                                   names[i], i == 0 ? 10 : 8, cap[i] - 1);
        }
        memcpy(dst[i], v[i], strlen(v[i]) + 1);
    }
    if (*set > 0 && strncmp(v[0], "rzp_test_", 9) != 0 && strncmp(v[0], "rzp_live_", 9) != 0) {
        return tix_config_fail(p, "RAZORPAY_KEY_ID must start with rzp_test_ or rzp_live_");
    }
    return TIX_OK;
}

/* Whether base is http:// to this machine (a test stand-in): host 127.0.0.1, localhost or
 * [::1], then a port, a path or nothing. */
static bool loopback_http(const char *base)
{
    static const char *const hosts[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(base, hosts[i], n) == 0 &&
            (base[n] == '\0' || base[n] == ':' || base[n] == '/')) {
            return true;
        }
    }
    return false;
}

tix_rc tix_config_load_razorpay(tix_config_parser *p, tix_config *cfg)
{
    int set = 0;
    const char *base = tix_config_value(p, "RAZORPAY_API_BASE");
    tix_rc rc = parse_razorpay_keys(p, cfg, &set);
    if (rc != TIX_OK) {
        return rc;
    }
    if (set == 0 && base != NULL) {
        return tix_config_fail(
            p, "RAZORPAY_API_BASE is set but RAZORPAY_KEY_ID is not: set the keys too "
               "(or unset it to use the test payment provider)");
    }
    base = tix_config_text(p, "RAZORPAY_API_BASE");
    if (strncmp(base, "https://", 8) != 0 && !loopback_http(base)) {
        return tix_config_fail(
            p, "RAZORPAY_API_BASE must start with https:// (http:// only for a stand-in "
               "on 127.0.0.1 or localhost)");
    }
    if (tix_config_copy_str(p, cfg->razorpay_api_base, sizeof(cfg->razorpay_api_base),
                            "RAZORPAY_API_BASE", base) != TIX_OK) {
        return TIX_EINVAL;
    }
    tix_config_trim_slashes(cfg->razorpay_api_base);
    /* Checkout's script: the same rules (a page loads it, so never plain http:// to elsewhere) */
    const char *checkout = tix_config_value(p, "RAZORPAY_CHECKOUT_URL");
    if (set == 0 && checkout != NULL) {
        return tix_config_fail(p, "RAZORPAY_CHECKOUT_URL is set but RAZORPAY_KEY_ID is not: set "
                                  "the keys too (or unset it to use the test payment provider)");
    }
    checkout = tix_config_text(p, "RAZORPAY_CHECKOUT_URL");
    if ((strncmp(checkout, "https://", 8) != 0 && !loopback_http(checkout)) ||
        strpbrk(checkout, " \t;,'\"<>\\") != NULL) {
        return tix_config_fail(
            p, "RAZORPAY_CHECKOUT_URL must be an https:// URL (http:// only for a stand-in on "
               "127.0.0.1 or localhost) without spaces, quotes, commas or semicolons");
    }
    if (tix_config_copy_str(p, cfg->razorpay_checkout_url, sizeof(cfg->razorpay_checkout_url),
                            "RAZORPAY_CHECKOUT_URL", checkout) != TIX_OK) {
        return TIX_EINVAL;
    }
    return TIX_OK;
}
