/*
 * Currencies: the ISO 4217 codes a cinema may price a show in, each with its minor-unit exponent
 * (JPY 0: amounts are whole yen; INR 2: paise; KWD 3: fils), whether Razorpay can charge it and
 * in what step of the minor unit, and exact conversion of an integer minor amount between two
 * currencies.
 *
 * Money is never a double here. A rate is "units of the currency per one INR" written as a decimal
 * string (at most TIX_RATE_DECIMALS places, e.g. "0.012034" USD per INR) and held as an integer
 * scaled by 10^TIX_RATE_DECIMALS. A conversion multiplies and divides 128-bit integers once and
 * rounds the single remainder half to even (banker's rounding: 2.5 -> 2, 3.5 -> 4), so converting
 * many prices never drifts and the same input always gives the same output on every machine.
 *
 * Razorpay (docs "Currency Conversion", "Checkout parameters", May 2024) takes the amount in the
 * currency subunit: JPY with no decimals; the three-decimal currencies it supports (KWD, BHD,
 * OMR) only with the last digit 0, i.e. in steps of 10 fils; JOD, TND and KRW are not in its
 * list, so a show charged through Razorpay cannot be priced in them.
 *
 * Everything here is pure and allocation-free: the table is static, the caller owns every buffer.
 */
#ifndef TIX_CORE_CURRENCY_H
#define TIX_CORE_CURRENCY_H

#include <stdbool.h>
#include <stdint.h>

#define TIX_RATE_DECIMALS 9
#define TIX_RATE_SCALE    INT64_C(1000000000) /* 10^TIX_RATE_DECIMALS */
#define TIX_RATE_TEXT_MAX 32                  /* "123456789.123456789" and a NUL fit */

typedef struct tix_currency {
    const char *code;  /* ISO 4217 alpha code, e.g. "INR" */
    int exponent;      /* minor-unit digits: 0, 2 or 3 */
    int razorpay_step; /* Razorpay charges multiples of this many minor units; 0: not chargeable */
} tix_currency;

/* The table entry for code (exact, upper-case), or NULL if the code is not one we support. */
const tix_currency *tix_currency_find(const char *code);

/* Whether amount (minor units of c) is a valid Razorpay charge: c chargeable and amount a
 * multiple of its step. */
bool tix_currency_razorpay_ok(const tix_currency *c, int64_t amount);

/* Parses a positive decimal rate ("83", "0.012034", at most TIX_RATE_DECIMALS places, at most
 * 9 integer digits, no sign or exponent) into *scaled (rate * TIX_RATE_SCALE). False on anything
 * else, including zero. */
bool tix_rate_parse(const char *s, int64_t *scaled);

/* Writes scaled as the shortest decimal ("0.012034", "83") into out. */
void tix_rate_format(char out[TIX_RATE_TEXT_MAX], int64_t scaled);

/* Writes "<code> <major>[.<minor>]" for amount minor units of code, with as many decimals as its
 * exponent ("JPY 1800", "INR 550.50", "KWD 3.650"); two decimals for an unknown code. */
#define TIX_MONEY_TEXT_MAX 48
void tix_currency_format(char out[TIX_MONEY_TEXT_MAX], const char *code, int64_t amount);

/* Converts amount minor units of from into minor units of to, given each currency's rate per INR
 * (scaled; INR's own rate is TIX_RATE_SCALE), rounding half to even. False (and *out untouched)
 * if a rate is not positive or the result does not fit in int64. */
bool tix_currency_convert(int64_t amount, const tix_currency *from, int64_t from_rate,
                          const tix_currency *to, int64_t to_rate, int64_t *out);

#endif
