/*
 * The media store: where movie posters and trailers live. An interface (a struct of function
 * pointers, like SQLite's VFS) with two implementations, picked by configuration:
 *   - local folder (local.c, the default): files under MEDIA_DIR/<kind>/<32 hex>.<ext>, served by
 *     ticketd itself at /media/<kind>/<file>;
 *   - Cloudinary (cloudinary.c): signed uploads and destroys through its REST API.
 * The store is created once at start (tix_media_create), shared by every worker thread (each
 * implementation is thread-safe) and destroyed at stop. The sniffing and name helpers below are
 * pure functions.
 */
#ifndef TIX_MEDIA_MEDIA_H
#define TIX_MEDIA_MEDIA_H

#include "core/arena.h"
#include "core/config.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum tix_media_kind { TIX_MEDIA_POSTER, TIX_MEDIA_TRAILER } tix_media_kind;

/* A file type a kind accepts: its content type and the extension stored files get. */
typedef struct tix_media_type {
    const char *mime; /* "image/png" */
    const char *ext;  /* "png" */
} tix_media_type;

/* How many leading bytes tix_media_sniff needs to tell every accepted type apart. */
#define TIX_MEDIA_SNIFF_BYTES 12
/* The subfolder of MEDIA_DIR that holds uploads in progress (both stores use it). */
#define TIX_MEDIA_TMP_DIR "tmp"

/* "poster" or "trailer". */
const char *tix_media_kind_name(tix_media_kind kind);
/* Parses "poster" / "trailer"; false for anything else. */
bool tix_media_kind_parse(const char *s, tix_media_kind *out);

/* The type of a file from its first n bytes (magic numbers: JPEG, PNG, WebP for posters; MP4,
 * WebM for trailers), or NULL when it is none that kind accepts. Static result. */
const tix_media_type *tix_media_sniff(tix_media_kind kind, const unsigned char *head, size_t n);
/* The accepted type of kind with this content type, or NULL. */
const tix_media_type *tix_media_type_by_mime(tix_media_kind kind, const char *mime);
/* The type of a local file name of kind, or NULL unless name is exactly "<32 lower-case
 * hex>.<an extension kind accepts>" (so no path, no "..", nothing else can pass). */
const tix_media_type *tix_media_name_type(tix_media_kind kind, const char *name);

/* A finished upload to store. */
typedef struct tix_media_file {
    tix_media_kind kind;
    const char *path;           /* a file in MEDIA_DIR/tmp; put may move it away */
    const tix_media_type *type; /* as sniffed */
    const char *name_hint;      /* e.g. the movie id; may appear in the stored name */
    int64_t size;
} tix_media_file;

typedef struct tix_media tix_media;

/* The interface. Every function is safe to call from several threads at once. */
struct tix_media {
    const char *name; /* "local" | "cloudinary", for logs */
    /* put sends the file to a remote service, blocking its thread for the whole transfer
     * (minutes for a large trailer): the server bounds how many run at once
     * (MEDIA_UPLOAD_CONCURRENCY). false: put only moves a local file. */
    bool remote;
    /* Stores f. OUT: *url (what clients fetch) and *public_id (what remove takes), both in a.
     * On failure nothing is stored: TIX_EUPSTREAM (the provider refused or could not be
     * reached) or TIX_EUNAVAIL (local disk). The caller removes f->path afterwards if it is
     * still there. */
    tix_rc (*put)(tix_media *m, tix_arena *a, const tix_media_file *f, char **url,
                  char **public_id);
    /* Removes what put stored; an object already gone counts as removed (TIX_OK). */
    tix_rc (*remove)(tix_media *m, tix_media_kind kind, const char *public_id);
    void (*destroy)(tix_media *m);
};

/* Creates the store the configuration asks for (Cloudinary when cfg->cloudinary_cloud is set,
 * else the local folder) and the folders under cfg->media_dir it needs. On failure err holds
 * one sentence naming the setting. Free with tix_media_destroy. */
TIX_MUSTCHECK tix_rc tix_media_create(const tix_config *cfg, tix_media **out, char *err,
                                      size_t errlen);
/* NULL does nothing. */
void tix_media_destroy(tix_media *m);

TIX_MUSTCHECK tix_rc tix_media_put(tix_media *m, tix_arena *a, const tix_media_file *f, char **url,
                                   char **public_id);
TIX_MUSTCHECK tix_rc tix_media_remove(tix_media *m, tix_media_kind kind, const char *public_id);

/* The two implementations (tix_media_create picks one). */
TIX_MUSTCHECK tix_rc tix_media_local_create(const char *dir, tix_media **out);
/* Cloudinary: a file larger than chunk_bytes goes up in chunks of chunk_bytes (cloudinary.c). */
TIX_MUSTCHECK tix_rc tix_media_cloudinary_create(const char *api_base, const char *cloud,
                                                 const char *api_key, const char *api_secret,
                                                 int64_t chunk_bytes, tix_media **out);

#endif
