/* matcher: label matchers over PCRE2. Patterns are compiled once (with JIT where the platform
 * has it); each match call uses its own match data so matchers are shareable across threads. */
#include "matcher.h"

#include "../lib/mem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

const char *tsdb_match_op(tsdb_match_type type)
{
    switch (type) {
    case TSDB_MATCH_EQ: return "=";
    case TSDB_MATCH_NEQ: return "!=";
    case TSDB_MATCH_RE: return "=~";
    case TSDB_MATCH_NRE: return "!~";
    }
    return "?";
}

int tsdb_matcher_init(tsdb_matcher *m, tsdb_match_type type, const char *name, const char *value,
                      char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    m->name = mem_strdup(name);
    m->value = mem_strdup(value);
    if (!m->name || !m->value)
        return -ENOMEM;
    if (type != TSDB_MATCH_RE && type != TSDB_MATCH_NRE)
        return 0;
    if (strcmp(value, ".*") == 0) {
        m->re_any = 1;
        return 0;
    }
    /* PCRE2_ANCHORED and PCRE2_ENDANCHORED anchor the whole pattern, alternations included
     * ("a|b" does not match "ab"), so the pattern is compiled as given: wrapping it in a group
     * would let an unbalanced pattern such as "a)|(b" through and shift error positions. */
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF,
                                   &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "invalid regular expression \"%.100s\" at position %zu: %s", value,
                 (size_t)off, (const char *)msg);
        return -EINVAL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; failure is harmless */
    m->re = re;
    return 0;
}

void tsdb_matcher_free(tsdb_matcher *m)
{
    if (!m)
        return;
    mem_free(m->name);
    mem_free(m->value);
    if (m->re)
        pcre2_code_free(m->re);
    memset(m, 0, sizeof *m);
}

static int re_match(const tsdb_matcher *m, const char *value)
{
    if (m->re_any)
        return 1;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return 0;
    int rc = pcre2_match(m->re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    /* Errors (e.g. a value that is not valid UTF-8) count as no match. */
    return rc >= 0;
}

int tsdb_matcher_matches(const tsdb_matcher *m, const char *value)
{
    if (!value)
        value = "";
    switch (m->type) {
    case TSDB_MATCH_EQ: return strcmp(m->value, value) == 0;
    case TSDB_MATCH_NEQ: return strcmp(m->value, value) != 0;
    case TSDB_MATCH_RE: return re_match(m, value);
    case TSDB_MATCH_NRE: return !re_match(m, value);
    }
    return 0;
}
