/* Unit tests for media/: magic-byte sniffing, stored-name checks, the Cloudinary signature,
 * the media configuration (CLOUDINARY_URL and friends) and the local store on a temp dir. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/config.h"
#include "media/cloudinary.h"
#include "media/media.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- sniffing ---- */

typedef struct sniff_case {
    const char *what;
    tix_media_kind kind;
    const char *bytes;
    size_t n;
    const char *mime; /* NULL = refused */
} sniff_case;

#define B(s) s, sizeof(s) - 1

static const sniff_case sniff_cases[] = {
    {"jpeg", TIX_MEDIA_POSTER, B("\xFF\xD8\xFF\xE0\0\x10JFIF\0\1"), "image/jpeg"},
    {"jpeg, 3 bytes", TIX_MEDIA_POSTER, B("\xFF\xD8\xFF"), "image/jpeg"},
    {"jpeg, 2 bytes", TIX_MEDIA_POSTER, B("\xFF\xD8"), NULL},
    {"png", TIX_MEDIA_POSTER, B("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"), "image/png"},
    {"png, bad eol", TIX_MEDIA_POSTER, B("\x89PNG\n\n\x1A\n\0\0\0\r"), NULL},
    {"webp", TIX_MEDIA_POSTER, B("RIFF\x24\0\0\0WEBPVP8 "), "image/webp"},
    {"riff wave", TIX_MEDIA_POSTER, B("RIFF\x24\0\0\0WAVEfmt "), NULL},
    {"webp cut", TIX_MEDIA_POSTER, B("RIFF\x24\0\0\0WEB"), NULL},
    {"gif", TIX_MEDIA_POSTER, B("GIF89a\1\0\1\0\0\0"), NULL},
    {"empty", TIX_MEDIA_POSTER, "", 0, NULL},
    {"mp4 as poster", TIX_MEDIA_POSTER,
     B("\0\0\0\x20"
       "ftypisom\0\0\2\0"),
     NULL},
    {"mp4", TIX_MEDIA_TRAILER,
     B("\0\0\0\x20"
       "ftypisom\0\0\2\0"),
     "video/mp4"},
    {"mp4 mp42", TIX_MEDIA_TRAILER,
     B("\0\0\0\x18"
       "ftypmp42\0\0\0\0"),
     "video/mp4"},
    {"heic is no trailer", TIX_MEDIA_TRAILER,
     B("\0\0\0\x18"
       "ftypheic\0\0\0\0"),
     NULL},
    {"avif is no trailer", TIX_MEDIA_TRAILER,
     B("\0\0\0\x18"
       "ftypavif\0\0\0\0"),
     NULL},
    {"ftyp cut", TIX_MEDIA_TRAILER,
     B("\0\0\0\x18"
       "ftyp"),
     NULL},
    {"webm", TIX_MEDIA_TRAILER, B("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\1\x42\xF7\x81"), "video/webm"},
    {"png as trailer", TIX_MEDIA_TRAILER, B("\x89PNG\r\n\x1A\n\0\0\0\r"), NULL},
    {"text", TIX_MEDIA_TRAILER, B("hello, world!"), NULL},
};

static void test_sniff_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sniff_cases) / sizeof(sniff_cases[0]); i++) {
        const sniff_case *c = &sniff_cases[i];
        const tix_media_type *t = tix_media_sniff(c->kind, (const unsigned char *)c->bytes, c->n);
        if (c->mime == NULL && t != NULL) {
            fail_msg("%s: expected refusal, got %s", c->what, t->mime);
        }
        if (c->mime != NULL && (t == NULL || strcmp(t->mime, c->mime) != 0)) {
            fail_msg("%s: expected %s, got %s", c->what, c->mime, t ? t->mime : "NULL");
        }
        if (t != NULL) {
            assert_ptr_equal(tix_media_type_by_mime(c->kind, t->mime), t);
        }
    }
}

static void test_kinds_and_types(void **state)
{
    (void)state;
    tix_media_kind k;
    assert_true(tix_media_kind_parse("poster", &k));
    assert_int_equal(k, TIX_MEDIA_POSTER);
    assert_true(tix_media_kind_parse("trailer", &k));
    assert_int_equal(k, TIX_MEDIA_TRAILER);
    assert_false(tix_media_kind_parse("Poster", &k));
    assert_false(tix_media_kind_parse("posters", &k));
    assert_false(tix_media_kind_parse(NULL, &k));
    assert_string_equal(tix_media_kind_name(TIX_MEDIA_POSTER), "poster");
    assert_string_equal(tix_media_kind_name(TIX_MEDIA_TRAILER), "trailer");
    assert_null(tix_media_type_by_mime(TIX_MEDIA_POSTER, "video/mp4"));
    assert_null(tix_media_type_by_mime(TIX_MEDIA_TRAILER, "image/png"));
    assert_null(tix_media_type_by_mime(TIX_MEDIA_POSTER, NULL));
    assert_string_equal(tix_media_type_by_mime(TIX_MEDIA_TRAILER, "video/webm")->ext, "webm");
}

