/*
 * QR matrices from libqrencode, PNG through libpng's write callbacks into a growing buffer
 * (setjmp error path frees everything), SVG as one <path> of 1x1 squares, runs of dark modules
 * in a row merged into one rectangle.
 */
#include "media/qr.h"

#include <png.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tix_rc tix_qr_matrix(const char *text, unsigned char **modules, int *width)
{
    size_t len = text != NULL ? strnlen(text, TIX_QR_TEXT_MAX + 1) : 0;
    if (len == 0 || len > TIX_QR_TEXT_MAX) {
        return TIX_EINVAL;
    }
    QRcode *q = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (q == NULL) {
        return TIX_EINVAL; /* too long for any version at level M */
    }
    size_t cells = (size_t)q->width * (size_t)q->width;
    unsigned char *m = calloc(cells, 1);
    if (m == NULL) {
        QRcode_free(q);
        return TIX_ENOMEM;
    }
    for (size_t i = 0; i < cells; i++) {
        m[i] = q->data[i] & 1; /* bit 0: dark module; the other bits are libqrencode's notes */
    }
    *width = q->width;
    *modules = m;
    QRcode_free(q);
    return TIX_OK;
}

typedef struct membuf {
    unsigned char *p;
    size_t n;
    size_t cap;
    bool failed;
} membuf;

static void png_write_mem(png_structp png, png_bytep data, png_size_t len)
{
    membuf *b = png_get_io_ptr(png);
    if (b->failed) {
        return;
    }
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + len) {
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

/* The PNG part of tix_qr_png, apart so that no local is live across setjmp but the volatile
 * row. */
static tix_rc write_png(const unsigned char *m, int width, int scale, membuf *b)
{
    int side = (width + 2 * TIX_QR_QUIET) * scale;
    size_t rowbytes = ((size_t)side + 7) / 8;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (png == NULL) {
        return TIX_ENOMEM;
    }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile row = malloc(rowbytes);
    if (info == NULL || row == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(row);
        return TIX_ENOMEM;
    }
    png_set_write_fn(png, b, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    /* One row of pixels per row of modules, written scale times (the quiet zone's rows are
     * one white row); each dark module clears its scale bits. */
    for (int my = -TIX_QR_QUIET; my < width + TIX_QR_QUIET; my++) {
        memset(row, 0xff, rowbytes); /* 1 = white in 1-bit greyscale */
        for (int mx = 0; my >= 0 && my < width && mx < width; mx++) {
            if (!m[(size_t)my * (size_t)width + (size_t)mx]) {
                continue;
            }
            int x0 = (mx + TIX_QR_QUIET) * scale;
            for (int x = x0; x < x0 + scale; x++) {
                row[x / 8] &= (unsigned char)~(0x80u >> (x % 8));
            }
        }
        for (int k = 0; k < scale; k++) {
            png_write_row(png, row);
        }
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return b->failed ? TIX_ENOMEM : TIX_OK;
}

tix_rc tix_qr_png(const char *text, int scale, unsigned char **out, size_t *n)
{
    if (scale <= 0) {
        scale = TIX_QR_PNG_SCALE;
    }
    if (scale > 64) {
        return TIX_EINVAL;
    }
    unsigned char *m = NULL;
    int width = 0;
    tix_rc rc = tix_qr_matrix(text, &m, &width);
    if (rc != TIX_OK) {
        return rc;
    }
    membuf b = {0};
    rc = write_png(m, width, scale, &b);
    free(m);
    if (rc != TIX_OK) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *n = b.n;
    return TIX_OK;
}

tix_rc tix_qr_svg(const char *text, unsigned char **out, size_t *n)
{
    unsigned char *m = NULL;
    int width = 0;
    tix_rc rc = tix_qr_matrix(text, &m, &width);
    if (rc != TIX_OK) {
        return rc;
    }
    int side = width + 2 * TIX_QR_QUIET;
    /* at most one "M x yh wv1h-wz" (under 40 bytes) per dark module, plus the frame */
    size_t cap = (size_t)width * (size_t)width * 40 + 512;
    char *s = malloc(cap);
    if (s == NULL) {
        free(m);
        return TIX_ENOMEM;
    }
    size_t len = (size_t)snprintf(
        s, cap,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\" "
        "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">\n"
        "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
        side, side, side * 8, side * 8, side, side);
    for (int y = 0; y < width; y++) {
        for (int x = 0; x < width;) {
            if (!m[(size_t)y * (size_t)width + (size_t)x]) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < width && m[(size_t)y * (size_t)width + (size_t)(x + run)]) {
                run++;
            }
            len += (size_t)snprintf(s + len, cap - len, "M%d %dh%dv1h-%dz", x + TIX_QR_QUIET,
                                    y + TIX_QR_QUIET, run, run);
            x += run;
        }
    }
    len += (size_t)snprintf(s + len, cap - len, "\"/>\n</svg>\n");
    free(m);
    *out = (unsigned char *)s;
    *n = len;
    return TIX_OK;
}
