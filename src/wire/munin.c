/* munin: the munin-node protocol reader (see munin.h). Answers are read line by line; a plugin's
 * config and fetch answers are merged into graphs and fields kept in first-seen order with two
 * hash maps for lookup, so a hostile node sending many fields costs linear time. Texts that end
 * up in label values (titles, labels, thresholds) are made valid UTF-8 and cut to
 * MUNIN_TEXT_MAX bytes when they are stored. */
#include "munin.h"

#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small text helpers ------------------------------------------------------------------ */

/* A quotable excerpt of s[0..len): at most 40 bytes, others than printable ASCII as \xNN. */
static void excerpt(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 if there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    unsigned cp = c & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

/* A fresh copy of s[0..len) fit for a label value: bytes that are not valid UTF-8 become '?',
 * cut at a character boundary to MUNIN_TEXT_MAX bytes. NULL when out of memory. */
static char *text_copy(const char *s, size_t len)
{
    char *out = mem_alloc((len < MUNIN_TEXT_MAX ? len : MUNIN_TEXT_MAX) + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq((const unsigned char *)s + i, len - i);
        if (o + (k ? k : 1) > MUNIN_TEXT_MAX)
            break;
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

/* Replaces *dst with a text copy of s[0..len). Returns 0 or -ENOMEM. */
static int set_text(char **dst, const char *s, size_t len)
{
    char *t = text_copy(s, len);
    if (!t)
        return -ENOMEM;
    mem_free(*dst);
    *dst = t;
    return 0;
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int all_word(const char *s, size_t len)
{
    if (!len || len > MUNIN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_word_char(s[i]))
            return 0;
    return 1;
}

/* Multigraph names are plugin-like names with dots for sub-graphs ("diskstats_iops.sda"). */
static int valid_graph_name(const char *s, size_t len)
{
    if (!len || len > MUNIN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_word_char(s[i]) && s[i] != '.' && s[i] != '-' && s[i] != ':')
            return 0;
    return 1;
}

static int has_prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    return len >= n && !memcmp(s, p, n);
}

static int equals(const char *s, size_t len, const char *w)
{
    return strlen(w) == len && !memcmp(s, w, len);
}

/* Parses a decimal number written as munin plugins write them: [+-]digits[.digits][e[+-]digits]
 * (no hex, no inf or nan, no blanks), finite. Returns 0 with *v, or -EINVAL. */
static int parse_number(const char *s, size_t len, double *v)
{
    char tmp[128];
    size_t i = 0, digits = 0;
    if (!len || len >= sizeof tmp)
        return -EINVAL;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (!digits)
        return -EINVAL;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            e++;
        }
        if (!e)
            return -EINVAL;
    }
    if (i != len)
        return -EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        return -EINVAL;
    *v = d;
    return 0;
}

/* ---- lines, banner, cap, list ---------------------------------------------------------- */

int munin_line(const char *data, size_t len, size_t *linelen, size_t *used)
{
    size_t scan = len < MUNIN_LINE_MAX ? len : MUNIN_LINE_MAX;
    const char *nl = memchr(data, '\n', scan);
    if (!nl)
        return len >= MUNIN_LINE_MAX ? -E2BIG : 0;
    size_t n = (size_t)(nl - data);
    *used = n + 1;
    if (n && data[n - 1] == '\r')
        n--;
    *linelen = n;
    return 1;
}

/* True if s[0..len) holds no control character but tab. */
static int clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static void set_err(char *err, size_t errcap, const char *what, const char *line, size_t len)
{
    char ex[200];
    excerpt(ex, sizeof ex, line, len);
    snprintf(err, errcap, "%s \"%s\"", what, ex);
}

int munin_parse_banner(const char *line, size_t len, char *node, size_t cap, char *err,
                       size_t errcap)
{
    static const char pfx[] = "# munin node at ";
    size_t n = sizeof pfx - 1;
    if (!has_prefix(line, len, pfx) || len == n || !clean(line, len)) {
        set_err(err, errcap, "not a munin node: it said", line, len);
        return -EINVAL;
    }
    if (cap) {
        size_t k = len - n < cap - 1 ? len - n : cap - 1;
        memcpy(node, line + n, k);
        node[k] = '\0';
    }
    return 0;
}

int munin_parse_cap(const char *line, size_t len, unsigned *caps, char *err, size_t errcap)
{
    unsigned c = 0;
    if (has_prefix(line, len, "# Unknown command")) {
        *caps = 0; /* a node from before capabilities */
        return 0;
    }
    if (!has_prefix(line, len, "cap") || (len > 3 && line[3] != ' ') || !clean(line, len)) {
        set_err(err, errcap, "unexpected answer to cap:", line, len);
        return -EINVAL;
    }
    for (size_t i = 3; i < len;) {
        while (i < len && line[i] == ' ')
            i++;
        size_t s = i;
        while (i < len && line[i] != ' ')
            i++;
        if (equals(line + s, i - s, "multigraph"))
            c |= MUNIN_CAP_MULTIGRAPH;
        else if (equals(line + s, i - s, "dirtyconfig"))
            c |= MUNIN_CAP_DIRTYCONFIG;
    }
    *caps = c;
    return 0;
}

int munin_valid_plugin_name(const char *s, size_t len)
{
    if (!len || len > MUNIN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

void munin_list_free(munin_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        mem_free(l->names[i]);
    mem_free(l->names);
    l->names = NULL;
    l->n = 0;
}

int munin_parse_list(const char *line, size_t len, munin_list *out, char *err, size_t errcap)
{
    munin_list l = {0};
    hmap seen;
    size_t cap = 0;
    int rc = 0;
    hmap_init(&seen);
    out->names = NULL;
    out->n = 0;
    if (len && line[0] == '#') {
        set_err(err, errcap, "unexpected answer to list:", line, len);
        rc = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < len;) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t s = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i == s)
            break;
        if (!munin_valid_plugin_name(line + s, i - s)) {
            set_err(err, errcap, "bad plugin name in the list:", line + s, i - s);
            rc = -EINVAL;
            goto out;
        }
        if (hmap_get(&seen, line + s, i - s))
            continue;
        if (l.n >= MUNIN_PLUGINS_MAX) {
            snprintf(err, errcap, "the node lists more than %d plugins", MUNIN_PLUGINS_MAX);
            rc = -EINVAL;
            goto out;
        }
        if ((rc = mem_grow((void **)&l.names, &cap, l.n, sizeof *l.names, 16)))
            goto out;
        if (!(l.names[l.n] = mem_strndup(line + s, i - s))) {
            rc = -ENOMEM;
            goto out;
        }
        l.n++;
        if ((rc = hmap_put(&seen, line + s, i - s, l.names[l.n - 1])))
            goto out;
    }
out:
    hmap_free(&seen);
    if (rc)
        munin_list_free(&l);
    else
        *out = l;
    return rc;
}

/* ---- a plugin's answers ---------------------------------------------------------------- */

static const char *const type_names[] = {"GAUGE", "DERIVE", "COUNTER", "ABSOLUTE"};

const char *munin_type_name(munin_type t)
{
    return (unsigned)t < 4 ? type_names[t] : "GAUGE";
}

int munin_plugin_new(munin_plugin **out, const char *name)
{
    *out = NULL;
    if (!name || !munin_valid_plugin_name(name, strlen(name)))
        return -EINVAL;
    munin_plugin *p = mem_calloc(1, sizeof *p);
    if (!p || !(p->name = mem_strdup(name))) {
        mem_free(p);
        return -ENOMEM;
    }
    hmap_init(&p->graph_index);
    hmap_init(&p->field_index);
    *out = p;
    return 0;
}

static void field_free(munin_field *f)
{
    mem_free(f->name);
    mem_free(f->label);
    mem_free(f->warning);
    mem_free(f->critical);
    mem_free(f);
}

void munin_plugin_free(munin_plugin *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ngraphs; i++) {
        munin_graph *g = p->graphs[i];
        for (size_t j = 0; j < g->nfields; j++)
            field_free(g->fields[j]);
        mem_free(g->fields);
        mem_free(g->name);
        mem_free(g->title);
        mem_free(g->vlabel);
        mem_free(g->category);
        mem_free(g);
    }
    mem_free(p->graphs);
    hmap_free(&p->graph_index);
    hmap_free(&p->field_index);
    mem_free(p->name);
    mem_free(p);
}

