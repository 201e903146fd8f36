/* Names for result codes, for logs. */
#include "core/rc.h"

const char *tix_rc_name(tix_rc rc)
{
    switch (rc) {
    case TIX_OK:
        return "ok";
    case TIX_EINVAL:
        return "invalid";
    case TIX_ENOTFOUND:
        return "not_found";
    case TIX_ECONFLICT:
        return "conflict";
    case TIX_EAUTH:
        return "unauthorized";
    case TIX_EFORBIDDEN:
        return "forbidden";
    case TIX_EDB:
        return "database_error";
    case TIX_EUNAVAIL:
        return "unavailable";
    case TIX_EUPSTREAM:
        return "upstream_error";
    case TIX_ENOMEM:
        return "out_of_memory";
    case TIX_ETOOBIG:
        return "too_big";
    case TIX_EBUSY:
        return "busy";
    }
    return "unknown";
}
