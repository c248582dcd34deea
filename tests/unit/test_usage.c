/* test_usage: the usage-event parsers (wire/usage.h) — the line format (every field, every
 * qualifier, line numbers in mixed bodies, blank lines and CRLF, hostile input: huge counts,
 * NUL bytes, invalid UTF-8, 1 MB lines, error caps) and JSON (shapes, paths of bad fields,
 * wrong types, nulls, times, deep nesting, bodies that are not JSON), the lifetime of the
 * strings handed out, and allocation failure. With DD_BENCH=1 it also times both parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/usage.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A copy of an event (the parser's strings die at the next parse). */
typedef struct got {
    int64_t t_ms, took_ms;
    uint64_t count;
    char customer[200], type[200], state[200], label[200], ct[200], id[200];
} got;

typedef struct sink {
    got *v;
    size_t n, cap;
    const usage_event *keep; /* when set: the events themselves, to check lifetimes */
    usage_event ev[64];
    size_t nev;
    int stop_after; /* > 0: return 7 after that many */
} sink;

static void cp(char *dst, const char *s)
{
    snprintf(dst, 200, "%s", s);
}

static int take(void *ctx, const usage_event *ev)
{
    sink *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    got *g = &s->v[s->n++];
    assert_non_null(ev->customer);
    assert_non_null(ev->type);
    assert_non_null(ev->state);
    assert_non_null(ev->label);
    assert_non_null(ev->change_type);
    assert_non_null(ev->event_id);
    g->t_ms = ev->t_ms;
    g->took_ms = ev->took_ms;
    g->count = ev->count;
    cp(g->customer, ev->customer);
    cp(g->type, ev->type);
    cp(g->state, ev->state);
    cp(g->label, ev->label);
    cp(g->ct, ev->change_type);
    cp(g->id, ev->event_id);
    if (s->nev < 64)
        s->ev[s->nev++] = *ev;
    if (s->stop_after && (int)s->n >= s->stop_after)
        return 7;
    return 0;
}

static void sink_free(sink *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int lines(const char *body, sink *s, usage_report *rep)
{
    return usage_parse_lines(body, strlen(body), take, s, rep);
}

static int json(const char *body, sink *s, usage_report *rep)
{
    return usage_parse_json(body, strlen(body), take, s, rep);
}

/* ---- line format: one line at a time ---- */

typedef struct lcase {
    const char *in;
    const char *err; /* NULL: accepted; else a substring of the reason */
    const char *customer, *type;
    uint64_t count;
    int64_t took, t;
    const char *state, *label, *ct, *id;
} lcase;

#define BAD(i, e)                                                                                  \
    {                                                                                              \
        .in = i, .err = e                                                                          \
    }

static void run_lines(const lcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sink s = {0};
        usage_report rep;
        memset(&rep, 0xAB, sizeof rep);
        int rc = lines(c[i].in, &s, &rep);
        if (rc != 0)
            fail_msg("\"%s\": rc %d", c[i].in, rc);
        if (c[i].err) {
            if (s.n != 0 || rep.rejected != 1 || rep.accepted != 0 || rep.nerrors != 1)
                fail_msg("\"%s\": accepted, want rejection (%s)", c[i].in, c[i].err);
            if (rep.errors[0].line != 1 || !strstr(rep.errors[0].reason, c[i].err))
                fail_msg("\"%s\": line %zu reason \"%s\", want \"%s\"", c[i].in, rep.errors[0].line,
                         rep.errors[0].reason, c[i].err);
        } else {
            if (s.n != 1 || rep.accepted != 1 || rep.rejected != 0 || rep.nerrors != 0)
                fail_msg("\"%s\": rejected: %s", c[i].in, rep.nerrors ? rep.errors[0].reason : "?");
            got *g = &s.v[0];
            if (strcmp(g->customer, c[i].customer) || strcmp(g->type, c[i].type) ||
                g->count != c[i].count || g->took_ms != c[i].took || g->t_ms != c[i].t ||
                strcmp(g->state, c[i].state ? c[i].state : "") ||
                strcmp(g->label, c[i].label ? c[i].label : "") ||
                strcmp(g->ct, c[i].ct ? c[i].ct : "") || strcmp(g->id, c[i].id ? c[i].id : ""))
                fail_msg("\"%s\": got %s:%s:%llu took %lld t %lld s=%s l=%s ct=%s id=%s", c[i].in,
                         g->customer, g->type, (unsigned long long)g->count, (long long)g->took_ms,
                         (long long)g->t_ms, g->state, g->label, g->ct, g->id);
        }
        sink_free(&s);
    }
}

