/* libFuzzer target: JSON request body -> catalog validation, for every model. The first byte
 * picks the model and create/update mode; the rest is the body. Whatever validates as a
 * create must come back out (cat_valid_output) as input that validates again to the same stored form. */
#include "catalog/model.h"
#include "catalog/valid.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *as_input(const cat_model *m, const json_t *stored)
{
    json_t *in = json_object();
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        json_t *v = json_object_get(stored, f->name);
        if ((f->flags & (CAT_F_HIDDEN | CAT_F_READONLY)) || !v)
            continue;
        json_object_set_new(in, f->name,
                            f->type == CAT_PASSWORD ? json_deep_copy(v) : cat_valid_output(f, v));
    }
    return in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    const cat_model *ms = cat_models(&n);
    if (size < 1)
        return 0;
    const cat_model *m = &ms[data[0] % n];
    int update = data[0] / n % 2;
    json_error_t je;
    json_t *in = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
    if (!in)
        return 0;
    json_t *errors = json_object(), *out = NULL, *base = NULL;
    if (update) {
        /* Update against an empty stored object of the model. */
        base = json_object();
        for (size_t j = 0; j < m->nfields; j++)
            json_object_set_new(base, m->fields[j].name, json_null());
    }
    int rc = cat_valid_object(m, in, base, &out, errors);
    if (rc == 0 && json_object_size(errors))
        abort();
    /* Round trip for creates (an update's base here is not a valid stored object). */
    if (rc == 0 && !update) {
        json_t *again = as_input(m, out), *out2 = NULL, *err2 = json_object();
        if (cat_valid_object(m, again, base, &out2, err2) != 0) {
            char *e = json_dumps(err2, 0);
            fprintf(stderr, "re-validation of %s failed: %s\n", m->name, e ? e : "?");
            free(e);
            abort(); /* the output of a valid object must validate */
        }
        for (size_t j = 0; j < m->nfields; j++) {
            const char *k = m->fields[j].name;
            if (m->fields[j].type == CAT_PASSWORD || (m->fields[j].flags & CAT_F_HIDDEN))
                continue;
            json_t *a = json_object_get(out, k), *b = json_object_get(out2, k);
            if (a && b && !json_equal(a, b) &&
                !(m->fields[j].type == CAT_NUMBER && json_is_number(a) && json_is_number(b)))
                abort();
        }
        json_decref(again);
        json_decref(out2);
        json_decref(err2);
    } else if (rc == -22 && !json_object_size(errors))
        abort(); /* a refusal always says why */
    json_decref(out);
    json_decref(base);
    json_decref(errors);
    json_decref(in);
    return 0;
}
