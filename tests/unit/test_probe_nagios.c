/* test_probe_nagios: the performance-data parser (tables of valid items, every unit, ranges,
 * quoting, hostile input, limits, allocation failures) and the nagios probe type driven on a
 * real loop with small plugin scripts written to a temp directory (settings refused in
 * prepare, the allow-list and symlink escapes, macros, exit codes and signals, the output cap,
 * timeouts that kill the whole process group, many runs at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/probe.h"
#include "agent/probes/sched.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/perfdata.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- perfdata: tables ---------------------------------------------------------------------- */

/* Renders a set as "label=value[uom] w=.. c=.. min=.. max=..", items joined by ", ". */
static void render(const perfdata *pd, char *out, size_t cap)
{
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < pd->n; i++) {
        const perfdata_item *it = &pd->items[i];
        buf_printf(&b, "%s%s=%.15g", i ? ", " : "", it->label, it->value);
        if (it->uom[0])
            buf_printf(&b, "[%s]", it->uom);
        if (it->has & PERFDATA_HAS_WARN)
            buf_printf(&b, " w=%.15g", it->warn);
        if (it->has & PERFDATA_HAS_CRIT)
            buf_printf(&b, " c=%.15g", it->crit);
        if (it->has & PERFDATA_HAS_MIN)
            buf_printf(&b, " min=%.15g", it->min);
        if (it->has & PERFDATA_HAS_MAX)
            buf_printf(&b, " max=%.15g", it->max);
    }
    snprintf(out, cap, "%s", b.data ? b.data : "");
    buf_free(&b);
}

typedef struct pcase {
    const char *in;
    const char *want; /* rendered items */
    size_t errors, unknown;
} pcase;

static void run_ptable(const pcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        perfdata pd;
        char got[4096];
        perfdata_init(&pd);
        assert_int_equal(perfdata_parse(&pd, c[i].in, strlen(c[i].in)), 0);
        render(&pd, got, sizeof got);
        if (strcmp(got, c[i].want))
            fail_msg("perfdata \"%s\": got \"%s\", want \"%s\"", c[i].in, got, c[i].want);
        if (pd.errors != c[i].errors)
            fail_msg("perfdata \"%s\": %zu errors (first: %s), want %zu", c[i].in, pd.errors,
                     pd.err, c[i].errors);
        if (pd.unknown != c[i].unknown)
            fail_msg("perfdata \"%s\": %zu unknown, want %zu", c[i].in, pd.unknown, c[i].unknown);
        if (!pd.errors && pd.err[0])
            fail_msg("perfdata \"%s\": a reason without an error: %s", c[i].in, pd.err);
        if (pd.errors && !pd.err[0])
            fail_msg("perfdata \"%s\": an error without a reason", c[i].in);
        perfdata_free(&pd);
        assert_int_equal(pd.n, 0);
        assert_null(pd.items);
    }
}

#define RUN(t) run_ptable(t, sizeof t / sizeof t[0])

static void perfdata_valid_items(void **state)
{
    (void)state;
    static const pcase cases[] = {
        {"", "", 0, 0},
        {"   \t\n ", "", 0, 0},
        {"a=1", "a=1", 0, 0},
        {"a=1;2;3;4;5", "a=1 w=2 c=3 min=4 max=5", 0, 0},
        {"a=1;;;;", "a=1", 0, 0},
        {"a=1;;;0;", "a=1 min=0", 0, 0},
        {"a=1;;;;100", "a=1 max=100", 0, 0},
        {"a=1;2", "a=1 w=2", 0, 0},
        {"a=1;;3", "a=1 c=3", 0, 0},
        {"load1=0.960;100.000;200.000;0; load5=0.830;100.000;200.000;0; "
         "load15=0.760;100.000;200.000;0; ",
         "load1=0.96 w=100 c=200 min=0, load5=0.83 w=100 c=200 min=0, "
         "load15=0.76 w=100 c=200 min=0",
         0, 0},
        {"procs=86;;;0;", "procs=86 min=0", 0, 0},
        {"users=0;10;20;0", "users=0 w=10 c=20 min=0", 0, 0},
        {"/=17886609408B;243497277849;257024904396;0;270552530944",
         "/=17886609408[B] w=243497277849 c=257024904396 min=0 max=270552530944", 0, 0},
        {"rta=0.141000ms;100.000000;200.000000;0.000000 pl=0%;20;50;0;",
         "rta=0.000141[s] w=0.1 c=0.2 min=0, pl=0[%] w=20 c=50 min=0", 0, 0},
        {"time=0.000123s;;;0.000000;10.000000", "time=0.000123[s] min=0 max=10", 0, 0},
        {"  a=1 \t b=2\n c=3\r\n", "a=1, b=2, c=3", 0, 0},
        /* Numbers. */
        {"a=-1.5", "a=-1.5", 0, 0},
        {"a=+2", "a=2", 0, 0},
        {"a=.5", "a=0.5", 0, 0},
        {"a=5.", "a=5", 0, 0},
        {"a=1e3", "a=1000", 0, 0},
        {"a=1.5E-3", "a=0.0015", 0, 0},
        {"a=2e+2", "a=200", 0, 0},
        {"a=-0", "a=-0", 0, 0},
        {"a=007", "a=7", 0, 0},
        {"a=1e308", "a=1e+308", 0, 0},
        {"a=1e-400", "a=0", 0, 0}, /* underflows to zero: a value, not an error */
        {"a=1234567890123456789012345678901234567890123456789012345678901234",
         "a=1.23456789012346e+63", 0, 0}, /* 64 characters: the longest number */
        /* Quoted labels. */
        {"'label with spaces'=5", "label with spaces=5", 0, 0},
        {"'it''s'=1", "it's=1", 0, 0},
        {"''''=1", "'=1", 0, 0},
        {"'a=b'=1", "a=b=1", 0, 0},
        {"'a;b'=1;2", "a;b=1 w=2", 0, 0},
        {"'x y'=1 'z'=2", "x y=1, z=2", 0, 0},
        {"'ü ß'=1 é=2", "ü ß=1, é=2", 0, 0},
        {"|b=2", "|b=2", 0, 0}, /* a bare label may hold a '|' */
        /* Unknown values. */
        {"a=U b=2", "b=2", 0, 1},
        {"a=U;1;2;0;10", "", 0, 1},
        {"a=U b=U", "", 0, 2},
        {"a=1e", "a=1[e]", 0, 0}, /* "e" is a unit here, kept as given */
    };
    RUN(cases);
}