static void lines_good(void **state)
{
    (void)state;
    static const lcase cases[] = {
        {"c1:api_call:3", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
        {"c1:api_call:3[t=1000,s=pending,l=dbcall,ct=create]", NULL, "c1", "api_call", 3, 1000, 0,
         "pending", "dbcall", "create", NULL},
        {"c1:api_call:3[ct=create,l=dbcall,s=pending,t=1000]", NULL, "c1", "api_call", 3, 1000, 0,
         "pending", "dbcall", "create", NULL},
        {"c1:x:0[t=0]", NULL, "c1", "x", 0, 0, 0, NULL, NULL, NULL, NULL},
        {"c1:x:1[s=a]", NULL, "c1", "x", 1, -1, 0, "a", NULL, NULL, NULL},
        {"c1:x:1[]", NULL, "c1", "x", 1, -1, 0, NULL, NULL, NULL, NULL},
        {"c1:x:1[l=db call (primary) #2]", NULL, "c1", "x", 1, -1, 0, NULL, "db call (primary) #2",
         NULL, NULL},
        {"c1:x:1[l=a:b[c]", NULL, "c1", "x", 1, -1, 0, NULL, "a:b[c", NULL, NULL},
        {"c1:x:1[ts=1732380000123,id=req-42/retry]", NULL, "c1", "x", 1, -1, 1732380000123, NULL,
         NULL, NULL, "req-42/retry"},
        {"c1:x:1[ts=1]", NULL, "c1", "x", 1, -1, 1, NULL, NULL, NULL, NULL},
        {"c1:x:1[ts=253402300799999]", NULL, "c1", "x", 1, -1, 253402300799999, NULL, NULL, NULL,
         NULL},
        {"alice@example.com:x.y-z_1:7", NULL, "alice@example.com", "x.y-z_1", 7, -1, 0, NULL, NULL,
         NULL, NULL},
        {"org/team-1:T:7", NULL, "org/team-1", "T", 7, -1, 0, NULL, NULL, NULL, NULL},
        {"c:x:9007199254740992", NULL, "c", "x", 9007199254740992ULL, -1, 0, NULL, NULL, NULL,
         NULL},
        {"c:x:0000000000000000000000000000042", NULL, "c", "x", 42, -1, 0, NULL, NULL, NULL, NULL},
        {"c:x:1[t=9007199254740992]", NULL, "c", "x", 1, 9007199254740992LL, 0, NULL, NULL, NULL,
         NULL},
        {"c1:api_call:3\r\n", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
        {"c1:api_call:3\n", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
        {"\n\n  \t\r\nc1:api_call:3\n\n", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
    };
    run_lines(cases, sizeof cases / sizeof cases[0]);
}

static void lines_bad(void **state)
{
    (void)state;
    static const lcase cases[] = {
        BAD("c1", "customer_id: missing ':'"),
        BAD("c1:api_call", "data_type: missing ':'"),
        BAD(":x:1", "customer_id: empty"),
        BAD("c::1", "data_type: empty"),
        BAD("c:x:", "count: missing"),
        BAD("c:x:[t=1]", "count: missing"),
        BAD("c:x:-1", "count: must be a non-negative integer"),
        BAD("c:x:+1", "count: must be a non-negative integer"),
        BAD("c:x:1.5", "count: must be a non-negative integer (byte 0x2e at column 6)"),
        BAD("c:x:1e3", "count: must be a non-negative integer"),
        BAD("c:x:3 ", "count: must be a non-negative integer"),
        BAD(" c:x:3", "customer_id: invalid byte 0x20 at column 1"),
        BAD("c:x:9007199254740993", "count: over 2^53"),
        BAD("c:x:18446744073709551616", "count: over 2^53"),
        BAD("c:x:99999999999999999999999999999999999999999999", "count: over 2^53"),
        BAD("c:x:1:2", "count: must be a non-negative integer"),
        BAD("c:x@y:1", "data_type: invalid byte 0x40 at column 4"),
        BAD("c:x/y:1", "data_type: invalid byte 0x2f"),
        BAD("c d:x:1", "customer_id: invalid byte 0x20 at column 2"),
        BAD("c\xc3\xa9:x:1", "customer_id: invalid byte 0xc3 at column 2"),
        BAD("c:x\xff:1", "data_type: invalid byte 0xff"),
        BAD("c:x:1[", "qualifiers: missing ']'"),
        BAD("c:x:1[t=1", "qualifiers: missing ']'"),
        BAD("c:x:1[t=1,", "qualifiers: missing ']'"),
        BAD("c:x:1[t=1,]", "qualifiers: expected key=value at column 11"),
        BAD("c:x:1[,t=1]", "qualifiers: expected key=value at column 7"),
        BAD("c:x:1[t]", "qualifiers: expected key=value"),
        BAD("c:x:1[=1]", "qualifiers: expected key=value"),
        BAD("c:x:1[x=1]", "qualifiers: unknown key 'x'"),
        BAD("c:x:1[T=1]", "qualifiers: unknown key 'T'"),
        BAD("c:x:1[time_took=1]", "qualifiers: unknown key 'time_took'"),
        BAD("c:x:1[t=1,t=2]", "qualifiers: 't' given twice"),
        BAD("c:x:1[s=a,s=a]", "qualifiers: 's' given twice"),
        BAD("c:x:1[t=]", "t: empty value"),
        BAD("c:x:1[s=]", "s: empty value"),
        BAD("c:x:1[t=-1]", "t: must be a non-negative integer"),
        BAD("c:x:1[t=1.5]", "t: must be a non-negative integer"),
        BAD("c:x:1[t=9007199254740993]", "t: must be a non-negative integer up to 2^53"),
        BAD("c:x:1[ts=0]", "ts: must be Unix milliseconds"),
        BAD("c:x:1[ts=253402300800000]", "ts: must be Unix milliseconds"),
        BAD("c:x:1[ts=abc]", "ts: must be Unix milliseconds"),
        BAD("c:x:1[s=a=b]", "s: '=' at column 10"),
        BAD("c:x:1[s=a\tb]", "s: invalid byte 0x09 at column 10"),
        BAD("c:x:1[s=caf\xc3\xa9]", "s: invalid byte 0xc3"),
        BAD("c:x:1[t=1]x", "unexpected byte 0x78 at column 11 after ']'"),
        BAD("c:x:1[t=1] ", "unexpected byte 0x20"),
        BAD("c:x:1[t=1]]", "unexpected byte 0x5d"),
        BAD("c:x:1\r\r", "count: must be a non-negative integer (byte 0x0d"),
    };
    run_lines(cases, sizeof cases / sizeof cases[0]);
}

static void lines_length_limits(void **state)
{
    (void)state;
    char line[600];
    lcase c[6];
    char cust128[129], cust129[130], val128[129], val129[130];
    memset(cust128, 'a', 128);
    cust128[128] = '\0';
    memset(cust129, 'a', 129);
    cust129[129] = '\0';
    memset(val128, 'v', 128);
    val128[128] = '\0';
    memset(val129, 'v', 129);
    val129[129] = '\0';
    static char l0[300], l1[300], l2[300], l3[300], l4[300], l5[300];
    snprintf(l0, sizeof l0, "%s:x:1", cust128);
    snprintf(l1, sizeof l1, "%s:x:1", cust129);
    snprintf(l2, sizeof l2, "c:%s:1", cust128);
    snprintf(l3, sizeof l3, "c:%s:1", cust129);
    snprintf(l4, sizeof l4, "c:x:1[l=%s]", val128);
    snprintf(l5, sizeof l5, "c:x:1[id=%s]", val129);
    c[0] = (lcase){l0, NULL, cust128, "x", 1, -1, 0, NULL, NULL, NULL, NULL};
    c[1] = (lcase)BAD(l1, "customer_id: longer than 128 bytes");
    c[2] = (lcase){l2, NULL, "c", cust128, 1, -1, 0, NULL, NULL, NULL, NULL};
    c[3] = (lcase)BAD(l3, "data_type: longer than 128 bytes");
    c[4] = (lcase){l4, NULL, "c", "x", 1, -1, 0, NULL, val128, NULL, NULL};
    c[5] = (lcase)BAD(l5, "id: longer than 128 bytes");
    run_lines(c, 6);
    (void)line;
}

/* A line of exactly USAGE_LINE_MAX bytes is read (leading zeros make it long); one more byte
 * and it is rejected unread; its "\r\n" does not count. */
static void lines_line_max(void **state)
{
    (void)state;
    char *b = malloc(USAGE_LINE_MAX + 8);
    memcpy(b, "c:x:", 4);
    memset(b + 4, '0', USAGE_LINE_MAX - 5);
    b[USAGE_LINE_MAX - 1] = '5';
    memcpy(b + USAGE_LINE_MAX, "\r\n", 3);
    sink s = {0};
    usage_report rep;
    assert_int_equal(lines(b, &s, &rep), 0);
    assert_int_equal(rep.accepted, 1);
    assert_int_equal(s.v[0].count, 5);
    sink_free(&s);
    memmove(b + 5, b + 4, USAGE_LINE_MAX - 4);
    b[4] = '0';
    b[USAGE_LINE_MAX + 1] = '\0'; /* now 4097 bytes, no terminator */
    assert_int_equal(lines(b, &s, &rep), 0);
    assert_int_equal(rep.accepted, 0);
    assert_int_equal(rep.rejected, 1);
    assert_string_equal(rep.errors[0].reason, "line longer than 4096 bytes");
    sink_free(&s);
    free(b);
}

/* Good and bad lines mixed: the good ones are delivered in order, the bad ones reported with
 * their own line numbers (blank lines count, CRLF and LF mixed). */
static void lines_mixed_body(void **state)
{
    (void)state;
    const char *body = "c1:api_call:3[t=1000,s=pending,l=dbcall,ct=create]\n" /* 1 */
                       "c2:api_call:x\r\n"                                    /* 2 bad */
                       "\n"                                                   /* 3 */
                       "c3:login:1\n"                                         /* 4 */
                       "   \n"                                                /* 5 */
                       "garbage\n"                                            /* 6 bad */
                       "c4:login:2[q=1]\r\n"                                  /* 7 bad */
                       "c5:login:5[t=7]";                                     /* 8 */
    sink s = {0};
    usage_report rep;
    assert_int_equal(lines(body, &s, &rep), 0);
    assert_int_equal(rep.accepted, 3);
    assert_int_equal(rep.rejected, 3);
    assert_int_equal(rep.nerrors, 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0].customer, "c1");
    assert_string_equal(s.v[1].customer, "c3");
    assert_string_equal(s.v[2].customer, "c5");
    assert_int_equal(s.v[2].took_ms, 7);
    assert_int_equal(rep.errors[0].line, 2);
    assert_non_null(strstr(rep.errors[0].reason, "count"));
    assert_int_equal(rep.errors[1].line, 6);
    assert_non_null(strstr(rep.errors[1].reason, "missing ':'"));
    assert_int_equal(rep.errors[2].line, 7);
    assert_non_null(strstr(rep.errors[2].reason, "unknown key 'q'"));
    sink_free(&s);
}

/* NUL bytes inside a body reject their line only; the body's length, not a NUL, ends it. */
static void lines_nul_bytes(void **state)
{
    (void)state;
    static const char body[] = "c1:x:1\nc\0:x:1\nc3:x:1[s=a\0b]\nc4:x:4\0\nc5:x:5";
    sink s = {0};
    usage_report rep;
    assert_int_equal(usage_parse_lines(body, sizeof body - 1, take, &s, &rep), 0);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.rejected, 3);
    assert_string_equal(s.v[0].customer, "c1");
    assert_string_equal(s.v[1].customer, "c5");
    assert_int_equal(rep.errors[0].line, 2);
    assert_non_null(strstr(rep.errors[0].reason, "0x00 at column 2"));
    assert_int_equal(rep.errors[1].line, 3);
    assert_non_null(strstr(rep.errors[1].reason, "s: invalid byte 0x00"));
    assert_int_equal(rep.errors[2].line, 4);
    sink_free(&s);
}

/* A 1 MB line between good ones: rejected as too long; its neighbours survive. */
static void lines_huge_line(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *b = malloc(big + 64);
    size_t n = (size_t)snprintf(b, 64, "a:x:1\n");
    memset(b + n, 'z', big);
    n += big;
    n += (size_t)snprintf(b + n, 64, "\nb:x:2\n");
    sink s = {0};
    usage_report rep;
    assert_int_equal(usage_parse_lines(b, n, take, &s, &rep), 0);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.errors[0].line, 2);
    assert_string_equal(s.v[1].customer, "b");
    sink_free(&s);
    free(b);
}

/* Only the first USAGE_MAX_ERRORS are described; all are counted. */
static void lines_error_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 100; i++)
        buf_printf(&b, "%s\n", i % 10 == 9 ? "ok:x:1" : "bad");
    sink s = {0};
    usage_report rep;
    assert_int_equal(usage_parse_lines(b.data, b.len, take, &s, &rep), 0);
    assert_int_equal(rep.accepted, 10);
    assert_int_equal(rep.rejected, 90);
    assert_int_equal(rep.nerrors, USAGE_MAX_ERRORS);
    assert_int_equal(rep.errors[0].line, 1);
    assert_int_equal(rep.errors[9].line, 11);
    assert_int_equal(rep.errors[USAGE_MAX_ERRORS - 1].line, 17);
    sink_free(&s);
    buf_free(&b);
}

