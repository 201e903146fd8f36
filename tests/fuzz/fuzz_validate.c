/*
 * Request JSON bodies through validation: the bytes go through tix_req_json exactly as a body
 * does (duplicate keys refused, a non-object refused), then every field check of
 * http/validate.h runs over the keys the API's bodies use, with the ranges its handlers use.
 * Checks: no crash or sanitizer report, and every refusal names a field, a kind (400 or 422)
 * and, for a wrong type, the type expected; a string accepted is valid UTF-8 of the allowed length.
 */
#include "fuzz.h"
#include "http/validate.h"

#include <stdlib.h>
#include <string.h>

static const char *const string_keys[] = {
    "email",         "password",         "name",         "title",    "description", "city",
    "refresh_token", "current_password", "new_password", "role",     "show_id",     "hold_id",
    "language",      "certificate",      "currency",     "starts_at"};

static void check_err(const tix_verr *e)
{
    /* a kind (→ 400 or 422) and, for a wrong type only, the type expected */
    if ((e->kind != TIX_VERR_TYPE && e->kind != TIX_VERR_VALUE) ||
        (e->kind == TIX_VERR_TYPE) != (e->expected != NULL) || e->field == NULL ||
        e->reason == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tix_fuzz_conn conn = {0};
    tix_req r;
    tix_fuzz_req_init(&r, &conn, NULL);
    char *body = tix_fuzz_strndup(data, size);
    r.body = body;
    r.body_len = size;
    json_t *obj = tix_req_json(&r);
    if (obj == NULL) {
        if (r.status != 400 || r.resp == NULL) {
            abort();
        }
    } else {
        for (size_t i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++) {
            tix_verr e = {0};
            const char *s = NULL;
            size_t min = i % 3, max = 1 + i * 17;
            if (tix_v_string(obj, string_keys[i], i % 2 == 0, min, max, &s, &e)) {
                if (s != NULL &&
                    (!tix_utf8_valid(s) || tix_utf8_len(s) < min || tix_utf8_len(s) > max)) {
                    abort();
                }
            } else {
                check_err(&e);
            }
        }
        static const char *const int_keys[] = {"quantity", "duration_minutes", "price", "amount",
                                               "seats",    "capacity"};
        for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
            tix_verr e = {0};
            int64_t v = 0;
            bool present = false;
            int64_t min = i == 0 ? INT64_MIN : (int64_t)i, max = i == 1 ? INT64_MAX : 1000;
            if (tix_v_int(obj, int_keys[i], i % 2 == 1, min, max, &v, &present, &e)) {
                if (present && (v < min || v > max)) {
                    abort();
                }
            } else {
                check_err(&e);
            }
        }
        tix_verr e = {0};
        bool b = false, present = false;
        if (!tix_v_bool(obj, "cancelled", false, &b, &present, &e)) {
            check_err(&e);
        }
        json_t *list = NULL;
        static const char *const list_keys[] = {"tags", "genres", "languages"};
        for (size_t i = 0; i < 3; i++) {
            tix_verr le = {0};
            if (tix_v_string_list(obj, list_keys[i], 3 + i * 5, 8 + i * 16, &list, &le)) {
                json_decref(list);
                list = NULL;
            } else {
                check_err(&le);
            }
        }
        json_t *em = json_object_get(obj, "email");
        if (json_is_string(em)) {
            char out[320];
            (void)tix_email_normalize(json_string_value(em), out, sizeof(out));
            (void)tix_email_normalize(json_string_value(em), out, 4);
        }
    }
    tix_fuzz_req_done(&r);
    free(body);
    return 0;
}
