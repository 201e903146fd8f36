/*
 * Razorpay's wire format (see razorpay.h): pure functions over bytes and JSON, no I/O.
 * Response parsers copy ids into fixed buffers and refuse anything that does not fit or does
 * not look like the entity asked for; the caller treats that as a provider error.
 */
#include "core/util.h"
#include "pay/razorpay.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

bool tix_rzp_signature_ok(const char *secret, const void *msg, size_t len, const char *sig)
{
    char want[TIX_SHA256_HEX];
    if (secret == NULL || msg == NULL || sig == NULL || strlen(sig) != TIX_SHA256_HEX - 1) {
        return false;
    }
    tix_hmac_sha256_hex(want, secret, strlen(secret), msg, len);
    return tix_secure_streq(want, sig);
}

bool tix_rzp_checkout_ok(const char *key_secret, const char *order_id, const char *payment_id,
                         const char *sig)
{
    char msg[2 * TIX_PAY_ID_MAX + 2];
    if (order_id == NULL || payment_id == NULL || strlen(order_id) >= TIX_PAY_ID_MAX ||
        strlen(payment_id) >= TIX_PAY_ID_MAX) {
        return false;
    }
    int n = snprintf(msg, sizeof(msg), "%s|%s", order_id, payment_id);
    return n > 0 && tix_rzp_signature_ok(key_secret, msg, (size_t)n, sig);
}

/* Whether s is min..TIX_PAY_ID_MAX-1 characters of letters, digits, '_' (and '-' if dash). */
static bool id_chars(const char *s, size_t min, bool dash)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n < min || n >= TIX_PAY_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && !(dash && ch == '-')) {
            return false;
        }
    }
    return true;
}

bool tix_rzp_id_ok(const char *s)
{
    return id_chars(s, 1, false);
}

bool tix_rzp_idem_key_ok(const char *key)
{
    return id_chars(key, 10, true);
}