static void lines_empty_bodies(void **state)
{
    (void)state;
    sink s = {0};
    usage_report rep;
    assert_int_equal(usage_parse_lines(NULL, 0, take, &s, &rep), 0);
    assert_int_equal(rep.accepted + rep.rejected + rep.nerrors, 0);
    assert_int_equal(lines("\n\r\n \n", &s, &rep), 0);
    assert_int_equal(rep.accepted + rep.rejected, 0);
    assert_int_equal(s.n, 0);
    /* rep may be NULL */
    assert_int_equal(lines("a:b:1\nbad", &s, NULL), 0);
    assert_int_equal(s.n, 1);
    sink_free(&s);
}

/* The callback stops the parse: its value comes back; what it took is counted. */
static void callback_stops(void **state)
{
    (void)state;
    sink s = {.stop_after = 2};
    usage_report rep;
    assert_int_equal(lines("a:x:1\nb:x:1\nc:x:1\n", &s, &rep), 7);
    assert_int_equal(s.n, 2);
    assert_int_equal(rep.accepted, 1);
    sink_free(&s);
    s = (sink){.stop_after = 1};
    assert_int_equal(json("[{\"identity_id\":\"a\",\"data_type\":\"x\",\"count\":1},"
                          "{\"identity_id\":\"b\",\"data_type\":\"x\",\"count\":1}]",
                          &s, &rep),
                     7);
    assert_int_equal(s.n, 1);
    assert_int_equal(rep.accepted, 0);
    sink_free(&s);
}

