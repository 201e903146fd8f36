/* JSON views; see views.h. */
#include "api/views.h"

#include <stdio.h>

json_t *tix_view_time(int64_t ms)
{
    char buf[TIX_RFC3339_MAX];
    tix_rfc3339(buf, ms);
    return json_string(buf);
}

json_t *tix_view_user(const tix_user *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s?,s:o,s:o}", "id", u->id, "email", u->email, "name",
                     u->name, "role", tix_role_name(u->role), "disabled", u->disabled_at != 0,
                     "locale", u->locale[0] != '\0' ? u->locale : NULL, "created_at",
                     tix_view_time(u->created_at), "updated_at", tix_view_time(u->updated_at));
}

json_t *tix_view_session(const tix_user *u, const tix_session_tokens *t)
{
    return json_pack("{s:o,s:s,s:s,s:s,s:I}", "user", tix_view_user(u), "access_token", t->access,
                     "refresh_token", t->refresh, "token_type", "Bearer", "expires_in",
                     (json_int_t)t->expires_in);
}

void tix_reply_verr(tix_req *r, const tix_verr *e)
{
    char msg[320];
    /* the field's name stays as the client sent it; the reason is translated */
    snprintf(msg, sizeof(msg), "%s %s", e->field ? e->field : "body",
             tix_tr(tix_req_lang(r), e->reason ? e->reason : N_("is invalid")));
    json_t *d = json_pack("{s:s,s:s}", "field", e->field ? e->field : "", "reason",
                          e->reason ? e->reason : "invalid");
    if (e->expected != NULL) {
        json_object_set_new(d, "expected", json_string(e->expected));
    }
    tix_reply_error(r, tix_verr_status(e), tix_verr_code(e), msg, d);
}

json_t *tix_view_page(tix_req *r, json_t *items, const char *next_key)
{
    const char *next = next_key != NULL ? tix_req_cursor_encode(r, next_key) : NULL;
    return json_pack("{s:o,s:s?}", "items", items, "next_cursor", next);
}

void tix_reply_page(tix_req *r, json_t *items, const char *next_key)
{
    tix_reply_json(r, 200, tix_view_page(r, items, next_key));
}
