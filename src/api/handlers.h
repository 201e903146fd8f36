/* Every HTTP handler, grouped by the file that implements it; routes.c binds them to paths. */
#ifndef TIX_API_HANDLERS_H
#define TIX_API_HANDLERS_H

#include "http/req.h"

/* promo_api.c (issue 12) */
typedef struct tix_booking tix_booking;
void tix_api_promo_create(tix_req *r);
void tix_api_promo_list(tix_req *r);
void tix_api_promo_update(tix_req *r);
/* Adds amount_before_discount, discount and promo_code to a booking's JSON view j. */
void tix_view_booking_discount(json_t *j, const tix_booking *b);
/* The message of a promo_code_* error code (booking/promo.h). */
const char *tix_api_promo_problem_message(const char *code);
/* auth_api.c */
void tix_api_register(tix_req *r);
void tix_api_login(tix_req *r);
void tix_api_refresh(tix_req *r);
void tix_api_logout(tix_req *r);
void tix_api_change_password(tix_req *r);
void tix_api_me(tix_req *r);
void tix_api_update_me(tix_req *r);
/* reco_api.c (issue 16) */
void tix_api_me_recommendations(tix_req *r);
void tix_api_delete_me(tix_req *r);
/* users_api.c */
void tix_api_admin_list_users(tix_req *r);
void tix_api_admin_update_user(tix_req *r);
/* health_api.c */
void tix_api_healthz(tix_req *r);
void tix_api_readyz(tix_req *r);
void tix_api_metrics(tix_req *r);
/* movies_api.c */
void tix_api_movie_create(tix_req *r);
void tix_api_movie_update(tix_req *r);
void tix_api_movie_delete(tix_req *r);
void tix_api_movie_toggle(tix_req *r);
void tix_api_movie_get(tix_req *r);
void tix_api_movie_list(tix_req *r);
/* media_api.c */
void tix_api_movie_poster(tix_req *r);
void tix_api_movie_trailer(tix_req *r);
void tix_api_media_get(tix_req *r);
/* web_api.c */
void tix_api_web_page(tix_req *r);
void tix_api_web_asset(tix_req *r);
void tix_api_web_vendor(tix_req *r);
void tix_api_web_openapi(tix_req *r);
void tix_api_payments_config(tix_req *r);
/* venues_api.c */
void tix_api_theatre_create(tix_req *r);
void tix_api_theatre_update(tix_req *r);
void tix_api_theatre_delete(tix_req *r);
void tix_api_theatre_get(tix_req *r);
void tix_api_theatre_list(tix_req *r);
void tix_api_me_theatres(tix_req *r);
void tix_api_hall_create(tix_req *r);
void tix_api_hall_update(tix_req *r);
void tix_api_hall_delete(tix_req *r);
void tix_api_hall_get(tix_req *r);
/* theatre_review_api.c */
void tix_api_admin_theatre_list(tix_req *r);
void tix_api_admin_theatre_approve(tix_req *r);
void tix_api_admin_theatre_reject(tix_req *r);
void tix_api_theatre_submit(tix_req *r);
/* booking_api.c */
void tix_api_seat_map(tix_req *r);
/* Shared with GraphQL (api/graphql_resolve.c), so both answer from one view: a seat's status
 * in a seat map (available | held | booked | blocked), and a booking's JSON view (seats,
 * tickets, payment state; refunds when with_refunds). */
typedef struct tix_map_seat tix_map_seat;
const char *tix_api_seat_status(const tix_map_seat *s);
json_t *tix_api_booking_view(tix_req *r, tix_db *db, const tix_booking *b, bool with_refunds);
/* movies_api.c: the LIKE pattern of ?q= (lower case, % _ \ escaped), arena-owned. */
char *tix_api_like_pattern(tix_req *r, const char *q);
/* tickets_api.c */
void tix_api_ticket_key(tix_req *r);
void tix_api_ticket_qr_png(tix_req *r);
void tix_api_ticket_qr_svg(tix_req *r);
void tix_api_booking_pdf(tix_req *r);
/* The signed token of a ticket (booking/ticket_token.h), in the arena; NULL when the server has
 * no signing key or a field does not fit. */
const char *tix_api_ticket_token(tix_req *r, const char *ticket_id, const char *show_id,
                                 const char *seat, int64_t starts_at_ms, const char *booking_id);
/* events_api.c */
void tix_api_show_events(tix_req *r);
/* graphql_api.c: POST and GET /api/v1/graphql (api/graphql.h) */
void tix_api_graphql_post(tix_req *r);
void tix_api_graphql_get(tix_req *r);
void tix_api_ws(tix_req *r);
void tix_api_hold_create(tix_req *r);
/* A hold sure to be refused, answered before the handler queue (tix_route.now): true when
 * answered (409, or 429), false when tix_api_hold_create must decide. */
bool tix_api_hold_now(tix_req *r);
void tix_api_hold_delete(tix_req *r);
void tix_api_booking_create(tix_req *r);
void tix_api_booking_get(tix_req *r);
void tix_api_booking_list(tix_req *r);
void tix_api_booking_confirm(tix_req *r);
void tix_api_booking_cancel(tix_req *r);
void tix_api_test_pay(tix_req *r);
/* payments_api.c */
void tix_api_razorpay_webhook(tix_req *r);
void tix_api_admin_refund_list(tix_req *r);
void tix_api_admin_refund_get(tix_req *r);
void tix_api_admin_refund_retry(tix_req *r);
/* mail (mail_api.c) */
void tix_api_admin_outbox_list(tix_req *r);
void tix_api_admin_outbox_retry(tix_req *r);
void tix_api_password_reset(tix_req *r);
void tix_api_password_reset_confirm(tix_req *r);
void tix_api_admin_reconcile(tix_req *r);
/* audit_api.c */
void tix_api_admin_audit(tix_req *r);
void tix_api_admin_fx_list(tix_req *r);
void tix_api_admin_fx_put(tix_req *r);
/* reports_api.c */
void tix_api_theatre_bookings(tix_req *r);
void tix_api_show_sales(tix_req *r);
void tix_api_sales_report(tix_req *r);
/* door_api.c */
void tix_api_staff_add(tix_req *r);
void tix_api_staff_list(tix_req *r);
void tix_api_staff_remove(tix_req *r);
void tix_api_check_in(tix_req *r);
void tix_api_show_check_ins(tix_req *r);
/* shows_api.c */
void tix_api_show_create(tix_req *r);
void tix_api_show_get(tix_req *r);
void tix_api_show_cancel(tix_req *r);
void tix_api_show_list(tix_req *r);
/* show_change_api.c */
void tix_api_show_update(tix_req *r);

#endif