static void perfdata_units(void **state)
{
    (void)state;
    static const pcase cases[] = {
        {"a=2s", "a=2[s]", 0, 0},
        {"a=1500ms;1000;2000;0;5000", "a=1.5[s] w=1 c=2 min=0 max=5", 0, 0},
        {"a=250us;1000", "a=0.00025[s] w=0.001", 0, 0},
        {"a=50%;80;90;0;100", "a=50[%] w=80 c=90 min=0 max=100", 0, 0},
        {"a=10B", "a=10[B]", 0, 0},
        {"a=2KB;1;2;0;4", "a=2048[B] w=1024 c=2048 min=0 max=4096", 0, 0},
        {"a=2kB", "a=2048[B]", 0, 0},
        {"a=2KiB", "a=2048[B]", 0, 0},
        {"a=3MB", "a=3145728[B]", 0, 0},
        {"a=3MiB", "a=3145728[B]", 0, 0},
        {"a=1.5GB", "a=1610612736[B]", 0, 0},
        {"a=1GiB", "a=1073741824[B]", 0, 0},
        {"a=2TB", "a=2199023255552[B]", 0, 0},
        {"a=1TiB", "a=1099511627776[B]", 0, 0},
        {"a=12345c", "a=12345[c]", 0, 0},
        {"a=7", "a=7", 0, 0},
        /* Other units are kept as given, without conversion. */
        {"a=21.5°C", "a=21.5[°C]", 0, 0},
        {"a=5ns", "a=5[ns]", 0, 0},
        {"a=5PB", "a=5[PB]", 0, 0},
        {"a=5kb", "a=5[kb]", 0, 0},
        {"a=5rpm;;;0", "a=5[rpm] min=0", 0, 0},
        {"a=1abcdefghijklmnop", "a=1[abcdefghijklmnop]", 0, 0}, /* 16 bytes: the longest */
        {"a=1abcdefghijklmnopq", "", 1, 0},
    };
    RUN(cases);
}

static void perfdata_ranges(void **state)
{
    (void)state;
    static const pcase cases[] = {
        {"a=1;10;20", "a=1 w=10 c=20", 0, 0},
        {"a=1;10:20;@5:30", "a=1 w=20 c=30", 0, 0},
        {"a=1;~:5;10:", "a=1 w=5 c=10", 0, 0}, /* "10:": its start is the threshold */
        {"a=1;~:;@~:", "a=1", 0, 0},           /* no finite bound: no threshold */
        {"a=1;@10", "a=1 w=10", 0, 0},
        {"a=1;-5:-1", "a=1 w=-1", 0, 0},
        {"a=1;:5", "a=1 w=5", 0, 0},
        {"a=1;:", "a=1 w=0", 0, 0},
        {"a=1;5:5", "a=1 w=5", 0, 0},
        {"a=1ms;10:20;~:30", "a=0.001[s] w=0.02 c=0.03", 0, 0},
        {"a=1;20:10", "", 1, 0},
        {"a=1;;20:10", "", 1, 0},
        {"a=1;@", "", 1, 0},
        {"a=1;~", "", 1, 0},
        {"a=1;1:2:3", "", 1, 0},
        {"a=1;x", "", 1, 0},
        {"a=1;1ms", "", 1, 0},
        {"a=1;;@@1", "", 1, 0},
        {"a=1;10%", "", 1, 0},
    };
    RUN(cases);
    /* "-3" is the range 0..-3: its start exceeds its end. */
    static const struct {
        const char *in;
        int rc, given;
        double v;
    } r[] = {
        {"10", 0, 1, 10},       {"10:", 0, 1, 10},      {"~:10", 0, 1, 10},
        {"10:20", 0, 1, 20},    {"@10:20", 0, 1, 20},   {"~:", 0, 0, 0},
        {"@~:", 0, 0, 0},       {"-3", -EINVAL, 0, 0},  {"0:0", 0, 1, 0},
        {"", -EINVAL, 0, 0},    {"@", -EINVAL, 0, 0},   {"~", -EINVAL, 0, 0},
        {"2:1", -EINVAL, 0, 0}, {"a:1", -EINVAL, 0, 0}, {"1:b", -EINVAL, 0, 0},
        {"1::", -EINVAL, 0, 0}, {"@@1", -EINVAL, 0, 0}, {" 1", -EINVAL, 0, 0},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        double v = 12345;
        int given = 7;
        int rc = perfdata_range(r[i].in, strlen(r[i].in), &v, &given);
        if (rc != r[i].rc)
            fail_msg("range \"%s\": rc %d, want %d", r[i].in, rc, r[i].rc);
        if (rc && (v != 12345 || given != 7))
            fail_msg("range \"%s\": output written on failure", r[i].in);
        if (!rc && given != r[i].given)
            fail_msg("range \"%s\": given %d, want %d", r[i].in, given, r[i].given);
        if (!rc && given && v != r[i].v)
            fail_msg("range \"%s\": %g, want %g", r[i].in, v, r[i].v);
    }
}

