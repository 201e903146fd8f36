/*
 * The client's address (see clientip.h). X-Forwarded-For entries may carry a port
 * ("203.0.113.7:4711", "[2001:db8::1]:443") or spaces; both are dropped. An entry that is not
 * an address ends the walk: the client is then the last good hop to its right.
 */
#include "http/clientip.h"

#include "app.h"
#include "core/arena.h"
#include "http/req.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

typedef struct addr {
    unsigned char b[16];
    bool v6;
} addr;

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses n bytes of s ("a.b.c.d", "a.b.c.d:port", "v6", "[v6]", "[v6]:port") into a. */
static bool parse_addr(const char *s, size_t n, addr *a)
{
    char buf[TIX_IP_TEXT];
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1])) {
        n--;
    }
    const char *colon = n > 0 ? memchr(s, ':', n) : NULL;
    if (n > 0 && *s == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            return false;
        }
        n = (size_t)(close - s - 1);
        s++;
    } else if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL) {
        n = (size_t)(colon - s); /* one colon: an IPv4 address and a port */
    }
    if (n == 0 || n >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, a->b) == 1) {
        a->v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, buf, a->b) != 1) {
        return false;
    }
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    a->v6 = memcmp(a->b, mapped, sizeof(mapped)) != 0;
    if (!a->v6) {
        memmove(a->b, a->b + 12, 4); /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d */
    }
    return true;
}

static bool in_block(const tix_cidr *c, const addr *a)
{
    if (c->v6 != a->v6) {
        return false;
    }
    size_t full = (size_t)c->bits / 8;
    unsigned rest = (unsigned)c->bits % 8;
    if (memcmp(c->addr, a->b, full) != 0) {
        return false;
    }
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return rest == 0 || (a->b[full] & mask) == c->addr[full];
}

static bool in_list(const tix_cidr *list, int n, const addr *a)
{
    for (int i = 0; i < n; i++) {
        if (in_block(&list[i], a)) {
            return true;
        }
    }
    return false;
}

bool tix_cidr_list_contains(const tix_cidr *list, int n, const char *ip)
{
    addr a;
    return parse_addr(ip, strlen(ip), &a) && in_list(list, n, &a);
}

void tix_client_ip_resolve(const tix_config *cfg, const char *peer, const char *xff,
                           char out[TIX_IP_TEXT])
{
    addr a;
    out[0] = '\0';
    if (peer == NULL || !parse_addr(peer, strlen(peer), &a)) {
        return;
    }
    if (cfg->trust_proxy && xff != NULL &&
        in_list(cfg->trusted_proxies, cfg->ntrusted_proxies, &a)) {
        size_t end = strlen(xff);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',') {
                start--;
            }
            addr hop;
            if (!parse_addr(xff + start, end - start, &hop)) {
                break;
            }
            a = hop;
            if (!in_list(cfg->trusted_proxies, cfg->ntrusted_proxies, &hop)) {
                break;
            }
            end = start > 0 ? start - 1 : 0;
        }
    }
    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.b, out, TIX_IP_TEXT);
}

typedef struct xff_acc {
    tix_arena *arena;
    char *joined;
} xff_acc;

/* Several X-Forwarded-For lines are one list, in order (RFC 9110, 5.3). */
static enum MHD_Result add_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    xff_acc *acc = cls;
    if (value != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
        acc->joined = acc->joined ? tix_arena_sprintf(acc->arena, "%s,%s", acc->joined, value)
                                  : tix_arena_strdup(acc->arena, value);
    }
    return MHD_YES;
}

void tix_client_ip(tix_req *r, char out[TIX_IP_TEXT])
{
    char peer[TIX_IP_TEXT] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer,
                  sizeof(peer));
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer,
                  sizeof(peer));
    }
    xff_acc acc = {r->arena, NULL};
    if (r->app->cfg.trust_proxy) {
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_xff, &acc);
    }
    tix_client_ip_resolve(&r->app->cfg, peer, acc.joined, out);
}