void munin_plugin_begin(munin_plugin *p, munin_answer which)
{
    p->answer = which;
    p->cur = NULL;
    p->lineno = 0;
}

/* Records the plugin's first failure: "<answer> line N: <what> \"<excerpt>\"". */
static int fail(munin_plugin *p, int rc, const char *what, const char *line, size_t len)
{
    char ex[200] = "";
    if (p->failed)
        return rc;
    p->failed = rc;
    if (line)
        excerpt(ex, sizeof ex, line, len);
    snprintf(p->err, sizeof p->err, "%s line %zu: %s%s%s%s",
             p->answer == MUNIN_CONFIG ? "config" : "fetch", p->lineno, what, line ? " \"" : "", ex,
             line ? "\"" : "");
    return rc;
}

/* The graph called name, made if new. NULL when it cannot be (p failed). */
static munin_graph *get_graph(munin_plugin *p, const char *name, size_t len)
{
    munin_graph *g = hmap_get(&p->graph_index, name, len);
    if (g)
        return g;
    if (p->ngraphs >= MUNIN_GRAPHS_MAX) {
        fail(p, -E2BIG, "more than 16384 graphs", NULL, 0);
        return NULL;
    }
    if (mem_grow((void **)&p->graphs, &p->capgraphs, p->ngraphs, sizeof *p->graphs, 4) ||
        !(g = mem_calloc(1, sizeof *g)) || !(g->name = mem_strndup(name, len))) {
        if (g)
            mem_free(g);
        fail(p, -ENOMEM, "out of memory", NULL, 0);
        return NULL;
    }
    if (hmap_put(&p->graph_index, name, len, g)) {
        mem_free(g->name);
        mem_free(g);
        fail(p, -ENOMEM, "out of memory", NULL, 0);
        return NULL;
    }
    p->graphs[p->ngraphs++] = g;
    return g;
}