static void perfdata_unit_table(void **state)
{
    (void)state;
    static const struct {
        const char *uom, *base;
        double mul, div;
        int known;
    } u[] = {
        {"", "", 1, 1, 1},
        {"s", "s", 1, 1, 1},
        {"ms", "s", 1, 1e3, 1},
        {"us", "s", 1, 1e6, 1},
        {"%", "%", 1, 1, 1},
        {"B", "B", 1, 1, 1},
        {"KB", "B", 1024, 1, 1},
        {"MB", "B", 1048576, 1, 1},
        {"GB", "B", 1073741824.0, 1, 1},
        {"TB", "B", 1099511627776.0, 1, 1},
        {"c", "c", 1, 1, 1},
        {"x", "x", 1, 1, 0},
        {"S", "S", 1, 1, 0},
        {"MS", "MS", 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        const char *base;
        double mul, div;
        int known = perfdata_unit(u[i].uom, &base, &mul, &div);
        if (known != u[i].known || strcmp(base, u[i].base) || mul != u[i].mul || div != u[i].div)
            fail_msg("unit \"%s\": %d %s *%g /%g", u[i].uom, known, base, mul, div);
    }
    /* Conversions are exact where the arithmetic is: ms divides, it does not multiply by
     * 1e-3. */
    perfdata pd;
    perfdata_init(&pd);
    assert_int_equal(perfdata_parse(&pd, "a=0.141ms b=3us c=1.5KB", 23), 0);
    assert_int_equal(pd.n, 3);
    assert_true(pd.items[0].value == 0.141 / 1e3);
    assert_true(pd.items[1].value == 3 / 1e6);
    assert_true(pd.items[2].value == 1536);
    perfdata_free(&pd);
}

static void perfdata_malformed_items(void **state)
{
    (void)state;
    static const pcase cases[] = {
        {"=1", "", 1, 0},
        {"''=1", "", 1, 0},
        {"a", "", 1, 0},
        {"a=", "", 1, 0},
        {"a= b=2", "b=2", 1, 0},
        {"a=;1", "", 1, 0},
        {"a=x", "", 1, 0},
        {"a=1,5", "", 1, 0},
        {"a=1;2;3;4;5;6", "", 1, 0},
        {"a=1;;;;;", "", 1, 0},
        {"a=1;;x", "", 1, 0},
        {"a=1;;;x", "", 1, 0},
        {"a=1;;;;x", "", 1, 0},
        {"a=1;;;1ms", "", 1, 0},
        {"a=inf", "", 1, 0},
        {"a=nan", "", 1, 0},
        {"a=-inf", "", 1, 0},
        {"a=0x10", "", 1, 0},
        {"a=1.2.3", "", 1, 0},
        {"a=--1", "", 1, 0},
        {"a=+-1", "", 1, 0},
        {"a=.", "", 1, 0},
        {"a=-", "", 1, 0},
        {"a=e5", "", 1, 0},
        {"a=1e309", "", 1, 0},
        {"a=-1e309", "", 1, 0},
        {"a=1e308TB", "", 1, 0}, /* out of range after conversion */
        {"a=1;;;;1e400", "", 1, 0},
        {"a=1TB;1e300", "", 1, 0},
        {"a=12345678901234567890123456789012345678901234567890123456789012345", "", 1, 0},
        {"a=Unknown", "", 1, 0},
        {"a=u", "", 1, 0},
        {"a=1'", "", 1, 0},
        {"a=1=2", "", 1, 0},
        {"a=1+", "", 1, 0},
        {"a'b=1", "", 1, 0},
        {"'a=1", "", 1, 0},
        {"'a=1 b=2", "", 1, 0}, /* an unterminated quote takes the rest */
        {"b=2 'a=1", "b=2", 1, 0},
        {"'a'b=1 c=2", "c=2", 1, 0},
        /* The label 'a' has no '=' after it (skipped up to the space); "=1" then has an
         * empty label: two errors. */
        {"'a' =1 c=2", "c=2", 2, 0},
        {"'a\tb'=1", "", 1, 0},
        {"'a\nb'=1", "", 1, 0},
        {"\x7f=1", "", 1, 0},
        {"\xff=1", "", 1, 0},
        {"\xc3=1", "", 1, 0},
        {"\xc0\xaf=1", "", 1, 0},         /* overlong */
        {"\xed\xa0\x80=1", "", 1, 0},     /* surrogate */
        {"\xf4\x90\x80\x80=1", "", 1, 0}, /* past U+10FFFF */
        {"a=1\xff", "", 1, 0},
        {"a=1 a=2", "a=1", 1, 0},
        {"a=1 'a'=2 b=3 b=4", "a=1, b=3", 2, 0},
        {"a=1 | b=2", "a=1, b=2", 1, 0},
        {"a=1;2;3 x b=2 y=", "a=1 w=2 c=3, b=2", 2, 0},
    };
    RUN(cases);
}

/* The first error is kept with its item number and byte position. */
static void perfdata_error_reason(void **state)
{
    (void)state;
    perfdata pd;
    perfdata_init(&pd);
    const char *in = "a=1  b=x c=y";
    assert_int_equal(perfdata_parse(&pd, in, strlen(in)), 0);
    assert_int_equal(pd.errors, 2);
    assert_string_equal(pd.err, "item 2 at byte 5: the value is not a number");
    perfdata_free(&pd);
    assert_int_equal(pd.errors, 0);
    assert_string_equal(pd.err, "");
    /* Labels stay unique across calls. */
    assert_int_equal(perfdata_parse(&pd, "a=1", 3), 0);
    assert_int_equal(perfdata_parse(&pd, "a=2 b=3", 7), 0);
    assert_int_equal(pd.n, 2);
    assert_int_equal(pd.errors, 1);
    assert_string_equal(pd.err, "item 1 at byte 0: duplicate label");
    perfdata_free(&pd);
}

/* NUL bytes, huge labels, numbers and units at their limits, the item cap. */
static void perfdata_hostile_input(void **state)
{
    (void)state;
    perfdata pd;
    perfdata_init(&pd);
    /* A NUL inside an item makes it malformed; the next still counts. */
    static const char nul[] = "a=1\0 b=2 c\0d=3 'e\0'=4";
    assert_int_equal(perfdata_parse(&pd, nul, sizeof nul - 1), 0);
    assert_int_equal(pd.n, 1);
    assert_string_equal(pd.items[0].label, "b");
    assert_int_equal(pd.errors, 3);
    perfdata_free(&pd);

    /* Labels of 1024 bytes pass, 1025 do not (bare and quoted). */
    char *big = malloc(4 * 1024 + 64);
    assert_non_null(big);
    memset(big, 'x', 1024);
    memcpy(big + 1024, "=1", 3);
    assert_int_equal(perfdata_parse(&pd, big, strlen(big)), 0);
    assert_int_equal(pd.n, 1);
    assert_int_equal(strlen(pd.items[0].label), 1024);
    perfdata_free(&pd);
    memset(big, 'x', 1025);
    memcpy(big + 1025, "=1", 3);
    assert_int_equal(perfdata_parse(&pd, big, strlen(big)), 0);
    assert_int_equal(pd.n, 0);
    assert_int_equal(pd.errors, 1);
    perfdata_free(&pd);
    big[0] = '\'';
    memset(big + 1, '\'', 2048); /* 1024 escaped quotes: 1024 bytes unquoted */
    memcpy(big + 2049, "'=1", 4);
    assert_int_equal(perfdata_parse(&pd, big, strlen(big)), 0);
    assert_int_equal(pd.n, 1);
    assert_int_equal(strlen(pd.items[0].label), 1024);
    assert_int_equal(pd.items[0].label[1023], '\'');
    perfdata_free(&pd);
    big[0] = '\'';
    memset(big + 1, '\'', 2050);
    memcpy(big + 2051, "'=1", 4);
    assert_int_equal(perfdata_parse(&pd, big, strlen(big)), 0);
    assert_int_equal(pd.n, 0);
    assert_int_equal(pd.errors, 1);
    perfdata_free(&pd);
    free(big);

    /* 1500 items: 1000 kept, 500 counted. */
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1500; i++)
        buf_printf(&b, "m%d=%d;1;2;0;9 ", i, i);
    assert_int_equal(perfdata_parse(&pd, b.data, b.len), 0);
    assert_int_equal(pd.n, PERFDATA_MAX_ITEMS);
    assert_int_equal(pd.errors, 500);
    assert_string_equal(pd.items[999].label, "m999");
    assert_true(pd.items[999].value == 999);
    perfdata_free(&pd);
    /* Many duplicates of one long label: quick and bounded. */
    buf_reset(&b);
    for (int i = 0; i < 2000; i++)
        buf_puts(&b, "'a very long label that every item shares, to make comparisons cost'=1 ");
    assert_int_equal(perfdata_parse(&pd, b.data, b.len), 0);
    assert_int_equal(pd.n, 1);
    assert_int_equal(pd.errors, 1999);
    perfdata_free(&pd);
    buf_free(&b);

    /* Random bytes from the grammar's alphabet: never a crash, and what is kept is sane. */
    static const char alphabet[] = "a1=;:'@~.-+eU%sBKMc \n\t|\x01\xc3\xa9";
    uint32_t seed = 12345;
    char in[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        size_t want = (seed >> 16) % sizeof in;
        for (; len < want; len++) {
            seed = seed * 1103515245u + 12345u;
            in[len] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        assert_int_equal(perfdata_parse(&pd, in, len), 0);
        for (size_t i = 0; i < pd.n; i++) {
            assert_true(pd.items[i].label[0] != '\0');
            assert_true(isfinite(pd.items[i].value));
            assert_true(strlen(pd.items[i].uom) <= PERFDATA_UOM_MAX);
        }
        assert_true(pd.n + pd.errors + pd.unknown <= len);
        perfdata_free(&pd);
    }
}

/* Every allocation failure gives -ENOMEM (or success), never a crash or a leak. */
static void perfdata_out_of_memory(void **state)
{
    (void)state;
    const char *in = "a=1 b=2;3;4 'c d'=5ms e=6 f=7 g=8 h=9 i=10 j=11 k=12";
    int ok = 0;
    for (long k = 0; k < 64 && !ok; k++) {
        perfdata pd;
        perfdata_init(&pd);
        mem_fail_after(k);
        int rc = perfdata_parse(&pd, in, strlen(in));
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        ok = rc == 0;
        if (ok)
            assert_int_equal(pd.n, 10);
        perfdata_free(&pd);
    }
    assert_true(ok);
}

/* ---- plugin output: message and long output ------------------------------------------------ */

static void output_message_and_long_output(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t cap;
        const char *msg, *want;
        size_t errors;
    } c[] = {
        {"OK - fine|a=1\n", 512, "OK - fine", "a=1", 0},
        {"OK - fine | a=1 b=2ms", 512, "OK - fine", "a=1, b=0.002[s]", 0},
        {"OK|a=1\nlong 1\nlong 2|b=2\nc=3\n", 512, "OK", "a=1, b=2, c=3", 0},
        {"OK\nlong|b=2", 512, "OK", "b=2", 0},
        {"OK\nlong one\nlong two\n", 512, "OK", "", 0},
        {"OK|a=1\nno perfdata here\n", 512, "OK", "a=1", 0},
        {"OK|a=1|b=2", 512, "OK", "", 1},                     /* "1|b=2": a bad unit */
        {"OK|a=1\nx|b=2|c=3\nd=4", 512, "OK", "a=1, d=4", 1}, /* "b=2|c=3" is bad */
        {"|a=1", 512, "", "a=1", 0},
        {"", 512, "", "", 0},
        {"\n\n|a=1", 512, "", "a=1", 0},
        {"  padded  \r\n", 512, "padded", "", 0},
        {"\x01 ctl\x7f x\x1b y \x02|", 512, "ctl  x  y", "", 0},
        {"\xffOK\xc3", 512, "?OK?", "", 0},
        {"caf\xc3\xa9 ok", 512, "café ok", "", 0},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 4, "é", "", 0},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 5, "éé", "", 0},
        {"abcdef", 4, "abc", "", 0},
        {"abcdef", 1, "", "", 0},
        {"OK\r\nlong|a=1\r\nb=2\r\n", 512, "OK", "a=1, b=2", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        perfdata pd;
        char msg[512], got[1024];
        memset(msg, 'Z', sizeof msg);
        perfdata_init(&pd);
        assert_int_equal(perfdata_parse_output(&pd, c[i].in, strlen(c[i].in), msg, c[i].cap), 0);
        render(&pd, got, sizeof got);
        if (strcmp(msg, c[i].msg) || strcmp(got, c[i].want) || pd.errors != c[i].errors)
            fail_msg("output \"%s\": message \"%s\" items \"%s\" errors %zu; want \"%s\" \"%s\" "
                     "%zu",
                     c[i].in, msg, got, pd.errors, c[i].msg, c[i].want, c[i].errors);
        perfdata_free(&pd);
    }
    /* A long first line is cut to the buffer. */
    char line[2000], msg[512];
    memset(line, 'a', sizeof line);
    perfdata pd;
    perfdata_init(&pd);
    assert_int_equal(perfdata_parse_output(&pd, line, sizeof line, msg, sizeof msg), 0);
    assert_int_equal(strlen(msg), 511);
    perfdata_free(&pd);
    /* stderr's first line keeps its '|'. */
    perfdata_first_line("a|b\nc", 5, msg, sizeof msg);
    assert_string_equal(msg, "a|b");
    perfdata_first_line("", 0, msg, sizeof msg);
    assert_string_equal(msg, "");
}

