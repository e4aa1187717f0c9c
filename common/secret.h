/*
 * secret.h - load a secret (API key, password) from config, environment or file.
 *
 * Precedence: an explicit value, then the environment variable, then the
 * file. Surrounding whitespace (the newline `echo key > file` leaves) is
 * trimmed. Messages name the variable or file, never the secret, and a
 * secret with control characters is refused, since it would otherwise end up
 * inside an HTTP header line.
 *
 * Ownership: *out is malloc'd; free it with secretFree, which wipes it.
 * Thread-safety: reentrant (getenv aside, which the caller must not race with
 * setenv).
 */
#ifndef APIVECTOR_SECRET_H
#define APIVECTOR_SECRET_H

#include <stddef.h>

#include "error.h"

#define SECRET_MAX 4096

/* Loads the secret into *out. value, env_name and file_path may each be NULL.
 * AV_ERR_NOTFOUND if none of them yields a non-empty secret; AV_ERR_IO if the
 * file cannot be read; AV_ERR_PARSE if the secret has control characters;
 * AV_ERR_LIMIT above SECRET_MAX bytes. */
av_status secretLoad(const char *value, const char *env_name, const char *file_path, char **out,
                     char *err, size_t errlen);

/* Wipes and frees a secret from secretLoad. NULL is allowed. */
void secretFree(char *secret);

#endif
