/*
 * The web app (web/, API.md "Pages and operations"): plain HTML, CSS and JavaScript with no
 * build step, served from WEB_DIR by http/static.h (names checked, ETag, gzip). Each page is
 * one HTML file whose script calls the same JSON API as every other client; the page routes
 * carry ids only for the script to read from location, so any id gets the page, and the
 * script shows "not found" itself when the API says so.
 *
 *   /                 index.html    films and shows by city and date
 *   /shows/{id}       show.html     the live seat map (SSE), hold, pay with the test provider
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
 */
#include "api/handlers.h"
#include "app.h"
#include "http/static.h"

#include <string.h>

#define CSP_COMMON                                                                                 \
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "      \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const char csp_page[] = CSP_COMMON "; style-src 'self'";
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

void tix_api_web_page(tix_req *r)
{
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        if (strcmp(r->route->pattern, pages[i].pattern) == 0) {
            const char *csp = strcmp(pages[i].file, "docs.html") == 0       ? csp_docs
                              : strcmp(pages[i].file, "graphiql.html") == 0 ? csp_graphiql
                                                                            : csp_page;
            tix_reply_static(r, r->app->cfg.web_dir, pages[i].file, csp);
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
