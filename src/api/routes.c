/*
 * The route table (Redis's command table): every endpoint of ticketd, with its handler, who
 * may call it and whether it reads a JSON body. Grep this file and you know the whole API.
 */
#include "api/routes.h"

#include "api/handlers.h"
#include "app.h"

#define V1    "/api/v1"
#define PUB   TIX_ACCESS_PUBLIC
#define USER  TIX_ACCESS_USER
#define OWNER TIX_ACCESS_OWNER
#define ADMIN TIX_ACCESS_ADMIN
#define JSON  TIX_ROUTE_JSON
#define IDEM  TIX_ROUTE_IDEMPOTENT
#define IDTX  TIX_ROUTE_IDEM_TX       /* the key joins the handler's transaction */
#define CSHOW TIX_ROUTE_CACHE_SHOW    /* cached per show: http/cached.h */
#define CCAT  TIX_ROUTE_CACHE_CATALOG /* cached per catalogue version */
#define CUSER TIX_ROUTE_CACHE_USER    /* cached per user */
#define INL   TIX_ROUTE_INLINE        /* never blocks: runs on the MHD thread */
#define RL(x) TIX_ROUTE_RL_##x        /* rate limited: http/ratelimit.h */
/* A write route the audit trail leaves out, and why (http/audit.h; test_audit.c checks). */
#define NOAUDIT(why) .audit_exempt = (why)

