/*
 * Ticket PDF through libharu. The error handler only records the first error (no longjmp), so
 * every call runs to the end and the result is checked once; the document is saved into
 * libharu's memory stream and copied out. Images are the QR PNGs of media/qr.h at 4 pixels per
 * module, placed at 170 pt square (crisp at print resolution).
 */
#include "media/ticket_pdf.h"

#include "media/qr.h"

#include <hpdf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pdf_err {
    HPDF_STATUS first;
} pdf_err;

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data)
{
    (void)detail_no;
    pdf_err *e = user_data;
    if (e->first == HPDF_OK) {
        e->first = error_no;
    }
}

/* CP1252's 0x80..0x9F, by code point */
static const struct {
    unsigned cp;
    unsigned char b;
} CP1252_HIGH[] = {
    {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85}, {0x2020, 0x86},
    {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A}, {0x2039, 0x8B}, {0x0152, 0x8C},
    {0x017D, 0x8E}, {0x2018, 0x91}, {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95},
    {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98}, {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B},
    {0x0153, 0x9C}, {0x017E, 0x9E}, {0x0178, 0x9F},
};

/* One UTF-8 character at s: its code point and length, or length 1 and cp ~0 when invalid. */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0) {
        *cp = ~0u;
        return 1;
    }
    unsigned v = len == 1 ? c : c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = ~0u;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    *cp = v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? ~0u : v;
    return len;
}

void tix_pdf_winansi(const char *utf8, char *out, size_t cap)
{
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)(utf8 != NULL ? utf8 : "");
    while (*s != '\0' && n + 1 < cap) {
        unsigned cp = 0;
        s += utf8_next(s, &cp);
        unsigned char b = '?';
        if ((cp >= 0x20 && cp < 0x7F) || (cp >= 0xA0 && cp <= 0xFF)) {
            b = (unsigned char)cp;
        } else {
            for (size_t i = 0; i < sizeof(CP1252_HIGH) / sizeof(CP1252_HIGH[0]); i++) {
                if (CP1252_HIGH[i].cp == cp) {
                    b = CP1252_HIGH[i].b;
                    break;
                }
            }
        }
        out[n++] = (char)b;
    }
    out[n] = '\0';
}

/* Text at (x, y) in the font at size, cut to fit width (with "..." when cut). */
static void text_at(HPDF_Page page, HPDF_Font font, float size, float x, float y, float width,
                    const char *utf8)
{
    char buf[512];
    tix_pdf_winansi(utf8, buf, sizeof(buf));
    HPDF_Page_SetFontAndSize(page, font, size);
    size_t len = strlen(buf);
    while (len > 3 && HPDF_Page_TextWidth(page, buf) > width) {
        len--;
        memcpy(buf + len - 3, "...", 4);
    }
    HPDF_Page_BeginText(page);
    HPDF_Page_TextOut(page, x, y, buf);
    HPDF_Page_EndText(page);
}

/* "Sat 05 Dec 2026 19:30 (UTC+05:30)" in the theatre's local time */
static void local_time(char *out, size_t cap, int64_t ms, int offset_min)
{
    time_t t = (time_t)(ms / 1000 + (int64_t)offset_min * 60);
    struct tm tm;
    char when[64];
    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%a %d %b %Y %H:%M", &tm) == 0) {
        snprintf(out, cap, "?");
        return;
    }
    int a = offset_min < 0 ? -offset_min : offset_min;
    snprintf(out, cap, "%s (UTC%c%02d:%02d)", when, offset_min < 0 ? '-' : '+', a / 60, a % 60);
}

/* One page; false when its QR code cannot be made. */
static bool ticket_page(HPDF_Doc pdf, HPDF_Font font, HPDF_Font bold, const tix_pdf_booking *b,
                        const tix_pdf_ticket *t, const char *when)
{
    unsigned char *png = NULL;
    size_t png_n = 0;
    if (tix_qr_png(t->token, 4, &png, &png_n) != TIX_OK) {
        return false;
    }
    HPDF_Page page = HPDF_AddPage(pdf);
    HPDF_Page_SetWidth(page, 298); /* A6: 105 x 148 mm */
    HPDF_Page_SetHeight(page, 420);
    float w = HPDF_Page_GetWidth(page);
    float h = HPDF_Page_GetHeight(page);
    float margin = 20;
    float tw = w - 2 * margin;
    float y = h - margin - 16;
    text_at(page, bold, 16, margin, y, tw, b->film);
    y -= 20;
    char line[512];
    snprintf(line, sizeof(line), "%s%s%s", b->theatre, b->city ? ", " : "", b->city ? b->city : "");
    text_at(page, font, 10, margin, y, tw, line);
    y -= 14;
    snprintf(line, sizeof(line), "Hall: %s", b->hall);
    text_at(page, font, 10, margin, y, tw, line);
    y -= 14;
    text_at(page, font, 10, margin, y, tw, when);
    y -= 22;
    snprintf(line, sizeof(line), "Seat %s", t->seat);
    text_at(page, bold, 18, margin, y, tw, line);
    float qr = 170;
    HPDF_Image img = HPDF_LoadPngImageFromMem(pdf, png, (HPDF_UINT)png_n);
    free(png);
    if (img != NULL) {
        HPDF_Page_DrawImage(page, img, (w - qr) / 2, y - 12 - qr, qr, qr);
    }
    snprintf(line, sizeof(line), "Booking %s", b->booking_id);
    text_at(page, font, 8, margin, margin + 12, tw, line);
    if (t->code != NULL) {
        snprintf(line, sizeof(line), "Code %s", t->code);
        text_at(page, font, 7, margin, margin, tw, line);
    }
    return img != NULL;
}

tix_rc tix_ticket_pdf(const tix_pdf_booking *b, unsigned char **out, size_t *n)
{
    if (b->n <= 0 || b->tickets == NULL) {
        return TIX_EINVAL;
    }
    pdf_err err = {HPDF_OK};
    HPDF_Doc pdf = HPDF_New(on_error, &err);
    if (pdf == NULL) {
        return TIX_ENOMEM;
    }
    (void)HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
    HPDF_Font font = HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding");
    HPDF_Font bold = HPDF_GetFont(pdf, "Helvetica-Bold", "WinAnsiEncoding");
    char when[96];
    local_time(when, sizeof(when), b->starts_at_ms, b->utc_offset_minutes);
    tix_rc rc = TIX_OK;
    for (int i = 0; i < b->n && rc == TIX_OK; i++) {
        if (!ticket_page(pdf, font, bold, b, &b->tickets[i], when)) {
            rc = TIX_EINVAL;
        }
    }
    if (rc == TIX_OK && HPDF_SaveToStream(pdf) == HPDF_OK && err.first == HPDF_OK) {
        HPDF_UINT32 size = HPDF_GetStreamSize(pdf);
        unsigned char *buf = malloc(size > 0 ? size : 1);
        HPDF_UINT32 got = size;
        HPDF_STATUS st =
            buf != NULL ? HPDF_ReadFromStream(pdf, buf, &got) : HPDF_FAILD_TO_ALLOC_MEM;
        if ((st == HPDF_OK || st == HPDF_STREAM_EOF) && got == size) {
            *out = buf;
            *n = size;
        } else {
            free(buf);
            rc = TIX_ENOMEM;
        }
    } else if (rc == TIX_OK) {
        rc = TIX_ENOMEM;
    }
    HPDF_Free(pdf);
    return rc;
}