/* Compact JSON text of j (stolen), or NULL. Freed with free(). */
static char *dump(json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

char *tix_rzp_order_body(int64_t amount, const char *currency, const char *receipt,
                         const char *show_id, const char *user_id)
{
    if (amount < 1 || currency == NULL || receipt == NULL || show_id == NULL || user_id == NULL ||
        *receipt == '\0' || strlen(receipt) > TIX_RZP_RECEIPT_MAX) {
        return NULL;
    }
    return dump(json_pack("{s:I,s:s,s:s,s:{s:s,s:s,s:s}}", "amount", (json_int_t)amount, "currency",
                          currency, "receipt", receipt, "notes", "booking_id", receipt, "show_id",
                          show_id, "user_id", user_id));
}

char *tix_rzp_refund_body(int64_t amount, const char *idem_key)
{
    if (amount < 1 || !tix_rzp_idem_key_ok(idem_key) || strlen(idem_key) > TIX_RZP_RECEIPT_MAX) {
        return NULL;
    }
    return dump(json_pack("{s:I,s:s,s:s,s:{s:s}}", "amount", (json_int_t)amount, "speed", "normal",
                          "receipt", idem_key, "notes", "refund_id", idem_key));
}

/* Copies the string member key of obj into out if it is a string that fits; false otherwise
 * (out is then empty). */
static bool get_str(json_t *obj, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        return false;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

/* Whether obj's "entity" member is the string want. */
static bool entity_is(json_t *obj, const char *want)
{
    json_t *e = json_object_get(obj, "entity");
    return json_is_string(e) && strcmp(json_string_value(e), want) == 0;
}

static json_t *load(const char *body, size_t len)
{
    json_t *j = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

tix_rc tix_rzp_parse_order(const char *body, size_t len, int64_t amount,
                           char order_id[TIX_PAY_ID_MAX])
{
    json_t *j = load(body, len);
    json_t *amt = json_object_get(j, "amount");
    bool ok = j != NULL && entity_is(j, "order") && get_str(j, "id", order_id, TIX_PAY_ID_MAX) &&
              strncmp(order_id, "order_", 6) == 0 && tix_rzp_id_ok(order_id) &&
              json_is_integer(amt) && json_integer_value(amt) == amount;
    json_decref(j);
    if (!ok) {
        order_id[0] = '\0';
    }
    return ok ? TIX_OK : TIX_EUPSTREAM;
}

tix_rc tix_rzp_parse_refund(const char *body, size_t len, char refund_id[TIX_PAY_ID_MAX],
                            tix_rzp_refund_status *status)
{
    json_t *j = load(body, len);
    char st[16];
    bool ok = j != NULL && entity_is(j, "refund") && get_str(j, "id", refund_id, TIX_PAY_ID_MAX) &&
              tix_rzp_id_ok(refund_id) && get_str(j, "status", st, sizeof(st));
    json_decref(j);
    if (ok && strcmp(st, "processed") == 0) {
        *status = TIX_RZP_REFUND_PROCESSED;
    } else if (ok && strcmp(st, "pending") == 0) {
        *status = TIX_RZP_REFUND_PENDING;
    } else if (ok && strcmp(st, "failed") == 0) {
        *status = TIX_RZP_REFUND_FAILED;
    } else {
        refund_id[0] = '\0';
        return TIX_EUPSTREAM;
    }
    return TIX_OK;
}

tix_rc tix_rzp_parse_captured(const char *body, size_t len, int64_t want,
                              char payment_id[TIX_PAY_ID_MAX], int64_t *amount)
{
    json_t *j = load(body, len);
    json_t *items = json_object_get(j, "items");
    tix_rc rc = j != NULL && json_is_array(items) ? TIX_ENOTFOUND : TIX_EUPSTREAM;
    size_t i;
    json_t *p;
    payment_id[0] = '\0';
    *amount = -1;
    json_array_foreach(items, i, p)
    {
        char st[16];
        char id[TIX_PAY_ID_MAX];
        json_t *amt = json_object_get(p, "amount");
        if (rc == TIX_EUPSTREAM || !get_str(p, "status", st, sizeof(st)) ||
            strcmp(st, "captured") != 0) {
            continue;
        }
        if (!get_str(p, "id", id, sizeof(id)) || !tix_rzp_id_ok(id) || !json_is_integer(amt)) {
            rc = TIX_EUPSTREAM;
            continue;
        }
        /* The first captured one, replaced by the first one of the wanted amount. */
        bool better = rc == TIX_ENOTFOUND || (*amount != want && json_integer_value(amt) == want);
        if (better) {
            memcpy(payment_id, id, sizeof(id));
            *amount = json_integer_value(amt);
            rc = TIX_OK;
        }
    }
    json_decref(j);
    if (rc != TIX_OK) {
        payment_id[0] = '\0';
        *amount = -1;
    }
    return rc;
}

tix_rc tix_rzp_parse_payment(const char *body, size_t len, tix_pay_payment *out)
{
    json_t *j = load(body, len);
    char id[TIX_PAY_ID_MAX];
    json_t *amt = json_object_get(j, "amount");
    json_t *order = json_object_get(j, "order_id");
    bool ok = j != NULL && entity_is(j, "payment") && get_str(j, "id", id, sizeof(id)) &&
              json_is_integer(amt) &&
              (order == NULL || json_is_null(order) ||
               get_str(j, "order_id", out->order_id, TIX_PAY_ID_MAX));
    out->amount = ok ? json_integer_value(amt) : -1;
    if (!ok || order == NULL || json_is_null(order)) {
        out->order_id[0] = '\0';
    }
    json_decref(j);
    return ok ? TIX_OK : TIX_EUPSTREAM;
}

void tix_rzp_parse_error(const char *body, size_t len, char *out, size_t cap)
{
    json_t *j = load(body, len);
    json_t *err = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *desc = json_string_value(json_object_get(err, "description"));
    if (cap > 0) {
        snprintf(out, cap, "%s: %s", code ? code : "ERROR", desc ? desc : "(no description)");
    }
    json_decref(j);
}

/* payload.<name>.entity, or NULL. */
static json_t *entity_of(json_t *payload, const char *name)
{
    return json_object_get(json_object_get(payload, name), "entity");
}

static tix_rzp_event_kind kind_of(const char *type)
{
    static const struct {
        const char *name;
        tix_rzp_event_kind kind;
    } kinds[] = {
        {"payment.captured", TIX_RZP_EV_PAYMENT_CAPTURED},
        {"order.paid", TIX_RZP_EV_ORDER_PAID},
        {"payment.failed", TIX_RZP_EV_PAYMENT_FAILED},
        {"refund.processed", TIX_RZP_EV_REFUND_PROCESSED},
        {"refund.failed", TIX_RZP_EV_REFUND_FAILED},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(type, kinds[i].name) == 0) {
            return kinds[i].kind;
        }
    }
    return TIX_RZP_EV_OTHER;
}

/* The ids an event carries, from whichever entities it has. */
static void read_entities(json_t *payload, tix_rzp_event *out)
{
    json_t *pay = entity_of(payload, "payment");
    json_t *order = entity_of(payload, "order");
    json_t *refund = entity_of(payload, "refund");
    json_t *amount = json_object_get(pay, "amount");
    if (!get_str(order, "id", out->order_id, sizeof(out->order_id))) {
        get_str(pay, "order_id", out->order_id, sizeof(out->order_id));
    }
    if (!get_str(pay, "id", out->payment_id, sizeof(out->payment_id))) {
        get_str(refund, "payment_id", out->payment_id, sizeof(out->payment_id));
    }
    out->amount = json_is_integer(amount) ? (int64_t)json_integer_value(amount) : -1;
    get_str(refund, "id", out->refund_id, sizeof(out->refund_id));
    if (!get_str(json_object_get(refund, "notes"), "refund_id", out->our_refund_id,
                 sizeof(out->our_refund_id))) {
        get_str(refund, "receipt", out->our_refund_id, sizeof(out->our_refund_id));
    }
}

tix_rc tix_rzp_parse_event(const char *body, size_t len, tix_rzp_event *out)
{
    memset(out, 0, sizeof(*out));
    out->amount = -1;
    json_t *j = load(body, len);
    json_t *ev = json_object_get(j, "event");
    if (!json_is_string(ev) || json_string_length(ev) == 0) {
        json_decref(j);
        return TIX_EINVAL;
    }
    snprintf(out->type, sizeof(out->type), "%s", json_string_value(ev));
    out->kind = kind_of(json_string_value(ev));
    read_entities(json_object_get(j, "payload"), out);
    json_decref(j);
    return TIX_OK;
}
