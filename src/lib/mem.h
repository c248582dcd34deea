/* mem: the one allocator through which all of dashdot's memory flows.
 *
 * Every module allocates with these wrappers so tests can count allocations and inject
 * failures. They behave like their libc namesakes: they return NULL when memory is exhausted
 * (callers turn that into -ENOMEM), and mem_free accepts NULL. Thread-safe. */
#ifndef DD_MEM_H
#define DD_MEM_H

#include <stddef.h>

void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
/* Makes room in the growable array *p (capacity *cap elements of size sz) for element n,
 * doubling the capacity (from `first` when empty). Returns 0, or -ENOMEM with *p and *cap
 * unchanged. The array idiom of the store and the decoders in one place. */
int mem_grow(void **p, size_t *cap, size_t n, size_t sz, size_t first);
/* Returns a fresh copy of s (NULL if s is NULL or memory is exhausted); the caller frees it. */
char *mem_strdup(const char *s);
/* Returns a fresh NUL-terminated copy of the first n bytes of s; the caller frees it. */
char *mem_strndup(const char *s, size_t n);

/* Test hooks: after `n` more successful allocations every allocation fails (n < 0: never).
 * mem_allocations() counts allocations made since start. */
void mem_fail_after(long n);
unsigned long mem_allocations(void);

#endif
