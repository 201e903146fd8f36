/*
 * The local-folder media store (the default). A stored file is MEDIA_DIR/<kind>/<name> with
 * name = 32 random hex digits + the sniffed type's extension; its URL is /media/<kind>/<name>
 * (served by src/api/media_api.c) and its public_id "<kind>/<name>". Uploads arrive in
 * MEDIA_DIR/tmp, on the same file system, so storing one is a rename: atomic, no copy.
 * The store holds only the folder path, so it is trivially thread-safe.
 */
#include "core/log.h"
#include "core/util.h"
#include "media/media.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct local_store {
    tix_media base; /* first: a tix_media * is a local_store * */
    char dir[PATH_MAX];
} local_store;

static tix_rc local_put(tix_media *m, tix_arena *a, const tix_media_file *f, char **url,
                        char **public_id)
{
    local_store *s = (local_store *)m;
    const char *kind = tix_media_kind_name(f->kind);
    unsigned char raw[16];
    char hex[sizeof(raw) * 2 + 1];
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(hex, raw, sizeof(raw));
    char *name = tix_arena_sprintf(a, "%s.%s", hex, f->type->ext);
    char *dest = tix_arena_sprintf(a, "%s/%s/%s", s->dir, kind, name);
    /* Readable by a front proxy that may serve MEDIA_DIR directly; temp files start 0600. */
    if (chmod(f->path, 0644) != 0 || rename(f->path, dest) != 0) {
        tix_log_error("media: cannot store %s as %s: %s", f->path, dest, strerror(errno));
        return TIX_EUNAVAIL;
    }
    *url = tix_arena_sprintf(a, "/media/%s/%s", kind, name);
    *public_id = tix_arena_sprintf(a, "%s/%s", kind, name);
    return TIX_OK;
}

static tix_rc local_remove(tix_media *m, tix_media_kind kind, const char *public_id)
{
    local_store *s = (local_store *)m;
    const char *kname = tix_media_kind_name(kind);
    size_t klen = strlen(kname);
    /* Only names this store made: anything else (a Cloudinary id left from an earlier
     * configuration, a forged value) is not a local file. */
    if (strncmp(public_id, kname, klen) != 0 || public_id[klen] != '/' ||
        tix_media_name_type(kind, public_id + klen + 1) == NULL) {
        return TIX_EINVAL;
    }
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", s->dir, public_id);
    if (unlink(path) != 0 && errno != ENOENT) {
        tix_log_warn("media: cannot remove %s: %s", path, strerror(errno));
        return TIX_EUNAVAIL;
    }
    return TIX_OK;
}

static void local_destroy(tix_media *m)
{
    free(m);
}

tix_rc tix_media_local_create(const char *dir, tix_media **out)
{
    local_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    if (strlen(dir) >= sizeof(s->dir)) {
        free(s);
        return TIX_EINVAL;
    }
    memcpy(s->dir, dir, strlen(dir) + 1);
    s->base.name = "local";
    s->base.put = local_put;
    s->base.remove = local_remove;
    s->base.destroy = local_destroy;
    *out = &s->base;
    return TIX_OK;
}
