/* Currencies, rates and exact conversion; see currency.h. */
#include "core/currency.h"

#include <stdio.h>
#include <string.h>

/* Exponents from ISO 4217; Razorpay steps from its docs (see currency.h). */
static const tix_currency table[] = {
    {"INR", 2, 1},  {"USD", 2, 1},  {"EUR", 2, 1},  {"GBP", 2, 1}, {"AED", 2, 1}, {"SGD", 2, 1},
    {"AUD", 2, 1},  {"CAD", 2, 1},  {"CHF", 2, 1},  {"HKD", 2, 1}, {"LKR", 2, 1}, {"NPR", 2, 1},
    {"QAR", 2, 1},  {"SAR", 2, 1},  {"MYR", 2, 1},  {"THB", 2, 1}, {"JPY", 0, 1}, {"KRW", 0, 0},
    {"KWD", 3, 10}, {"BHD", 3, 10}, {"OMR", 3, 10}, {"JOD", 3, 0}, {"TND", 3, 0},
};

const tix_currency *tix_currency_find(const char *code)
{
    for (size_t i = 0; code != NULL && i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(code, table[i].code) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

bool tix_currency_razorpay_ok(const tix_currency *c, int64_t amount)
{
    return c != NULL && c->razorpay_step > 0 && amount % c->razorpay_step == 0;
}

bool tix_rate_parse(const char *s, int64_t *scaled)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    int64_t whole = 0;
    int64_t frac = 0;
    int nwhole = 0;
    int nfrac = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++nwhole > 9) {
            return false;
        }
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++nfrac > TIX_RATE_DECIMALS) {
                return false;
            }
            frac = frac * 10 + (*p - '0');
        }
        if (nfrac == 0) {
            return false;
        }
    }
    if (*p != '\0' || nwhole == 0) {
        return false;
    }
    for (int i = nfrac; i < TIX_RATE_DECIMALS; i++) {
        frac *= 10;
    }
    int64_t v = whole * TIX_RATE_SCALE + frac;
    if (v <= 0) {
        return false;
    }
    *scaled = v;
    return true;
}

void tix_rate_format(char out[TIX_RATE_TEXT_MAX], int64_t scaled)
{
    int64_t whole = scaled / TIX_RATE_SCALE;
    int64_t frac = scaled % TIX_RATE_SCALE;
    if (frac == 0) {
        snprintf(out, TIX_RATE_TEXT_MAX, "%lld", (long long)whole);
        return;
    }
    char digits[24];
    snprintf(digits, sizeof(digits), "%0*lld", TIX_RATE_DECIMALS, (long long)frac);
    size_t n = strlen(digits);
    while (n > 0 && digits[n - 1] == '0') {
        digits[--n] = '\0';
    }
    snprintf(out, TIX_RATE_TEXT_MAX, "%lld.%s", (long long)whole, digits);
}

/* GCC's and Clang's 128-bit integer; __extension__ keeps -Wpedantic quiet about it. */
__extension__ typedef __int128 i128;

void tix_currency_format(char out[TIX_MONEY_TEXT_MAX], const char *code, int64_t amount)
{
    const tix_currency *c = tix_currency_find(code);
    int e = c != NULL ? c->exponent : 2;
    const char *sign = amount < 0 ? "-" : "";
    uint64_t v = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    if (e == 0) {
        snprintf(out, TIX_MONEY_TEXT_MAX, "%s %s%llu", code ? code : "", sign,
                 (unsigned long long)v);
        return;
    }
    uint64_t unit = e == 3 ? 1000 : 100;
    snprintf(out, TIX_MONEY_TEXT_MAX, "%s %s%llu.%0*llu", code ? code : "", sign,
             (unsigned long long)(v / unit), e, (unsigned long long)(v % unit));
}

static i128 pow10i(int e)
{
    i128 v = 1;
    while (e-- > 0) {
        v *= 10;
    }
    return v;
}

/*
 * minor_to = minor_from * 10^(e_to) * to_rate / (10^(e_from) * from_rate): the from amount in
 * major units, into INR (divide by from_rate), into to (multiply by to_rate), into to's minor
 * units, with one division and one rounding at the end. amount <= 10^17, 10^e <= 10^3 and a
 * rate < 10^18 keep the numerator below 10^38 < 2^127; larger amounts are refused.
 */
bool tix_currency_convert(int64_t amount, const tix_currency *from, int64_t from_rate,
                          const tix_currency *to, int64_t to_rate, int64_t *out)
{
    if (from == NULL || to == NULL || from_rate <= 0 || to_rate <= 0 || amount < 0 ||
        amount > INT64_C(100000000000000000)) {
        return false;
    }
    i128 num = (i128)amount * pow10i(to->exponent) * to_rate;
    i128 den = pow10i(from->exponent) * from_rate;
    i128 q = num / den;
    i128 r = num % den;
    if (2 * r > den || (2 * r == den && (q & 1) != 0)) {
        q++;
    }
    if (q > INT64_MAX) {
        return false;
    }
    *out = (int64_t)q;
    return true;
}
