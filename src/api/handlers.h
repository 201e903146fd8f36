/* Every HTTP handler, grouped by the file that implements it; routes.c binds them to paths. */
#ifndef TIX_API_HANDLERS_H
#define TIX_API_HANDLERS_H

#include "http/req.h"

/* auth_api.c */
void tix_api_register(tix_req *r);
void tix_api_login(tix_req *r);
void tix_api_refresh(tix_req *r);
void tix_api_logout(tix_req *r);
void tix_api_change_password(tix_req *r);
void tix_api_me(tix_req *r);
/* users_api.c */
void tix_api_admin_list_users(tix_req *r);
void tix_api_admin_update_user(tix_req *r);
/* health_api.c */
void tix_api_healthz(tix_req *r);
void tix_api_readyz(tix_req *r);
void tix_api_metrics(tix_req *r);

#endif