/* ---- the nagios probe type ----------------------------------------------------------------- */

static char tmpdir[64];   /* allowed plugin directory */
static char otherdir[96]; /* not allowed */

static void write_script(const char *dir, const char *name, const char *body, mode_t mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup_dirs(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dd-nagios-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(otherdir, sizeof otherdir, "%s-other", tmpdir);
    if (mkdir(otherdir, 0755))
        return -1;
    write_script(tmpdir, "ok.sh", "echo 'OK - fine | time=15ms;100;200;0; '\\''q d'\\''=3'\n",
                 0755);
    write_script(tmpdir, "warn.sh", "echo 'WARN - meh'\nexit 1\n", 0755);
    write_script(tmpdir, "crit.sh", "echo 'CRIT - bad'\nexit 2\n", 0755);
    write_script(tmpdir, "unknown.sh", "echo 'UNKNOWN - ?'\nexit 3\n", 0755);
    write_script(tmpdir, "exit42.sh", "echo 'what'\nexit 42\n", 0755);
    write_script(tmpdir, "sig.sh", "echo dying\nkill -TERM $$\nsleep 5\n", 0755);
    write_script(tmpdir, "args.sh",
                 "printf 'OK'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done\n", 0755);
    write_script(tmpdir, "env.sh", "echo \"OK $(env | grep -c .) ${SECRET_TOKEN:-none}\"\n", 0755);
    write_script(tmpdir, "hang.sh", "echo $$ > \"$1\"\nsleep 30 &\necho $! >> \"$1\"\nwait\n",
                 0755);
    write_script(tmpdir, "leave.sh", "sleep 30 &\necho $! > \"$1\"\necho 'OK - left one'\n", 0755);
    write_script(tmpdir, "flood.sh", "exec yes\n", 0755);
    write_script(tmpdir, "fds.sh",
                 "printf 'OK fds:'\nfor f in /proc/$$/fd/*; do printf ' %s' \"$(readlink "
                 "\"$f\")\"; done\n",
                 0755);
    write_script(tmpdir, "exact.sh", "head -c 65536 /dev/zero | tr '\\0' x\n", 0755);
    write_script(tmpdir, "over.sh", "head -c 65537 /dev/zero | tr '\\0' x\n", 0755);
    write_script(tmpdir, "both.sh", "echo 'OK - out'\necho 'noise' >&2\n", 0755);
    write_script(tmpdir, "noexec.sh", "echo never\n", 0644);
    write_script(tmpdir, "badinterp.sh", "", 0755);
    {
        char p[256];
        snprintf(p, sizeof p, "%s/badinterp.sh", tmpdir);
        FILE *f = fopen(p, "w");
        fprintf(f, "#!/nonexistent/interpreter\necho never\n");
        fclose(f);
    }
    write_script(otherdir, "outside.sh", "echo 'should not run'\n", 0755);
    char link[256], target[256];
    snprintf(link, sizeof link, "%s/escape.sh", tmpdir);
    snprintf(target, sizeof target, "%s/outside.sh", otherdir);
    if (symlink(target, link))
        return -1;
    snprintf(link, sizeof link, "%s/alias.sh", tmpdir);
    if (symlink("ok.sh", link))
        return -1;
    snprintf(link, sizeof link, "%s/subdir", tmpdir);
    if (mkdir(link, 0755))
        return -1;
    setenv("SECRET_TOKEN", "s3cr3t", 1);
    return 0;
}

static int teardown_dirs(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", tmpdir, otherdir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct got_sample {
    char metric[64], label[128], uom[16];
    double v;
} got_sample;

typedef struct got {
    int done, success, timed_out;
    double duration;
    char msg[PROBE_MSG_MAX];
    size_t n;
    got_sample s[64];
} got;

static void sink(void *ctx, const probe_result *res)
{
    got *g = ctx;
    g->done = 1;
    g->success = res->success;
    g->timed_out = res->timed_out;
    g->duration = res->duration_s;
    snprintf(g->msg, sizeof g->msg, "%s", res->message);
    for (size_t i = 0; i < res->nsamples && g->n < 64; i++) {
        got_sample *s = &g->s[g->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->metric, sizeof s->metric, "%s", res->samples[i].metric);
        for (const char *const *l = res->samples[i].labels; l[0]; l += 2) {
            if (!strcmp(l[0], "label"))
                snprintf(s->label, sizeof s->label, "%s", l[1]);
            if (!strcmp(l[0], "uom"))
                snprintf(s->uom, sizeof s->uom, "%s", l[1]);
        }
        s->v = res->samples[i].v;
    }
}

/* The value of metric{label=label} (label NULL: any), or NAN. */
static double value(const got *g, const char *metric, const char *label)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->s[i].metric, metric) && (!label || !strcmp(g->s[i].label, label)))
            return g->s[i].v;
    return NAN;
}