static munin_graph *current_graph(munin_plugin *p)
{
    if (!p->cur)
        p->cur = get_graph(p, p->name, strlen(p->name));
    return p->cur;
}

/* The field called name of graph g, made if new. NULL when it cannot be (p failed). */
static munin_field *get_field(munin_plugin *p, munin_graph *g, const char *name, size_t len)
{
    char key[2 * MUNIN_NAME_MAX + 2];
    size_t gl = strlen(g->name);
    memcpy(key, g->name, gl);
    key[gl] = '\0';
    memcpy(key + gl + 1, name, len);
    size_t klen = gl + 1 + len;
    munin_field *f = hmap_get(&p->field_index, key, klen);
    if (f)
        return f;
    if (p->nfields >= MUNIN_FIELDS_MAX) {
        fail(p, -E2BIG, "more than 65536 fields", NULL, 0);
        return NULL;
    }
    if (mem_grow((void **)&g->fields, &g->capfields, g->nfields, sizeof *g->fields, 8) ||
        !(f = mem_calloc(1, sizeof *f)) || !(f->name = mem_strndup(name, len)) ||
        hmap_put(&p->field_index, key, klen, f)) {
        if (f)
            field_free(f);
        fail(p, -ENOMEM, "out of memory", NULL, 0);
        return NULL;
    }
    g->fields[g->nfields++] = f;
    p->nfields++;
    return f;
}

