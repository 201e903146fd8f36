/*
 * Configuration values: the bytes are KEY=VALUE lines fed to tix_config_load through a getter
 * (the environment's place), so every setting's parser (integers, durations, switches, URLs,
 * CIDR lists, rate limits, secrets) sees fuzzed text; then the first value through the
 * duration and CIDR parsers directly. A refusal must explain itself in err.
 */
#include "core/config.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VARS 24

typedef struct vars {
    int n;
    char *name[MAX_VARS];
    char *value[MAX_VARS];
} vars;

static const char *get(const char *name, void *ctx)
{
    const vars *v = ctx;
    for (int i = 0; i < v->n; i++) {
        if (strcmp(v->name[i], name) == 0) {
            return v->value[i];
        }
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = tix_fuzz_strndup(data, size);
    vars v = {0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && v.n < MAX_VARS;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        v.name[v.n] = line;
        v.value[v.n] = eq + 1;
        v.n++;
    }
    /* One static config, cleared per input: a fresh calloc of this large struct costs the
     * sanitizer allocator an mmap and page faults every run (half the time per input). */
    static tix_config cfg_store;
    tix_config *cfg = &cfg_store;
    memset(cfg, 0, sizeof(*cfg));
    char err[256] = "";
    tix_rc rc = tix_config_load(cfg, get, &v, err, sizeof(err));
    if (rc != TIX_OK && (rc != TIX_EINVAL || err[0] == '\0')) {
        abort();
    }
    if (v.n > 0) {
        int64_t s = 0;
        tix_cidr c;
        if (tix_config_parse_duration(v.value[0], &s) && s < 0) {
            abort();
        }
        if (tix_config_parse_duration_ms(v.value[0], &s) && s < 0) {
            abort();
        }
        if (tix_config_parse_cidr(v.value[0], &c) && (c.bits < 0 || c.bits > (c.v6 ? 128 : 32))) {
            abort();
        }
    }
    free(text);
    return 0;
}
