/*
 * Static files: the web app's pages, scripts and styles (WEB_DIR, api/web_api.c) sent from a
 * directory on disk, so a page edited in web/ shows on the next reload and there is no build
 * step. One call answers a request with one file:
 *
 *   - Names: the caller passes a directory it chose and one name that came from the path; the
 *     name must be 1..128 characters of [A-Za-z0-9._-] starting with a letter or digit, so no
 *     "..", no hidden file, no '/' and no NUL can reach open(2), and the file is opened with
 *     O_NOFOLLOW (a symlink planted in the directory is not followed). Its extension picks
 *     the Content-Type from a fixed list; any other name is a 404, as is anything that is not
 *     a regular file.
 *   - Caching: every answer carries an ETag made of the file's size and modification time (as
 *     nginx does) and Cache-Control: no-cache, so browsers keep the file and revalidate it; a
 *     matching If-None-Match is a 304 with no body. The names are not fingerprinted, so no
 *     answer is cached without revalidation.
 *   - Compression: text (HTML, CSS, JS, SVG, YAML, JSON, plain text) of TIX_COMPRESS_MIN bytes
 *     or more goes out gzip-compressed to clients that accept it, at the per-request level of
 *     http/encoding.h, with its own ETag ("...-gz": another representation) and Vary; other
 *     files and other clients get the file sent straight from its descriptor.
 *   - Headers: X-Content-Type-Options: nosniff, Referrer-Policy: same-origin, and the
 *     Content-Security-Policy the caller gives (NULL: none).
 */
#ifndef TIX_HTTP_STATIC_H
#define TIX_HTTP_STATIC_H

#include <stdbool.h>

typedef struct tix_req tix_req;

/* Whether name may be served (the rule above). Pure. */
bool tix_static_name_ok(const char *name);
/* The Content-Type for name's extension, or NULL when it is not one served. Static text. */
const char *tix_static_type(const char *name);
/* Answers r with dir/name (404 not_found when the name is refused or there is no such regular
 * file). dir and csp must outlive the request (configuration or literals). */
void tix_reply_static(tix_req *r, const char *dir, const char *name, const char *csp);

#endif
