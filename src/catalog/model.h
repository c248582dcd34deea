/* model: the catalog's model table. Every model (device, endpoint, probe, user, ...) is
 * declared once, in model.c, as a list of fields with type, flags, validation rule,
 * references and UI hints. The SQL schema and migrations (store.c), JSON validation
 * (valid.c), the REST routes (api/catalog.c) and /api/v1/schema all read this table.
 * The table is constant: any thread. */
#ifndef DD_CAT_MODEL_H
#define DD_CAT_MODEL_H

#include "../lib/jsonw.h"

#include <jansson.h>
#include <stddef.h>

typedef enum cat_type {
    CAT_STRING,   /* one line of text; max = length limit (default 200) */
    CAT_TEXT,     /* long text; max = length limit (default 10000) */
    CAT_INT,      /* 64-bit integer; min/max */
    CAT_NUMBER,   /* double; min/max */
    CAT_BOOL,
    CAT_ENUM,     /* one of values[] */
    CAT_REF,      /* id of a ref model object, or null */
    CAT_REFS,     /* array of ids of ref model objects (a link table) */
    CAT_TAGS,     /* array of strings (each 1..100 characters) */
    CAT_OBJECT,   /* JSON object; with variants: fields per value of another field */
    CAT_TIME,     /* RFC 3339 string, stored as ms */
    CAT_DURATION, /* "30s", "1h30m", stored as ms; min/max in ms */
    CAT_PASSWORD, /* write only; stored as an argon2id hash */
} cat_type;

typedef enum cat_rule {
    CAT_RULE_NONE,
    CAT_RULE_HOSTNAME, /* RFC 1123 host name */
    CAT_RULE_ADDRESS,  /* IPv4, IPv6 or a host name */
    CAT_RULE_CIDR,     /* address/prefix */
    CAT_RULE_URL,      /* http(s)://host[:port][/path] (other schemes: field pattern) */
    CAT_RULE_EMAIL,
    CAT_RULE_IDENT,    /* letters, digits, . _ - @ ; starts with a letter or digit */
    CAT_RULE_REGEX,    /* the value must match pattern (PCRE2, anchored) */
    CAT_RULE_IS_REGEX, /* the value must itself be a valid regular expression */
    CAT_RULE_HOSTPORT, /* host:port to listen on or connect to */
} cat_rule;

typedef enum cat_on_delete { CAT_RESTRICT, CAT_CASCADE, CAT_SET_NULL } cat_on_delete;

/* Roles in increasing power. Tokens may also carry agent or enroll, which map to NONE here:
 * they never read or write catalog models directly. */
typedef enum cat_role { CAT_ROLE_NONE = 0, CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, CAT_ROLE_ADMIN } cat_role;

enum {
    CAT_F_REQUIRED = 1 << 0, /* must be present (and non-empty) on create, never null */
    CAT_F_UNIQUE = 1 << 1,   /* unique across the model's objects */
    CAT_F_READONLY = 1 << 2, /* set by the server; ignored on input */
    CAT_F_LIST = 1 << 3,     /* a column of the UI's list view */
    CAT_F_INDEX = 1 << 4,    /* indexed for filtering */
    CAT_F_HIDDEN = 1 << 5,   /* internal column: never in JSON, never in the schema */
    CAT_F_MIN = 1 << 6,      /* lo is set */
    CAT_F_MAX = 1 << 7,      /* hi is set */
    /* On create the server generates a random secret ("ddt_" + 43 characters), stores its
     * BLAKE2b hash (hex) in this hidden field and its first 8 characters in the model's
     * "prefix" field, and answers the secret once as "secret". */
    CAT_F_SECRET = 1 << 8,
};

typedef struct cat_variants cat_variants;

typedef struct cat_field {
    const char *name;
    cat_type type;
    unsigned flags;
    const char *title;
    const char *help;
    cat_rule rule;
    const char *pattern;       /* CAT_RULE_REGEX */
    const char *const *values; /* CAT_ENUM, NULL-terminated */
    const char *ref;           /* CAT_REF / CAT_REFS: model name */
    cat_on_delete on_delete;   /* CAT_REF / CAT_REFS */
    double lo, hi;             /* with CAT_F_MIN / CAT_F_MAX */
    const char *dflt;          /* default as JSON text ("\"server\"", "true", "\"30s\"") */
    const char *widget;        /* UI hint; NULL: from the type */
    int since;                 /* schema version that added the field (0: the model's) */
    const cat_variants *variants; /* CAT_OBJECT: fields per value of another field */
} cat_field;

typedef struct cat_variant {
    const char *value; /* the value of the `by` field */
    const cat_field *fields;
    size_t nfields;
} cat_variant;

struct cat_variants {
    const char *by; /* an enum field of the same model */
    const cat_variant *cases;
    size_t ncases;
};

/* A cross-field rule: adds {field: message} to errors for each violation of the complete
 * object in its stored form (after defaults and, on update, merged with the stored values;
 * durations and times as integer milliseconds). */
typedef void (*cat_check_fn)(const json_t *obj, json_t *errors);

typedef struct cat_model {
    const char *name;    /* also the table name and the route /api/v1/<name> */
    const char *title;
    const char *plural;
    const char *help;
    const char *display; /* field naming an object in lists and references */
    const cat_field *fields;
    size_t nfields;
    cat_role read, write;
    int since;           /* schema version that added the model */
    /* Group visibility: the field through which an object belongs to devices. A REFS field
     * to group (device.groups) or a REF to a scoped model (endpoint.device, probe.endpoint).
     * NULL: visible to every reader. */
    const char *scope;
    cat_check_fn check;
} cat_model;

/* All models, in dependency order (a model's references point to earlier models or to
 * itself). */
const cat_model *cat_models(size_t *n);
/* The model named name, or NULL. */
const cat_model *cat_model_find(const char *name);
/* The field named name in m, or NULL (hidden fields included). */
const cat_field *cat_field_find(const cat_model *m, const char *name);
/* A field's schema version (its own, else its model's). */
int cat_field_since(const cat_model *m, const cat_field *f);
/* The newest schema version (the migrations store.c applies). */
int cat_schema_version(void);
/* The fields of variant `value` of an object field, or NULL when value names no case. */
const cat_variant *cat_variant_find(const cat_field *f, const char *value);

/* Role names: "viewer", "editor", "admin" (and "none"). */
const char *cat_role_name(cat_role r);
/* Parses a role name; returns 0 or -EINVAL. */
int cat_role_parse(const char *s, cat_role *out);

/* Writes /api/v1/schema's data object: {"version":N,"models":[...]}. */
void cat_schema_json(jsonw *w);

#endif
