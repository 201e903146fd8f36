/*
 * Result codes shared by every module (libuv / SQLite style): a function that can fail
 * returns a tix_rc, TIX_OK (0) on success or a negative code, and fills its OUT: parameters
 * only on success. The mapping from a code to an HTTP status lives in http/reply.c, once.
 */
#ifndef TIX_CORE_RC_H
#define TIX_CORE_RC_H

#define TIX_MUSTCHECK __attribute__((warn_unused_result))

typedef enum tix_rc {
    TIX_OK = 0,
    TIX_EINVAL = -1,     /* bad input (422 unless a caller says otherwise) */
    TIX_ENOTFOUND = -2,  /* no such object, or not visible to the caller */
    TIX_ECONFLICT = -3,  /* duplicate, taken, or a state change not allowed */
    TIX_EAUTH = -4,      /* missing or bad credentials */
    TIX_EFORBIDDEN = -5, /* authenticated but not allowed */
    TIX_EDB = -6,        /* the database failed in a way that is our bug */
    TIX_EUNAVAIL = -7,   /* a dependency (database, cache, provider) is down */
    TIX_EUPSTREAM = -8,  /* a provider answered with an error */
    TIX_ENOMEM = -9,
    TIX_ETOOBIG = -10, /* a limit was exceeded */
    TIX_EBUSY = -11,   /* retry later (lock time-out, serialization failure) */
} tix_rc;

/* A static, lower-case name for the code ("conflict"); never NULL. */
const char *tix_rc_name(tix_rc rc);

#endif
