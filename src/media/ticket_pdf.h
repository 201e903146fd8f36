/*
 * The tickets of a booking as a PDF (libharu): one A6 page per ticket with its QR code (the
 * token, as a PNG image), film title, theatre, hall, seat label, start time and booking id.
 * The caller gives plain text (a view assembled by the api or jobs layer); times are written
 * in the theatre's local time from its UTC offset (the schema keeps utc_offset_minutes, no
 * zone name). The font is the base-14 Helvetica in WinAnsi: characters it cannot show (most
 * non-Latin scripts) are written as '?', never passed to libharu raw. Pure (no I/O).
 */
#ifndef TIX_MEDIA_TICKET_PDF_H
#define TIX_MEDIA_TICKET_PDF_H

#include "core/rc.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tix_pdf_ticket {
    const char *token; /* the QR's content */
    const char *seat;
    const char *code; /* the ticket's opaque code, printed small; or NULL */
} tix_pdf_ticket;

typedef struct tix_pdf_booking {
    const char *booking_id;
    const char *film;
    const char *theatre;
    const char *city; /* or NULL */
    const char *hall;
    int64_t starts_at_ms;   /* UTC */
    int utc_offset_minutes; /* the theatre's */
    const tix_pdf_ticket *tickets;
    int n;
} tix_pdf_booking;

/* Renders the PDF. OUT: *out (malloc'd; the caller frees), *n bytes. TIX_EINVAL without tickets
 * or with a token that does not fit a QR code, TIX_ENOMEM when libharu fails. */
TIX_MUSTCHECK tix_rc tix_ticket_pdf(const tix_pdf_booking *b, unsigned char **out, size_t *n);

/* Text for the WinAnsi base-14 fonts: UTF-8 in, CP1252 out (NUL-terminated, at most cap - 1
 * bytes), each character without a CP1252 form (and each invalid byte) as '?'. Exposed for
 * tests. */
void tix_pdf_winansi(const char *utf8, char *out, size_t cap);

#endif
