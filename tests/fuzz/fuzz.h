/*
 * What every libFuzzer target in tests/fuzz shares (support.c). Each target is one
 * fuzz_<name>.c defining LLVMFuzzerTestOneInput over one parser of outside bytes; its seed
 * corpus is corpus/<name>/ and `make fuzz` / `make fuzz-smoke` run them all.
 *
 * Requests without a server: tix_fuzz_req gives a tix_req whose conn is a fake connection.
 * support.c defines MHD_lookup_connection_value and MHD_lookup_connection_value_n, which take
 * the place of libmicrohttpd's (the executable's definition wins over the shared library's,
 * also for libmicrohttpd's own calls such as the post processor's Content-Type lookup), so
 * tix_req_query, tix_req_header and the multipart parser read the headers and query arguments
 * a target put in the fake connection. Nothing here is thread-safe; libFuzzer runs one input at
 * a time.
 */
#ifndef TIX_TESTS_FUZZ_H
#define TIX_TESTS_FUZZ_H

#include "app.h"
#include "http/req.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define TIX_FUZZ_MAX_VALUES 32

/* Stands in for struct MHD_Connection. Names and values are borrowed (the caller keeps them
 * alive while the connection is used). kind is libmicrohttpd's MHD_ValueKind bit. */
typedef struct tix_fuzz_conn {
    int n;
    int kind[TIX_FUZZ_MAX_VALUES];
    const char *name[TIX_FUZZ_MAX_VALUES];
    const char *value[TIX_FUZZ_MAX_VALUES];
    size_t value_len[TIX_FUZZ_MAX_VALUES];
} tix_fuzz_conn;

/* Adds one value; ignored once the connection is full. */
void tix_fuzz_conn_add(tix_fuzz_conn *c, int kind, const char *name, const char *value);

/* Splits a query string ("a=1&b=%26") in place into GET arguments of c, percent-decoding
 * names and values as libmicrohttpd does; parts without '=' are skipped. false when the server
 * would refuse the query before any handler (400: a repeated name, or a control byte, raw or
 * encoded); the arguments are added anyway. */
bool tix_fuzz_parse_query(tix_fuzz_conn *c, char *qs);

/* A request on conn with a fresh arena and the given app (may be NULL); free with
 * tix_fuzz_req_done, which also drops r->json. */
void tix_fuzz_req_init(tix_req *r, tix_fuzz_conn *conn, tix_app *app);
void tix_fuzz_req_done(tix_req *r);

/* A NUL-terminated malloc'd copy of data[0..n) (the caller frees). */
char *tix_fuzz_strndup(const uint8_t *data, size_t n);

/* Splits data at the first occurrence of the byte sep: *head = data[0..i), returns the rest
 * (after sep) with *rest_len, or NULL with *head = all of data when sep is absent. */
const uint8_t *tix_fuzz_split(const uint8_t *data, size_t size, uint8_t sep, size_t *head_len,
                              size_t *rest_len);

/* Logging off (fuzzed inputs make the code under test log a great deal). */
void tix_fuzz_quiet(void);

#endif