/* The events' strings stay valid after the parse returns, until the next parse: a receiver
 * can collect a body's events and append them as one batch. */
static void strings_outlive_the_parse(void **state)
{
    (void)state;
    sink s = {0};
    usage_report rep;
    assert_int_equal(lines("c1:t1:1[s=x,id=e1]\nc2:t2:2[l=y]\nc3:t3:3", &s, &rep), 0);
    assert_int_equal(s.nev, 3);
    assert_string_equal(s.ev[0].customer, "c1");
    assert_string_equal(s.ev[0].state, "x");
    assert_string_equal(s.ev[0].event_id, "e1");
    assert_string_equal(s.ev[1].type, "t2");
    assert_string_equal(s.ev[1].label, "y");
    assert_string_equal(s.ev[2].customer, "c3");
    sink_free(&s);
    assert_int_equal(json("[{\"identity_id\":12,\"data_type\":\"t\",\"count\":1,"
                          "\"event_id\":\"e\\u0041\",\"qualifiers\":{\"state\":\"s1\"}},"
                          "{\"identity_id\":\"x\",\"data_type\":\"u\",\"count\":2}]",
                          &s, &rep),
                     0);
    assert_int_equal(s.nev, 2);
    assert_string_equal(s.ev[0].customer, "12");
    assert_string_equal(s.ev[0].event_id, "eA");
    assert_string_equal(s.ev[0].state, "s1");
    assert_string_equal(s.ev[1].type, "u");
    sink_free(&s);
}

