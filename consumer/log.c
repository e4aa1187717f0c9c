/*
 * log.c - JSON lines on stderr (see log.h).
 *
 * A line is built with jansson (so any message text is escaped correctly;
 * invalid UTF-8 from a library message is replaced first, because jansson
 * refuses it) into a caller-sized buffer and written with write(2) under a
 * mutex. Messages longer than the buffer are cut rather than split, since a
 * half line would break the one-object-per-line contract.
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "event_out.h"

#define LOG_MSG_MAX 4096
#define LOG_LINE_MAX 16384
#define LOG_MAX_SECRETS 32
#define LOG_MASK "***"

static pthread_mutex_t logLock = PTHREAD_MUTEX_INITIALIZER;
static int logLevel = CONFIG_LOG_INFO;
static char *logSecrets[LOG_MAX_SECRETS];
static size_t logNSecrets;

void logSetLevel(config_log_level level) {
    __atomic_store_n(&logLevel, (int)level, __ATOMIC_RELAXED);
}

bool logEnabled(config_log_level level) {
    return (int)level >= __atomic_load_n(&logLevel, __ATOMIC_RELAXED);
}

void logAddSecret(const char *secret) {
    if (!secret || strlen(secret) < 4 || logNSecrets == LOG_MAX_SECRETS)
        return;
    for (size_t i = 0; i < logNSecrets; i++) {
        if (strcmp(logSecrets[i], secret) == 0)
            return;
    }
    char *copy = strdup(secret);
    if (copy)
        logSecrets[logNSecrets++] = copy;
}

void logReset(void) {
    for (size_t i = 0; i < logNSecrets; i++) {
        explicit_bzero(logSecrets[i], strlen(logSecrets[i]));
        free(logSecrets[i]);
        logSecrets[i] = NULL;
    }
    logNSecrets = 0;
    logSetLevel(CONFIG_LOG_INFO);
}

config_log_level logFromSyslog(int syslog_level) {
    if (syslog_level <= 3)
        return CONFIG_LOG_ERROR;
    if (syslog_level == 4)
        return CONFIG_LOG_WARN;
    if (syslog_level <= 6)
        return CONFIG_LOG_INFO;
    return CONFIG_LOG_DEBUG;
}

/* Returns msg with every registered secret replaced by the mask, as a new
 * string (NULL when memory runs out). */
static char *logScrub(const char *msg) {
    char *out = strdup(msg);
    for (size_t i = 0; out && i < logNSecrets; i++) {
        const char *s = logSecrets[i];
        size_t slen = strlen(s);
        char *hit;
        while (out && (hit = strstr(out, s)) != NULL) {
            size_t pre = (size_t)(hit - out), rest = strlen(hit + slen);
            char *next = malloc(pre + sizeof(LOG_MASK) + rest);
            if (next) {
                memcpy(next, out, pre);
                memcpy(next + pre, LOG_MASK, sizeof(LOG_MASK) - 1);
                memcpy(next + pre + sizeof(LOG_MASK) - 1, hit + slen, rest + 1);
            }
            explicit_bzero(out, strlen(out));
            free(out);
            out = next;
        }
    }
    return out;
}

/* A JSON string from arbitrary bytes: invalid UTF-8 replaced, never NULL
 * unless memory runs out. */
static json_t *logString(const char *s) {
    if (eventOutIsUtf8(s, strlen(s)))
        return json_string(s);
    char *fixed = eventOutUtf8Lossy(s, strlen(s));
    json_t *j = fixed ? json_string(fixed) : NULL;
    free(fixed);
    return j;
}

static void logAddFields(json_t *o, const log_fields *f) {
    if (f->component)
        json_object_set_new(o, "component", logString(f->component));
    if (f->facility)
        json_object_set_new(o, "facility", logString(f->facility));
    if (f->event_id)
        json_object_set_new(o, "event_id", logString(f->event_id));
    if (f->topic) {
        json_object_set_new(o, "topic", logString(f->topic));
        json_object_set_new(o, "partition", json_integer(f->partition));
        if (f->offset >= 0)
            json_object_set_new(o, "offset", json_integer(f->offset));
    }
    if (f->attempt > 0)
        json_object_set_new(o, "attempt", json_integer(f->attempt));
    if (f->error_code)
        json_object_set_new(o, "error_code", logString(f->error_code));
    if (f->has_timings) {
        json_t *t = json_object();
        json_object_set_new(t, "fetch", json_real(f->fetch_ms));
        json_object_set_new(t, "crawl", json_real(f->crawl_ms));
        json_object_set_new(t, "match", json_real(f->match_ms));
        json_object_set_new(t, "total", json_real(f->total_ms));
        json_object_set_new(o, "timings_ms", t);
    }
}

size_t logFormat(char *buf, size_t buflen, int64_t now_ms, config_log_level level,
                 const log_fields *f, const char *msg) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char ts[40];
    size_t n = 0;
    char *clean = logScrub(msg ? msg : "");
    json_t *o = json_object();

    if (!clean || !o)
        goto done;
    json_object_set_new(o, "ts", json_string(eventOutTimestamp(now_ms, ts, sizeof(ts))));
    json_object_set_new(o, "level", json_string(names[level <= CONFIG_LOG_ERROR ? level : 3]));
    json_object_set_new(o, "msg", logString(clean));
    if (f)
        logAddFields(o, f);
    n = json_dumpb(o, buf, buflen, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (n == 0 || n + 1 > buflen) {
        n = 0;
        goto done;
    }
    buf[n++] = '\n';
done:
    if (clean) {
        explicit_bzero(clean, strlen(clean));
        free(clean);
    }
    json_decref(o);
    return n;
}

static void logWrite(const char *line, size_t len) {
    pthread_mutex_lock(&logLock);
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        line += w;
        len -= (size_t)w;
    }
    pthread_mutex_unlock(&logLock);
}

static void logVMsg(config_log_level level, const log_fields *f, const char *fmt, va_list ap) {
    char msg[LOG_MSG_MAX];
    char *line;
    size_t n;

    if (!logEnabled(level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    line = malloc(LOG_LINE_MAX);
    if (!line)
        return;
    n = logFormat(line, LOG_LINE_MAX, clockWallMs(), level, f, msg);
    if (n > 0)
        logWrite(line, n);
    free(line);
    explicit_bzero(msg, sizeof(msg));
}

void logMsg(config_log_level level, const log_fields *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    logVMsg(level, f, fmt, ap);
    va_end(ap);
}

void logComponent(config_log_level level, const char *component, const char *fmt, ...) {
    log_fields f = {.component = component};
    va_list ap;
    va_start(ap, fmt);
    logVMsg(level, &f, fmt, ap);
    va_end(ap);
}
