/*
 * The pool of curl easy handles (see http_client.h): idle handles in a LIFO array under one
 * mutex, and a CURLSH for DNS and TLS sessions with one mutex per curl_lock_data.
 */
#include "core/http_client.h"

#include "core/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct tix_httpc {
    const char *name;
    pthread_mutex_t pool_lock;
    CURL **idle; /* idle[0..nidle): handles not in use, newest last */
    int nidle;
    int max_idle;
    CURLSH *share;                                    /* DNS cache and TLS session ids */
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST]; /* one per curl_lock_data */
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    tix_httpc *c = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST) {
        pthread_mutex_lock(&c->share_locks[data]);
    }
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    tix_httpc *c = ud;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST) {
        pthread_mutex_unlock(&c->share_locks[data]);
    }
}

/* The share, once the locks exist. false when curl refuses. */
static bool share_init(tix_httpc *c)
{
    c->share = curl_share_init();
    return c->share != NULL &&
           curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) == CURLSHE_OK &&
           curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) == CURLSHE_OK &&
           curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) == CURLSHE_OK &&
           curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) == CURLSHE_OK &&
           curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) == CURLSHE_OK;
}

tix_httpc *tix_httpc_create(const char *name, int max_idle)
{
    if (max_idle < 1 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return NULL;
    }
    tix_httpc *c = calloc(1, sizeof(*c));
    CURL **idle = calloc((size_t)max_idle, sizeof(*idle));
    if (c == NULL || idle == NULL) {
        free(c);
        free(idle);
        curl_global_cleanup();
        return NULL;
    }
    c->name = name;
    c->idle = idle;
    c->max_idle = max_idle;
    pthread_mutex_init(&c->pool_lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        pthread_mutex_init(&c->share_locks[i], NULL);
    }
    if (!share_init(c)) {
        tix_httpc_destroy(c);
        return NULL;
    }
    return c;
}

/* Frees the idle handles, then the share (no handle may use it any more), then the locks. */
void tix_httpc_destroy(tix_httpc *c)
{
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < c->nidle; i++) {
        curl_easy_cleanup(c->idle[i]);
    }
    if (c->share != NULL && curl_share_cleanup(c->share) != CURLSHE_OK) {
        tix_log_error("%s: a curl handle still used the share at shutdown", c->name);
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        pthread_mutex_destroy(&c->share_locks[i]);
    }
    pthread_mutex_destroy(&c->pool_lock);
    free(c->idle);
    free(c);
    curl_global_cleanup();
}

CURL *tix_httpc_take(tix_httpc *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->nidle > 0) {
        h = c->idle[--c->nidle];
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h == NULL) {
        h = curl_easy_init();
    }
    if (h != NULL) {
        curl_easy_setopt(h, CURLOPT_SHARE, c->share);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: time-outs without SIGALRM */
    }
    return h;
}

void tix_httpc_give(tix_httpc *c, CURL *h)
{
    if (h != NULL) {
        /* No option of the last call carries over, and no idle handle keeps pointers into
         * the caller's memory (headers, body, error buffer); its connections stay open. */
        curl_easy_reset(h);
    }
    pthread_mutex_lock(&c->pool_lock);
    if (h != NULL && c->nidle < c->max_idle) {
        c->idle[c->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    curl_easy_cleanup(h); /* the pool is full: this one goes, with its connections */
}