static const char *uom_of(const got *g, const char *metric, const char *label)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->s[i].metric, metric) && !strcmp(g->s[i].label, label))
            return g->s[i].uom;
    return NULL;
}

/* Makes a definition; settings is JSON. Returns prepare's rc with the reason in err. */
static int make_def(const char *settings, int port, int64_t timeout_ms, probe_def **d, char *err,
                    size_t errcap)
{
    json_error_t je;
    json_t *st = json_loads(settings, JSON_ALLOW_NUL, &je);
    assert_non_null(st);
    json_t *o = json_pack("{sI sI ss ss ss ss ss ss sI sI sI so}", "probe", (json_int_t)1,
                          "schedule", (json_int_t)0, "type", "nagios", "name", "t", "device",
                          "web-1", "endpoint", "e", "target", "192.0.2.7", "address", "192.0.2.7",
                          "port", (json_int_t)port, "timeout_ms", (json_int_t)timeout_ms,
                          "interval_ms", (json_int_t)60000, "settings", st);
    assert_non_null(o);
    err[0] = '\0';
    int rc = probe_def_from_json(o, d, err, errcap);
    json_decref(o);
    return rc;
}

/* Runs n definitions at once on a fresh loop with dirs allowed; every handle must be closed
 * when the loop ends. */
static void run_defs(const char *dirs, probe_def **d, got *g, size_t n)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    probe_sched_opts so = {.probe = {.vantage = "test", .plugin_dirs = dirs}};
    probe_sched *s = NULL;
    assert_int_equal(probe_sched_new(&s, &loop, &so), 0);
    for (size_t i = 0; i < n; i++) {
        memset(&g[i], 0, sizeof g[i]);
        assert_int_equal(probe_sched_run_once(s, d[i], sink, &g[i]), 0);
    }
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += !g[i].done;
        if (!left || !uv_run(&loop, UV_RUN_ONCE))
            break;
    }
    probe_sched_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(g[i].done);
}

