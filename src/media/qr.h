/*
 * QR codes of ticket tokens, rendered to memory: PNG (libpng, 1-bit greyscale) and SVG (written
 * here from the module matrix, one path). libqrencode makes the matrix, byte mode, error
 * correction level M (15% of the code may be damaged), the smallest version that holds the text.
 * Both images have the 4-module quiet zone the standard asks for. Used by the ticket routes and
 * the ticket PDF (media/ticket_pdf.h), and by the mail job for attachments. Pure (no I/O).
 */
#ifndef TIX_MEDIA_QR_H
#define TIX_MEDIA_QR_H

#include "core/rc.h"

#include <stddef.h>

#define TIX_QR_QUIET     4 /* modules of white border on each side */
#define TIX_QR_PNG_SCALE 8 /* pixels per module in tix_qr_png */
#define TIX_QR_TEXT_MAX  2048

/* The module matrix of text: OUT: *modules (malloc'd, width*width bytes, 1 = dark; the caller
 * frees) and *width (modules per side, without quiet zone). TIX_EINVAL for empty or too long
 * text. */
TIX_MUSTCHECK tix_rc tix_qr_matrix(const char *text, unsigned char **modules, int *width);
/* A PNG of text's QR code, scale pixels per module (0: TIX_QR_PNG_SCALE), quiet zone included.
 * OUT: *out (malloc'd; the caller frees), *n bytes. */
TIX_MUSTCHECK tix_rc tix_qr_png(const char *text, int scale, unsigned char **out, size_t *n);
/* An SVG of text's QR code (viewBox in modules, quiet zone included, crisp edges). OUT: *out
 * (malloc'd, NUL-terminated; the caller frees), *n bytes without the NUL. */
TIX_MUSTCHECK tix_rc tix_qr_svg(const char *text, unsigned char **out, size_t *n);

#endif
