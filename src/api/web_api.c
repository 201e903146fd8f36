/*
 * The web app (web/, API.md "Pages and operations"): plain HTML, CSS and JavaScript with no
 * build step, served from WEB_DIR by http/static.h (names checked, ETag, gzip). Each page is
 * one HTML file whose script calls the same JSON API as every other client; the page routes
 * carry ids only for the script to read from location, so any id gets the page, and the
 * script shows "not found" itself when the API says so.
 *
 *   /                 index.html    films and shows by city and date
 *   /shows/{id}       show.html     the live seat map (SSE), hold, pay (Razorpay Checkout or the
 *                                   test provider: see below)
 *   /bookings/{id}    booking.html  the booking's tickets with their QR codes
 *   /door             door.html     staff check-in: typed code, or the camera (BarcodeDetector)
 *   /sales            sales.html    an owner's sales report
 *   /docs             docs.html     docs/openapi.yaml rendered by Redoc (web/vendor, npm)
 *   /graphiql         graphiql.html GraphiQL on /api/v1/graphql (web/vendor: graphiql, react and
 *                                   react-dom UMD builds from npm; no CDN)
 *   /web/{file}, /web/vendor/{file}   the pages' scripts, styles and vendored libraries
 *   /docs/openapi.yaml               the contract, read from docs/ beside WEB_DIR
 *
 * Every page gets a Content-Security-Policy: scripts, styles and connections from this origin
 * only (no inline script anywhere in web/), images also from data: and blob: (the QR codes are
 * fetched with the bearer token and shown as blob: URLs). Redoc's page also allows inline
 * styles (its styled-components inject them) and blob: workers (its search index). GraphiQL's
 * page allows inline styles too (its editors set them) and data: fonts (its stylesheet inlines
 * them); its scripts are files from this origin like every other page's.
 *
 * Razorpay Checkout (when RAZORPAY_KEY_ID is set): the seat map's page learns it from
 * GET /api/v1/payments/config ({provider, key_id, checkout_url}; {provider: "test"} otherwise),
 * loads Checkout's script from RAZORPAY_CHECKOUT_URL, opens it on the order POST /bookings made
 * and posts Checkout's answer to POST /bookings/{id}/confirm. Only that page's policy then
 * grows, by exactly: script-src the script's origin; frame-src RAZORPAY_API_BASE's origin (where
 * Checkout's frame comes from: api.razorpay.com); connect-src both. Every other page, and that
 * page without Razorpay, keeps the policy above. The origins come from the configuration
 * (core/config_booking.c checks both URLs: https://, or http:// to this machine for a stand-in)
 * and are written into the header only when made of host characters.
 */
#include "api/handlers.h"
#include "app.h"
#include "http/static.h"

#include <jansson.h>
#include <string.h>

#define CSP_COMMON                                                                                 \
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "      \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const char csp_page[] = CSP_COMMON "; style-src 'self'";
/* The seat map's page with Razorpay Checkout, given Checkout's script origin and its frame's
 * (the API's) origin, then those two again: CSP_COMMON's directives but connect-src. */
#define CSP_CHECKOUT                                                                               \
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' %s %s; "                   \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "             \
    "style-src 'self'; script-src 'self' %s; frame-src %s"
static const char csp_docs[] = CSP_COMMON "; style-src 'self' 'unsafe-inline'; "
                                          "worker-src 'self' blob:; font-src 'self' data:";
static const char csp_graphiql[] = CSP_COMMON "; style-src 'self' 'unsafe-inline'; "
                                              "font-src 'self' data:";

typedef struct page {
    const char *pattern;
    const char *file;
} page;

static const page pages[] = {
    {"/", "index.html"},
    {"/shows/{id}", "show.html"},
    {"/bookings/{id}", "booking.html"},
    {"/door", "door.html"},
    {"/sales", "sales.html"},
    {"/docs", "docs.html"},
    {"/graphiql", "graphiql.html"},
};

/* The origin (scheme://host[:port]) of url, in the arena; NULL when it has none or holds a
 * character a host may not (so nothing else can reach the header). */
static const char *origin_of(tix_arena *a, const char *url)
{
    const char *host = strstr(url, "://");
    if (host == NULL || host == url) {
        return NULL;
    }
    host += 3;
    size_t n = strcspn(host, "/?#");
    if (n == 0) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok) {
            return NULL;
        }
    }
    return tix_arena_sprintf(a, "%.*s", (int)(host - url) + (int)n, url);
}

/* The seat map page's policy: csp_page, or with Checkout's origins when Razorpay is on. */
static const char *csp_show(tix_req *r)
{
    const tix_config *cfg = &r->app->cfg;
    if (cfg->razorpay_key_id[0] == '\0') {
        return csp_page;
    }
    const char *script = origin_of(r->arena, cfg->razorpay_checkout_url);
    const char *frame = origin_of(r->arena, cfg->razorpay_api_base);
    if (script == NULL || frame == NULL) {
        return csp_page; /* config_booking.c let neither through; Checkout simply won't load */
    }
    return tix_arena_sprintf(r->arena, CSP_CHECKOUT, script, frame, script, frame);
}

void tix_api_web_page(tix_req *r)
{
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        if (strcmp(r->route->pattern, pages[i].pattern) == 0) {
            const char *file = pages[i].file;
            const char *csp = strcmp(file, "docs.html") == 0       ? csp_docs
                              : strcmp(file, "graphiql.html") == 0 ? csp_graphiql
                              : strcmp(file, "show.html") == 0     ? csp_show(r)
                                                                   : csp_page;
            tix_reply_static(r, r->app->cfg.web_dir, file, csp);
            return;
        }
    }
    tix_reply_error(r, 404, "not_found", "no such page", NULL);
}

void tix_api_web_asset(tix_req *r)
{
    tix_reply_static(r, r->app->cfg.web_dir, tix_req_param(r, "file"), csp_page);
}

void tix_api_web_vendor(tix_req *r)
{
    const char *dir = tix_arena_sprintf(r->arena, "%s/vendor", r->app->cfg.web_dir);
    tix_reply_static(r, dir, tix_req_param(r, "file"), csp_page);
}

void tix_api_web_openapi(tix_req *r)
{
    const char *dir = tix_arena_sprintf(r->arena, "%s/../docs", r->app->cfg.web_dir);
    tix_reply_static(r, dir, "openapi.yaml", csp_page);
}

/* GET /api/v1/payments/config: how a page pays on this server. Public, like the key id that
 * POST /bookings already hands out; never a secret. */
void tix_api_payments_config(tix_req *r)
{
    const tix_config *cfg = &r->app->cfg;
    if (cfg->razorpay_key_id[0] == '\0') {
        tix_reply_json(r, 200, json_pack("{s:s}", "provider", "test"));
        return;
    }
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s}", "provider", "razorpay", "key_id",
                             cfg->razorpay_key_id, "checkout_url", cfg->razorpay_checkout_url));
}
