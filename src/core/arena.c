/*
 * Arena: a linked list of blocks; allocation bumps a pointer in the newest block, a request
 * larger than a quarter block gets a block of its own so the current block is not wasted.
 * The first block has the size asked for; later ones at least ARENA_DEFAULT, so a small first
 * block (an arena that usually needs little, or one that lives long: a request that becomes an
 * event stream) costs little without making a busy arena call malloc often.
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT 8192
#define ARENA_ALIGN   16

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct tix_arena {
    struct block *head;
    size_t block_size;
    size_t total;
};

static struct block *block_new(size_t size)
{
    struct block *b = malloc(sizeof(*b) + size);
    if (b == NULL) {
        fputs("{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n", stderr);
        abort();
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

tix_arena *tix_arena_create(size_t first)
{
    tix_arena *a = malloc(sizeof(*a));
    if (a == NULL) {
        abort();
    }
    a->block_size = first > ARENA_DEFAULT ? first : ARENA_DEFAULT;
    a->head = block_new(first ? first : ARENA_DEFAULT);
    a->total = 0;
    return a;
}

void tix_arena_destroy(tix_arena *a)
{
    if (a == NULL) {
        return;
    }
    struct block *b = a->head;
    while (b != NULL) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *tix_arena_alloc(tix_arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) {
        need = ARENA_ALIGN;
    }
    a->total += need;
    if (need > a->block_size / 4) {
        /* Big allocation: own block, linked behind the current one. */
        struct block *big = block_new(need);
        big->used = need;
        big->next = a->head->next;
        a->head->next = big;
        return big->data;
    }
    if (a->head->size - a->head->used < need) {
        struct block *b = block_new(a->block_size);
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += need;
    return p;
}

void *tix_arena_calloc(tix_arena *a, size_t n)
{
    void *p = tix_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *tix_arena_strndup(tix_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = tix_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *tix_arena_strdup(tix_arena *a, const char *s)
{
    return tix_arena_strndup(a, s, SIZE_MAX);
}

char *tix_arena_vsprintf(tix_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap2); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap2);
    if (len < 0) {
        len = 0;
    }
    char *p = tix_arena_alloc(a, (size_t)len + 1);
    vsnprintf(p, (size_t)len + 1, fmt, ap);
    return p;
}

char *tix_arena_sprintf(tix_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = tix_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

size_t tix_arena_used(const tix_arena *a)
{
    return a->total;
}
