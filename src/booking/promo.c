/* Promo codes: rules, the discount and the owner/admin operations; see promo.h. */
#include "booking/promo.h"

#include "auth/policy.h"
#include "core/i18n.h"
#include "core/util.h"

#include <string.h>

static const char *const codes[] = {
    [TIX_PROMO_OK] = "ok",
    [TIX_PROMO_UNKNOWN] = "promo_code_unknown",
    [TIX_PROMO_INACTIVE] = "promo_code_inactive",
    [TIX_PROMO_NOT_YET_VALID] = "promo_code_not_yet_valid",
    [TIX_PROMO_EXPIRED] = "promo_code_expired",
    [TIX_PROMO_USED_UP] = "promo_code_used_up",
    [TIX_PROMO_USER_LIMIT] = "promo_code_user_limit",
    [TIX_PROMO_OUT_OF_SCOPE] = "promo_code_out_of_scope",
    [TIX_PROMO_BELOW_MINIMUM] = "promo_code_below_minimum",
    [TIX_PROMO_CURRENCY_MISMATCH] = "promo_code_currency_mismatch",
};

static const char *const messages[] = {
    [TIX_PROMO_OK] = N_("the code applies"),
    [TIX_PROMO_UNKNOWN] = N_("there is no such promo code"),
    [TIX_PROMO_INACTIVE] = N_("this promo code is switched off"),
    [TIX_PROMO_NOT_YET_VALID] = N_("this promo code is not valid yet"),
    [TIX_PROMO_EXPIRED] = N_("this promo code has expired"),
    [TIX_PROMO_USED_UP] = N_("this promo code has been used as often as it may be"),
    [TIX_PROMO_USER_LIMIT] = N_("you have used this promo code as often as you may"),
    [TIX_PROMO_OUT_OF_SCOPE] = N_("this promo code is for another theatre"),
    [TIX_PROMO_BELOW_MINIMUM] = N_("the booking is below this promo code's minimum amount"),
    [TIX_PROMO_CURRENCY_MISMATCH] = N_("this promo code is for shows in another currency"),
};

const char *tix_promo_problem_code(tix_promo_problem p)
{
    return (unsigned)p <= TIX_PROMO_CURRENCY_MISMATCH ? codes[p] : "promo_code_unknown";
}

const char *tix_promo_problem_message(tix_promo_problem p)
{
    return (unsigned)p <= TIX_PROMO_CURRENCY_MISMATCH ? messages[p] : messages[TIX_PROMO_UNKNOWN];
}

static bool code_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

static char upper(unsigned char ch)
{
    return (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
}

bool tix_promo_normalize(const char *in, char out[TIX_PROMO_CODE_MAX + 1])
{
    size_t n = in != NULL ? strlen(in) : 0;
    if (n < 3 || n > TIX_PROMO_CODE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!code_char((unsigned char)in[i])) {
            return false;
        }
        out[i] = upper((unsigned char)in[i]);
    }
    out[n] = '\0';
    return true;
}

int64_t tix_promo_discount(const tix_promo *p, int64_t amount, int64_t min_charge)
{
    int64_t d = 0;
    if (strcmp(p->kind, "percent") == 0) {
        int64_t pct = p->value > 100 ? 100 : p->value;
        /* amount * pct / 100 without overflow for any amount a booking can have */
        d = amount / 100 * pct + amount % 100 * pct / 100;
    } else {
        d = p->value;
    }
    int64_t cap = amount - (min_charge > 0 ? min_charge : 0);
    if (d > cap) {
        d = cap;
    }
    return d > 0 ? d : 0;
}

/* The first rule of p that refuses this booking (the limits as they stand now included). */
static tix_promo_problem check_rules(tix_db *db, const tix_promo *p, const tix_promo_ask *ask,
                                     tix_rc *rc)
{
    *rc = TIX_OK;
    if (!p->active) {
        return TIX_PROMO_INACTIVE;
    }
    if (p->valid_from != 0 && ask->now < p->valid_from) {
        return TIX_PROMO_NOT_YET_VALID;
    }
    if (p->valid_until != 0 && ask->now >= p->valid_until) {
        return TIX_PROMO_EXPIRED;
    }
    if (p->theatre_id != NULL && strcmp(p->theatre_id, ask->show->theatre_id) != 0) {
        return TIX_PROMO_OUT_OF_SCOPE;
    }
    if (p->currency != NULL && strcmp(p->currency, ask->show->currency) != 0) {
        return TIX_PROMO_CURRENCY_MISMATCH;
    }
    if (ask->amount < p->min_amount) {
        return TIX_PROMO_BELOW_MINIMUM;
    }
    if (p->max_uses != 0 && p->uses >= p->max_uses) {
        return TIX_PROMO_USED_UP;
    }
    if (p->max_uses_per_user != 0) {
        int64_t mine = 0;
        *rc = tix_promo_user_uses(db, p->id, ask->user_id, &mine);
        if (*rc == TIX_OK && mine >= p->max_uses_per_user) {
            return TIX_PROMO_USER_LIMIT;
        }
    }
    return TIX_PROMO_OK;
}

