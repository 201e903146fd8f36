/*
 * The Razorpay payment provider: the pay.h interface over Razorpay's REST API with libcurl
 * (Basic auth key_id:key_secret, JSON bodies built and parsed by razorpay_wire.c).
 *
 * Every call has a deadline of TOTAL_MS (connect at most CONNECT_MS per attempt) and TLS
 * verification on. A call that could not reach Razorpay (connect or DNS failure, time-out,
 * reset) or that got a 5xx/429 is tried again with back-off while time is left; a 4xx never is
 * (it would fail the same way). That is safe for every call made here: GETs, refunds (the
 * X-Refund-Idempotency key makes a repeat return the same refund) and orders (a repeat can at
 * worst leave an unused order, which expires at Razorpay; receipts stay unique per booking).
 * Results: TIX_EUNAVAIL when Razorpay could not be reached or kept failing (5xx), TIX_EUPSTREAM
 * when it refused (4xx) or answered something that is not what was asked.
 *
 * Connections are kept alive and reused through the shared outbound client (core/http_client.h:
 * a pool of up to POOL_MAX idle curl handles sharing DNS and TLS sessions); a call takes one
 * handle for all its attempts. destroy() frees the pool, so no thread may be calling the
 * provider any more then.
 *
 * The provider is shared by every thread: configuration (copied at creation) is read-only and
 * the pool is thread-safe. Secrets are never logged; ids and statuses are.
 */
#include "pay/razorpay.h"

#include "core/http_client.h"
#include "core/log.h"
#include "core/util.h"
#include "pay/pay.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_MS   3000L
#define TOTAL_MS     10000L
#define MIN_LEFT_MS  1000L /* no new attempt with less time than this left */
#define MAX_ATTEMPTS 3
#define BACKOFF_MS   250L
#define MAX_RESPONSE (1L << 20)
#define POOL_MAX     8 /* idle handles kept (each with its live connections) */

typedef struct rzp_impl {
    char key_id[64];
    char key_secret[128];
    char webhook_secret[256];
    char base[TIX_CFG_STR];
    tix_httpc *http; /* the handle pool */
} rzp_impl;

/* ---- one call ---- */

/* One HTTP exchange: what to send, and what came back (body malloc'd, freed by the caller
 * with free()). */
typedef struct rzp_call {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* appended to the base: "/orders" */
    const char *body;   /* POST body, or NULL */
    const char *idem;   /* X-Refund-Idempotency, or NULL */
    long status;        /* OUT: HTTP status, 0 when no answer */
    char *resp;
    size_t resp_len;
} rzp_call;

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
    rzp_call *c = ud;
    size_t n = size * nmemb;
    if (c->resp_len + n > (size_t)MAX_RESPONSE) {
        return 0; /* too big: curl stops with CURLE_WRITE_ERROR */
    }
    char *p = realloc(c->resp, c->resp_len + n + 1);
    if (p == NULL) {
        return 0;
    }
    memcpy(p + c->resp_len, data, n);
    c->resp = p;
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One attempt on h (reset, or new) with timeout_ms left. Returns curl's code; c->status and
 * c->resp are set. */
static CURLcode attempt(const rzp_impl *t, CURL *h, rzp_call *c, long timeout_ms)
{
    char url[TIX_CFG_STR + 256];
    char idem[TIX_PAY_ID_MAX + 32];
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    hdr = hdr ? curl_slist_append(hdr, "Content-Type: application/json") : NULL;
    if (hdr != NULL && c->idem != NULL) {
        snprintf(idem, sizeof(idem), "X-Refund-Idempotency: %s", c->idem);
        hdr = curl_slist_append(hdr, idem);
    }
    char rid[TIX_LOG_RID_MAX + 16];
    if (hdr != NULL && tix_log_request_id() != NULL) { /* the provider's logs can name it too */
        snprintf(rid, sizeof(rid), "X-Request-Id: %s", tix_log_request_id());
        hdr = curl_slist_append(hdr, rid);
    }
    snprintf(url, sizeof(url), "%s%s", t->base, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < CONNECT_MS ? timeout_ms : CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, t->key_id);
    curl_easy_setopt(h, CURLOPT_PASSWORD, t->key_secret);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ticketd");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    if (c->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    }
    CURLcode cc = hdr != NULL ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    c->status = 0;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    }
    curl_slist_free_all(hdr);
    return cc;
}

/* Whether an attempt's result is worth another try: no answer, or a 5xx / 429. */
static bool transient(CURLcode cc, long status)
{
    return cc != CURLE_OK || status >= 500 || status == 429;
}

/* Runs c with retries (see the top of the file). TIX_OK once Razorpay answered with a status
 * below 500 other than 429 (the caller looks at it); TIX_EUNAVAIL otherwise. */