/* "VALUE", "U", "EPOCH:VALUE" or "EPOCH:U" into f. Returns 0 or -EINVAL. */
static int read_value(munin_field *f, const char *v, size_t len)
{
    int64_t t = 0;
    double d = 0;
    const char *colon = memchr(v, ':', len);
    if (colon) {
        size_t n = (size_t)(colon - v);
        if (!n || n > 10)
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -EINVAL;
            t = t * 10 + (v[i] - '0');
        }
        if (t <= 0)
            return -EINVAL;
        len -= n + 1;
        v = colon + 1;
    }
    if (equals(v, len, "U")) {
        f->has_value = 0;
        return 0;
    }
    if (parse_number(v, len, &d))
        return -EINVAL;
    f->has_value = 1;
    f->value = d;
    f->time_s = t;
    return 0;
}

/* "<field>.<attr> value" */
static int field_line(munin_plugin *p, const char *line, size_t len, size_t klen, const char *v,
                      size_t vlen)
{
    const char *dot = memchr(line, '.', klen);
    size_t nlen = (size_t)(dot - line);
    const char *attr = dot + 1;
    size_t alen = klen - nlen - 1;
    if (!all_word(line, nlen) || !all_word(attr, alen))
        return fail(p, -EINVAL, "malformed field line", line, len);
    munin_graph *g = current_graph(p);
    munin_field *f = g ? get_field(p, g, line, nlen) : NULL;
    if (!f)
        return p->failed;
    if (p->answer == MUNIN_FETCH) {
        if (equals(attr, alen, "value")) {
            if (read_value(f, v, vlen))
                return fail(p, -EINVAL, "bad value", line, len);
        }
        return 0; /* extinfo and the like */
    }
    if (equals(attr, alen, "label"))
        return set_text(&f->label, v, vlen) ? fail(p, -ENOMEM, "out of memory", NULL, 0) : 0;
    if (equals(attr, alen, "warning"))
        return set_text(&f->warning, v, vlen) ? fail(p, -ENOMEM, "out of memory", NULL, 0) : 0;
    if (equals(attr, alen, "critical"))
        return set_text(&f->critical, v, vlen) ? fail(p, -ENOMEM, "out of memory", NULL, 0) : 0;
    if (equals(attr, alen, "type")) {
        for (int i = 0; i < 4; i++)
            if (equals(v, vlen, type_names[i])) {
                f->type = (munin_type)i;
                return 0;
            }
        return fail(p, -EINVAL, "unknown field type", line, len);
    }
    return 0; /* draw, info, min, max, cdef, colour, negative, graph, value...: not needed */
}

/* "graph_<attr> value" and the few other graph-level keys of a config answer. */
static int graph_line(munin_plugin *p, const char *line, size_t len, size_t klen, const char *v,
                      size_t vlen)
{
    if (p->answer == MUNIN_FETCH || !all_word(line, klen))
        return fail(p, -EINVAL, "malformed line", line, len);
    int title = equals(line, klen, "graph_title"), vlabel = equals(line, klen, "graph_vlabel"),
        category = equals(line, klen, "graph_category");
    if (!has_prefix(line, klen, "graph_") && !equals(line, klen, "host_name") &&
        !equals(line, klen, "update_rate"))
        return fail(p, -EINVAL, "unknown graph attribute", line, len);
    if (!title && !vlabel && !category)
        return 0; /* graph_args, graph_info, graph_order...: not needed */
    munin_graph *g = current_graph(p);
    if (!g)
        return p->failed;
    if (set_text(title ? &g->title : vlabel ? &g->vlabel : &g->category, v, vlen))
        return fail(p, -ENOMEM, "out of memory", NULL, 0);
    return 0;
}