static void test_stored_names(void **state)
{
    (void)state;
    const char *hex = "0123456789abcdef0123456789abcdef";
    char name[64];
    snprintf(name, sizeof(name), "%s.png", hex);
    assert_string_equal(tix_media_name_type(TIX_MEDIA_POSTER, name)->mime, "image/png");
    snprintf(name, sizeof(name), "%s.jpg", hex);
    assert_string_equal(tix_media_name_type(TIX_MEDIA_POSTER, name)->mime, "image/jpeg");
    snprintf(name, sizeof(name), "%s.webm", hex);
    assert_string_equal(tix_media_name_type(TIX_MEDIA_TRAILER, name)->mime, "video/webm");
    static const char *const bad[] = {
        "0123456789abcdef0123456789abcdef.mp4",  /* a trailer type asked as a poster */
        "0123456789ABCDEF0123456789abcdef.png",  /* upper case */
        "0123456789abcdef0123456789abcde.png",   /* 31 digits */
        "0123456789abcdef0123456789abcdef0.png", /* 33 digits */
        "0123456789abcdef0123456789abcdeg.png",  /* not hex */
        "0123456789abcdef0123456789abcdef.png/",
        "0123456789abcdef0123456789abcdef.",
        "0123456789abcdef0123456789abcdef",
        "../0123456789abcdef0123456789ab.png",
        "..",
        "",
        "0123456789abcdef0123456789abcdef.pngx",
        "0123456789abcdef0123456789abcdef.PNG",
        "0123456789abcdef0123456789abcdef..png",
        "/etc/passwd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tix_media_name_type(TIX_MEDIA_POSTER, bad[i]) != NULL) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
    }
    assert_null(tix_media_name_type(TIX_MEDIA_POSTER, NULL));
}

/* ---- the Cloudinary signature ---- */

static void test_sign_documented_vector(void **state)
{
    (void)state;
    /* sha1("public_id=sample_image&timestamp=1315060510abcd"), checked with Python hashlib. */
    const tix_cloudinary_param p[] = {{"timestamp", "1315060510"}, {"public_id", "sample_image"}};
    char sig[TIX_SHA1_HEX];
    assert_true(tix_cloudinary_sign(p, 2, "abcd", sig));
    assert_string_equal(sig, "b4ad47fb4e25c7bf5f92a20089f9db59bc302313");
}

static void test_sign_docs_example_with_eager(void **state)
{
    (void)state;
    /* Cloudinary's documentation example: the excluded names and an empty value are left
     * out, the rest sorted. sha1("eager=w_400,h_300,c_pad|w_260,h_200,c_crop&public_id=
     * sample_image&timestamp=1315060510abcd"). */
    const tix_cloudinary_param p[] = {
        {"timestamp", "1315060510"},
        {"api_key", "1234"},
        {"public_id", "sample_image"},
        {"file", "@/tmp/x.jpg"},
        {"cloud_name", "demo"},
        {"resource_type", "image"},
        {"folder", ""},
        {"eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"},
    };
    char sig[TIX_SHA1_HEX];
    assert_true(tix_cloudinary_sign(p, sizeof(p) / sizeof(p[0]), "abcd", sig));
    assert_string_equal(sig, "bfd09f95f331f558cbd1320e67aa8d488770583e");
}

static void test_sign_destroy_and_limits(void **state)
{
    (void)state;
    const tix_cloudinary_param p[] = {{"public_id", "ticketd/posters/mov_1_ab"},
                                      {"timestamp", "1700000000"},
                                      {"invalidate", "true"}};
    char sig[TIX_SHA1_HEX];
    assert_true(tix_cloudinary_sign(p, 3, "s3cr3t", sig));
    assert_string_equal(sig, "a6000a60326ff074d6335bc75ac5afeb86931920");
    char other[TIX_SHA1_HEX];
    assert_true(tix_cloudinary_sign(p, 3, "s3cr3u", other));
    assert_string_not_equal(sig, other);
    tix_cloudinary_param many[TIX_CLOUDINARY_MAX_PARAMS + 1];
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
        many[i] = (tix_cloudinary_param){"k", "v"};
    }
    assert_false(tix_cloudinary_sign(many, sizeof(many) / sizeof(many[0]), "s", sig));
}

/* ---- configuration ---- */

