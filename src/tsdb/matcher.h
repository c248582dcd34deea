/* matcher: label matchers (=, !=, =~, !~) as PromQL and the series API use them.
 *
 * Regular expressions are PCRE2 (close to Prometheus's RE2 syntax), fully anchored, with `.`
 * matching newlines as in Prometheus. A matcher is immutable after init and may be used by
 * several threads at once. */
#ifndef DD_MATCHER_H
#define DD_MATCHER_H

#include <stddef.h>

typedef enum tsdb_match_type {
    TSDB_MATCH_EQ,  /* =  */
    TSDB_MATCH_NEQ, /* != */
    TSDB_MATCH_RE,  /* =~ */
    TSDB_MATCH_NRE, /* !~ */
} tsdb_match_type;

typedef struct tsdb_matcher {
    tsdb_match_type type;
    char *name;
    char *value;
    void *re;      /* compiled pcre2 pattern for RE/NRE */
    int re_any;    /* the pattern is ".*": matches everything, no regex run needed */
} tsdb_matcher;

/* Initialises m (copying name and value; compiling the regex). Returns 0, -EINVAL with the
 * reason in err (bad regex), or -ENOMEM. Free with tsdb_matcher_free even after failure. */
int tsdb_matcher_init(tsdb_matcher *m, tsdb_match_type type, const char *name, const char *value,
                      char *err, size_t errlen);
void tsdb_matcher_free(tsdb_matcher *m);
/* Does the label value match? A label the series lacks is matched as the empty string. */
int tsdb_matcher_matches(const tsdb_matcher *m, const char *value);
/* The operator's text: "=", "!=", "=~", "!~". */
const char *tsdb_match_op(tsdb_match_type type);

#endif