int munin_plugin_line(munin_plugin *p, const char *line, size_t len)
{
    if (len == 1 && line[0] == '.')
        return 1;
    p->lineno++;
    if (p->failed || !len)
        return 0;
    if (line[0] == '#') {
        /* The node's own verdicts on the plugin; other comments carry nothing. */
        if (has_prefix(line, len, "# Unknown service"))
            fail(p, -ENOENT, "unknown service", NULL, 0);
        else if (has_prefix(line, len, "# Timed out") || has_prefix(line, len, "# Timeout"))
            fail(p, -ETIMEDOUT, "the plugin timed out on the node", NULL, 0);
        else if (has_prefix(line, len, "# Bad exit"))
            fail(p, -EIO, "the plugin failed on the node (bad exit)", NULL, 0);
        return p->failed == -ENOMEM ? -ENOMEM : 0;
    }
    int rc = 0;
    if (!clean(line, len)) {
        rc = fail(p, -EINVAL, "control character in line", line, len);
        goto out;
    }
    size_t k = 0;
    while (k < len && line[k] != ' ' && line[k] != '\t')
        k++;
    size_t vs = k, ve = len;
    while (vs < len && (line[vs] == ' ' || line[vs] == '\t'))
        vs++;
    while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
        ve--;
    const char *v = line + vs;
    size_t vlen = ve - vs;
    if (equals(line, k, "multigraph")) {
        if (!valid_graph_name(v, vlen)) {
            rc = fail(p, -EINVAL, "bad multigraph name", line, len);
            goto out;
        }
        p->cur = get_graph(p, v, vlen);
        rc = p->failed;
    } else if (memchr(line, '.', k)) {
        rc = field_line(p, line, len, k, v, vlen);
    } else {
        rc = graph_line(p, line, len, k, v, vlen);
    }
out:
    return rc == -ENOMEM ? -ENOMEM : 0;
}

/* ---- samples ------------------------------------------------------------------------------ */

int munin_metric_name(char *out, size_t cap, const char *graph, const char *field)
{
    size_t o = 0;
    const char *parts[3] = {"munin_", graph, field};
    for (int k = 0; k < 3; k++) {
        if (k == 2) {
            if (o + 1 >= cap)
                return -E2BIG;
            out[o++] = '_';
        }
        for (const char *s = parts[k]; *s; s++) {
            if (o + 1 >= cap)
                return -E2BIG;
            out[o++] = is_word_char(*s) ? *s : '_';
        }
    }
    out[o] = '\0';
    return 0;
}

int munin_threshold_upper(const char *s, double *v)
{
    const char *colon = strchr(s, ':');
    const char *hi = colon ? colon + 1 : s;
    if (colon && strchr(hi, ':'))
        return -EINVAL;
    if (colon && colon != s) { /* the lower bound must be a number too */
        double lo;
        if (parse_number(s, (size_t)(colon - s), &lo))
            return -EINVAL;
    }
    return parse_number(hi, strlen(hi), v);
}

int munin_plugin_samples(const munin_plugin *p, munin_sample_fn fn, void *ctx)
{
    char metric[6 + 2 * MUNIN_NAME_MAX + 2];
    int rc = 0;
    for (size_t i = 0; i < p->ngraphs && !rc; i++) {
        const munin_graph *g = p->graphs[i];
        for (size_t j = 0; j < g->nfields && !rc; j++) {
            const munin_field *f = g->fields[j];
            double th;
            if (f->has_value) {
                const char *l[] = {"plugin", p->name, "graph", g->name, NULL};
                if (munin_metric_name(metric, sizeof metric, g->name, f->name))
                    continue; /* cannot happen: names are at most MUNIN_NAME_MAX */
                rc = fn(ctx, metric, l, f->value, f->time_s);
            }
            const char *info[] = {"plugin",   p->name,
                                  "graph",    g->name,
                                  "field",    f->name,
                                  "title",    g->title ? g->title : "",
                                  "vlabel",   g->vlabel ? g->vlabel : "",
                                  "type",     munin_type_name(f->type),
                                  "warning",  f->warning ? f->warning : "",
                                  "critical", f->critical ? f->critical : "",
                                  NULL};
            const char *l3[] = {"plugin", p->name, "graph", g->name, "field", f->name, NULL};
            if (!rc)
                rc = fn(ctx, "munin_field_info", info, 1, 0);
            if (!rc && f->warning && !munin_threshold_upper(f->warning, &th))
                rc = fn(ctx, "munin_field_warning", l3, th, 0);
            if (!rc && f->critical && !munin_threshold_upper(f->critical, &th))
                rc = fn(ctx, "munin_field_critical", l3, th, 0);
        }
    }
    return rc;
}