/* A cached route ends with the query parameters its handler reads (tix_route.query: the cache
 * key is made of them); every other row leaves that field out, so it is NULL. Every write route
 * is audited for owners and admins (http/audit.h) unless its row ends with NOAUDIT(why). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

const tix_route tix_routes[] = {
    /* operations */
    {"GET", "/healthz", tix_api_healthz, PUB, INL},
    {"GET", "/readyz", tix_api_readyz, PUB, 0},
    {"GET", "/metrics", tix_api_metrics, PUB, 0},
    {"GET", V1 "/healthz", tix_api_healthz, PUB, INL},
    {"GET", V1 "/readyz", tix_api_readyz, PUB, 0},
    {"GET", "/.well-known/ticketd-ticket-key", tix_api_ticket_key, PUB, INL},

    /* auth and users */
    {"POST", V1 "/auth/register", tix_api_register, PUB, JSON | RL(REGISTER),
     NOAUDIT("a new account's own sign-up: no actor yet, and always a plain user")},
    {"POST", V1 "/auth/login", tix_api_login, PUB, JSON | RL(LOGIN),
     NOAUDIT("signing in changes nothing of the business; failures meet the rate limiter")},
    {"POST", V1 "/auth/refresh", tix_api_refresh, PUB, JSON,
     NOAUDIT("a session's token rotation, anonymous by design (the refresh token is the key)")},
    {"POST", V1 "/auth/logout", tix_api_logout, PUB, JSON,
     NOAUDIT("ends the caller's own session; anonymous by design (the refresh token is the key)")},
    {"POST", V1 "/auth/change-password", tix_api_change_password, USER, JSON | RL(PASSWORD)},
    {"POST", V1 "/auth/password-reset", tix_api_password_reset, PUB, JSON | RL(RESET),
     NOAUDIT("anonymous, and must not tell whether the address exists; the outbox keeps the mail")},
    {"POST", V1 "/auth/password-reset/confirm", tix_api_password_reset_confirm, PUB, JSON,
     NOAUDIT("anonymous: the single-use token is the credential, no actor is signed in")},
    {"GET", V1 "/me", tix_api_me, USER, 0},
    {"PATCH", V1 "/me", tix_api_update_me, USER, JSON},
    {"GET", V1 "/me/recommendations", tix_api_me_recommendations, USER, 0},
    {"GET", V1 "/me/theatres", tix_api_me_theatres, USER, 0}, /* the door's: venues_api.c */
    {"DELETE", V1 "/me", tix_api_delete_me, USER, JSON},
    {"GET", V1 "/admin/users", tix_api_admin_list_users, ADMIN, 0},
    {"PATCH", V1 "/admin/users/{id}", tix_api_admin_update_user, ADMIN, JSON},

    /* GraphQL beside REST (api/graphql.h): public, each field applies its REST twin's rules */
    {"POST", V1 "/graphql", tix_api_graphql_post, PUB, JSON,
     NOAUDIT("reads; each mutation runs its REST route's handler and leaves that route's audit "
             "row (api/graphql_resolve.c)")},
    {"GET", V1 "/graphql", tix_api_graphql_get, PUB, 0},

    /* catalogue: public reads, owner/admin writes */
    {"GET", V1 "/movies", tix_api_movie_list, PUB, CCAT, "status q genre language limit cursor"},
    {"POST", V1 "/movies", tix_api_movie_create, ADMIN, JSON},
    {"GET", V1 "/movies/{id}", tix_api_movie_get, PUB, 0},
    {"PATCH", V1 "/movies/{id}", tix_api_movie_update, ADMIN, JSON},
    {"DELETE", V1 "/movies/{id}", tix_api_movie_delete, ADMIN, 0},
    {"POST", V1 "/movies/{id}/toggle-status", tix_api_movie_toggle, ADMIN, 0},
    {"POST", V1 "/movies/{id}/poster", tix_api_movie_poster, ADMIN, TIX_ROUTE_UPLOAD},
    {"POST", V1 "/movies/{id}/trailer", tix_api_movie_trailer, ADMIN, TIX_ROUTE_UPLOAD},
    {"GET", "/media/{kind}/{file}", tix_api_media_get, PUB, INL}, /* the local media store */
    {"GET", V1 "/theatres", tix_api_theatre_list, PUB, CCAT, "city owner_id limit cursor"},
    {"POST", V1 "/theatres", tix_api_theatre_create, OWNER, JSON},
    {"GET", V1 "/theatres/{id}", tix_api_theatre_get, PUB, 0},
    {"PATCH", V1 "/theatres/{id}", tix_api_theatre_update, OWNER, JSON},
    {"DELETE", V1 "/theatres/{id}", tix_api_theatre_delete, OWNER, 0},
    {"POST", V1 "/theatres/{id}/submit", tix_api_theatre_submit, OWNER, 0},
    {"POST", V1 "/theatres/{id}/halls", tix_api_hall_create, OWNER, JSON},
    {"GET", V1 "/halls/{id}", tix_api_hall_get, PUB, 0},
    {"PATCH", V1 "/halls/{id}", tix_api_hall_update, OWNER, JSON},
    {"DELETE", V1 "/halls/{id}", tix_api_hall_delete, OWNER, 0},
    {"GET", V1 "/shows", tix_api_show_list, PUB, CCAT,
     "date city movie_id theatre_id hall_id limit cursor display_currency"},
    {"POST", V1 "/shows", tix_api_show_create, OWNER, JSON},
    {"GET", V1 "/shows/{id}", tix_api_show_get, PUB, 0},
    {"PATCH", V1 "/shows/{id}", tix_api_show_update, OWNER, JSON},
    {"POST", V1 "/shows/{id}/cancel", tix_api_show_cancel, OWNER, 0},

    /* theatre onboarding: the admin queue and decisions (catalog.h) */
    {"GET", V1 "/admin/theatres", tix_api_admin_theatre_list, ADMIN, 0},
    {"POST", V1 "/admin/theatres/{id}/approve", tix_api_admin_theatre_approve, ADMIN, 0},
    {"POST", V1 "/admin/theatres/{id}/reject", tix_api_admin_theatre_reject, ADMIN, JSON},

    /* seats and booking (any signed-in role may book) */
    {"GET", V1 "/shows/{id}/seats", tix_api_seat_map, PUB, CSHOW, "display_currency"},
    {"GET", V1 "/shows/{id}/events", tix_api_show_events, PUB, 0}, /* Server-Sent Events */
    {"GET", V1 "/ws", tix_api_ws, PUB, 0},                         /* WebSocket: http/ws.h */
    {"POST", V1 "/shows/{id}/holds", tix_api_hold_create, USER,
     JSON | IDEM | IDTX | RL(HOLD) | TIX_ROUTE_QUEUE_LATER, NULL, NULL, tix_api_hold_now},
    {"DELETE", V1 "/holds/{id}", tix_api_hold_delete, USER, 0},
    {"POST", V1 "/bookings", tix_api_booking_create, USER, JSON | IDEM},
    {"GET", V1 "/bookings", tix_api_booking_list, USER, CUSER, "limit cursor"},
    {"GET", V1 "/bookings/{id}", tix_api_booking_get, USER, 0},
    {"POST", V1 "/bookings/{id}/confirm", tix_api_booking_confirm, USER, JSON | IDEM},
    {"POST", V1 "/bookings/{id}/cancel", tix_api_booking_cancel, USER, IDEM},
    {"GET", V1 "/bookings/{id}/tickets.pdf", tix_api_booking_pdf, USER, 0},
    {"GET", V1 "/tickets/{id}/qr.png", tix_api_ticket_qr_png, USER, 0},
    {"GET", V1 "/tickets/{id}/qr.svg", tix_api_ticket_qr_svg, USER, 0},
    {"POST", V1 "/payments/test/{order_id}/pay", tix_api_test_pay, USER, 0},
    {"GET", V1 "/payments/config", tix_api_payments_config, PUB, INL}, /* api/web_api.c */
    {"POST", V1 "/payments/razorpay/webhook", tix_api_razorpay_webhook, PUB, TIX_ROUTE_RAW,
     NOAUDIT("the payment provider, not a person; payment_events keeps every webhook")},

    /* payments: admin tools */
    {"GET", V1 "/admin/refunds", tix_api_admin_refund_list, ADMIN, 0},
    {"GET", V1 "/admin/refunds/{id}", tix_api_admin_refund_get, ADMIN, 0},
    {"POST", V1 "/admin/refunds/{id}/retry", tix_api_admin_refund_retry, ADMIN, IDEM},
    {"POST", V1 "/admin/payments/reconcile", tix_api_admin_reconcile, ADMIN, 0},

    /* promo codes: admins any, owners their theatres' (booking/promo.h) */
    {"POST", V1 "/promo-codes", tix_api_promo_create, OWNER, JSON},
    {"GET", V1 "/promo-codes", tix_api_promo_list, OWNER, 0},
    {"PATCH", V1 "/promo-codes/{id}", tix_api_promo_update, OWNER, JSON},

    /* mail: the outbox, for admins */
    {"GET", V1 "/admin/outbox", tix_api_admin_outbox_list, ADMIN, 0},
    {"POST", V1 "/admin/outbox/{id}/retry", tix_api_admin_outbox_retry, ADMIN, 0},

    /* display exchange rates (api/fx_api.h) */
    {"GET", V1 "/admin/fx-rates", tix_api_admin_fx_list, ADMIN, 0},
    {"PUT", V1 "/admin/fx-rates/{currency}", tix_api_admin_fx_put, ADMIN, JSON},

    /* the audit trail: every owner's and admin's write and every check-in (http/audit.h) */
    {"GET", V1 "/admin/audit", tix_api_admin_audit, ADMIN, 0},

    /* owner and admin reports (a theatre's bookings: its door staff too, booking/door.h) */
    {"GET", V1 "/theatres/{id}/bookings", tix_api_theatre_bookings, USER, 0},
    {"GET", V1 "/shows/{id}/sales", tix_api_show_sales, OWNER, 0},
    {"GET", V1 "/reports/sales", tix_api_sales_report, OWNER, 0}, /* booking/sales_report.h */

    /* the door: staff (owner, admin), check-ins (staff, owner, admin); booking/door.h */
    {"POST", V1 "/theatres/{id}/staff", tix_api_staff_add, OWNER, JSON},
    {"GET", V1 "/theatres/{id}/staff", tix_api_staff_list, OWNER, 0},
    {"DELETE", V1 "/theatres/{id}/staff/{user_id}", tix_api_staff_remove, OWNER, 0},
    {"POST", V1 "/theatres/{id}/check-ins", tix_api_check_in, USER, JSON | TIX_ROUTE_AUDIT_ALL},
    {"GET", V1 "/shows/{id}/check-ins", tix_api_show_check_ins, USER, 0},

    /* the web app: pages and their files from WEB_DIR, outside /api/v1 (api/web_api.c) */
    {"GET", "/", tix_api_web_page, PUB, 0},
    {"GET", "/shows/{id}", tix_api_web_page, PUB, 0},
    {"GET", "/bookings/{id}", tix_api_web_page, PUB, 0},
    {"GET", "/door", tix_api_web_page, PUB, 0},
    {"GET", "/sales", tix_api_web_page, PUB, 0},
    {"GET", "/docs", tix_api_web_page, PUB, 0},
    {"GET", "/graphiql", tix_api_web_page, PUB, 0},
    {"GET", "/docs/openapi.yaml", tix_api_web_openapi, PUB, 0},
    {"GET", "/web/{file}", tix_api_web_asset, PUB, 0},
    {"GET", "/web/vendor/{file}", tix_api_web_vendor, PUB, 0},
};

const size_t tix_routes_count = sizeof(tix_routes) / sizeof(tix_routes[0]);
