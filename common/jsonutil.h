/*
 * jsonutil.h - small jansson helpers shared by the modules that validate
 * JSON input (config, events), so their error messages use the same words.
 *
 * Thread-safety: pure functions. Returned strings are static.
 */
#ifndef APIVECTOR_JSONUTIL_H
#define APIVECTOR_JSONUTIL_H

#include <jansson.h>

/* "an object", "an array", "a string", "an integer", "a number",
 * "a boolean" or "null": for messages like "expected X, got an array". */
const char *jsonTypeName(const json_t *v);

#endif
