/* form: URL-encoded parameter parsing (strict: bad escapes are errors, not guesses). */
#include "form.h"

#include "../lib/mem.h"

#include <errno.h>
#include <string.h>

void http_form_init(http_form *f)
{
    memset(f, 0, sizeof *f);
}

void http_form_free(http_form *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        mem_free(f->v[i].key);
        mem_free(f->v[i].value);
    }
    mem_free(f->v);
    memset(f, 0, sizeof *f);
}

static int form_push(http_form *f, char *key, char *value)
{
    if (f->n >= FORM_MAX_PARAMS)
        return -E2BIG;
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 8;
        form_param *v = mem_realloc(f->v, nc * sizeof *v);
        if (!v)
            return -ENOMEM;
        f->v = v;
        f->cap = nc;
    }
    f->v[f->n].key = key;
    f->v[f->n].value = value;
    f->n++;
    return 0;
}

int http_form_add(http_form *f, const char *key, const char *value)
{
    char *k = mem_strdup(key), *v = mem_strdup(value ? value : "");
    int rc = (!k || !v) ? -ENOMEM : form_push(f, k, v);
    if (rc) {
        mem_free(k);
        mem_free(v);
    }
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) into a new string. */
static int decode(const char *s, size_t len, char **out)
{
    char *d = mem_alloc(len + 1);
    if (!d)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            d[n++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            /* A NUL byte would silently truncate the value: refuse it. */
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                mem_free(d);
                return -EINVAL;
            }
            d[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '\0') {
            /* A raw NUL in a body would cut the value short just the same. */
            mem_free(d);
            return -EINVAL;
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

int http_form_parse(http_form *f, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && s[eq] != '=')
                eq++;
            char *k = NULL, *v = NULL;
            int rc = decode(s + i, eq - i, &k);
            if (!rc)
                rc = decode(s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, &v);
            if (!rc)
                rc = form_push(f, k, v);
            if (rc) {
                mem_free(k);
                mem_free(v);
                return rc;
            }
        }
        i = end + 1;
    }
    return 0;
}

const char *http_form_get(const http_form *f, const char *key)
{
    size_t pos = 0;
    return http_form_next(f, key, &pos);
}

const char *http_form_next(const http_form *f, const char *key, size_t *pos)
{
    while (*pos < f->n) {
        const form_param *p = &f->v[(*pos)++];
        if (strcmp(p->key, key) == 0)
            return p->value;
    }
    return NULL;
}