/* Each thread has its own scratch buffer: parses on two threads do not disturb each other. */
static void *thread_parse(void *arg)
{
    const char *tag = arg;
    char body[64];
    for (int i = 0; i < 2000; i++) {
        sink s = {0};
        snprintf(body, sizeof body, "%s:x:%d", tag, i);
        if (lines(body, &s, NULL) != 0 || s.nev != 1 || strcmp(s.ev[0].customer, tag) ||
            s.ev[0].count != (uint64_t)i)
            return (void *)1;
        sink_free(&s);
    }
    return NULL;
}

static void threads_have_their_own_scratch(void **state)
{
    (void)state;
    pthread_t a, b;
    void *ra, *rb;
    assert_int_equal(pthread_create(&a, NULL, thread_parse, "alpha"), 0);
    assert_int_equal(pthread_create(&b, NULL, thread_parse, "beta"), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_null(ra);
    assert_null(rb);
}

/* No allocation per line: a body parses with at most one allocation (the scratch buffer),
 * none once the buffer is big enough; when it cannot be had, -ENOMEM and nothing delivered. */
static void allocation(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "cust%d:api_call:%d[t=5,s=ok]\n", i % 7, i);
    sink s = {0};
    usage_report rep;
    usage_parse_release();
    unsigned long before = mem_allocations();
    assert_int_equal(usage_parse_lines(b.data, b.len, take, &s, &rep), 0);
    assert_int_equal(rep.accepted, 1000);
    assert_true(mem_allocations() - before <= 1);
    before = mem_allocations();
    assert_int_equal(usage_parse_lines(b.data, b.len, take, &s, &rep), 0);
    assert_int_equal(mem_allocations() - before, 0);
    sink_free(&s);

    usage_parse_release();
    mem_fail_after(0);
    int rc = usage_parse_lines(b.data, b.len, take, &s, &rep);
    int rcj = usage_parse_json("[]", 2, take, &s, &rep);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(rcj, -ENOMEM);
    assert_int_equal(s.n, 0);
    /* and it works again afterwards */
    assert_int_equal(usage_parse_lines(b.data, b.len, take, &s, &rep), 0);
    assert_int_equal(s.n, 1000);
    sink_free(&s);
    buf_free(&b);
    usage_parse_release();
}

/* ---- JSON ---- */

typedef struct jcase {
    const char *in;
    const char *err; /* NULL: accepted; else a substring of errors[0].reason */
    const char *customer, *type;
    uint64_t count;
    int64_t took, t;
    const char *state, *label, *ct, *id;
} jcase;

static void run_json(const jcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sink s = {0};
        usage_report rep;
        int rc = json(c[i].in, &s, &rep);
        if (rc != 0)
            fail_msg("%s: rc %d (%s)", c[i].in, rc, rep.nerrors ? rep.errors[0].reason : "");
        if (c[i].err) {
            if (s.n != 0 || rep.rejected != 1 || rep.nerrors != 1)
                fail_msg("%s: accepted, want \"%s\"", c[i].in, c[i].err);
            if (rep.errors[0].line != 1 || !strstr(rep.errors[0].reason, c[i].err))
                fail_msg("%s: line %zu \"%s\", want \"%s\"", c[i].in, rep.errors[0].line,
                         rep.errors[0].reason, c[i].err);
        } else {
            if (s.n != 1 || rep.accepted != 1 || rep.rejected != 0)
                fail_msg("%s: rejected: %s", c[i].in, rep.nerrors ? rep.errors[0].reason : "?");
            got *g = &s.v[0];
            if (strcmp(g->customer, c[i].customer) || strcmp(g->type, c[i].type) ||
                g->count != c[i].count || g->took_ms != c[i].took || g->t_ms != c[i].t ||
                strcmp(g->state, c[i].state ? c[i].state : "") ||
                strcmp(g->label, c[i].label ? c[i].label : "") ||
                strcmp(g->ct, c[i].ct ? c[i].ct : "") || strcmp(g->id, c[i].id ? c[i].id : ""))
                fail_msg("%s: got %s:%s:%llu took %lld t %lld s=%s l=%s ct=%s id=%s", c[i].in,
                         g->customer, g->type, (unsigned long long)g->count, (long long)g->took_ms,
                         (long long)g->t_ms, g->state, g->label, g->ct, g->id);
        }
        sink_free(&s);
    }
}

#define BASE "\"identity_id\":\"c1\",\"data_type\":\"api_call\",\"count\":3"

