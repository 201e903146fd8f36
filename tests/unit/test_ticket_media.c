/* Unit tests for media/qr (QR matrices, PNG, SVG) and media/ticket_pdf (WinAnsi text, the PDF). */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "media/qr.h"
#include "media/ticket_pdf.h"

#include <stdlib.h>
#include <string.h>

/* a token-sized text: 3 + 11 + 1 + ~200 + 1 + 86 characters */
static char *token_like(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        s[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."[i % 65];
    }
    s[n] = '\0';
    return s;
}

static void test_matrix(void **state)
{
    (void)state;
    unsigned char *m = NULL;
    int w = 0;
    char *tok = token_like(300);
    assert_int_equal(tix_qr_matrix(tok, &m, &w), TIX_OK);
    assert_true(w >= 21 && (w - 17) % 4 == 0);
    /* the finder pattern's corner modules are dark, the separator light */
    assert_int_equal(m[0], 1);
    assert_int_equal(m[7], 0);
    assert_int_equal(m[(size_t)w - 1], 1);
    free(m);
    free(tok);
    assert_int_equal(tix_qr_matrix("", &m, &w), TIX_EINVAL);
    assert_int_equal(tix_qr_matrix(NULL, &m, &w), TIX_EINVAL);
    tok = token_like(TIX_QR_TEXT_MAX + 1);
    assert_int_equal(tix_qr_matrix(tok, &m, &w), TIX_EINVAL);
    free(tok);
    /* 2048 bytes fit at level M in byte mode (version 38 holds 2113) */
    tok = token_like(TIX_QR_TEXT_MAX);
    assert_int_equal(tix_qr_matrix(tok, &m, &w), TIX_OK);
    assert_int_equal(w, 17 + 4 * 38);
    free(m);
    free(tok);
}

static void test_png_and_svg(void **state)
{
    (void)state;
    unsigned char *png = NULL;
    size_t n = 0;
    assert_int_equal(tix_qr_png("t1.hello", 0, &png, &n), TIX_OK);
    assert_true(n > 60);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    /* IHDR: width = (21 + 8) * 8 = 232 for a version-1 code */
    assert_int_equal((png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19], 232);
    free(png);
    assert_int_equal(tix_qr_png("x", 65, &png, &n), TIX_EINVAL);
    unsigned char *svg = NULL;
    assert_int_equal(tix_qr_svg("t1.hello", &svg, &n), TIX_OK);
    assert_int_equal(strlen((char *)svg), n);
    assert_non_null(strstr((char *)svg, "viewBox=\"0 0 29 29\""));
    assert_non_null(strstr((char *)svg, "M4 4h7v1h-7z")); /* the top-left finder's first row */
    free(svg);
}

static void test_winansi(void **state)
{
    (void)state;
    char out[64];
    tix_pdf_winansi("Caf\xc3\xa9 \xe2\x80\x94 \xe6\x98\xa0\xe7\x94\xbb \xce\xa0!", out,
                    sizeof(out));
    assert_string_equal(out, "Caf\xe9 \x97 ?? ?!"); /* é kept, em dash 0x97, CJK and Greek '?' */
    tix_pdf_winansi("\xff\xc3(\xe2\x82", out, sizeof(out)); /* invalid and cut sequences */
    assert_string_equal(out, "??"
                             "("
                             "??");
    tix_pdf_winansi("\xed\xa0\x80", out, sizeof(out)); /* a UTF-16 surrogate is not a character */
    assert_string_equal(out, "?");
    tix_pdf_winansi("abcdef", out, 4);
    assert_string_equal(out, "abc");
    tix_pdf_winansi(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_pdf(void **state)
{
    (void)state;
    tix_pdf_ticket t[2] = {{"t1.one", "A1", "c1"}, {"t1.two", "A2", NULL}};
    tix_pdf_booking b = {"bkg_1",   "\xe6\x98\xa0\xe7\x94\xbb Film",
                         "Theatre", NULL,
                         "Hall 1",  1764000000000LL,
                         -90,       t,
                         2};
    unsigned char *pdf = NULL;
    size_t n = 0;
    assert_int_equal(tix_ticket_pdf(&b, &pdf, &n), TIX_OK);
    assert_true(n > 1000);
    assert_memory_equal(pdf, "%PDF-", 5);
    free(pdf);
    b.n = 0;
    assert_int_equal(tix_ticket_pdf(&b, &pdf, &n), TIX_EINVAL);
    char *huge = token_like(TIX_QR_TEXT_MAX + 10);
    tix_pdf_ticket bad = {huge, "A1", NULL};
    b.tickets = &bad;
    b.n = 1;
    assert_int_equal(tix_ticket_pdf(&b, &pdf, &n), TIX_EINVAL);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_png_and_svg),
        cmocka_unit_test(test_winansi),
        cmocka_unit_test(test_pdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
