/*
 * Theatres and halls (catalog.h): who may change them, and what a deletion or a new layout
 * must respect. A deletion is one transaction: the claims check, the cancellation of the
 * future shows and the soft delete, so no hold lands in between on a show about to go. A hall's
 * deletion and layout change take the hall's lock first (tix_hall_lock), the same lock a new
 * show takes, so a show scheduled at that instant is either seen by the checks or waits.
 * A new theatre is "pending" until an admin approves it (onboarding.c); an edit never changes
 * the status (tix_theatre_update does not write it), so the owner of a rejected theatre edits
 * it and then submits it again.
 */
#include "catalog/catalog_int.h"
#include "core/util.h"
#include "store/users.h"

#include <stdlib.h>
#include <string.h>

static tix_rc refuse(tix_catalog_refusal *why, const char *code)
{
    why->why = code;
    return TIX_ECONFLICT;
}

tix_rc tix_catalog_theatre_create(tix_catalog_ctx *c, tix_theatre *t, const char *owner_id,
                                  tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    t->owner_id = (char *)c->who->user_id;
    if (owner_id != NULL && strcmp(owner_id, c->who->user_id) != 0) {
        if (c->who->role != TIX_ROLE_ADMIN) {
            why->why = "theatre_for_other_owner";
            return TIX_EFORBIDDEN;
        }
        tix_user u;
        tix_rc rc = tix_user_by_id(c->db, owner_id, &u);
        if (rc == TIX_ENOTFOUND || (rc == TIX_OK && u.role == TIX_ROLE_USER)) {
            (void)tix_verr_value(&why->verr, "owner_id",
                                 "must be the id of an owner or admin account");
            return TIX_EINVAL;
        }
        if (rc != TIX_OK) {
            return rc;
        }
        t->owner_id = tix_arena_strdup(c->a, owner_id);
    }
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "thr");
    t->id = id;
    t->created_at = t->updated_at = t->submitted_at = tix_now_ms();
    t->status = "pending"; /* public and open for shows once an admin approves (onboarding.c) */
    t->rejection_reason = NULL;
    t->reviewed_at = 0;
    return tix_catalog_committed(tix_theatre_insert(c->db, t));
}

/* Onboarding's visibility (catalog.h), here with the loads that apply it. */
bool tix_catalog_theatre_visible(const tix_principal *who, const char *status, const char *owner_id)
{
    return (status != NULL && strcmp(status, "approved") == 0) ||
           tix_policy_can_view(who, owner_id) == TIX_OK;
}

tix_rc tix_catalog_theatre_for_change(tix_catalog_ctx *c, const char *id, tix_theatre *out)
{
    tix_rc rc = tix_theatre_get(c->db, c->a, id, out);
    if (rc == TIX_OK && !tix_catalog_theatre_visible(c->who, out->status, out->owner_id)) {
        return TIX_ENOTFOUND; /* not approved: as if it did not exist, for all but its owner */
    }
    return rc ? rc : tix_policy_can_modify(c->who, out->owner_id);
}

tix_rc tix_catalog_theatre_update(tix_catalog_ctx *c, tix_theatre *t)
{
    t->updated_at = tix_now_ms();
    return tix_catalog_committed(tix_theatre_update(c->db, t));
}

tix_rc tix_catalog_theatre_delete(tix_catalog_ctx *c, const char *id, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_theatre t;
    tix_rc rc = tix_catalog_theatre_for_change(c, id, &t);
    return rc ? rc : tix_catalog_retire(c, TIX_CATALOG_THEATRE, id, why);
}

/* The canonical text of layout l, in c's arena. */
static char *layout_text(tix_catalog_ctx *c, const tix_layout *l)
{
    json_t *j = tix_layout_to_json(l);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *copy = tix_arena_strdup(c->a, s ? s : "{}");
    free(s);
    return copy;
}

tix_rc tix_catalog_hall_create(tix_catalog_ctx *c, const tix_theatre *t, const char *name,
                               const tix_layout *l, tix_hall *out)
{
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "hal");
    *out = (tix_hall){.id = id,
                      .theatre_id = t->id,
                      .owner_id = t->owner_id,
                      .name = tix_arena_strdup(c->a, name),
                      .layout = layout_text(c, l),
                      .seat_count = l->nseats};
    out->created_at = out->updated_at = tix_now_ms();
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_hall_insert(c->db, out, l);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    return tix_catalog_committed(rc);
}

tix_rc tix_catalog_hall_for_change(tix_catalog_ctx *c, const char *id, tix_hall *out)
{
    tix_rc rc = tix_hall_get(c->db, c->a, id, out);
    if (rc == TIX_OK && !tix_catalog_theatre_visible(c->who, out->theatre_status, out->owner_id)) {
        return TIX_ENOTFOUND; /* a hall of a theatre the caller may not see */
    }
    return rc ? rc : tix_policy_can_modify(c->who, out->owner_id);
}

/* The first category of l that a scheduled show of the hall has no price for (NULL if none). */
static tix_rc first_unpriced(tix_catalog_ctx *c, const char *hall_id, const tix_layout *l,
                             int64_t now, const char **out)
{
    tix_rc rc = TIX_OK;
    *out = NULL;
    for (int i = 0; rc == TIX_OK && *out == NULL && i < l->ncategories; i++) {
        bool missing = false;
        rc = tix_hall_category_unpriced(c->db, hall_id, l->categories[i], now, &missing);
        *out = missing ? tix_arena_strdup(c->a, l->categories[i]) : NULL;
    }
    return rc;
}

/* Inside the transaction, under the hall's lock: whether h may take layout l (the layout
 * rules of catalog.h); TIX_ECONFLICT with why when not. */
static tix_rc layout_change_allowed(tix_catalog_ctx *c, const tix_hall *h, const tix_layout *l,
                                    tix_catalog_refusal *why)
{
    bool claims = false;
    const char *unpriced = NULL;
    tix_rc rc = tix_catalog_future_claims(c->db, h->id, NULL, NULL, h->updated_at, &claims);
    rc = rc == TIX_OK && claims ? refuse(why, "hall_has_bookings") : rc;
    rc = rc ? rc : first_unpriced(c, h->id, l, h->updated_at, &unpriced);
    if (rc == TIX_OK && unpriced != NULL) {
        why->category = unpriced;
        rc = refuse(why, "hall_category_unpriced");
    }
    return rc;
}

tix_rc tix_catalog_hall_update(tix_catalog_ctx *c, tix_hall *h, const char *name,
                               const tix_layout *l, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    h->name = name ? tix_arena_strdup(c->a, name) : h->name;
    h->layout = l ? layout_text(c, l) : h->layout;
    h->seat_count = l ? l->nseats : h->seat_count;
    h->updated_at = tix_now_ms();
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_hall_lock(c->db, h->id);
    rc = rc == TIX_OK && l != NULL ? layout_change_allowed(c, h, l, why) : rc;
    rc = rc ? rc : tix_hall_update(c->db, h, l);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    return tix_catalog_committed(rc);
}

tix_rc tix_catalog_hall_delete(tix_catalog_ctx *c, const char *id, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_hall h;
    tix_rc rc = tix_catalog_hall_for_change(c, id, &h);
    return rc ? rc : tix_catalog_retire(c, TIX_CATALOG_HALL, h.id, why);
}