static void json_good(void **state)
{
    (void)state;
    static const jcase cases[] = {
        {"{" BASE "}", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"qualifiers\":{\"time_took\":1000,\"state\":\"pending\",\"label\":\"dbcall\","
         "\"change_type\":\"create\"}}",
         NULL, "c1", "api_call", 3, 1000, 0, "pending", "dbcall", "create", NULL},
        {"{\"identity_id\":17,\"data_type\":\"x\",\"count\":0}", NULL, "17", "x", 0, -1, 0, NULL,
         NULL, NULL, NULL},
        {"{\"identity_id\":\"a@b.c\",\"data_type\":\"x\",\"count\":3.0}", NULL, "a@b.c", "x", 3, -1,
         0, NULL, NULL, NULL, NULL},
        {"{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":9007199254740992}", NULL, "c", "x",
         9007199254740992ULL, -1, 0, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"time\":1732380000}", NULL, "c1", "api_call", 3, -1, 1732380000000, NULL, NULL,
         NULL, NULL},
        {"{" BASE ",\"time\":1732380000.25}", NULL, "c1", "api_call", 3, -1, 1732380000250, NULL,
         NULL, NULL, NULL},
        {"{" BASE ",\"time\":\"2024-11-23T16:40:00Z\"}", NULL, "c1", "api_call", 3, -1,
         1732380000000, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"time\":\"2024-11-23T17:40:00.5+01:00\"}", NULL, "c1", "api_call", 3, -1,
         1732380000500, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"event_id\":\"evt-1\"}", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL,
         "evt-1"},
        {"{" BASE ",\"qualifiers\":null,\"time\":null,\"event_id\":null}", NULL, "c1", "api_call",
         3, -1, 0, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"qualifiers\":{\"time_took\":null,\"state\":null}}", NULL, "c1", "api_call", 3,
         -1, 0, NULL, NULL, NULL, NULL},
        {"{" BASE ",\"qualifiers\":{}}", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
        {" \n {" BASE "} \n", NULL, "c1", "api_call", 3, -1, 0, NULL, NULL, NULL, NULL},
    };
    run_json(cases, sizeof cases / sizeof cases[0]);
}

static void json_bad_fields(void **state)
{
    (void)state;
    static const jcase cases[] = {
        BAD("{\"data_type\":\"x\",\"count\":1}", "identity_id: missing"),
        BAD("{\"identity_id\":null,\"data_type\":\"x\",\"count\":1}", "identity_id: missing"),
        BAD("{\"identity_id\":\"c\",\"count\":1}", "data_type: missing"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\"}", "count: missing"),
        BAD("{\"identity_id\":-1,\"data_type\":\"x\",\"count\":1}",
            "identity_id: must be a string or a non-negative integer"),
        BAD("{\"identity_id\":1.5,\"data_type\":\"x\",\"count\":1}",
            "identity_id: must be a string or a non-negative integer"),
        BAD("{\"identity_id\":[\"c\"],\"data_type\":\"x\",\"count\":1}",
            "identity_id: must be a string or a non-negative integer"),
        BAD("{\"identity_id\":{},\"data_type\":\"x\",\"count\":1}",
            "identity_id: must be a string or a non-negative integer"),
        BAD("{\"identity_id\":true,\"data_type\":\"x\",\"count\":1}",
            "identity_id: must be a string or a non-negative integer"),
        BAD("{\"identity_id\":\"\",\"data_type\":\"x\",\"count\":1}",
            "identity_id: must not be empty"),
        BAD("{\"identity_id\":\"a b\",\"data_type\":\"x\",\"count\":1}",
            "identity_id: invalid byte 0x20 at offset 1"),
        BAD("{\"identity_id\":\"a:b\",\"data_type\":\"x\",\"count\":1}",
            "identity_id: invalid byte 0x3a"),
        BAD("{\"identity_id\":\"caf\\u00e9\",\"data_type\":\"x\",\"count\":1}",
            "identity_id: invalid byte 0xc3"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"a/b\",\"count\":1}",
            "data_type: invalid byte 0x2f"),
        BAD("{\"identity_id\":\"c\",\"data_type\":3,\"count\":1}", "data_type: must be a string"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":\"3\"}",
            "count: must be a non-negative integer up to 2^53"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":-1}", "count: must be"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":3.5}", "count: must be"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":1e300}", "count: must be"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":9007199254740993}",
            "count: must be"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":true}", "count: must be"),
        BAD("{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":[1]}", "count: must be"),
        BAD("{" BASE ",\"qualifiers\":[]}", "qualifiers: must be an object"),
        BAD("{" BASE ",\"qualifiers\":\"t=1\"}", "qualifiers: must be an object"),
        BAD("{" BASE ",\"qualifiers\":{\"time_took\":-5}}",
            "qualifiers.time_took: must be a non-negative integer up to 2^53"),
        BAD("{" BASE ",\"qualifiers\":{\"time_took\":\"1000\"}}", "qualifiers.time_took: must be"),
        BAD("{" BASE ",\"qualifiers\":{\"state\":7}}", "qualifiers.state: must be a string"),
        BAD("{" BASE ",\"qualifiers\":{\"label\":\"\"}}", "qualifiers.label: must not be empty"),
        BAD("{" BASE ",\"qualifiers\":{\"change_type\":\"a,b\"}}",
            "qualifiers.change_type: invalid byte 0x2c"),
        BAD("{" BASE ",\"qualifiers\":{\"t\":1}}", "qualifiers.t: unknown member"),
        BAD("{" BASE ",\"qualifiers\":{\"state\":{\"deep\":1}}}", "qualifiers.state: must be"),
        BAD("{" BASE ",\"qualifier\":{}}", "qualifier: unknown member"),
        BAD("{" BASE ",\"x\\u0001y\":1}", "x?y: unknown member"),
        BAD("{" BASE ",\"time\":-1}", "time: must be Unix seconds or an RFC 3339 time"),
        BAD("{" BASE ",\"time\":0}", "time: must be"),
        BAD("{" BASE ",\"time\":1732380000000}", "time: must be"), /* ms by mistake */
        BAD("{" BASE ",\"time\":\"yesterday\"}", "time: must be"),
        BAD("{" BASE ",\"time\":\"10000-01-01T00:00:00Z\"}", "time: must be"),
        BAD("{" BASE ",\"time\":true}", "time: must be"),
        BAD("{" BASE ",\"event_id\":5}", "event_id: must be a string"),
        BAD("{" BASE ",\"event_id\":\"\"}", "event_id: must not be empty"),
        BAD("{" BASE ",\"event_id\":\"a]b\"}", "event_id: invalid byte 0x5d"),
        BAD("{" BASE ",\"event_id\":\"a\\nb\"}", "event_id: invalid byte 0x0a"),
    };
    run_json(cases, sizeof cases / sizeof cases[0]);
}

