/*
 * Who is calling, by address: the socket peer, or behind a reverse proxy the address the proxy
 * saw. With TRUST_PROXY on and the peer inside TRUSTED_PROXIES, X-Forwarded-For is read from
 * the right (the hop the nearest proxy appended) and the first address that is not itself a
 * trusted proxy is the client; everything left of it was written by the client and is never
 * believed. With TRUST_PROXY off, or a peer that is not a trusted proxy, the header is ignored.
 * Results are canonical text (inet_ntop; IPv4-mapped IPv6 becomes IPv4), so equal addresses
 * give equal strings (rate-limit keys rely on it).
 */
#ifndef TIX_HTTP_CLIENTIP_H
#define TIX_HTTP_CLIENTIP_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tix_req tix_req;

/* Room for any address text, IPv6 included. */
#define TIX_IP_TEXT 64

/* The request's client address into out (TIX_IP_TEXT bytes); "" if the socket has none. */
void tix_client_ip(tix_req *r, char out[TIX_IP_TEXT]);

/* The pure part: the client address given the peer's address text and the X-Forwarded-For
 * value (NULL when absent). A peer that does not parse gives "". */
void tix_client_ip_resolve(const tix_config *cfg, const char *peer, const char *xff,
                           char out[TIX_IP_TEXT]);

/* Whether the address text lies inside one of the blocks. */
bool tix_cidr_list_contains(const tix_cidr *list, int n, const char *ip);

#endif
