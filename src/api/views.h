/* JSON views of domain objects: the one place that decides how each object looks on the wire. */
#ifndef TIX_API_VIEWS_H
#define TIX_API_VIEWS_H

#include "auth/session.h"
#include "http/req.h"
#include "http/validate.h"
#include "store/users.h"

#include <jansson.h>

/* {id, email, name, role, created_at, updated_at}: never the password hash. New reference. */
json_t *tix_view_user(const tix_user *u);
/* {user, access_token, refresh_token, token_type, expires_in}. New reference. */
json_t *tix_view_session(const tix_user *u, const tix_session_tokens *t);
/* An RFC 3339 string for ms since the epoch. New reference. */
json_t *tix_view_time(int64_t ms);
/* A page of a list (API.md: `{"items": [...], "next_cursor": "…"|null}`), read with limit + 1
 * rows: next_key is the cursor key of the page's last item when there was a row more (n >
 * limit), else NULL; it is encoded here (tix_req_cursor_encode). Takes items. New reference. */
json_t *tix_view_page(tix_req *r, json_t *items, const char *next_key);
/* Answers 200 with tix_view_page(r, items, next_key). */
void tix_reply_page(tix_req *r, json_t *items, const char *next_key);
/* Answers a validation error (400 invalid_type or 422 validation_failed, with the field). */
void tix_reply_verr(tix_req *r, const tix_verr *e);

#endif