/* In an array: every element stands alone; rejections name their index and field path. */
static void json_array_paths(void **state)
{
    (void)state;
    const char *body =
        "[{" BASE "},"
        " {\"identity_id\":\"c2\",\"data_type\":\"x\",\"count\":\"many\"},"
        " 42,"
        " {" BASE ",\"qualifiers\":{\"time_took\":1.5}},"
        " {\"identity_id\":\"c5\",\"data_type\":\"y\",\"count\":5,\"event_id\":\"r5\"},"
        " [],"
        " null]";
    sink s = {0};
    usage_report rep;
    assert_int_equal(json(body, &s, &rep), 0);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.rejected, 5);
    assert_int_equal(rep.nerrors, 5);
    assert_string_equal(s.v[0].customer, "c1");
    assert_string_equal(s.v[1].customer, "c5");
    assert_string_equal(s.v[1].id, "r5");
    assert_int_equal(rep.errors[0].line, 2);
    assert_string_equal(rep.errors[0].reason,
                        "[1].count: must be a non-negative integer up to 2^53");
    assert_int_equal(rep.errors[1].line, 3);
    assert_string_equal(rep.errors[1].reason, "[2]: must be an object");
    assert_int_equal(rep.errors[2].line, 4);
    assert_string_equal(rep.errors[2].reason,
                        "[3].qualifiers.time_took: must be a non-negative integer up to 2^53");
    assert_int_equal(rep.errors[3].line, 6);
    assert_int_equal(rep.errors[4].line, 7);
    sink_free(&s);

    assert_int_equal(json("[]", &s, &rep), 0);
    assert_int_equal(rep.accepted + rep.rejected, 0);
}

/* JSON of the wrong shape is a rejection (the receiver answers 422); a body that is not JSON
 * at all is -EINVAL with a reason (400). */
static void json_wrong_shape_and_not_json(void **state)
{
    (void)state;
    static const char *const shapes[] = {"42", "\"c1:x:1\"", "null", "true", "1.5"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        sink s = {0};
        usage_report rep;
        assert_int_equal(json(shapes[i], &s, &rep), 0);
        assert_int_equal(rep.rejected, 1);
        assert_int_equal(rep.errors[0].line, 1);
        assert_string_equal(rep.errors[0].reason, "$: must be an object or an array of objects");
    }
    static const char *const broken[] = {
        "",
        "c1:api_call:3",
        "{",
        "[{" BASE "}",
        "{" BASE "} trailing",
        "{" BASE ",}",
        "{\"identity_id\":\"c\",\"identity_id\":\"d\",\"data_type\":\"x\",\"count\":1}",
        "{\"identity_id\":\"c\",\"data_type\":\"x\",\"count\":123456789012345678901234567890}",
        "{\"identity_id\":\"c\xff\",\"data_type\":\"x\",\"count\":1}",
        "{\"identity_id\":\"c\\u0000d\",\"data_type\":\"x\",\"count\":1}",
        "{\"identity_id\":\"c\\ud800\",\"data_type\":\"x\",\"count\":1}",
        "{'identity_id':'c'}",
        "NaN",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        sink s = {0};
        usage_report rep;
        int rc = json(broken[i], &s, &rep);
        if (rc != -EINVAL)
            fail_msg("%s: rc %d, want -EINVAL", broken[i], rc);
        assert_int_equal(s.n, 0);
        assert_int_equal(rep.nerrors, 1);
        assert_int_equal(rep.errors[0].line, 0);
        assert_non_null(strstr(rep.errors[0].reason, "not JSON: "));
    }
}

/* 100,000 nested arrays: refused by jansson's depth limit, no stack overflow. */
static void json_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *b = malloc(2 * depth + 1);
    memset(b, '[', depth);
    memset(b + depth, ']', depth);
    b[2 * depth] = '\0';
    sink s = {0};
    usage_report rep;
    assert_int_equal(json(b, &s, &rep), -EINVAL);
    assert_non_null(strstr(rep.errors[0].reason, "depth"));
    /* nested objects inside a valid element: the member is of the wrong type */
    buf j;
    buf_init(&j, 0);
    buf_puts(&j, "{" BASE ",\"qualifiers\":{\"state\":");
    for (int i = 0; i < 500; i++)
        buf_puts(&j, "{\"a\":");
    buf_puts(&j, "1");
    for (int i = 0; i < 500; i++)
        buf_puts(&j, "}");
    buf_puts(&j, "}}");
    assert_int_equal(json(j.data, &s, &rep), 0);
    assert_int_equal(rep.rejected, 1);
    assert_non_null(strstr(rep.errors[0].reason, "qualifiers.state: must be a string"));
    buf_free(&j);
    free(b);
}

