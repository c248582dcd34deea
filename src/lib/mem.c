/* mem: allocation wrappers with a counter and a failure-injection hook for tests. */
#include "mem.h"

#include <errno.h>
#include <stdint.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1;
static atomic_ulong allocations;

/* Decides whether this allocation is allowed under the failure-injection hook. */
static int mem_allowed(void)
{
    long n = atomic_load(&fail_after);
    if (n < 0)
        return 1;
    if (n == 0)
        return 0;
    atomic_fetch_sub(&fail_after, 1);
    return 1;
}

void *mem_alloc(size_t n)
{
    if (!mem_allowed())
        return NULL;
    atomic_fetch_add(&allocations, 1);
    return malloc(n ? n : 1);
}

void *mem_calloc(size_t count, size_t size)
{
    if (!mem_allowed())
        return NULL;
    atomic_fetch_add(&allocations, 1);
    return calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *p, size_t n)
{
    if (!mem_allowed())
        return NULL;
    atomic_fetch_add(&allocations, 1);
    return realloc(p, n ? n : 1);
}

void mem_free(void *p)
{
    free(p);
}

int mem_grow(void **p, size_t *cap, size_t n, size_t sz, size_t first)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : (first ? first : 16);
    while (nc <= n)
        nc *= 2;
    if (sz && nc > SIZE_MAX / sz)
        return -ENOMEM;
    void *np = mem_realloc(*p, nc * sz);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

char *mem_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = mem_alloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mem_strdup(const char *s)
{
    return s ? mem_strndup(s, strlen(s)) : NULL;
}

void mem_fail_after(long n)
{
    atomic_store(&fail_after, n);
}

unsigned long mem_allocations(void)
{
    return atomic_load(&allocations);
}
