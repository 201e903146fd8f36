/*
 * Client addresses (http/clientip.c): the bytes' lines are TRUSTED_PROXIES (through the same
 * CIDR parser the configuration uses), the socket peer and X-Forwarded-For. Checks the answer
 * is "" or canonical address text that parses again to itself, and that it never comes from
 * the header when the proxy is not trusted.
 */
#include "core/config.h"
#include "fuzz.h"
#include "http/clientip.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t l1 = 0, r1 = 0, l2 = 0, r2 = 0;
    const uint8_t *rest = tix_fuzz_split(data, size, '\n', &l1, &r1);
    const uint8_t *xff_p = rest ? tix_fuzz_split(rest, r1, '\n', &l2, &r2) : NULL;
    char *proxies = tix_fuzz_strndup(data, l1);
    char *peer = tix_fuzz_strndup(rest ? rest : data, rest ? l2 : 0);
    char *xff = xff_p ? tix_fuzz_strndup(xff_p, r2) : NULL;
    tix_config *cfg = calloc(1, sizeof(*cfg));
    cfg->trust_proxy = size > 0 && (data[0] & 1);
    char *save = NULL;
    for (char *c = strtok_r(proxies, ",", &save);
         c != NULL && cfg->ntrusted_proxies < TIX_MAX_TRUSTED_PROXIES;
         c = strtok_r(NULL, ",", &save)) {
        if (tix_config_parse_cidr(c, &cfg->trusted_proxies[cfg->ntrusted_proxies])) {
            cfg->ntrusted_proxies++;
        }
    }
    char out[TIX_IP_TEXT];
    memset(out, 'x', sizeof(out));
    tix_client_ip_resolve(cfg, peer, xff, out);
    if (memchr(out, '\0', sizeof(out)) == NULL) {
        abort();
    }
    if (out[0] != '\0') {
        unsigned char buf[16];
        char again[TIX_IP_TEXT];
        int af = strchr(out, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(af, out, buf) != 1 || inet_ntop(af, buf, again, sizeof(again)) == NULL ||
            strcmp(again, out) != 0) {
            abort();
        }
    }
    char direct[TIX_IP_TEXT];
    tix_client_ip_resolve(cfg, peer, NULL, direct);
    if (!tix_cidr_list_contains(cfg->trusted_proxies, cfg->ntrusted_proxies, direct) &&
        strcmp(direct, out) != 0) {
        abort(); /* only a trusted proxy's header is believed */
    }
    (void)tix_cidr_list_contains(cfg->trusted_proxies, cfg->ntrusted_proxies, peer);
    free(cfg);
    free(proxies);
    free(peer);
    free(xff);
    return 0;
}
