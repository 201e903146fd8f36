/*
 * Cloudinary request signing (pure; OpenSSL's SHA-1), exposed for unit tests. The client itself
 * is the media store created by tix_media_cloudinary_create (media.h).
 */
#ifndef TIX_MEDIA_CLOUDINARY_H
#define TIX_MEDIA_CLOUDINARY_H

#include <stdbool.h>
#include <stddef.h>

#define TIX_SHA1_HEX 41 /* 40 hex digits + NUL */
/* Parameters one request may sign at most. */
#define TIX_CLOUDINARY_MAX_PARAMS 16

typedef struct tix_cloudinary_param {
    const char *name;
    const char *value;
} tix_cloudinary_param;

/* Cloudinary's request signature: every parameter except file, cloud_name, resource_type and
 * api_key (and any with an empty value), sorted by name, joined as "k=v" with '&', the API
 * secret appended, hex SHA-1. Writes 40 lower-case hex digits to out. false if there are more
 * than TIX_CLOUDINARY_MAX_PARAMS parameters or the digest fails. */
bool tix_cloudinary_sign(const tix_cloudinary_param *params, size_t n, const char *secret,
                         char out[TIX_SHA1_HEX]);

#endif
