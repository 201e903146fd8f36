/*
 * What a media file is, decided from its bytes and never from what the client claims (the
 * part's Content-Type or file name): magic numbers at the start of the file. Pure functions
 * over static tables.
 */
#include "media/media.h"

#include <string.h>

static const tix_media_type jpeg = {"image/jpeg", "jpg"};
static const tix_media_type png = {"image/png", "png"};
static const tix_media_type webp = {"image/webp", "webp"};
static const tix_media_type mp4 = {"video/mp4", "mp4"};
static const tix_media_type webm = {"video/webm", "webm"};

static const tix_media_type *const poster_types[] = {&jpeg, &png, &webp, NULL};
static const tix_media_type *const trailer_types[] = {&mp4, &webm, NULL};

/* Length of a stored name's random part: 16 random bytes as hex. */
#define NAME_HEX 32

static const tix_media_type *const *types_of(tix_media_kind kind)
{
    return kind == TIX_MEDIA_POSTER ? poster_types : trailer_types;
}

const char *tix_media_kind_name(tix_media_kind kind)
{
    return kind == TIX_MEDIA_POSTER ? "poster" : "trailer";
}

bool tix_media_kind_parse(const char *s, tix_media_kind *out)
{
    if (s != NULL && strcmp(s, "poster") == 0) {
        *out = TIX_MEDIA_POSTER;
        return true;
    }
    if (s != NULL && strcmp(s, "trailer") == 0) {
        *out = TIX_MEDIA_TRAILER;
        return true;
    }
    return false;
}

static bool has(const unsigned char *head, size_t n, size_t off, const char *magic, size_t len)
{
    return n >= off + len && memcmp(head + off, magic, len) == 0;
}

/* ISO base media files ("ftyp" box) also carry still images (HEIF, AVIF): those brands are no
 * trailer. */
static bool is_video_ftyp(const unsigned char *head, size_t n)
{
    static const char *const image_brands[] = {"heic", "heix", "mif1", "msf1", "avif", "avis"};
    if (!has(head, n, 4, "ftyp", 4) || n < 12) {
        return false;
    }
    for (size_t i = 0; i < sizeof(image_brands) / sizeof(image_brands[0]); i++) {
        if (memcmp(head + 8, image_brands[i], 4) == 0) {
            return false;
        }
    }
    return true;
}

const tix_media_type *tix_media_sniff(tix_media_kind kind, const unsigned char *head, size_t n)
{
    if (kind == TIX_MEDIA_POSTER) {
        if (has(head, n, 0, "\xFF\xD8\xFF", 3)) {
            return &jpeg;
        }
        if (has(head, n, 0, "\x89PNG\r\n\x1A\n", 8)) {
            return &png;
        }
        if (has(head, n, 0, "RIFF", 4) && has(head, n, 8, "WEBP", 4)) {
            return &webp;
        }
        return NULL;
    }
    if (is_video_ftyp(head, n)) {
        return &mp4;
    }
    if (has(head, n, 0, "\x1A\x45\xDF\xA3", 4)) {
        return &webm;
    }
    return NULL;
}

const tix_media_type *tix_media_type_by_mime(tix_media_kind kind, const char *mime)
{
    for (const tix_media_type *const *t = types_of(kind); mime != NULL && *t != NULL; t++) {
        if (strcmp((*t)->mime, mime) == 0) {
            return *t;
        }
    }
    return NULL;
}

const tix_media_type *tix_media_name_type(tix_media_kind kind, const char *name)
{
    if (name == NULL || strlen(name) <= NAME_HEX + 1 || name[NAME_HEX] != '.') {
        return NULL;
    }
    for (size_t i = 0; i < NAME_HEX; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return NULL;
        }
    }
    for (const tix_media_type *const *t = types_of(kind); *t != NULL; t++) {
        if (strcmp(name + NAME_HEX + 1, (*t)->ext) == 0) {
            return *t;
        }
    }
    return NULL;
}
