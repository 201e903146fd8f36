/*
 * Picks and creates the media store from the configuration, and prepares MEDIA_DIR: the
 * folder for uploads in progress (both stores stream uploads to disk first) and, for the local
 * store, one folder per kind. Thin wrappers call through the interface.
 */
#include "media/media.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Upload files left behind by a crash are swept at start once they are this old (another
 * server sharing the folder may be writing younger ones right now). */
#define STALE_UPLOAD_S (24L * 3600)

/* mkdir -p: creates path and its missing parents. false with errno set on failure. */
static bool make_dirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf) || path[0] == '\0') {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, strlen(path) + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST) {
                return false;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) {
        return false;
    }
    struct stat st;
    if (stat(buf, &st) != 0) {
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return false;
    }
    return true;
}

/* Best effort: removes stale upload files from dir. */
static void sweep_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    time_t now = time(NULL);
    int removed = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        struct stat st;
        if (strncmp(e->d_name, "up-", 3) != 0) {
            continue;
        }
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > STALE_UPLOAD_S && unlink(path) == 0) {
            removed++;
        }
    }
    closedir(d);
    if (removed > 0) {
        tix_log_info("media: removed %d stale upload files from %s", removed, dir);
    }
}

static tix_rc prepare_dirs(const tix_config *cfg, bool local, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    const char *sub[] = {TIX_MEDIA_TMP_DIR, "poster", "trailer"};
    if (!make_dirs(cfg->media_dir, 0755)) {
        snprintf(err, errlen, "MEDIA_DIR %s cannot be created: %s", cfg->media_dir,
                 strerror(errno));
        return TIX_EINVAL;
    }
    for (int i = 0; i < (local ? 3 : 1); i++) {
        snprintf(path, sizeof(path), "%s/%s", cfg->media_dir, sub[i]);
        if (!make_dirs(path, i == 0 ? 0700 : 0755) || access(path, W_OK) != 0) {
            snprintf(err, errlen, "MEDIA_DIR: %s cannot be created or written: %s", path,
                     strerror(errno));
            return TIX_EINVAL;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", cfg->media_dir, TIX_MEDIA_TMP_DIR);
    sweep_stale(path);
    return TIX_OK;
}

tix_rc tix_media_create(const tix_config *cfg, tix_media **out, char *err, size_t errlen)
{
    bool cloudinary = cfg->cloudinary_cloud[0] != '\0';
    err[0] = '\0';
    tix_rc rc = prepare_dirs(cfg, !cloudinary, err, errlen);
    if (rc != TIX_OK) {
        return rc;
    }
    if (cloudinary) {
        rc = tix_media_cloudinary_create(cfg->cloudinary_api_base, cfg->cloudinary_cloud,
                                         cfg->cloudinary_key, cfg->cloudinary_secret,
                                         cfg->cloudinary_chunk_bytes, out);
    } else {
        rc = tix_media_local_create(cfg->media_dir, out);
    }
    if (rc != TIX_OK) {
        snprintf(err, errlen, "the %s media store cannot start (%s)",
                 cloudinary ? "Cloudinary" : "local", tix_rc_name(rc));
        return rc;
    }
    tix_log_info("media store: %s", cloudinary ? "cloudinary" : "local folder");
    return TIX_OK;
}

void tix_media_destroy(tix_media *m)
{
    if (m != NULL) {
        m->destroy(m);
    }
}

tix_rc tix_media_put(tix_media *m, tix_arena *a, const tix_media_file *f, char **url,
                     char **public_id)
{
    return m->put(m, a, f, url, public_id);
}

tix_rc tix_media_remove(tix_media *m, tix_media_kind kind, const char *public_id)
{
    return m->remove(m, kind, public_id);
}