static void run_one(const char *dirs, const char *settings, int port, int64_t timeout_ms, got *g)
{
    probe_def *d = NULL;
    char err[512];
    if (make_def(settings, port, timeout_ms, &d, err, sizeof err))
        fail_msg("prepare %s: %s", settings, err);
    run_defs(dirs, &d, g, 1);
    probe_def_unref(d);
}

static void settings(char *out, size_t cap, const char *script, const char *args_json)
{
    snprintf(out, cap, "{\"command\":\"%s/%s\"%s%s}", tmpdir, script, args_json ? ",\"args\":" : "",
             args_json ? args_json : "");
}

static void nagios_prepare_refuses(void **state)
{
    (void)state;
    char s[512], err[512];
    probe_def *d = NULL;
    static const struct {
        const char *settings, *why;
    } c[] = {
        {"{}", "\"command\" (the plugin's absolute path) is missing"},
        {"{\"command\":\"\"}", "is missing"},
        {"{\"command\":42}", "is missing"},
        {"{\"command\":\"check_dummy\"}", "must be an absolute path"},
        {"{\"command\":\"./check_dummy\"}", "must be an absolute path"},
        {"{\"command\":\"/nonexistent/check_x\"}", "No such file or directory"},
        {"{\"command\":\"/usr/lib/nagios/plugins/check_dummy\",\"args\":\"0\"}",
         "\"args\" must be a list"},
        {"{\"command\":\"/usr/lib/nagios/plugins/check_dummy\",\"args\":[0]}",
         "\"args\" entry 1 is not a string"},
        {"{\"command\":\"/usr/lib/nagios/plugins/check_dummy\",\"args\":[\"a\",null]}",
         "\"args\" entry 2 is not a string"},
        {"{\"command\":\"/usr/lib/nagios/plugins/check_dummy\",\"args\":[\"a\\u0000b\"]}",
         "holds a NUL"},
        {"{\"command\":\"/usr/lib/nagios/plugins/check_d\\u0000ummy\"}",
         "must be an absolute path"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = make_def(c[i].settings, 0, 1000, &d, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, c[i].why))
            fail_msg("%s: rc %d \"%s\", want \"%s\"", c[i].settings, rc, err, c[i].why);
        assert_null(d);
    }
    settings(s, sizeof s, "noexec.sh", NULL);
    assert_int_equal(make_def(s, 0, 1000, &d, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "is not executable"));
    settings(s, sizeof s, "subdir", NULL);
    assert_int_equal(make_def(s, 0, 1000, &d, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "is not a regular file"));
    /* 257 arguments, and arguments that grow too long through macros. */
    buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"command\":\"%s/ok.sh\",\"args\":[", tmpdir);
    for (int i = 0; i < 257; i++)
        buf_printf(&b, "%s\"a\"", i ? "," : "");
    buf_puts(&b, "]}");
    assert_int_equal(make_def(b.data, 0, 1000, &d, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "at most 256"));
    buf_reset(&b);
    buf_printf(&b, "{\"command\":\"%s/ok.sh\",\"args\":[\"", tmpdir);
    for (int i = 0; i < 1000; i++)
        buf_puts(&b, "$HOSTADDRESS$"); /* 9000 characters once substituted */
    buf_puts(&b, "\"]}");
    assert_int_equal(make_def(b.data, 0, 1000, &d, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "too long"));
    buf_free(&b);
    /* Out of memory in prepare: -ENOMEM or success, never a crash or a leak. */
    settings(s, sizeof s, "args.sh", "[\"$HOSTADDRESS$\",\"-p\",\"$PORT$\",\"x\"]");
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        mem_fail_after(k);
        int rc = make_def(s, 80, 1000, &d, err, sizeof err);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        ok = rc == 0;
        probe_def_unref(d);
        d = NULL;
    }
    assert_true(ok);
}

