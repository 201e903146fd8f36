/*
 * The audit trail (API.md "Running a cinema"): who changed what, from where, and how it ended.
 *
 * What is recorded. Every write (POST, PUT, PATCH, DELETE) by a signed-in owner or admin, and on
 * routes flagged TIX_ROUTE_AUDIT_ALL (check-ins) every signed-in caller's attempt, staff and
 * plain users included. Refusals count as much as successes (a 403, a 409 already_checked_in):
 * the row keeps the HTTP status and the error code. Anonymous requests have no actor and are
 * never recorded; a plain user's own writes (a hold, a booking) are not an admin's or owner's act.
 *
 * Generic, in one place. Nothing per handler: the server calls tix_audit_record after every
 * handler (http/server_request.c), and the route table is the policy. A new write route is
 * covered the day it is added; the only way out is its row's audit_exempt, a sentence saying
 * why (login: there is no actor yet). tests/unit/test_audit.c walks the table and fails on a
 * write route that is neither audited for someone nor exempt with a reason, and on two routes
 * with the same action name.
 *
 * Names. The action comes from the route's pattern (tix_audit_action): "/api/v1" and a leading
 * "admin" segment dropped, a collection named by a parameter singular ("theatres/{id}" →
 * "theatre"), then the verb: a POST to a plural collection is "<noun>.create" ("hall.create");
 * a POST to any other literal is that literal ("theatre.approve", "show.cancel"); PATCH, PUT
 * and DELETE add "update", "replace" and "delete" ("show.update", "theatre.staff.delete").
 * The target is what the handler named (tix_audit_target: the door names the ticket), else for
 * a create that succeeded the new object's id from the answer ("id", "<noun>_id" or
 * "<noun>.id"), else the route's last path parameter typed by the segment before it.
 *
 * What is kept: actor id and role, action, method, route pattern, target, request id (the
 * X-Request-Id answered), the client IP as http/clientip.h trusts it, time, status and, for a
 * refusal, its error code. Never a body, a header or a query string: no password, token or
 * ticket code can land in the trail.
 *
 * When the audit write fails. The handler's transaction has committed by then (the row is
 * written after the handler answered, on the request's own connection outside any transaction,
 * or a fresh one). Turning a committed write into a 500 would lie to the client, who would
 * retry a change that happened; so the answer stands, the row is written in full to the error
 * log instead (the log is the trail's fallback: "audit write failed" plus every field) and
 * ticketd_audit_write_failures_total counts it, for an alert. The price of writing after the
 * commit: a process killed between the two loses that row (a crash, not a failure path).
 */
#ifndef TIX_HTTP_AUDIT_H
#define TIX_HTTP_AUDIT_H

#include "core/roles.h"
#include "http/router.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tix_req tix_req;

#define TIX_AUDIT_ACTION_MAX 96

/* Whether method writes (POST, PUT, PATCH, DELETE). */
bool tix_audit_is_write(const char *method);

/* The action name of route into out (cap bytes, truncated to fit). */
void tix_audit_action(const tix_route *route, char *out, size_t cap);

/* Whether a request on route by p is recorded (see above). */
bool tix_audit_wants(const tix_route *route, const tix_principal *p);

/* Names what the request acts on, for the trail (both strings must outlive the request:
 * literals or arena memory). A handler calls it when the route's own guess would be wrong. */
void tix_audit_target(tix_req *r, const char *type, const char *id);

/* After the handler answered: records r when tix_audit_wants says so. Never changes the
 * answer; a failed write is logged and counted (see above). */
void tix_audit_record(tix_req *r);

#endif
