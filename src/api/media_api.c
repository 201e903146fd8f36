/*
 * Posters and trailers. POST /movies/{id}/poster and /trailer (admin) are upload routes: the
 * server streams the multipart "file" part to a temporary file and calls the handler twice
 * (see tix_upload in http/req.h). The first call checks the movie and sets the limits; the
 * second stores the file through the media store (local folder or Cloudinary), points the
 * movie at it and removes the media it replaced (best effort: a failure there is logged, the
 * upload still succeeds). The movie is repointed only if it still has the media the first call
 * saw (a compare-and-swap): of two uploads racing for one movie, the one that finishes second
 * removes its own file and answers 409 media_replaced, so every stored file is the movie's or
 * gone, never orphaned. A file whose bytes are no accepted type is 415
 * unsupported_media_type. GET /media/{kind}/{file} (public) serves the local store's files
 * straight from disk, and only names the store generates.
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "app.h"
#include "catalog/show_time.h"
#include "core/log.h"
#include "core/util.h"
#include "media/media.h"
#include "store/catalog.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *sniff_poster(const unsigned char *head, size_t n)
{
    const tix_media_type *t = tix_media_sniff(TIX_MEDIA_POSTER, head, n);
    return t ? t->mime : NULL;
}

static const char *sniff_trailer(const unsigned char *head, size_t n)
{
    const tix_media_type *t = tix_media_sniff(TIX_MEDIA_TRAILER, head, n);
    return t ? t->mime : NULL;
}

/* What the first call saw, for the second. */
typedef struct upload_note {
    const char *replaces; /* the public id of the movie's media of that kind; NULL: none */
} upload_note;

/* The first call, before the body: an unknown movie is a 404 before any byte is read. */
static void upload_begin(tix_req *r, tix_media_kind kind)
{
    tix_db *db = tix_req_db(r);
    tix_movie m;
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_movie_get(db, r->arena, tix_req_param(r, "id"), &m);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    bool poster = kind == TIX_MEDIA_POSTER;
    upload_note *note = tix_arena_calloc(r->arena, sizeof(*note));
    note->replaces = poster ? m.poster_public_id : m.trailer_public_id; /* arena strings */
    r->upload.handler_state = note;
    r->upload.max_bytes = poster ? r->app->cfg.poster_max_bytes : r->app->cfg.trailer_max_bytes;
    r->upload.sniff = poster ? sniff_poster : sniff_trailer;
    r->upload.accepted = poster ? "a JPEG, PNG or WebP image" : "an MP4 or WebM video";
}

/* Removes media that is no longer referenced; failures are only logged. */
static void forget(tix_req *r, tix_media_kind kind, const char *public_id)
{
    tix_rc rc = tix_media_remove(r->app->media, kind, public_id);
    if (rc != TIX_OK && rc != TIX_EINVAL) {
        tix_log_warn("media: could not remove the unreferenced %s %s (%s); it is orphaned",
                     tix_media_kind_name(kind), public_id, tix_rc_name(rc));
    }
}

/* Points the movie at the stored file if its media is still what the first call saw, and
 * removes whichever file is no longer referenced: the one replaced, or on failure our own. */
static tix_rc swap(tix_req *r, tix_db *db, tix_media_kind kind, const char *url,
                   const char *public_id)
{
    const upload_note *note = r->upload.handler_state;
    assert(note != NULL);
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_rc rc = tix_catalog_movie_swap_media(&c, tix_req_param(r, "id"), tix_media_kind_name(kind),
                                             url, public_id, note->replaces);
    if (rc != TIX_OK) {
        forget(r, kind, public_id); /* stored, but the movie is gone, moved on, or unwritable */
    } else if (note->replaces != NULL && strcmp(note->replaces, public_id) != 0) {
        forget(r, kind, note->replaces);
    }
    if (rc == TIX_ECONFLICT) {
        tix_log_info("media: the %s of movie %s was replaced during this upload; %s is removed",
                     tix_media_kind_name(kind), tix_req_param(r, "id"), public_id);
    }
    return rc;
}

/* The second call, with the file on disk. The store is called before any database
 * connection is taken: a Cloudinary upload may take a while. */
static void upload_end(tix_req *r, tix_media_kind kind)
{
    const char *id = tix_req_param(r, "id");
    if (r->upload.path == NULL) {
        tix_reply_error(r, 422, "validation_failed", "send the file in a part named \"file\"",
                        json_pack("{s:s,s:s}", "field", "file", "reason", "is required"));
        return;
    }
    tix_media_file f = {.kind = kind,
                        .path = r->upload.path,
                        .type = tix_media_type_by_mime(kind, r->upload.content_type),
                        .name_hint = id,
                        .size = r->upload.size};
    char *url = NULL;
    char *public_id = NULL;
    tix_rc rc = tix_media_put(r->app->media, r->arena, &f, &url, &public_id);
    tix_db *db = rc == TIX_OK ? tix_req_db(r) : NULL;
    if (rc == TIX_OK && db == NULL) {
        forget(r, kind, public_id);
        return; /* tix_req_db answered */
    }
    rc = rc ? rc : swap(r, db, kind, url, public_id);
    if (rc == TIX_ECONFLICT) {
        char msg[160];
        /* TRANSLATORS: %s is "poster" or "trailer" */
        snprintf(msg, sizeof(msg),
                 tix_tr(tix_req_lang(r), "another upload replaced this movie's %s while this one "
                                         "was in progress; this file was discarded"),
                 tix_media_kind_name(kind));
        tix_reply_error(r, 409, "media_replaced", msg, NULL);
        return;
    }
    tix_movie m;
    rc = rc ? rc : tix_movie_get(db, r->arena, id, &m);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    char today[11];
    tix_format_date(today, tix_now_ms());
    tix_reply_json(r, 200, tix_view_movie(&m, today));
}

static void upload(tix_req *r, tix_media_kind kind)
{
    if (r->upload.begin) {
        upload_begin(r, kind);
    } else {
        upload_end(r, kind);
    }
}

void tix_api_movie_poster(tix_req *r)
{
    upload(r, TIX_MEDIA_POSTER);
}

void tix_api_movie_trailer(tix_req *r)
{
    upload(r, TIX_MEDIA_TRAILER);
}

void tix_api_media_get(tix_req *r)
{
    tix_media_kind kind;
    const char *file = tix_req_param(r, "file");
    const tix_media_type *type = tix_media_kind_parse(tix_req_param(r, "kind"), &kind)
                                     ? tix_media_name_type(kind, file)
                                     : NULL;
    char *path = type ? tix_arena_sprintf(r->arena, "%s/%s/%s", r->app->cfg.media_dir,
                                          tix_media_kind_name(kind), file)
                      : NULL;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        tix_reply_error(r, 404, "not_found", "no such media file", NULL);
        return;
    }
    /* A file answer (see req.h): the server sends it from the descriptor and closes it. */
    r->status = 200;
    r->content_type = type->mime;
    r->resp_file = true;
    r->resp_fd = fd;
    r->resp_size = (uint64_t)st.st_size;
    /* Names are random and never reused: a stored file never changes. */
    tix_reply_header(r, "Cache-Control", "public, max-age=31536000, immutable");
    tix_reply_header(r, "X-Content-Type-Options", "nosniff");
}