static void nagios_states_and_perfdata(void **state)
{
    (void)state;
    char s[512];
    got g;
    settings(s, sizeof s, "ok.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_true(g.success);
    assert_string_equal(g.msg, "OK - fine");
    assert_true(value(&g, "nagios_state", NULL) == 0);
    assert_true(value(&g, "nagios_perfdata", "time") == 0.015);
    assert_string_equal(uom_of(&g, "nagios_perfdata", "time"), "s");
    assert_true(value(&g, "nagios_perfdata_warning", "time") == 0.1);
    assert_true(value(&g, "nagios_perfdata_critical", "time") == 0.2);
    assert_true(value(&g, "nagios_perfdata_min", "time") == 0);
    assert_true(isnan(value(&g, "nagios_perfdata_max", "time")));
    assert_true(value(&g, "nagios_perfdata", "q d") == 3);
    assert_true(isnan(value(&g, "nagios_perfdata_warning", "q d")));
    assert_true(value(&g, "nagios_perfdata_errors", NULL) == 0);
    assert_true(value(&g, "probe_success", NULL) == 1);

    static const struct {
        const char *script;
        int state, success;
        const char *msg;
    } c[] = {
        {"warn.sh", 1, 0, "WARN - meh"},
        {"crit.sh", 2, 0, "CRIT - bad"},
        {"unknown.sh", 3, 0, "UNKNOWN - ?"},
        {"exit42.sh", 3, 0, "plugin exited with status 42 (UNKNOWN): what"},
        {"sig.sh", 3, 0, "plugin killed by signal 15 (Terminated): dying"},
        {"both.sh", 0, 1, "OK - out"},
        {"alias.sh", 0, 1, "OK - fine"}, /* a symlink inside the directory is fine */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        settings(s, sizeof s, c[i].script, NULL);
        run_one(tmpdir, s, 0, 5000, &g);
        if (g.success != c[i].success || value(&g, "nagios_state", NULL) != c[i].state ||
            strcmp(g.msg, c[i].msg))
            fail_msg("%s: success %d state %g \"%s\"", c[i].script, g.success,
                     value(&g, "nagios_state", NULL), g.msg);
    }
}

static void nagios_allow_list(void **state)
{
    (void)state;
    char s[512], dirs[512];
    got g;
    /* Outside the allowed directories (the default ones here). */
    settings(s, sizeof s, "ok.sh", NULL);
    run_one(NULL, s, 0, 5000, &g);
    assert_false(g.success);
    assert_true(value(&g, "nagios_state", NULL) == 3);
    assert_non_null(strstr(g.msg, "is outside the allowed plugin directories "
                                  "(/usr/lib/nagios/plugins:/usr/lib/monitoring-plugins)"));
    /* A symlink out of the directory. */
    settings(s, sizeof s, "escape.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_false(g.success);
    assert_non_null(strstr(g.msg, "resolves to"));
    assert_non_null(strstr(g.msg, "outside the allowed plugin directories"));
    /* A directory whose name merely starts like an allowed one. */
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s", tmpdir);
    snprintf(s, sizeof s, "{\"command\":\"%s/outside.sh\"}", otherdir);
    run_one(prefix, s, 0, 5000, &g);
    assert_false(g.success);
    assert_non_null(strstr(g.msg, "outside"));
    /* Several directories, empty and relative entries ignored. */
    snprintf(dirs, sizeof dirs, "::relative:/nonexistent:%s:", otherdir);
    run_one(dirs, s, 0, 5000, &g);
    assert_true(g.success);
    assert_string_equal(g.msg, "should not run");
    /* A directory given through a symlink. */
    char link[160];
    snprintf(link, sizeof link, "%s/dirlink", otherdir);
    assert_int_equal(symlink(tmpdir, link), 0);
    snprintf(s, sizeof s, "{\"command\":\"%s/ok.sh\"}", link);
    run_one(link, s, 0, 5000, &g);
    assert_true(g.success);
    unlink(link);
    /* Made non-executable after prepare: refused at run time. */
    char path[256];
    snprintf(path, sizeof path, "%s/late.sh", tmpdir);
    write_script(tmpdir, "late.sh", "echo ran\n", 0755);
    settings(s, sizeof s, "late.sh", NULL);
    probe_def *d = NULL;
    char err[256];
    assert_int_equal(make_def(s, 0, 5000, &d, err, sizeof err), 0);
    assert_int_equal(chmod(path, 0644), 0);
    run_defs(tmpdir, &d, &g, 1);
    assert_false(g.success);
    assert_non_null(strstr(g.msg, "is not executable"));
    unlink(path);
    run_defs(tmpdir, &d, &g, 1);
    assert_false(g.success);
    assert_non_null(strstr(g.msg, "No such file or directory"));
    probe_def_unref(d);
    /* A missing interpreter: uv_spawn fails cleanly. */
    settings(s, sizeof s, "badinterp.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_false(g.success);
    assert_non_null(strstr(g.msg, "cannot run"));
    assert_non_null(strstr(g.msg, "interpreter"));
}

static void nagios_macros_and_environment(void **state)
{
    (void)state;
    char s[512];
    got g;
    settings(s, sizeof s, "args.sh",
             "[\"-H\",\"$HOSTADDRESS$\",\"-p\",\"$PORT$\",\"$HOSTNAME$\",\"x$PORT$y\","
             "\"$USER1$\",\"$HOSTADDRESS\",\"$$\",\"a b\",\"'q'\",\"$HOSTADDRESS$$PORT$\"]");
    run_one(tmpdir, s, 5666, 5000, &g);
    assert_string_equal(g.msg, "OK [-H] [192.0.2.7] [-p] [5666] [web-1] [x5666y] [$USER1$] "
                               "[$HOSTADDRESS] [$$] [a b] ['q'] [192.0.2.75666]");
    /* No port: $PORT$ is empty. */
    settings(s, sizeof s, "args.sh", "[\"$PORT$\",\"-\"]");
    run_one(tmpdir, s, 0, 5000, &g);
    assert_string_equal(g.msg, "OK [] [-]");
    /* Two variables only (PATH and LANG, plus what sh sets itself: PWD), none of ours. */
    settings(s, sizeof s, "env.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_string_equal(g.msg, "OK 3 none");
    /* None of our descriptors (this one is opened without O_CLOEXEC). */
    char marker[128];
    snprintf(marker, sizeof marker, "%s/fd-marker", tmpdir);
    int fd = open(marker, O_RDONLY | O_CREAT, 0600);
    assert_true(fd > 2);
    settings(s, sizeof s, "fds.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_true(g.success);
    assert_non_null(strstr(g.msg, "OK fds:"));
    if (strstr(g.msg, "fd-marker"))
        fail_msg("the plugin inherited a descriptor: %s", g.msg);
    close(fd);
}

/* Is process pid gone (or a zombie left to init)? */
static int gone(int pid)
{
    char path[64], st[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = '\0';
    const char *p = strrchr(st, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static int wait_gone(int pid)
{
    for (int i = 0; i < 200; i++) {
        if (gone(pid))
            return 1;
        usleep(10000);
    }
    return 0;
}

static void read_pids(const char *path, int *pids, size_t cap, size_t *n)
{
    FILE *f = fopen(path, "r");
    *n = 0;
    assert_non_null(f);
    while (*n < cap && fscanf(f, "%d", &pids[*n]) == 1)
        (*n)++;
    fclose(f);
}

static void nagios_timeout_kills_the_group(void **state)
{
    (void)state;
    char s[512], pidfile[128], args[192];
    int pids[4];
    size_t n;
    got g;
    snprintf(pidfile, sizeof pidfile, "%s/hang.pids", tmpdir);
    snprintf(args, sizeof args, "[\"%s\"]", pidfile);
    settings(s, sizeof s, "hang.sh", args);
    run_one(tmpdir, s, 0, 300, &g);
    assert_false(g.success);
    assert_true(g.timed_out);
    assert_true(value(&g, "nagios_state", NULL) == 3);
    assert_true(g.duration < 1.0);
    read_pids(pidfile, pids, 4, &n);
    assert_int_equal(n, 2);
    assert_true(wait_gone(pids[0]));
    assert_true(wait_gone(pids[1]));
    /* A plugin that answers but leaves a child: the child is killed when the plugin exits, and
     * the run does not wait for the timeout. */
    snprintf(pidfile, sizeof pidfile, "%s/leave.pids", tmpdir);
    snprintf(args, sizeof args, "[\"%s\"]", pidfile);
    settings(s, sizeof s, "leave.sh", args);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_true(g.success);
    assert_string_equal(g.msg, "OK - left one");
    assert_true(g.duration < 2.0);
    read_pids(pidfile, pids, 4, &n);
    assert_int_equal(n, 1);
    assert_true(wait_gone(pids[0]));
}

static void nagios_output_cap(void **state)
{
    (void)state;
    char s[512];
    got g;
    settings(s, sizeof s, "flood.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_false(g.success);
    assert_false(g.timed_out);
    assert_string_equal(g.msg, "output over 64 KiB");
    assert_true(value(&g, "nagios_state", NULL) == 3);
    assert_true(g.duration < 2.0);
    settings(s, sizeof s, "exact.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_true(g.success); /* exactly 64 KiB is fine */
    assert_int_equal(strlen(g.msg), PROBE_MSG_MAX - 1);
    settings(s, sizeof s, "over.sh", NULL);
    run_one(tmpdir, s, 0, 5000, &g);
    assert_false(g.success);
    assert_string_equal(g.msg, "output over 64 KiB");
}

/* Many runs of every kind at once on one loop; then the scheduler stops in the middle of
 * hanging runs: everything is killed, closed and freed. */
static void nagios_many_at_once(void **state)
{
    (void)state;
    enum { N = 60 };
    static const char *const scripts[] = {"ok.sh",  "crit.sh", "flood.sh",
                                          "sig.sh", "both.sh", "hang.sh"};
    probe_def *d[N];
    got *g = calloc(N, sizeof *g);
    char s[512], err[256], args[192];
    assert_non_null(g);
    for (int i = 0; i < N; i++) {
        snprintf(args, sizeof args, "[\"%s/many-%d.pids\"]", tmpdir, i);
        settings(s, sizeof s, scripts[i % 6], args);
        d[i] = NULL;
        /* Only the hanging ones meet their timeout: the others get plenty, as starting 60
         * plugins takes 60 forks of this (sanitized, large) process before the loop runs. */
        int64_t tmo = !strcmp(scripts[i % 6], "hang.sh") ? 1500 : 20000;
        assert_int_equal(make_def(s, 0, tmo, &d[i], err, sizeof err), 0);
    }
    run_defs(tmpdir, d, g, N);
    for (int i = 0; i < N; i++) {
        const char *sc = scripts[i % 6];
        int want = !strcmp(sc, "ok.sh") || !strcmp(sc, "both.sh");
        if (g[i].success != want)
            fail_msg("run %d (%s): success %d, want %d: %s", i, sc, g[i].success, want, g[i].msg);
        if (!strcmp(sc, "hang.sh"))
            assert_true(g[i].timed_out);
        if (!strcmp(sc, "flood.sh"))
            assert_string_equal(g[i].msg, "output over 64 KiB");
        probe_def_unref(d[i]);
    }
    free(g);

    /* The scheduler stops while a plugin hangs: no result, the group is killed. */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    probe_sched_opts so = {.probe = {.vantage = "test", .plugin_dirs = tmpdir}};
    probe_sched *sc = NULL;
    probe_def *hd = NULL;
    got hg;
    memset(&hg, 0, sizeof hg);
    char pidfile[128];
    snprintf(pidfile, sizeof pidfile, "%s/stop.pids", tmpdir);
    unlink(pidfile);
    snprintf(args, sizeof args, "[\"%s\"]", pidfile);
    settings(s, sizeof s, "hang.sh", args);
    assert_int_equal(make_def(s, 0, 30000, &hd, err, sizeof err), 0);
    assert_int_equal(probe_sched_new(&sc, &loop, &so), 0);
    assert_int_equal(probe_sched_run_once(sc, hd, sink, &hg), 0);
    /* Wait until the plugin has written both pids. */
    int pids[4];
    size_t n = 0;
    for (int i = 0; i < 500 && n < 2; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
        FILE *f = fopen(pidfile, "r");
        if (f) {
            fclose(f);
            read_pids(pidfile, pids, 4, &n);
        }
    }
    assert_int_equal(n, 2);
    probe_sched_close(sc);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_false(hg.done); /* dropped: the scheduler stopped */
    assert_true(wait_gone(pids[0]));
    assert_true(wait_gone(pids[1]));
    probe_def_unref(hd);
}

/* Real plugins from monitoring-plugins-basic, where installed. */
static void nagios_real_plugins(void **state)
{
    (void)state;
    got g;
    if (access("/usr/lib/nagios/plugins/check_dummy", X_OK)) {
        skip();
        return;
    }
    run_one(NULL, "{\"command\":\"/usr/lib/nagios/plugins/check_dummy\",\"args\":[\"1\",\"hi\"]}",
            0, 5000, &g);
    assert_false(g.success);
    assert_string_equal(g.msg, "WARNING: hi");
    assert_true(value(&g, "nagios_state", NULL) == 1);
    run_one(NULL,
            "{\"command\":\"/usr/lib/nagios/plugins/check_load\",\"args\":[\"-w\",\"900,900,900\","
            "\"-c\",\"999,999,999\"]}",
            0, 5000, &g);
    assert_true(g.success);
    assert_true(value(&g, "nagios_perfdata", "load1") >= 0);
    assert_true(value(&g, "nagios_perfdata_warning", "load5") == 900);
    assert_true(value(&g, "nagios_perfdata_critical", "load15") == 999);
    assert_true(value(&g, "nagios_perfdata_errors", NULL) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(perfdata_valid_items),
        cmocka_unit_test(perfdata_units),
        cmocka_unit_test(perfdata_ranges),
        cmocka_unit_test(perfdata_unit_table),
        cmocka_unit_test(perfdata_malformed_items),
        cmocka_unit_test(perfdata_error_reason),
        cmocka_unit_test(perfdata_hostile_input),
        cmocka_unit_test(perfdata_out_of_memory),
        cmocka_unit_test(output_message_and_long_output),
        cmocka_unit_test(nagios_prepare_refuses),
        cmocka_unit_test(nagios_states_and_perfdata),
        cmocka_unit_test(nagios_allow_list),
        cmocka_unit_test(nagios_macros_and_environment),
        cmocka_unit_test(nagios_timeout_kills_the_group),
        cmocka_unit_test(nagios_output_cap),
        cmocka_unit_test(nagios_many_at_once),
        cmocka_unit_test(nagios_real_plugins),
    };
    return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