tix_rc tix_promo_quote(tix_db *db, tix_arena *a, const tix_promo_ask *ask,
                       tix_promo_quote_result *out)
{
    char norm[TIX_PROMO_CODE_MAX + 1];
    memset(out, 0, sizeof(*out));
    out->problem = TIX_PROMO_UNKNOWN; /* also for what cannot be a code at all */
    tix_rc rc = tix_promo_normalize(ask->code, norm) ? tix_promo_by_code(db, a, norm, &out->promo)
                                                     : TIX_ENOTFOUND;
    if (rc == TIX_ENOTFOUND) {
        return TIX_EINVAL;
    }
    if (rc == TIX_OK) {
        out->problem = check_rules(db, &out->promo, ask, &rc);
    }
    if (rc == TIX_OK && out->problem != TIX_PROMO_OK) {
        rc = TIX_EINVAL;
    }
    if (rc == TIX_OK) {
        out->discount = tix_promo_discount(&out->promo, ask->amount, ask->min_charge);
    }
    return rc;
}

tix_promo_problem tix_promo_refusal_problem(tix_db *db, tix_arena *a, const char *promo_id,
                                            tix_promo_refusal why, int64_t now)
{
    tix_promo p;
    if (why == TIX_PROMO_REFUSED_USER) {
        return TIX_PROMO_USER_LIMIT;
    }
    if (tix_promo_get(db, a, promo_id, &p) != TIX_OK) {
        return TIX_PROMO_USED_UP;
    }
    if (!p.active) {
        return TIX_PROMO_INACTIVE;
    }
    if (p.valid_from != 0 && now < p.valid_from) {
        return TIX_PROMO_NOT_YET_VALID;
    }
    if (p.valid_until != 0 && now >= p.valid_until) {
        return TIX_PROMO_EXPIRED;
    }
    return TIX_PROMO_USED_UP;
}

tix_rc tix_promo_create(tix_db *db, tix_arena *a, const tix_principal *who, tix_promo *p,
                        tix_promo_write_problem *why)
{
    *why = TIX_PROMO_WRITE_OK;
    bool admin = who->role == TIX_ROLE_ADMIN;
    if (p->theatre_id == NULL && !admin) {
        *why = TIX_PROMO_WRITE_THEATRE_REQUIRED;
        return TIX_EINVAL;
    }
    if (p->theatre_id != NULL) {
        tix_theatre t;
        tix_rc rc = tix_theatre_get(db, a, p->theatre_id, &t);
        if (rc == TIX_ENOTFOUND) {
            *why = TIX_PROMO_WRITE_NO_THEATRE;
            return TIX_EINVAL;
        }
        rc = rc ? rc : tix_policy_can_modify(who, t.owner_id);
        if (rc != TIX_OK) {
            return rc;
        }
    }
    int64_t now = tix_now_ms();
    char *id = tix_arena_alloc(a, TIX_ID_MAX);
    tix_id_new(id, "prm");
    p->id = id;
    p->created_by = tix_arena_strdup(a, who->user_id);
    p->created_at = now;
    p->updated_at = now;
    p->active = true;
    p->uses = 0;
    tix_rc rc = tix_promo_insert(db, p);
    if (rc == TIX_ECONFLICT) {
        *why = TIX_PROMO_WRITE_CODE_TAKEN;
    }
    return rc == TIX_OK ? tix_promo_get(db, a, id, p) : rc;
}

tix_rc tix_promo_set(tix_db *db, tix_arena *a, const tix_principal *who, const char *id,
                     bool active, tix_promo *out)
{
    tix_rc rc = tix_promo_get(db, a, id, out);
    /* a code without a theatre is the admins' alone; others see no such code */
    rc = rc ? rc : tix_policy_can_view(who, out->theatre_owner_id);
    rc = rc ? rc : tix_promo_set_active(db, id, active, tix_now_ms());
    return rc ? rc : tix_promo_get(db, a, id, out);
}

tix_rc tix_promo_visible(tix_db *db, tix_arena *a, const tix_principal *who, tix_promo_filter *f,
                         tix_promo **items, int *n)
{
    f->owner_id = who->role == TIX_ROLE_ADMIN ? NULL : who->user_id;
    return tix_promo_list(db, a, f, items, n);
}
