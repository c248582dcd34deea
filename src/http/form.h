/* form: request parameters from a URL query string and/or an x-www-form-urlencoded body,
 * with repeated keys kept in order (Prometheus's match[]). Not thread-safe; one per request. */
#ifndef DD_FORM_H
#define DD_FORM_H

#include <stddef.h>

#define FORM_MAX_PARAMS 1024

typedef struct form_param {
    char *key;
    char *value;
} form_param;

typedef struct http_form {
    form_param *v;
    size_t n, cap;
} http_form;

void http_form_init(http_form *f);
void http_form_free(http_form *f);
/* Adds a decoded pair (both copied). Returns 0, -ENOMEM or -E2BIG past FORM_MAX_PARAMS. */
int http_form_add(http_form *f, const char *key, const char *value);
/* Parses "a=1&b=x%20y&b=2" ('+' is a space). Returns 0, -EINVAL on a bad %-escape or a value
 * with a NUL byte, -E2BIG or -ENOMEM. */
int http_form_parse(http_form *f, const char *s, size_t len);
/* First value of key, or NULL. */
const char *http_form_get(const http_form *f, const char *key);
/* Iterates the values of key: start with *pos = 0; returns NULL at the end. */
const char *http_form_next(const http_form *f, const char *key, size_t *pos);

#endif
