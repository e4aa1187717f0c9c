/*
 * error.c - status names and the message formatter used by every module.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *avStatusName(av_status st) {
    switch (st) {
        case AV_OK:
            return "ok";
        case AV_ERR_NOMEM:
            return "nomem";
        case AV_ERR_IO:
            return "io";
        case AV_ERR_PARSE:
            return "parse";
        case AV_ERR_RANGE:
            return "range";
        case AV_ERR_LIMIT:
            return "limit";
        case AV_ERR_NOTFOUND:
            return "notfound";
        case AV_ERR_TRANSIENT:
            return "transient";
        case AV_ERR_PERMANENT:
            return "permanent";
        case AV_ERR_USAGE:
            return "usage";
    }
    return "unknown";
}

av_status avErrorf(char *err, size_t errlen, av_status st, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}
