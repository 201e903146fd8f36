/*
 * Arena allocator (H2O's request pool): many small allocations, one free. Every request owns
 * one arena for parsing, strings and the response; tix_arena_destroy frees all of it at once.
 * Memory never moves; allocations are 16-byte aligned. Out of memory aborts (there is no
 * sensible recovery for a few bytes of a request), so callers need not check.
 * Not thread-safe: an arena belongs to one request, served by one thread at a time.
 */
#ifndef TIX_CORE_ARENA_H
#define TIX_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct tix_arena tix_arena;

/* A new arena whose first block holds `first` bytes (0 = default, 8 KiB); later blocks hold at
 * least the default. Free with destroy. */
tix_arena *tix_arena_create(size_t first);
/* Frees the arena and everything allocated from it. NULL does nothing. */
void tix_arena_destroy(tix_arena *a);
/* n bytes, 16-aligned, uninitialised; owned by the arena. */
void *tix_arena_alloc(tix_arena *a, size_t n) __attribute__((returns_nonnull));
/* n zeroed bytes, owned by the arena. */
void *tix_arena_calloc(tix_arena *a, size_t n) __attribute__((returns_nonnull));
/* Copies of strings and formatted text, owned by the arena. strndup copies at most n bytes. */
char *tix_arena_strdup(tix_arena *a, const char *s);
char *tix_arena_strndup(tix_arena *a, const char *s, size_t n);
char *tix_arena_sprintf(tix_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *tix_arena_vsprintf(tix_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Bytes handed out so far (for tests and metrics). */
size_t tix_arena_used(const tix_arena *a);

#endif
