/*
 * Upload routes (TIX_ROUTE_UPLOAD): auth, role and Content-Type are checked and the handler's
 * begin call made on the FIRST callback, so errors go out before the body is read; the body
 * streams through http/upload.c to a temporary file (never into memory), and the reaper's clock
 * moves on with every chunk up to MEDIA_UPLOAD_TIMEOUT.
 * Storing an upload in a remote store (Cloudinary) holds a handler thread (http/workpool.h)
 * for the whole transfer; so at most MEDIA_UPLOAD_CONCURRENCY such uploads run at once (a slot
 * is taken on the first callback and given back on completion, whatever happened), and one
 * more is answered 503 too_many_uploads before its body is read, leaving the other handler
 * threads to bookings (see take_upload_slot).
 */
#include "core/util.h"
#include "http/audit.h"
#include "http/server_int.h"
#include "media/media.h"

/* An upload slot, when the media store is remote: false (with 503 too_many_uploads answered)
 * when MEDIA_UPLOAD_CONCURRENCY uploads already hold one. A Cloudinary upload holds its handler
 * thread until the file is sent (a 200 MiB trailer, with retries, may take minutes); bounding
 * the uploads keeps the other handler threads free. The slot is held from here to on_completed. */
static bool take_upload_slot(req_state *st)
{
    tix_server *s = st->s;
    tix_req *r = &st->r;
    int limit = (int)s->app->cfg.upload_concurrency;
    if (s->app->media == NULL || !s->app->media->remote) {
        return true;
    }
    int n = atomic_load(&s->uploads);
    while (n < limit && !atomic_compare_exchange_weak(&s->uploads, &n, n + 1)) {
    }
    if (n >= limit) {
        tix_reply_header(r, "Retry-After", "30");
        tix_reply_error(r, 503, "too_many_uploads", "too many uploads are in progress; retry later",
                        json_pack("{s:i}", "limit", limit));
        return false;
    }
    st->upload_slot = true;
    return true;
}

/* First callback of an upload: checks, the handler's begin call, then streaming starts. True
 * when that answered the request (an error, marked Connection: close): the caller queues it at
 * once (allowed on the first call; MHD then closes the connection without reading the body,
 * and a client that sent "Expect: 100-continue" never sends it). */
bool tix_server_upload_begin(req_state *st)
{
    tix_req *r = &st->r;
    if (tix_server_check_encoding(st) && tix_server_admit(st) && tix_upload_accepts(r)) {
        r->upload.begin = true;
        r->route->handler(r);
        r->upload.begin = false;
        /* No database connection is held while the body arrives (it may take minutes). */
        r->db_calls += tix_db_calls(r->db);
        tix_db_release(st->s->app->db, r->db);
        r->db = NULL;
        if (!tix_req_answered(r) && take_upload_slot(st)) {
            (void)tix_upload_start(r, &st->up); /* answers its own errors */
        }
    }
    if (!tix_req_answered(r)) {
        return false;
    }
    tix_audit_record(r); /* a refused upload is an attempt too; run_handler never runs */
    r->db_calls += tix_db_calls(r->db);
    tix_db_release(st->s->app->db, r->db);
    r->db = NULL;
    tix_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return true;
}

/* Body bytes of an upload. An upload may take longer than REQUEST_TIMEOUT: each chunk moves
 * the reaper's clock on, so REQUEST_TIMEOUT bounds the silence between chunks, but never past
 * start + MEDIA_UPLOAD_TIMEOUT - REQUEST_TIMEOUT, which bounds the whole upload. false: close
 * the connection (a refused body that keeps coming). */
bool tix_server_upload_progress(req_state *st, const char *data, size_t size)
{
    const tix_config *cfg = &st->s->app->cfg;
    if (st->up == NULL) {
        return true; /* already answered on the first call: drop */
    }
    if (st->t != NULL) {
        int64_t cap =
            st->r.start_us / 1000 + (cfg->upload_timeout_s - cfg->request_timeout_s) * 1000;
        int64_t now = tix_mono_ms();
        atomic_store(&st->t->since_ms, now < cap ? now : cap);
    }
    return tix_upload_feed(st->up, data, size);
}

/* Last callback of an upload: the handler's second call, unless the body was refused. */
void tix_server_upload_end(req_state *st)
{
    tix_req *r = &st->r;
    if (st->up != NULL && tix_upload_finish(st->up)) {
        r->route->handler(r);
    }
}
