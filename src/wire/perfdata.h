/* perfdata: the output of a Nagios / monitoring-plugins plugin — its message and its
 * performance data — read strictly and totally.
 *
 * A plugin prints (Nagios plugin API, "TEXT|PERF\nLONG TEXT|MORE PERF"):
 *
 *     TEXT OUTPUT | PERFDATA
 *     LONG TEXT LINE 2
 *     LONG TEXT LINE 3 | PERFDATA CONTINUED
 *     PERFDATA CONTINUED
 *
 * The message is the first line up to its first '|'. Performance data is what follows that
 * '|' on the first line, plus everything after the first '|' of the later lines (to the end of
 * the output: Nagios reads every line after it as performance data too).
 *
 * Performance data is a whitespace-separated list of items
 *
 *     'label with spaces'=value[UOM];[warn];[crit];[min];[max]
 *
 * A label is quoted with single quotes ('' stands for one quote) or bare (no whitespace, '=' or
 * quote); at most PERFDATA_LABEL_MAX bytes of printable UTF-8. The value is a decimal number
 * (optional sign, fraction and exponent; no inf, nan or locale commas) or "U" (unknown: the
 * item is skipped and counted in `unknown`, not as an error). Units are converted to base units:
 *   s, ms (/1e3), us (/1e6)                          -> "s"
 *   B, KB kB KiB (*1024), MB MiB, GB GiB, TB TiB      -> "B"  (powers of 1024: monitoring-plugins
 *                                                        and the graphing add-ons (PNP4Nagios)
 *                                                        read them so; check_disk prints MiB)
 *   %                                                -> "%"
 *   c (a counter)                                    -> "c"
 *   no unit (a count of things)                      -> ""
 * Any other unit (up to PERFDATA_UOM_MAX bytes, no digits, signs, dots, quotes, '=' or ';') is
 * kept as given, without conversion. warn and crit are Nagios ranges ("10", "10:", "~:10",
 * "10:20", "@10:20"); the stored threshold is the range's end when it has a finite one, else its
 * start ("10:" -> 10: the value below which the plugin alerts), else none ("~:"). A range whose
 * start exceeds its end is malformed. min and max are plain numbers. Thresholds, min and max are
 * converted with the value's unit. Empty fields are "not given"; at most five fields.
 *
 * Malformed items are skipped and counted in `errors` (the first one's reason and position is
 * kept in `err`), never fatal; so are duplicates of an earlier label and items past
 * PERFDATA_MAX_ITEMS. Parsing never fails except for memory. Not thread-safe per set. */
#ifndef DD_WIRE_PERFDATA_H
#define DD_WIRE_PERFDATA_H

#include <stddef.h>
#include <stdint.h>

#define PERFDATA_MAX_ITEMS 1000 /* items kept per set; the rest are counted as errors */
#define PERFDATA_LABEL_MAX 1024 /* bytes of a label after unquoting */
#define PERFDATA_UOM_MAX 16     /* bytes of a unit as given */
#define PERFDATA_NUM_MAX 64     /* characters of one number */

/* Which optional fields an item has (perfdata_item.has). */
enum { PERFDATA_HAS_WARN = 1, PERFDATA_HAS_CRIT = 2, PERFDATA_HAS_MIN = 4, PERFDATA_HAS_MAX = 8 };

typedef struct perfdata_item {
    char *label;                    /* unquoted; owned by the set */
    char uom[PERFDATA_UOM_MAX + 1]; /* after conversion: "s", "B", "%", "c", "" or as given */
    double value;                   /* in base units */
    double warn, crit, min, max;    /* in base units, where `has` says so */
    unsigned has;                   /* PERFDATA_HAS_* bits */
    uint64_t hash;                  /* of the label (duplicate check) */
} perfdata_item;

typedef struct perfdata {
    perfdata_item *items; /* n items in input order */
    size_t n, cap;
    size_t errors;  /* malformed, duplicate or excess items skipped */
    size_t unknown; /* items with value "U", skipped */
    char err[160];  /* the first error: "item N at byte B: reason" ("" when none) */
} perfdata;

/* Makes an empty set (the caller owns the struct; free with perfdata_free). */
void perfdata_init(perfdata *pd);
/* Frees the items; the set is empty and reusable afterwards. Accepts NULL. */
void perfdata_free(perfdata *pd);

/* Parses the performance data s[0..len) (NUL bytes allowed: they make an item malformed) and
 * appends its items to pd; may be called again to add more (labels stay unique across calls).
 * Byte positions in err count from s. Returns 0, or -ENOMEM (the items parsed so far stay). */
int perfdata_parse(perfdata *pd, const char *s, size_t len);

/* Reads a plugin's whole output out[0..len): writes its message (the first line up to '|',
 * trimmed, control characters and invalid UTF-8 replaced, cut to msgcap - 1 bytes on a
 * character boundary) to msg, and parses its performance data (first line and long output)
 * into pd. Returns 0 or -ENOMEM. */
int perfdata_parse_output(perfdata *pd, const char *out, size_t len, char *msg, size_t msgcap);

/* Writes the first line of text[0..len) (trimmed, cleaned like a message above, but not cut at
 * '|') to msg. For a plugin's stderr. */
void perfdata_first_line(const char *text, size_t len, char *msg, size_t msgcap);

/* Looks up a unit: *base gets the base unit ("s", "B", ...; the unit itself when unknown) and
 * *mul / *div the conversion (value * mul / div). Returns 1 for a known unit, 0 otherwise. */
int perfdata_unit(const char *uom, const char **base, double *mul, double *div);

/* Parses one Nagios range (warn or crit field) s[0..len), non-empty. Returns 0 with *v the
 * threshold as described above and *given 1 (0: the range has no finite bound), or -EINVAL
 * (*v and *given untouched). */
int perfdata_range(const char *s, size_t len, double *v, int *given);

#endif
