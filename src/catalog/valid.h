/* valid: validation of catalog JSON input against the model table, producing the stored form
 * (what store.c writes: durations and times as integer ms, optional empty strings as null,
 * refs as sorted unique id arrays, settings checked against their type's fields). Every
 * problem becomes one message per field in an errors object ({"url":"not a valid http(s)
 * URL","settings.count":"must be at most 100"}). Pure functions: any thread. */
#ifndef DD_CAT_VALID_H
#define DD_CAT_VALID_H

#include "model.h"

#include <jansson.h>
#include <stddef.h>

/* Checks string s against rule (pattern for CAT_RULE_REGEX). Returns 0, or -EINVAL with a
 * message ("not a valid host name") in msg. */
int cat_valid_rule(cat_rule rule, const char *pattern, const char *s, char *msg, size_t len);

/* Validates one non-null input value for field f. On success *out is a new reference to the
 * stored form. Returns 0, -EINVAL (message in msg) or -ENOMEM. */
int cat_valid_value(const cat_field *f, const json_t *in, json_t **out, char *msg, size_t len);

/* Validates an input object for model m. For a create, stored is NULL and defaults fill
 * absent fields; for an update, stored is the object's current stored form and absent fields
 * keep their values. Unknown fields are errors; id, version, created_at, updated_at and
 * read-only fields are ignored. On success *out is the complete stored form (a new
 * reference, every non-hidden field present, null where unset; password fields hold the new
 * plain text only when given, else are absent). Problems are added to errors (one message
 * per field) and -EINVAL returned; -ENOMEM when memory runs out. References are not checked
 * here (the store knows which objects exist). */
int cat_valid_object(const cat_model *m, const json_t *in, const json_t *stored, json_t **out,
                     json_t *errors);

/* Writes a stored-form value of f as API JSON (durations as "1h30m", times as RFC 3339):
 * returns a new reference or NULL on allocation failure. */
json_t *cat_valid_output(const cat_field *f, const json_t *stored);
/* The default of field f in its stored form (a new reference), or NULL when f has none (or
 * out of memory). */
json_t *cat_valid_default(const cat_field *f);

#endif
