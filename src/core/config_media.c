/*
 * Configuration of the media store (src/media): the local folder and upload limits, and
 * Cloudinary, given as CLOUDINARY_URL or as three separate variables. Errors never repeat a
 * Cloudinary value: they may hold the secret.
 */
#include "core/config_int.h"

#include <ctype.h>

/* The web app's folder when WEB_DIR is unset: the source tree's web/, set by CMakeLists.txt. */
#ifndef TIX_WEB_DIR_DEFAULT
#define TIX_WEB_DIR_DEFAULT "web"
#endif
#include <string.h>

/* Whether s is 1..cap-1 characters of letters, digits, '-', '_' or '.': the alphabet of
 * Cloudinary cloud names, API keys and secrets (also keeps them safe in URLs and forms). */
static bool cloudinary_token(const char *s, size_t len, size_t cap)
{
    if (len == 0 || len >= cap) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

/* CLOUDINARY_URL = cloudinary://<api_key>:<api_secret>@<cloud_name>[?options, ignored]. The
 * error never repeats the value: it holds the secret. */
static tix_rc parse_cloudinary_url(tix_config_parser *p, tix_config *cfg, const char *url)
{
    const char *scheme = "cloudinary://";
    bool ok_scheme = strncmp(url, scheme, strlen(scheme)) == 0;
    const char *key = ok_scheme ? url + strlen(scheme) : url;
    const char *colon = strchr(key, ':');
    const char *at = colon ? strchr(colon, '@') : NULL;
    const char *cloud = at ? at + 1 : NULL;
    size_t cloud_len = cloud ? strcspn(cloud, "?") : 0;
    if (!ok_scheme || at == NULL ||
        !cloudinary_token(key, (size_t)(colon - key), sizeof(cfg->cloudinary_key)) ||
        !cloudinary_token(colon + 1, (size_t)(at - colon - 1), sizeof(cfg->cloudinary_secret)) ||
        !cloudinary_token(cloud, cloud_len, sizeof(cfg->cloudinary_cloud))) {
        return tix_config_fail(p,
                               "CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@"
                               "<cloud_name> (letters, digits, '-', '_' and '.' only)");
    }
    memcpy(cfg->cloudinary_key, key, (size_t)(colon - key));
    memcpy(cfg->cloudinary_secret, colon + 1, (size_t)(at - colon - 1));
    memcpy(cfg->cloudinary_cloud, cloud, cloud_len);
    return TIX_OK;
}

/* The three separate variables, all or none. */
static tix_rc parse_cloudinary_parts(tix_config_parser *p, tix_config *cfg)
{
    static const char *const names[] = {"CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY",
                                        "CLOUDINARY_API_SECRET"};
    char *const dst[] = {cfg->cloudinary_cloud, cfg->cloudinary_key, cfg->cloudinary_secret};
    const size_t cap[] = {sizeof(cfg->cloudinary_cloud), sizeof(cfg->cloudinary_key),
                          sizeof(cfg->cloudinary_secret)};
    const char *v[3];
    int set = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = tix_config_value(p, names[i]);
        set += v[i] != NULL;
    }
    for (int i = 0; i < 3 && set > 0; i++) {
        if (v[i] == NULL) {
            return tix_config_fail(p,
                                   "%s is required: Cloudinary needs CLOUDINARY_CLOUD_NAME, "
                                   "CLOUDINARY_API_KEY and CLOUDINARY_API_SECRET together",
                                   names[i]);
        }
        if (!cloudinary_token(v[i], strlen(v[i]), cap[i])) {
            return tix_config_fail(
                p, "%s may hold only letters, digits, '-', '_' and '.' (at most %zu)", names[i],
                cap[i] - 1);
        }
        memcpy(dst[i], v[i], strlen(v[i]) + 1);
    }
    return TIX_OK;
}

static tix_rc parse_cloudinary(tix_config_parser *p, tix_config *cfg)
{
    const char *url = tix_config_value(p, "CLOUDINARY_URL");
    const char *base = tix_config_text(p, "CLOUDINARY_API_BASE");
    if (url != NULL && (tix_config_value(p, "CLOUDINARY_CLOUD_NAME") != NULL ||
                        tix_config_value(p, "CLOUDINARY_API_KEY") != NULL ||
                        tix_config_value(p, "CLOUDINARY_API_SECRET") != NULL)) {
        return tix_config_fail(
            p, "CLOUDINARY_URL and CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET are both "
               "set; set one or the other");
    }
    tix_rc rc = url ? parse_cloudinary_url(p, cfg, url) : parse_cloudinary_parts(p, cfg);
    if (rc != TIX_OK) {
        return rc;
    }
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) {
        return tix_config_fail(
            p, "CLOUDINARY_API_BASE must start with https:// (or http:// for a test "
               "stand-in)");
    }
    if (tix_config_copy_str(p, cfg->cloudinary_api_base, sizeof(cfg->cloudinary_api_base),
                            "CLOUDINARY_API_BASE", base) != TIX_OK) {
        return TIX_EINVAL;
    }
    tix_config_trim_slashes(cfg->cloudinary_api_base);
    /* Cloudinary takes about 100 MB per request and chunks of at least 5 MB (but the last). */
    return tix_config_get_num(p, "CLOUDINARY_CHUNK_SIZE", &cfg->cloudinary_chunk_bytes);
}

tix_rc tix_config_load_media(tix_config_parser *p, tix_config *cfg)
{
    tix_rc rc = tix_config_copy_str(p, cfg->media_dir, sizeof(cfg->media_dir), "MEDIA_DIR",
                                    tix_config_text(p, "MEDIA_DIR"));
    const char *web = tix_config_text(p, "WEB_DIR");
    rc = rc ? rc
            : tix_config_copy_str(p, cfg->web_dir, sizeof(cfg->web_dir), "WEB_DIR",
                                  web ? web : TIX_WEB_DIR_DEFAULT);
    if (rc != TIX_OK ||
        (rc = tix_config_get_num(p, "MEDIA_POSTER_MAX_BYTES", &cfg->poster_max_bytes)) != TIX_OK ||
        (rc = tix_config_get_num(p, "MEDIA_TRAILER_MAX_BYTES", &cfg->trailer_max_bytes)) !=
            TIX_OK ||
        (rc = tix_config_get_num(p, "MEDIA_UPLOAD_TIMEOUT", &cfg->upload_timeout_s)) != TIX_OK ||
        (rc = tix_config_get_num(p, "MEDIA_UPLOAD_CONCURRENCY", &cfg->upload_concurrency)) !=
            TIX_OK) {
        return rc;
    }
    return parse_cloudinary(p, cfg);
}
