/* munin: a strict reader of what a munin-node says (protocol of munin 2.0: the banner, the
 * answers to `cap`, `list`, `config PLUGIN` and `fetch PLUGIN`), and the samples a plugin's
 * answers make (docs/probes.md "munin").
 *
 * The reader does no I/O: the caller splits the byte stream into lines (munin_line) and hands
 * each to the parser of the answer it waits for. Everything is bounded: line length, plugin
 * count, names, stored texts, fields per plugin; a line the reader does not understand is an
 * error naming the line. Errors inside one plugin's answer (the node's "# Unknown service",
 * "# Timed out", "# Bad exit", or a malformed line) fail that plugin only: the reader records
 * the first and keeps reading to the answer's end line "." so the session stays in step.
 * Not thread-safe; no globals. */
#ifndef DD_WIRE_MUNIN_H
#define DD_WIRE_MUNIN_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/hmap.h"

#define MUNIN_PORT 4949             /* the node's default port */
#define MUNIN_LINE_MAX 65536        /* longest line, its newline included */
#define MUNIN_ANSWER_MAX (8u << 20) /* bytes a probe run reads from one node */
#define MUNIN_PLUGINS_MAX 1024      /* plugins a node may list */
#define MUNIN_NAME_MAX 255          /* longest plugin, graph or field name (bytes) */
#define MUNIN_TEXT_MAX 1024         /* titles, labels, thresholds are cut to this (bytes) */
#define MUNIN_GRAPHS_MAX 16384      /* graphs of one plugin (multigraph) */
#define MUNIN_FIELDS_MAX 65536      /* fields of one plugin, all its graphs together */
#define MUNIN_ERR_MAX 256           /* room for a message */

/* Finds the first line in data[0..len): returns 1 with the line's length without its "\n" (and
 * a "\r" before it) in *linelen and the bytes it takes, newline included, in *used; 0 when
 * no newline has come yet; -E2BIG when there is none within MUNIN_LINE_MAX bytes. */
int munin_line(const char *data, size_t len, size_t *linelen, size_t *used);

/* Reads the banner "# munin node at NAME". Returns 0 with NAME in node (cut to cap - 1 bytes),
 * or -EINVAL with the reason in err (the node is not a munin node). */
int munin_parse_banner(const char *line, size_t len, char *node, size_t cap, char *err,
                       size_t errcap);

#define MUNIN_CAP_MULTIGRAPH 1u
#define MUNIN_CAP_DIRTYCONFIG 2u

/* Reads the answer to "cap ...": "cap" and the node's capabilities. A node older than
 * munin 1.4 answers "# Unknown command..." : no capabilities. Returns 0 with MUNIN_CAP_* bits
 * in *caps, or -EINVAL with the reason in err. */
int munin_parse_cap(const char *line, size_t len, unsigned *caps, char *err, size_t errcap);

/* The plugins a node lists. */
typedef struct munin_list {
    char **names; /* n names, each valid (munin_valid_plugin_name), no repeats */
    size_t n;
} munin_list;

/* True if s[0..len) can name a plugin: 1 to MUNIN_NAME_MAX printable ASCII bytes without
 * blanks (the protocol separates names with spaces). */
int munin_valid_plugin_name(const char *s, size_t len);
/* Reads the answer to "list": plugin names separated by spaces (none is valid). Returns 0 with
 * the names in *out (free with munin_list_free), -EINVAL with the reason in err (a bad name,
 * more than MUNIN_PLUGINS_MAX) leaving *out empty, or -ENOMEM. */
int munin_parse_list(const char *line, size_t len, munin_list *out, char *err, size_t errcap);
/* Frees the names and empties the list. Accepts an empty list. */
void munin_list_free(munin_list *l);

typedef enum munin_type { MUNIN_GAUGE, MUNIN_DERIVE, MUNIN_COUNTER, MUNIN_ABSOLUTE } munin_type;

/* The name munin gives a field type ("GAUGE", ...). */
const char *munin_type_name(munin_type t);