/* Every event written back in the line format parses to the same event (the two formats'
 * rules agree). */
static void json_events_fit_the_line_format(void **state)
{
    (void)state;
    const char *body = "[{\"identity_id\":\"a@b/c\",\"data_type\":\"t.1\",\"count\":9,"
                       "\"qualifiers\":{\"time_took\":12,\"state\":\"s [x\",\"label\":\"l:1\","
                       "\"change_type\":\"u\"},\"time\":1700000000.001,\"event_id\":\"e/1\"}]";
    sink s = {0}, s2 = {0};
    usage_report rep;
    assert_int_equal(json(body, &s, &rep), 0);
    assert_int_equal(s.n, 1);
    got *g = &s.v[0];
    char line[2048];
    snprintf(line, sizeof line, "%s:%s:%llu[t=%lld,s=%s,l=%s,ct=%s,ts=%lld,id=%s]", g->customer,
             g->type, (unsigned long long)g->count, (long long)g->took_ms, g->state, g->label,
             g->ct, (long long)g->t_ms, g->id);
    assert_int_equal(lines(line, &s2, &rep), 0);
    assert_int_equal(rep.accepted, 1);
    got *h = &s2.v[0];
    assert_int_equal(g->t_ms, h->t_ms);
    assert_int_equal(g->took_ms, h->took_ms);
    assert_int_equal(g->count, h->count);
    assert_string_equal(g->customer, h->customer);
    assert_string_equal(g->type, h->type);
    assert_string_equal(g->state, h->state);
    assert_string_equal(g->label, h->label);
    assert_string_equal(g->ct, h->ct);
    assert_string_equal(g->id, h->id);
    assert_int_equal(s2.v[0].t_ms, 1700000000001);
    sink_free(&s);
    sink_free(&s2);
}

/* ---- timing (DD_BENCH=1) ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_only(void *ctx, const usage_event *ev)
{
    (*(uint64_t *)ctx) += ev->count;
    return 0;
}

static void bench(void **state)
{
    (void)state;
    if (!getenv("DD_BENCH"))
        skip();
    buf b;
    buf_init(&b, 0);
    size_t n = 1000000;
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "customer%zu:api_call:%zu[t=%zu,s=pending,l=dbcall,ct=create]\n", i % 1000,
                   i % 10 + 1, i % 5000);
    uint64_t sum = 0;
    usage_report rep;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        assert_int_equal(usage_parse_lines(b.data, b.len, count_only, &sum, &rep), 0);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
        assert_int_equal(rep.accepted, n);
    }
    printf("usage_parse_lines: %zu lines, %.1f bytes/line: %.2f M lines/s (%.0f MB/s)\n", n,
           (double)b.len / (double)n, (double)n / best / 1e6, (double)b.len / best / 1e6);

    buf_reset(&b);
    size_t nj = 200000;
    buf_putc(&b, '[');
    for (size_t i = 0; i < nj; i++)
        buf_printf(&b,
                   "%s{\"identity_id\":\"customer%zu\",\"data_type\":\"api_call\",\"count\":%zu,"
                   "\"qualifiers\":{\"time_took\":%zu,\"state\":\"pending\",\"label\":"
                   "\"dbcall\",\"change_type\":\"create\"}}",
                   i ? "," : "", i % 1000, i % 10 + 1, i % 5000);
    buf_putc(&b, ']');
    best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = now_s();
        assert_int_equal(usage_parse_json(b.data, b.len, count_only, &sum, &rep), 0);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
        assert_int_equal(rep.accepted, nj);
    }
    printf("usage_parse_json: %zu objects: %.2f M events/s (%.0f MB/s)\n", nj,
           (double)nj / best / 1e6, (double)b.len / best / 1e6);
    buf_free(&b);
    usage_parse_release();
}

static int teardown(void **state)
{
    (void)state;
    usage_parse_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_good),
        cmocka_unit_test(lines_bad),
        cmocka_unit_test(lines_length_limits),
        cmocka_unit_test(lines_line_max),
        cmocka_unit_test(lines_mixed_body),
        cmocka_unit_test(lines_nul_bytes),
        cmocka_unit_test(lines_huge_line),
        cmocka_unit_test(lines_error_cap),
        cmocka_unit_test(lines_empty_bodies),
        cmocka_unit_test(callback_stops),
        cmocka_unit_test(strings_outlive_the_parse),
        cmocka_unit_test(threads_have_their_own_scratch),
        cmocka_unit_test(allocation),
        cmocka_unit_test(json_good),
        cmocka_unit_test(json_bad_fields),
        cmocka_unit_test(json_array_paths),
        cmocka_unit_test(json_wrong_shape_and_not_json),
        cmocka_unit_test(json_deep_nesting),
        cmocka_unit_test(json_events_fit_the_line_format),
        cmocka_unit_test(bench),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