static tix_rc request(rzp_impl *t, rzp_call *c)
{
    int64_t deadline = tix_mono_ms() + TOTAL_MS;
    CURLcode cc = CURLE_OK;
    CURL *h = tix_httpc_take(t->http);
    if (h == NULL) {
        return TIX_EUNAVAIL;
    }
    for (int i = 0; i < MAX_ATTEMPTS; i++) {
        long left = (long)(deadline - tix_mono_ms());
        if (i > 0) {
            unsigned char r = 0;
            tix_random_bytes(&r, 1);
            long wait = (BACKOFF_MS << (i - 1)) + r % 100;
            if (left - wait < MIN_LEFT_MS) {
                break;
            }
            sleep_ms(wait);
            left -= wait;
        }
        free(c->resp);
        c->resp = NULL;
        c->resp_len = 0;
        cc = attempt(t, h, c, left);
        if (!transient(cc, c->status)) {
            tix_httpc_give(t->http, h);
            return TIX_OK;
        }
        tix_log_warn("razorpay %s %s: %s (attempt %d)", c->method, c->path,
                     cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", i + 1);
    }
    tix_httpc_give(t->http, h);
    return TIX_EUNAVAIL;
}

/* For an answered call: TIX_OK for 2xx, else logs Razorpay's reason and TIX_EUPSTREAM. */
static tix_rc answered(const rzp_call *c)
{
    if (c->status >= 200 && c->status < 300) {
        return TIX_OK;
    }
    char why[256];
    tix_rzp_parse_error(c->resp, c->resp_len, why, sizeof(why));
    if (c->status == 401) {
        tix_log_error("razorpay refused the API keys (401) on %s %s: check RAZORPAY_KEY_ID and "
                      "RAZORPAY_KEY_SECRET",
                      c->method, c->path);
    } else {
        tix_log_warn("razorpay %s %s -> %ld %s", c->method, c->path, c->status, why);
    }
    return TIX_EUPSTREAM;
}

static tix_rc create_order(tix_pay_provider *p, int64_t amount, const char *currency,
                           const char *receipt, const char *show_id, const char *user_id,
                           char order_id[TIX_PAY_ID_MAX])
{
    char *body = tix_rzp_order_body(amount, currency, receipt, show_id, user_id);
    rzp_call c = {.method = "POST", .path = "/orders", .body = body};
    tix_rc rc = body != NULL ? request(p->impl, &c) : TIX_EUPSTREAM;
    rc = rc ? rc : answered(&c);
    rc = rc ? rc : tix_rzp_parse_order(c.resp, c.resp_len, amount, order_id);
    if (rc == TIX_OK) {
        tix_log_info("razorpay order %s created for booking %s", order_id, receipt);
    }
    free(body);
    free(c.resp);
    return rc;
}

static bool verify_checkout(tix_pay_provider *p, const char *order_id, const char *payment_id,
                            const char *signature)
{
    const rzp_impl *t = p->impl;
    return tix_rzp_checkout_ok(t->key_secret, order_id, payment_id, signature);
}

static bool verify_webhook(tix_pay_provider *p, const char *body, size_t len, const char *signature)
{
    const rzp_impl *t = p->impl;
    return tix_rzp_signature_ok(t->webhook_secret, body, len, signature);
}

static tix_rc refund(tix_pay_provider *p, const char *payment_id, int64_t amount,
                     const char *idem_key, char refund_id[TIX_PAY_ID_MAX], bool *processed)
{
    char path[TIX_PAY_ID_MAX + 32];
    char *body = tix_rzp_refund_body(amount, idem_key);
    tix_rzp_refund_status st = TIX_RZP_REFUND_FAILED;
    refund_id[0] = '\0';
    *processed = false;
    if (body == NULL || !tix_rzp_id_ok(payment_id)) {
        free(body);
        return TIX_EUPSTREAM;
    }
    snprintf(path, sizeof(path), "/payments/%s/refund", payment_id);
    rzp_call c = {.method = "POST", .path = path, .body = body, .idem = idem_key};
    tix_rc rc = request(p->impl, &c);
    rc = rc ? rc : answered(&c);
    rc = rc ? rc : tix_rzp_parse_refund(c.resp, c.resp_len, refund_id, &st);
    if (rc == TIX_OK && st == TIX_RZP_REFUND_FAILED) {
        tix_log_warn("razorpay refund %s (ours %s) failed at the provider", refund_id, idem_key);
        rc = TIX_EUPSTREAM;
    }
    *processed = rc == TIX_OK && st == TIX_RZP_REFUND_PROCESSED;
    free(body);
    free(c.resp);
    return rc;
}

static tix_rc fetch_captured_payment(tix_pay_provider *p, const char *order_id, int64_t amount,
                                     char payment_id[TIX_PAY_ID_MAX], int64_t *paid)
{
    char path[TIX_PAY_ID_MAX + 32];
    payment_id[0] = '\0';
    *paid = -1;
    if (!tix_rzp_id_ok(order_id)) {
        return TIX_ENOTFOUND;
    }
    snprintf(path, sizeof(path), "/orders/%s/payments", order_id);
    rzp_call c = {.method = "GET", .path = path};
    tix_rc rc = request(p->impl, &c);
    rc = rc ? rc : answered(&c);
    rc = rc ? rc : tix_rzp_parse_captured(c.resp, c.resp_len, amount, payment_id, paid);
    free(c.resp);
    return rc;
}

static tix_rc fetch_payment(tix_pay_provider *p, const char *payment_id, tix_pay_payment *out)
{
    char path[TIX_PAY_ID_MAX + 32];
    memset(out, 0, sizeof(*out));
    out->amount = -1;
    if (!tix_rzp_id_ok(payment_id)) {
        return TIX_ENOTFOUND;
    }
    snprintf(path, sizeof(path), "/payments/%s", payment_id);
    rzp_call c = {.method = "GET", .path = path};
    tix_rc rc = request(p->impl, &c);
    if (rc == TIX_OK && c.status == 404) {
        rc = TIX_ENOTFOUND;
    }
    rc = rc ? rc : answered(&c);
    rc = rc ? rc : tix_rzp_parse_payment(c.resp, c.resp_len, out);
    free(c.resp);
    return rc;
}

static tix_rc fetch_refund(tix_pay_provider *p, const char *payment_id, const char *refund_id,
                           tix_pay_refund_state *state)
{
    char path[2 * TIX_PAY_ID_MAX + 32];
    char id[TIX_PAY_ID_MAX];
    tix_rzp_refund_status st = TIX_RZP_REFUND_PENDING;
    *state = TIX_PAY_REFUND_PENDING;
    if (!tix_rzp_id_ok(payment_id) || !tix_rzp_id_ok(refund_id)) {
        return TIX_ENOTFOUND;
    }
    /* The refund under its payment: Razorpay answers 4xx for a refund of another payment. */
    snprintf(path, sizeof(path), "/payments/%s/refunds/%s", payment_id, refund_id);
    rzp_call c = {.method = "GET", .path = path};
    tix_rc rc = request(p->impl, &c);
    if (rc == TIX_OK && c.status == 404) {
        rc = TIX_ENOTFOUND;
    }
    rc = rc ? rc : answered(&c);
    rc = rc ? rc : tix_rzp_parse_refund(c.resp, c.resp_len, id, &st);
    if (rc == TIX_OK && strcmp(id, refund_id) != 0) {
        tix_log_warn("razorpay GET %s answered refund %s", path, id);
        rc = TIX_EUPSTREAM;
    }
    free(c.resp);
    if (rc == TIX_OK) {
        *state = st == TIX_RZP_REFUND_PROCESSED ? TIX_PAY_REFUND_PROCESSED
                 : st == TIX_RZP_REFUND_FAILED  ? TIX_PAY_REFUND_FAILED
                                                : TIX_PAY_REFUND_PENDING;
    }
    return rc;
}

static void destroy(tix_pay_provider *p)
{
    if (p != NULL) {
        rzp_impl *t = p->impl;
        tix_httpc_destroy(t->http);
        OPENSSL_cleanse(t, sizeof(*t));
        free(t);
        free(p);
    }
}

tix_rc tix_pay_razorpay_create(const tix_config *cfg, tix_pay_provider **out)
{
    tix_pay_provider *p = calloc(1, sizeof(*p));
    rzp_impl *t = calloc(1, sizeof(*t));
    tix_httpc *http = tix_httpc_create("razorpay", POOL_MAX);
    if (p == NULL || t == NULL || http == NULL) {
        free(p);
        free(t);
        tix_httpc_destroy(http);
        return TIX_ENOMEM;
    }
    t->http = http;
    snprintf(t->key_id, sizeof(t->key_id), "%s", cfg->razorpay_key_id);
    snprintf(t->key_secret, sizeof(t->key_secret), "%s", cfg->razorpay_key_secret);
    snprintf(t->webhook_secret, sizeof(t->webhook_secret), "%s", cfg->razorpay_webhook_secret);
    snprintf(t->base, sizeof(t->base), "%s", cfg->razorpay_api_base);
    p->name = "razorpay";
    p->key_id = t->key_id;
    p->min_order_amount = 100; /* "amount (integer paise, >= 100)" */
    p->create_order = create_order;
    p->verify_checkout = verify_checkout;
    p->refund = refund;
    p->verify_webhook = verify_webhook;
    p->fetch_captured_payment = fetch_captured_payment;
    p->fetch_payment = fetch_payment;
    p->fetch_refund = fetch_refund;
    p->destroy = destroy;
    p->impl = t;
    *out = p;
    return TIX_OK;
}