typedef struct munin_field {
    char *name;               /* [A-Za-z0-9_]+ */
    char *label;              /* the field's .label, or NULL */
    char *warning, *critical; /* thresholds as given ("10", "5:10", ":10"), or NULL */
    munin_type type;          /* GAUGE unless .type said otherwise */
    int has_value;            /* fetch gave a value (not "U") */
    double value;
    int64_t time_s; /* a value given as "EPOCH:VALUE": EPOCH; else 0 */
} munin_field;

typedef struct munin_graph {
    char *name;                      /* the plugin's name, or the multigraph name */
    char *title, *vlabel, *category; /* graph_title, graph_vlabel, graph_category, or NULL */
    munin_field **fields;            /* in the order they first appeared */
    size_t nfields, capfields;
} munin_graph;

/* Which answer munin_plugin_begin starts. */
typedef enum munin_answer { MUNIN_CONFIG, MUNIN_FETCH } munin_answer;

/* What the node said about one plugin: its config and fetch answers, merged by graph and
 * field. Owned by the caller (munin_plugin_new / munin_plugin_free). */
typedef struct munin_plugin {
    char *name;
    munin_graph **graphs; /* in the order they first appeared */
    size_t ngraphs, capgraphs;
    size_t nfields;   /* fields of all graphs */
    hmap graph_index; /* graph name -> munin_graph */
    hmap field_index; /* graph name, NUL, field name -> munin_field */
    /* reading state */
    munin_answer answer;
    munin_graph *cur;        /* the graph lines go to (NULL: the plugin's own, made lazily) */
    size_t lineno;           /* lines of the current answer read */
    int failed;              /* 0, or why the plugin failed: -ENOENT unknown service,
                              * -ETIMEDOUT timed out, -EIO bad exit, -EINVAL malformed
                              * answer, -E2BIG too many graphs or fields, -ENOMEM */
    char err[MUNIN_ERR_MAX]; /* the first failure, e.g. "fetch line 3: bad value \"x\"" */
} munin_plugin;

/* Makes an empty plugin record for plugin name (copied). Returns 0, -EINVAL (not a valid
 * plugin name: munin_valid_plugin_name) or -ENOMEM. */
int munin_plugin_new(munin_plugin **out, const char *name);
/* Frees the record and everything in it. Accepts NULL. */
void munin_plugin_free(munin_plugin *p);
/* Starts reading the answer to "config NAME" or "fetch NAME". */
void munin_plugin_begin(munin_plugin *p, munin_answer which);
/* Reads one line of the answer (without its newline). Returns 1 for the end line ".", 0 for
 * any other line. A problem of the plugin's is recorded in p->failed and p->err (the first
 * one only; later lines are skipped up to the end line); returns -ENOMEM only when memory runs
 * out, which also fails the plugin. */
int munin_plugin_line(munin_plugin *p, const char *line, size_t len);

/* Writes "munin_<graph>_<field>" into out, every byte outside [A-Za-z0-9_] made '_'. Returns
 * 0, or -E2BIG if it does not fit in cap bytes. */
int munin_metric_name(char *out, size_t cap, const char *graph, const char *field);
/* Reads the upper bound of a threshold: "10" or "5:10" or ":10" give 10; "5:" and anything
 * not numeric have none. Returns 0 with it in *v, or -EINVAL (*v untouched). */
int munin_threshold_upper(const char *s, double *v);

/* Receives one sample: metric name, NULL-terminated label pairs and value, valid during the
 * call; t_s is the sample's own time in Unix seconds or 0 (the run's time). A nonzero return
 * stops munin_plugin_samples, which returns it. */
typedef int (*munin_sample_fn)(void *ctx, const char *metric, const char *const *labels, double v,
                               int64_t t_s);
/* Hands out the samples of a fetched plugin (docs/probes.md): for every field with a value,
 * munin_<graph>_<field>{plugin,graph}; for every field, munin_field_info{plugin,graph,field,
 * title,vlabel,type,warning,critical} 1 and, where the threshold has a numeric upper bound,
 * munin_field_warning / munin_field_critical{plugin,graph,field}. Label values are valid
 * UTF-8 of at most MUNIN_TEXT_MAX bytes. Returns 0 or fn's first nonzero answer. */
int munin_plugin_samples(const munin_plugin *p, munin_sample_fn fn, void *ctx);

#endif
