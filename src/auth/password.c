/* argon2id through libsodium, with a semaphore capping concurrent hashes; see password.h. */
#include "auth/password.h"

#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <string.h>

_Static_assert(TIX_PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES,
               "core/model.h: a hash fits its buffer");

static unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
static sem_t slots;
static bool ready;
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

void tix_password_init(tix_pwhash_cost cost, int max_parallel)
{
    switch (cost) {
    case TIX_PWHASH_INTERACTIVE:
        opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    case TIX_PWHASH_MODERATE:
        opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    case TIX_PWHASH_MIN:
        opslimit = crypto_pwhash_OPSLIMIT_MIN;
        memlimit = crypto_pwhash_MEMLIMIT_MIN;
        break;
    }
    if (!ready) {
        sem_init(&slots, 0, (unsigned)(max_parallel > 0 ? max_parallel : 1));
        ready = true;
    }
}

static void acquire(void)
{
    if (ready) {
        while (sem_wait(&slots) != 0) {
        }
    }
}

static void release(void)
{
    if (ready) {
        sem_post(&slots);
    }
}

tix_rc tix_password_hash(const char *password, char *hash)
{
    acquire();
    int rc = crypto_pwhash_str(hash, password, strlen(password), opslimit, memlimit);
    release();
    return rc == 0 ? TIX_OK : TIX_ENOMEM;
}

bool tix_password_verify(const char *hash, const char *password)
{
    acquire();
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    release();
    return rc == 0;
}

static void make_dummy(void)
{
    unsigned char pw[16];
    randombytes_buf(pw, sizeof(pw));
    if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), opslimit, memlimit) != 0) {
        dummy_hash[0] = '\0';
    }
}

void tix_password_verify_dummy(const char *password)
{
    pthread_once(&dummy_once, make_dummy);
    if (dummy_hash[0] != '\0') {
        (void)tix_password_verify(dummy_hash, password);
    }
}
