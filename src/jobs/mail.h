/*
 * Mail: the `mail` lifecycle job sends the outbox (store/outbox.h), and the pieces it is made of.
 *
 * Templates are files, templates/mail/<lang>/<name>.txt, compiled into the binary at build time
 * (cmake/embed_templates.cmake, like the migrations): a first line "Subject: ...", an empty
 * line, then the text/plain body. {{key}} is replaced by that key's value; an unknown key by
 * nothing. Values are inserted as they are and never scanned again (a value holding "{{x}}"
 * stays that text), and CR/LF in a value that lands in the Subject become spaces (no header
 * can be injected).
 *
 * A booking-confirmed mail carries the tickets as attachments: the PDF of all of them and one
 * QR PNG per ticket (booking/ticket_print.h, the same bytes the ticket routes serve) and an
 * iCalendar event. A message is built once, as the full RFC 5322 text with MIME
 * (multipart/mixed: the text/plain body, then the attachments, each base64), and the same bytes go
 * either to SMTP (libcurl, uploading the message as DATA) or to an .eml file. Its Message-ID is the
 * outbox row's
 * (<id@ticketd>): the same on every attempt, so a message sent again after a lost reply is
 * recognisable as the same one.
 *
 * Delivery (tix_mail_deliver): with SMTP_URL, libcurl's SMTP (smtp:// with STARTTLS when the
 * server offers it, or required with SMTP_STARTTLS=required; smtps://; AUTH from the URL or
 * SMTP_USER/SMTP_PASSWORD), the whole conversation bounded by MAIL_TIMEOUT. Without, the file
 * MAIL_DIR/<outbox id>.eml, written to a temporary name and renamed (a reader never sees half a
 * message; a retry overwrites the same name).
 *
 * The job claims due rows a few at a time (leased for twice MAIL_TIMEOUT each; a row the job
 * stops before, or a sender that died, leaves the rows to be claimed again once the lease
 * lapses), and for each renders, delivers and records the outcome: sent; a 5xx answer → tried again
 * after the back-off until MAIL_MAX_ATTEMPTS, then failed; a 4xx answer or a network error
 * (refused, time-out, dropped connection) → back-off (MAIL_RETRY doubling per attempt, capped at
 * MAIL_RETRY_MAX) until 4 x MAIL_MAX_ATTEMPTS, then failed; a row that cannot be rendered (its
 * booking is gone) → failed at once. Failed rows wait for an admin (POST /admin/outbox/{id}/retry).
 *
 * Exactly once is not possible over SMTP: when the server took the message but its reply was
 * lost, the retry delivers it again, with the same Message-ID (receivers and mail clients
 * fold duplicates by it).
 */
#ifndef TIX_JOBS_MAIL_H
#define TIX_JOBS_MAIL_H

#include "core/arena.h"
#include "core/config.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One embedded template (the generated mail_templates_gen.c). */
typedef struct tix_mail_template {
    const char *name; /* "<lang>/<name>", e.g. "en/booking_confirmed" */
    const char *text;
} tix_mail_template;
extern const tix_mail_template tix_mail_templates[];
extern const int tix_mail_templates_count;

/* The template "<lang>/<name>", falling back to "en/<name>"; NULL when there is neither. */
const char *tix_mail_template_find(const char *lang, const char *name);

/* Renders text (a template) with keys[i] -> vals[i] (n pairs). OUT: *subject and *body (arena).
 * TIX_EINVAL when the template lacks the "Subject: " line and the empty line after it. */
/* pattern with every {{key}} replaced by its value (an unknown key by nothing), in the arena. */
char *tix_mail_fill(tix_arena *a, const char *pattern, const char *const *keys,
                    const char *const *vals, int n);
TIX_MUSTCHECK tix_rc tix_mail_render(tix_arena *a, const char *text, const char *const *keys,
                                     const char *const *vals, int n, char **subject, char **body);

typedef struct tix_mail_attachment {
    const char *filename;
    const char *content_type;
    const void *data;
    size_t len;
} tix_mail_attachment;

typedef struct tix_mail_msg {
    const char *from; /* "Name <addr>" or "addr" */
    const char *to;
    const char *subject;
    const char *body;       /* text/plain, UTF-8 */
    const char *message_id; /* "<...>" */
    int64_t date_ms;
    const tix_mail_attachment *att;
    int natt;
} tix_mail_msg;

/* The message as RFC 5322 text with CRLF line ends, MIME multipart/mixed. OUT: *out (arena),
 * *len. */
void tix_mail_build(tix_arena *a, const tix_mail_msg *m, char **out, size_t *len);

/* The addr-spec of "Name <addr>" (or addr itself), in the arena. */
char *tix_mail_address(tix_arena *a, const char *from);

typedef enum tix_mail_outcome {
    TIX_MAIL_SENT,
    TIX_MAIL_TRANSIENT, /* 4xx, network, time-out, a file that could not be written */
    TIX_MAIL_PERMANENT, /* 5xx */
} tix_mail_outcome;

/* Delivers one built message (SMTP or .eml, as cfg says). curl: a CURL easy handle to reuse
 * (its open SMTP connection carries the next message without a new handshake), or NULL for a
 * one-off. name: the .eml file's name without extension (the outbox id). OUT: err (a sentence
 * for last_error, never a secret). */
tix_mail_outcome tix_mail_deliver(const tix_config *cfg, void *curl, const char *name,
                                  const char *to, const char *msg, size_t len, char *err,
                                  size_t errlen);

#endif
