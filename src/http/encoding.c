/* Content-Encoding negotiation and compression of answers (see encoding.h). */
#include "http/encoding.h"

#include "core/gzip.h"
#include "http/req.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The q-value of one Accept-Encoding element's parameters ("; q=0.5"): 1 when absent; 0 for
 * anything malformed, so a broken element never enables an encoding. */
static double qvalue(const char *params, size_t n)
{
    const char *p = params;
    const char *end = params + n;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) {
            p++;
        }
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char num[8];
            size_t k = 0;
            p += 2;
            while (p < end && *p != ';' && *p != ' ' && *p != '\t' && k < sizeof(num) - 1) {
                num[k++] = *p++;
            }
            num[k] = '\0';
            char *stop = NULL;
            double q = strtod(num, &stop);
            return (k > 0 && *stop == '\0' && q >= 0 && q <= 1) ? q : 0;
        }
        while (p < end && *p != ';') {
            p++;
        }
    }
    return 1;
}

/* The list element at *p (Accept-Encoding is comma-separated): its coding in tok[0..tlen)
 * (tlen 0 for an empty element) and its ";q=..." parameters in params[0..plen); *p moves past
 * it. */
static void next_coding(const char **p, const char **tok, size_t *tlen, const char **params,
                        size_t *plen)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',') {
        s++;
    }
    *tok = s;
    while (*s && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
        s++;
    }
    *tlen = (size_t)(s - *tok);
    *params = s;
    while (*s && *s != ',') {
        s++;
    }
    *plen = (size_t)(s - *params);
    *p = s;
}

bool tix_accepts_gzip(const char *ae)
{
    if (ae == NULL) {
        return false; /* no header: any encoding is allowed, but identity is the safe choice */
    }
    double gzip = -1; /* not named */
    double star = -1;
    const char *p = ae;
    while (*p) {
        const char *tok = NULL;
        const char *params = NULL;
        size_t tlen = 0;
        size_t plen = 0;
        next_coding(&p, &tok, &tlen, &params, &plen);
        if (tlen == 0) {
            continue;
        }
        double q = qvalue(params, plen);
        if ((tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0)) {
            gzip = q > gzip ? q : gzip;
        } else if (tlen == 1 && *tok == '*') {
            star = q;
        }
    }
    return gzip >= 0 ? gzip > 0 : star > 0;
}

bool tix_req_accepts_gzip(tix_req *r)
{
    return tix_accepts_gzip(tix_req_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

void tix_reply_compress(tix_req *r)
{
    if (r->resp_encoding != NULL || r->resp_file || r->stream != NULL || r->resp == NULL ||
        r->resp_len < TIX_COMPRESS_MIN || r->content_type == NULL ||
        strncmp(r->content_type, "application/json", 16) != 0) {
        return;
    }
    tix_reply_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    char *gz = NULL;
    size_t gzlen = 0;
    if (tix_req_accepts_gzip(r) &&
        tix_gzip(r->arena, r->resp, r->resp_len, TIX_GZIP_LEVEL_NOW, &gz, &gzlen) &&
        gzlen < r->resp_len) {
        r->resp = gz;
        r->resp_len = gzlen;
        r->resp_encoding = "gzip";
        tix_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
}
