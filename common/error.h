/*
 * error.h - status codes and error messages shared by every module.
 *
 * Library functions never print and never exit: they return an av_status and,
 * on failure, write a one-line human readable message into a caller-supplied
 * buffer (char *err, size_t errlen; AV_ERRLEN bytes is always enough). The
 * message names what failed and where (file, line, offset, JSON path), so a
 * caller can log it as is. A NULL err buffer is allowed and means "discard".
 *
 * Thread-safety: all functions here are reentrant.
 */
#ifndef APIVECTOR_ERROR_H
#define APIVECTOR_ERROR_H

#include <stddef.h>

#define AV_ERRLEN 512

typedef enum av_status {
    AV_OK = 0,
    AV_ERR_NOMEM,     /* allocation failed */
    AV_ERR_IO,        /* reading or writing a local file failed */
    AV_ERR_PARSE,     /* input is malformed: bad syntax, wrong type, missing field */
    AV_ERR_RANGE,     /* a value is out of its allowed range */
    AV_ERR_LIMIT,     /* input exceeds a configured size or count limit */
    AV_ERR_NOTFOUND,  /* a named thing does not exist (e.g. HTTP 404) */
    AV_ERR_TRANSIENT, /* a remote dependency failed; retrying later may succeed */
    AV_ERR_PERMANENT, /* a remote dependency refused for good; never retry */
    AV_ERR_USAGE,     /* the caller passed invalid arguments */
} av_status;

/* Returns a short constant name for a status, e.g. "parse". */
const char *avStatusName(av_status st);

/* Formats a message into err (if not NULL) and returns st, so callers can
 * write `return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%d: ...", ...)`. */
av_status avErrorf(char *err, size_t errlen, av_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
