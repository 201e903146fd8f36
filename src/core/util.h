/*
 * Small shared helpers: clock (swappable in tests), randomness, ids, encodings, digests and
 * RFC 3339 times. Output buffers are the caller's; sizes are given by the constants below.
 */
#ifndef TIX_CORE_UTIL_H
#define TIX_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_ID_MAX      40 /* "usr_" + 26 base32 characters + NUL fits easily */
#define TIX_RFC3339_MAX 32 /* "2026-11-25T10:00:00.000Z" + NUL */
#define TIX_SHA256_HEX  65 /* 64 hex digits + NUL */

/* Milliseconds since the epoch, UTC. Tests may replace the clock with tix_clock_set. */
int64_t tix_now_ms(void);
/* Replaces the clock (NULL restores the real one). Not thread-safe: call before serving. */
void tix_clock_set(int64_t (*now_ms)(void));
/* Monotonic clock (CLOCK_MONOTONIC) in milliseconds and in microseconds, for time-outs and
 * durations: it never jumps with the wall clock and tix_clock_set does not touch it. */
int64_t tix_mono_ms(void);
int64_t tix_mono_us(void);

/* Makes the calling thread inc nice steps less urgent than it is (Linux keeps a nice value per
 * thread; raising it needs no privilege and cannot be undone without one). The handler and job
 * threads call it, so that libmicrohttpd's threads, which accept, read, answer cached reads and
 * early refusals and write every answer, get a core first when all want one (HANDLER_NICE).
 * inc <= 0: nothing. False if the kernel refused. */
bool tix_thread_nice(int inc);

/* Cryptographically secure random bytes (libsodium). */
void tix_random_bytes(void *buf, size_t n);

/* The 64-bit FNV-1a hash of n bytes: the in-process tables' bucket choice (not for anything an
 * attacker must not collide). tix_fnv1a_str: of a NUL-terminated string. */
uint64_t tix_fnv1a(const void *p, size_t n);
uint64_t tix_fnv1a_str(const char *s);

/* A new time-ordered id "<prefix>_<26 chars>" (48-bit ms time + 80 random bits, Crockford
 * base32, ULID-like): ids sort by creation time, so they double as pagination keys. */
void tix_id_new(char out[TIX_ID_MAX], const char *prefix);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void tix_hex_encode(char *out, const unsigned char *in, size_t n);
/* The value of one hex digit (either case), or -1 if c is none. */
int tix_hex_digit(char c);
/* URL-safe base64 without padding into out (cap bytes); false if it does not fit. */
bool tix_base64url_encode(char *out, size_t cap, const unsigned char *in, size_t n);
/* Decodes URL-safe base64 without padding; returns bytes written or -1 if invalid/too long. */
long tix_base64url_decode(unsigned char *out, size_t cap, const char *in);
/* The same over in[0..len) (no NUL needed), as strict: every character decoded, no padding,
 * no non-zero trailing bits (libsodium refuses non-canonical input). */
long tix_base64url_decode_n(unsigned char *out, size_t cap, const char *in, size_t len);

/* SHA-256 of n bytes, as lower-case hex. */
void tix_sha256_hex(char out[TIX_SHA256_HEX], const void *in, size_t n);
/* HMAC-SHA256 of msg with key, as lower-case hex. */
void tix_hmac_sha256_hex(char out[TIX_SHA256_HEX], const void *key, size_t keylen, const void *msg,
                         size_t msglen);
/* Constant-time equality of two NUL-terminated strings (length may leak, content not). */
bool tix_secure_streq(const char *a, const char *b);

/* "2026-11-25T10:00:00.000Z" for ms since the epoch. */
void tix_rfc3339(char out[TIX_RFC3339_MAX], int64_t ms);
/* Parses an RFC 3339 time (Z or ±hh:mm offset, optional fraction); false if invalid. */
bool tix_parse_rfc3339(const char *s, int64_t *out_ms);

/* The length of the valid UTF-8 character at s (1..4; 1 for the terminating NUL), 0 when s
 * starts none: a stray or bad continuation byte, an overlong form, a surrogate, a code point
 * past U+10FFFF, or a sequence cut short by the NUL. Reads no further than a NUL. */
size_t tix_utf8_seq(const unsigned char *s);

/* Whether word (non-empty) is one of the space-separated words of list ("a b c"; NULL: none).
 * Words are compared whole: "lim" is not in "limit". */
bool tix_word_in(const char *list, const char *word);

/* Parses a whole decimal integer in [min, max]; false on junk, overflow or out of range. */
bool tix_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
