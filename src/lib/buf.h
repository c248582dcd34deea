/* buf: a growable byte buffer with a hard cap.
 *
 * The caller owns the struct (buf_init/buf_free pair, like libuv handles). Appends that would
 * grow the buffer past its cap fail with -E2BIG and leave it unchanged; allocation failure gives
 * -ENOMEM. The data is always NUL-terminated (the NUL is not counted in len). Not thread-safe. */
#ifndef DD_BUF_H
#define DD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;   /* allocated bytes */
    size_t max;   /* hard cap on len; 0 means SIZE_MAX */
    int err;      /* first error of a sequence of appends (sticky until buf_reset) */
} buf;

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
/* Empties the buffer (keeps the allocation) and clears the sticky error. */
void buf_reset(buf *b);
/* Ensures room for `extra` more bytes. Returns 0, -E2BIG or -ENOMEM. */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Hands the data over to the caller (who frees it with mem_free) and resets the buffer. */
char *buf_steal(buf *b, size_t *len);

#endif