static void test_config_defaults(void **state)
{
    (void)state;
    static const kv none[] = {{NULL, NULL}};
    tix_config cfg;
    char err[256];
    assert_int_equal(tix_test_load(none, &cfg, err, sizeof(err)), TIX_OK);
    assert_string_equal(cfg.media_dir, "./data/media");
    assert_string_equal(cfg.cloudinary_cloud, "");
    assert_string_equal(cfg.cloudinary_api_base, "https://api.cloudinary.com/v1_1");
    assert_int_equal(cfg.poster_max_bytes, 10 << 20);
    assert_int_equal(cfg.trailer_max_bytes, 200 << 20);
    assert_int_equal(cfg.upload_timeout_s, 600);
    assert_int_equal(cfg.cloudinary_chunk_bytes, 20 << 20);
    assert_int_equal(cfg.upload_concurrency, 2);
    static const kv zero[] = {{"MEDIA_UPLOAD_CONCURRENCY", "0"}, {NULL, NULL}};
    assert_int_equal(tix_test_load(zero, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_non_null(strstr(err, "MEDIA_UPLOAD_CONCURRENCY"));
}

static void test_config_cloudinary_url(void **state)
{
    (void)state;
    static const kv vars[] = {{"CLOUDINARY_URL", "cloudinary://123456789012345:Ab-c_D.9@my-cloud"},
                              {"CLOUDINARY_API_BASE", "http://127.0.0.1:9999/v1_1//"},
                              {"MEDIA_DIR", "/var/lib/ticketd/media"},
                              {NULL, NULL}};
    tix_config cfg;
    char err[256];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    assert_string_equal(cfg.cloudinary_key, "123456789012345");
    assert_string_equal(cfg.cloudinary_secret, "Ab-c_D.9");
    assert_string_equal(cfg.cloudinary_cloud, "my-cloud");
    assert_string_equal(cfg.cloudinary_api_base, "http://127.0.0.1:9999/v1_1");
    assert_string_equal(cfg.media_dir, "/var/lib/ticketd/media");

    static const kv chunk[] = {{"CLOUDINARY_CHUNK_SIZE", "5242880"}, {NULL, NULL}};
    assert_int_equal(tix_test_load(chunk, &cfg, err, sizeof(err)), TIX_OK);
    assert_int_equal(cfg.cloudinary_chunk_bytes, 5 << 20);

    static const kv with_query[] = {{"CLOUDINARY_URL", "cloudinary://k:s@c?secure_distribution=x"},
                                    {NULL, NULL}};
    assert_int_equal(tix_test_load(with_query, &cfg, err, sizeof(err)), TIX_OK);
    assert_string_equal(cfg.cloudinary_cloud, "c");
}

static void test_config_cloudinary_parts(void **state)
{
    (void)state;
    static const kv vars[] = {{"CLOUDINARY_CLOUD_NAME", "demo"},
                              {"CLOUDINARY_API_KEY", "1234"},
                              {"CLOUDINARY_API_SECRET", "shh"},
                              {NULL, NULL}};
    tix_config cfg;
    char err[256];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    assert_string_equal(cfg.cloudinary_cloud, "demo");
    assert_string_equal(cfg.cloudinary_key, "1234");
    assert_string_equal(cfg.cloudinary_secret, "shh");
}

typedef struct bad_case {
    kv vars[4];
    const char *names; /* the variable the error must name */
} bad_case;

static void test_config_cloudinary_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {{{"CLOUDINARY_URL", "https://k:TOPSECRET@c"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://kTOPSECRET@c"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://k:TOPSECRET@"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://:TOPSECRET@c"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://k:@c"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://k:TOP SECRET@c"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://k:TOPSECRET@c/d@e"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudi"}}, "CLOUDINARY_URL"},
        {{{"CLOUDINARY_URL", "cloudinary://k:TOPSECRET@c"}, {"CLOUDINARY_API_KEY", "k"}},
         "CLOUDINARY_URL"},
        {{{"CLOUDINARY_CLOUD_NAME", "c"}, {"CLOUDINARY_API_KEY", "k"}}, "CLOUDINARY_API_SECRET"},
        {{{"CLOUDINARY_API_SECRET", "TOPSECRET"}}, "CLOUDINARY_CLOUD_NAME"},
        {{{"CLOUDINARY_CLOUD_NAME", "c/x"},
          {"CLOUDINARY_API_KEY", "k"},
          {"CLOUDINARY_API_SECRET", "TOPSECRET"}},
         "CLOUDINARY_CLOUD_NAME"},
        {{{"CLOUDINARY_URL", "cloudinary://k:TOPSECRET@c"}, {"CLOUDINARY_API_BASE", "ftp://x"}},
         "CLOUDINARY_API_BASE"},
        {{{"MEDIA_POSTER_MAX_BYTES", "12x"}}, "MEDIA_POSTER_MAX_BYTES"},
        {{{"MEDIA_TRAILER_MAX_BYTES", "10"}}, "MEDIA_TRAILER_MAX_BYTES"},
        {{{"MEDIA_UPLOAD_TIMEOUT", "forever"}}, "MEDIA_UPLOAD_TIMEOUT"},
        {{{"CLOUDINARY_CHUNK_SIZE", "5242879"}}, "CLOUDINARY_CHUNK_SIZE"},
        {{{"CLOUDINARY_CHUNK_SIZE", "104857601"}}, "CLOUDINARY_CHUNK_SIZE"},
        {{{"CLOUDINARY_CHUNK_SIZE", "20M"}}, "CLOUDINARY_CHUNK_SIZE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tix_config cfg;
        char err[512];
        if (tix_test_load(cases[i].vars, &cfg, err, sizeof(err)) != TIX_EINVAL) {
            fail_msg("case %zu was accepted", i);
        }
        if (strstr(err, cases[i].names) == NULL) {
            fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].names);
        }
        if (strstr(err, "TOPSECRET") != NULL) {
            fail_msg("case %zu: the error repeats the secret: %s", i, err);
        }
    }
}

/* ---- the local store ---- */

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void test_local_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/tix-media-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static kv vars[] = {{"MEDIA_DIR", NULL}, {NULL, NULL}};
    vars[0].value = dir;
    tix_config cfg;
    char err[256];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    tix_media *m = NULL;
    assert_int_equal(tix_media_create(&cfg, &m, err, sizeof(err)), TIX_OK);
    assert_string_equal(m->name, "local");

    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s/tmp/up-test.part", dir);
    write_file(tmp, "\x89PNG\r\n\x1A\n...");
    tix_arena *a = tix_arena_create(0);
    tix_media_file f = {TIX_MEDIA_POSTER, tmp,
                        tix_media_type_by_mime(TIX_MEDIA_POSTER, "image/png"), "mov_1", 11};
    char *url = NULL;
    char *id = NULL;
    assert_int_equal(tix_media_put(m, a, &f, &url, &id), TIX_OK);
    assert_int_equal(strncmp(url, "/media/poster/", 14), 0);
    assert_int_equal(strncmp(id, "poster/", 7), 0);
    assert_non_null(tix_media_name_type(TIX_MEDIA_POSTER, id + 7));
    assert_string_equal(url + 7, id);           /* "/media/" + public_id */
    assert_int_not_equal(access(tmp, F_OK), 0); /* moved, not copied */
    char stored[512];
    snprintf(stored, sizeof(stored), "%s/%s", dir, id);
    struct stat st;
    assert_int_equal(stat(stored, &st), 0);
    assert_int_equal(st.st_size, 11);

    assert_int_equal(tix_media_remove(m, TIX_MEDIA_TRAILER, id), TIX_EINVAL); /* wrong kind */
    assert_int_equal(tix_media_remove(m, TIX_MEDIA_POSTER, "poster/../../etc"), TIX_EINVAL);
    assert_int_equal(tix_media_remove(m, TIX_MEDIA_POSTER, "ticketd/posters/x"), TIX_EINVAL);
    assert_int_equal(tix_media_remove(m, TIX_MEDIA_POSTER, id), TIX_OK);
    assert_int_not_equal(access(stored, F_OK), 0);
    assert_int_equal(tix_media_remove(m, TIX_MEDIA_POSTER, id), TIX_OK); /* gone is fine */

    tix_arena_destroy(a);
    tix_media_destroy(m);
    tix_media_destroy(NULL);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_media_dir_error_names_variable(void **state)
{
    (void)state;
    static const kv vars[] = {{"MEDIA_DIR", "/proc/no-such/media"}, {NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    tix_media *m = NULL;
    assert_int_not_equal(tix_media_create(&cfg, &m, err, sizeof(err)), TIX_OK);
    assert_non_null(strstr(err, "MEDIA_DIR"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_table),
        cmocka_unit_test(test_kinds_and_types),
        cmocka_unit_test(test_stored_names),
        cmocka_unit_test(test_sign_documented_vector),
        cmocka_unit_test(test_sign_docs_example_with_eager),
        cmocka_unit_test(test_sign_destroy_and_limits),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_cloudinary_url),
        cmocka_unit_test(test_config_cloudinary_parts),
        cmocka_unit_test(test_config_cloudinary_errors),
        cmocka_unit_test(test_local_store),
        cmocka_unit_test(test_media_dir_error_names_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
