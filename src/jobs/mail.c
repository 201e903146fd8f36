/* The mail job and delivery over SMTP or into .eml files (jobs/mail.h). */
#include "jobs/mail.h"

#include "auth/reset.h"
#include "booking/ticket_print.h"
#include "core/currency.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "media/qr.h"
#include "store/booking.h"
#include "store/outbox.h"
#include "store/users.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 4xx answers and network errors are tried this many times MAIL_MAX_ATTEMPTS */
#define TRANSIENT_FACTOR 4
#define CLAIM_MAX        10                              /* rows claimed at once */
#define RESET_MINUTES    (int)(TIX_RESET_TTL_MS / 60000) /* a reset token lasts this long */

/* ---- delivery: .eml files ---- */

/* mkdir -p path. false with errno set. */
static bool mkdirs(const char *path)
{
    char b[4096];
    if (snprintf(b, sizeof(b), "%s", path) >= (int)sizeof(b)) {
        errno = ENAMETOOLONG;
        return false;
    }
    for (char *p = b + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(b, 0750) != 0 && errno != EEXIST) {
                return false;
            }
            *p = '/';
        }
    }
    return mkdir(b, 0750) == 0 || errno == EEXIST;
}

static tix_mail_outcome deliver_file(const tix_config *cfg, const char *name, const char *msg,
                                     size_t len, char *err, size_t errlen)
{
    char tmp[4200];
    char dst[4200];
    snprintf(tmp, sizeof(tmp), "%s/.%s.eml.tmp", cfg->mail_dir, name);
    snprintf(dst, sizeof(dst), "%s/%s.eml", cfg->mail_dir, name);
    if (!mkdirs(cfg->mail_dir)) {
        snprintf(err, errlen, "MAIL_DIR: %s", strerror(errno));
        return TIX_MAIL_TRANSIENT;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    bool ok = fd >= 0;
    size_t off = 0;
    while (ok && off < len) {
        ssize_t w = write(fd, msg + off, len - off);
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) {
        ok = false;
    }
    ok = ok && rename(tmp, dst) == 0;
    if (!ok) {
        snprintf(err, errlen, "writing %s.eml: %s", name, strerror(errno));
        (void)unlink(tmp);
        return TIX_MAIL_TRANSIENT;
    }
    return TIX_MAIL_SENT;
}

/* ---- delivery: SMTP ---- */

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
    upload *u = ud;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;
    memcpy(dst, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Every option of one SMTP conversation on h. */
static void set_options(CURL *h, const tix_config *cfg, const char *from, struct curl_slist *rcpts,
                        upload *u, size_t len, char *cerr)
{
    bool smtps = strncmp(cfg->smtp_url, "smtps://", 8) == 0;
    curl_easy_setopt(h, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, u);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->mail_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->mail_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    if (!smtps) {
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         cfg->smtp_starttls_required ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    }
    /* TLS (smtps:// or STARTTLS) always verifies the peer and its host name (curl's default,
     * kept explicit); SMTP_CA_FILE replaces the system's CAs for a private one */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->smtp_ca_file[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->smtp_ca_file);
    }
    if (cfg->smtp_user[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp_user);
    }
    if (cfg->smtp_password[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->smtp_password);
    }
}

static tix_mail_outcome deliver_smtp(const tix_config *cfg, CURL *reuse, const char *to,
                                     const char *msg, size_t len, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *h = reuse ? reuse : curl_easy_init();
    if (reuse != NULL) {
        curl_easy_reset(h); /* options back to defaults; the open connection stays */
    }
    if (h == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return TIX_MAIL_TRANSIENT;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    char from[300];
    char rcpt[300];
    const char *lt = strrchr(cfg->mail_from, '<');
    if (lt != NULL) {
        snprintf(from, sizeof(from), "%s", lt);
    } else {
        snprintf(from, sizeof(from), "<%s>", cfg->mail_from);
    }
    snprintf(rcpt, sizeof(rcpt), "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    upload u = {msg, len};
    set_options(h, cfg, from, rcpts, &u, len, cerr);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpts);
    if (reuse == NULL) {
        curl_easy_cleanup(h);
    }
    if (rc == CURLE_OK) {
        return TIX_MAIL_SENT;
    }
    /* cerr never holds the URL's password: curl reports the host, not the credentials */
    snprintf(err, errlen, "smtp %ld: %s%s%s", code, curl_easy_strerror(rc), cerr[0] ? ": " : "",
             cerr);
    return code >= 500 && code < 600 ? TIX_MAIL_PERMANENT : TIX_MAIL_TRANSIENT;
}

tix_mail_outcome tix_mail_deliver(const tix_config *cfg, void *curl, const char *name,
                                  const char *to, const char *msg, size_t len, char *err,
                                  size_t errlen)
{
    err[0] = '\0';
    if (cfg->smtp_url[0] != '\0') {
        return deliver_smtp(cfg, curl, to, msg, len, err, errlen);
    }
    return deliver_file(cfg, name, msg, len, err, errlen);
}

/* ---- rendering a row ---- */

/* "2026-12-05 18:30 (UTC+05:30)": a time in the theatre's zone. */
/* "INR 550.50", "JPY 1800", "KWD 3.650": the currency's own decimals (core/currency.h). */
static char *money(tix_arena *a, const char *currency, int64_t amount)
{
    char buf[TIX_MONEY_TEXT_MAX];
    tix_currency_format(buf, currency, amount);
    return tix_arena_strdup(a, buf);
}

static char *local_time(tix_arena *a, int64_t ms, int offset_min)
{
    time_t t = (time_t)(ms / 1000 + (int64_t)offset_min * 60);
    struct tm tm;
    gmtime_r(&t, &tm);
    int off = offset_min < 0 ? -offset_min : offset_min;
    return tix_arena_sprintf(a, "%04d-%02d-%02d %02d:%02d (UTC%c%02d:%02d)", tm.tm_year + 1900,
                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                             offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

/* The value of "key" in a flat JSON object of strings (ours: store/outbox.c writes it, the only
 * escapes are \" and \\ and \u00XX), in the arena; NULL when absent. */
static char *json_field(tix_arena *a, const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *s = json ? strstr(json, pat) : NULL;
    if (s == NULL) {
        return NULL;
    }
    s += strlen(pat);
    char *out = tix_arena_alloc(a, strlen(s) + 1);
    size_t n = 0;
    for (; *s && *s != '"'; s++) {
        if (*s == '\\' && s[1] == 'u' && strlen(s) >= 6) {
            char hex[5] = {s[2], s[3], s[4], s[5], '\0'};
            out[n++] = (char)strtoul(hex, NULL, 16);
            s += 5;
        } else if (*s == '\\' && s[1]) {
            out[n++] = *++s;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return out;
}

/* An iCalendar event for a confirmed booking (an attachment any calendar takes). */
static char *ics_of(tix_arena *a, const char *booking_id, const tix_mail_booking *b,
                    const char *seats)
{
    char start[32];
    time_t t = (time_t)(b->starts_at / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(start, sizeof(start), "%Y%m%dT%H%M%SZ", &tm);
    return tix_arena_sprintf(a,
                             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ticketd//mail//EN\r\n"
                             "BEGIN:VEVENT\r\nUID:%s@ticketd\r\nDTSTAMP:%s\r\nDTSTART:%s\r\n"
                             "SUMMARY:%s\r\nLOCATION:%s\\, %s\r\nDESCRIPTION:Seats %s\r\n"
                             "END:VEVENT\r\nEND:VCALENDAR\r\n",
                             booking_id, start, start, b->movie, b->theatre, b->hall, seats);
}

typedef struct rendered {
    char *subject;
    char *body;
    tix_mail_attachment *att; /* arena, cap entries */
    int natt;
    int cap;
} rendered;

#define MAX_VARS 12

/* The keys of a password-reset mail: name, token, minutes. */
static tix_rc reset_vars(tix_db *db, tix_arena *a, const tix_outbox_row *r, const char **keys,
                         const char **vals, int *n)
{
    tix_user u;
    tix_rc rc = tix_user_by_id(db, r->ref_id, &u);
    if (rc != TIX_OK) {
        return rc;
    }
    char *token = json_field(a, r->data, "token");
    if (token == NULL) {
        return TIX_ENOTFOUND; /* scrubbed: sent before */
    }
    keys[*n] = "name", vals[(*n)++] = tix_arena_strdup(a, u.name);
    keys[*n] = "token", vals[(*n)++] = token;
    keys[*n] = "minutes", vals[(*n)++] = tix_arena_sprintf(a, "%d", RESET_MINUTES);
    return TIX_OK;
}

/* "A1, A2": the seats' labels. */
static char *seat_list(tix_arena *a, const tix_booking_seat *seats, int n)
{
    size_t cap = 1;
    for (int i = 0; i < n; i++) {
        cap += strlen(seats[i].label) + 2;
    }
    char *list = tix_arena_calloc(a, cap);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(list + len, cap - len, "%s%s", i ? ", " : "", seats[i].label);
    }
    return list;
}

/* A malloc'd buffer moved into the arena (freed here). */
static void *to_arena(tix_arena *a, unsigned char *p, size_t n)
{
    void *q = tix_arena_alloc(a, n ? n : 1);
    memcpy(q, p, n);
    free(p);
    return q;
}

/* A confirmed booking's tickets as attachments: the PDF of all of them and one QR PNG each
 * (booking/ticket_print.h, the same as GET /bookings/{id}/tickets.pdf and /tickets/{id}/qr.png).
 * Nothing when kr is NULL or the booking has no valid ticket any more (cancelled meanwhile).
 * out->att has room for every seat and two more. */
static tix_rc attach_tickets(tix_db *db, tix_arena *a, const tix_ticket_keyring *kr,
                             const char *booking_id, rendered *out)
{
    tix_booking bk;
    tix_printed_ticket *t = NULL;
    int n = 0;
    if (kr == NULL) {
        return TIX_OK;
    }
    tix_rc rc = tix_booking_get(db, a, booking_id, &bk);
    rc = rc ? rc : tix_booking_printed_tickets(db, a, kr, &bk, &t, &n);
    if (rc != TIX_OK || n == 0) {
        return rc == TIX_ENOTFOUND ? TIX_OK : rc;
    }
    unsigned char *pdf = NULL;
    size_t len = 0;
    rc = tix_booking_tickets_pdf(db, a, kr, &bk, &pdf, &len);
    if (rc == TIX_ECONFLICT) {
        return TIX_OK; /* not confirmed any more */
    }
    if (rc != TIX_OK) {
        return rc;
    }
    out->att[out->natt++] =
        (tix_mail_attachment){"tickets.pdf", "application/pdf", to_arena(a, pdf, len), len};
    for (int i = 0; i < n && out->natt < out->cap - 1; i++) {
        unsigned char *png = NULL;
        rc = tix_qr_png(t[i].token, 0, &png, &len);
        if (rc != TIX_OK) {
            return rc;
        }
        out->att[out->natt++] =
            (tix_mail_attachment){tix_arena_sprintf(a, "ticket-%s.png", t[i].seat), "image/png",
                                  to_arena(a, png, len), len};
    }
    return TIX_OK;
}

/* The keys of a booking's mail, and its attachments (out->att). */
static tix_rc booking_vars(tix_db *db, tix_arena *a, const tix_ticket_keyring *kr,
                           const tix_outbox_row *r, const char **keys, const char **vals, int *n,
                           rendered *out)
{
    char *bid = json_field(a, r->data, "booking_id");
    tix_mail_booking b;
    tix_booking_seat *seats = NULL;
    int nseats = 0;
    tix_rc rc = bid ? tix_outbox_booking_info(db, a, bid, &b) : TIX_ENOTFOUND;
    rc = rc ? rc : tix_booking_seats(db, a, bid, &seats, &nseats);
    if (rc != TIX_OK) {
        return rc;
    }
    char *list = seat_list(a, seats, nseats);
    keys[*n] = "name", vals[(*n)++] = b.user_name;
    keys[*n] = "booking_id", vals[(*n)++] = bid;
    keys[*n] = "movie", vals[(*n)++] = b.movie;
    keys[*n] = "theatre", vals[(*n)++] = b.theatre;
    keys[*n] = "hall", vals[(*n)++] = b.hall;
    keys[*n] = "starts_at", vals[(*n)++] = local_time(a, b.starts_at, b.utc_offset_minutes);
    keys[*n] = "seats", vals[(*n)++] = list;
    keys[*n] = "amount", vals[(*n)++] = money(a, b.currency, b.amount);
    char *prev = json_field(a, r->data, "previous_starts_at"); /* a show_rescheduled mail */
    int64_t prev_ms = 0;
    if (prev != NULL && tix_parse_int(prev, 0, INT64_MAX, &prev_ms)) {
        keys[*n] = "previous_starts_at",
        vals[(*n)++] = local_time(a, prev_ms, b.utc_offset_minutes);
        keys[*n] = "free_cancel_minutes";
        vals[(*n)++] = json_field(a, r->data, "free_cancel_minutes");
    }
    if (strcmp(r->kind, TIX_MAIL_BOOKING_CONFIRMED) == 0) {
        out->cap = nseats + 2;
        out->att = tix_arena_calloc(a, sizeof(*out->att) * (size_t)out->cap);
        rc = attach_tickets(db, a, kr, bid, out);
        char *ics = ics_of(a, bid, &b, list);
        out->att[out->natt++] =
            (tix_mail_attachment){"show.ics", "text/calendar", ics, strlen(ics)};
    }
    return rc;
}

/* Renders row r into out. TIX_ENOTFOUND when what it tells of is gone; TIX_EINVAL for a
 * template that does not exist or parse; other codes from the database. */
static tix_rc render_row(tix_job_ctx *c, const tix_outbox_row *r, rendered *out)
{
    tix_db *db = c->db;
    tix_arena *a = c->a;
    const char *keys[MAX_VARS];
    const char *vals[MAX_VARS];
    int n = 0;
    memset(out, 0, sizeof(*out));
    const char *text = tix_mail_template_find("en", r->template_name);
    if (text == NULL) {
        return TIX_EINVAL;
    }
    tix_rc rc = strcmp(r->kind, TIX_MAIL_PASSWORD_RESET) == 0
                    ? reset_vars(db, a, r, keys, vals, &n)
                    : booking_vars(db, a, c->ticket_keys, r, keys, vals, &n, out);
    if (rc != TIX_OK) {
        return rc;
    }
    return tix_mail_render(a, text, keys, vals, n, &out->subject, &out->body);
}

/* ---- the job ---- */

static bool stopping(const tix_job_ctx *c)
{
    return c->stop != NULL && atomic_load(c->stop);
}

static int64_t backoff(const tix_config *cfg, int attempts)
{
    int64_t d = cfg->mail_retry_ms;
    for (int i = 1; i < attempts && d < cfg->mail_retry_max_ms; i++) {
        d *= 2;
    }
    return d < cfg->mail_retry_max_ms ? d : cfg->mail_retry_max_ms;
}

/* Sends one claimed row and records the outcome. OUT: which count it adds to. */
static tix_rc send_row(tix_job_ctx *c, CURL *curl, const tix_outbox_row *r, const char **count)
{
    const tix_config *cfg = c->cfg;
    char err[512] = "";
    rendered m;
    tix_mail_outcome out = TIX_MAIL_PERMANENT;
    tix_rc rc = render_row(c, r, &m);
    if (rc == TIX_EUNAVAIL || rc == TIX_EBUSY || rc == TIX_EDB) {
        return rc; /* the row stays claimed; its lease lapses and it is tried again */
    }
    if (rc != TIX_OK) {
        snprintf(err, sizeof(err), "cannot render %s: %s", r->template_name, tix_rc_name(rc));
    } else {
        tix_mail_msg msg = {cfg->mail_from, r->to_addr,   m.subject, m.body,
                            r->message_id,  tix_now_ms(), m.att,     m.natt};
        char *text = NULL;
        size_t len = 0;
        tix_mail_build(c->a, &msg, &text, &len);
        out = tix_mail_deliver(cfg, curl, r->id, r->to_addr, text, len, err, sizeof(err));
    }
    int64_t now = tix_now_ms();
    if (out == TIX_MAIL_SENT) {
        *count = "sent";
        return tix_outbox_sent(c->db, r->id, m.subject,
                               strcmp(r->kind, TIX_MAIL_PASSWORD_RESET) == 0, now);
    }
    int64_t limit = cfg->mail_max_attempts * (out == TIX_MAIL_TRANSIENT ? TRANSIENT_FACTOR : 1);
    tix_log_warn("mail %s to outbox row %s (attempt %d): %s", r->kind, r->id, r->attempts, err);
    if (rc != TIX_OK || r->attempts >= limit) {
        *count = "failed";
        return tix_outbox_failed(c->db, r->id, err, now);
    }
    *count = "retry";
    return tix_outbox_later(c->db, r->id, now + backoff(cfg, r->attempts), err, now);
}

/* Sends n claimed rows in turn; once the server is stopping, hands the rest back (due at once)
 * instead of holding the shutdown for their SMTP conversations. */
static tix_rc send_claimed(tix_job_ctx *c, CURL *curl, const tix_outbox_row *rows, int n,
                           tix_job_counts *out)
{
    tix_rc rc = TIX_OK;
    int i = 0;
    const char *run_rid = tix_log_request_id();
    char job_rid[TIX_LOG_RID_MAX];
    snprintf(job_rid, sizeof(job_rid), "%s", run_rid ? run_rid : "");
    for (; i < n && rc == TIX_OK && !stopping(c); i++) {
        const char *count = "errors";
        /* the row's lines name the request that queued the mail (store/outbox.h) */
        const char *rid = json_field(c->a, rows[i].data, "request_id");
        tix_log_set_request_id(rid != NULL ? rid : job_rid);
        rc = send_row(c, curl, &rows[i], &count);
        if (strcmp(count, "sent") == 0) {
            tix_log_info("mail %s sent: outbox row %s (attempt %d)", rows[i].kind, rows[i].id,
                         rows[i].attempts);
        }
        tix_log_set_request_id(job_rid);
        tix_job_count_add(out, count, 1);
        tix_metrics_add(TIX_M_MAIL, count, 1);
        if (rc == TIX_ECONFLICT) {
            rc = TIX_OK; /* an admin or another sender moved it meanwhile */
        }
    }
    for (; i < n && rc == TIX_OK; i++) {
        tix_rc one = tix_outbox_later(c->db, rows[i].id, tix_now_ms(),
                                      "not sent: the server stopped", tix_now_ms());
        rc = one == TIX_ECONFLICT ? TIX_OK : one;
    }
    return rc;
}

tix_rc tix_job_mail(tix_job_ctx *c, tix_job_counts *out)
{
    tix_job_count_add(out, "sent", 0);
    tix_job_count_add(out, "retry", 0);
    tix_job_count_add(out, "failed", 0);
    tix_rc rc = TIX_OK;
    CURL *curl = NULL; /* one handle per run: its SMTP connection serves the next message too */
    if (c->cfg->smtp_url[0] != '\0') {
        pthread_once(&curl_once, curl_init_once);
        curl = curl_easy_init();
    }
    int64_t left = c->cfg->mail_batch;
    while (left > 0 && rc == TIX_OK && !stopping(c)) {
        /* a few rows per claim, each leased for as long as sending all of them may take */
        int k = left < CLAIM_MAX ? (int)left : CLAIM_MAX;
        int64_t lease = k * (2 * c->cfg->mail_timeout_ms) + 5000;
        tix_outbox_row *rows = NULL;
        int n = 0;
        rc = tix_outbox_claim(c->db, c->a, tix_now_ms(), lease, k, &rows, &n);
        if (rc != TIX_OK || n == 0) {
            break;
        }
        left -= n;
        rc = send_claimed(c, curl, rows, n, out);
    }
    if (curl != NULL) {
        curl_easy_cleanup(curl);
    }
    return rc;
}
