/*
 * replay.c - replay start offsets and timestamps (see replay.h).
 *
 * The RFC 3339 parser is written out rather than left to strptime/timegm:
 * those depend on the locale and the TZ variable, accept more than RFC 3339
 * and do not report which part is wrong. Days since the epoch come from the
 * usual civil-calendar formula (proleptic Gregorian).
 */
#include "replay.h"

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <string.h>
#include <strings.h>

/* Reads exactly n digits at *p into *v; advances *p. */
static bool replayDigits(const char **p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return true;
}

static bool replayLeap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int replayDaysInMonth(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && replayLeap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t replayDaysFromCivil(int y, int m, int d) {
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static av_status replayParseMillis(const char *s, int64_t *ms, char *err, size_t errlen) {
    size_t n = strlen(s);
    int64_t v = 0;
    if (n > 16)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "--from-timestamp '%s': more than 16 digits of milliseconds", s);
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *ms = v;
    return AV_OK;
}

/* Parses the zone part (Z, +hh:mm, -hh:mm) into seconds east of UTC. */
static bool replayZone(const char *p, int64_t *offset_s) {
    int hh, mm;
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *offset_s = 0;
        return true;
    }
    if (p[0] != '+' && p[0] != '-')
        return false;
    const char *q = p + 1;
    if (!replayDigits(&q, 2, &hh) || *q++ != ':' || !replayDigits(&q, 2, &mm) || *q != '\0' ||
        hh > 23 || mm > 59)
        return false;
    *offset_s = (p[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
    return true;
}

static av_status replayParseRfc3339(const char *s, int64_t *ms, char *err, size_t errlen) {
    const char *p = s;
    int y, mo, d, h, mi, sec, frac = 0;
    int64_t zone;

#define REPLAY_BAD(what)                                                                           \
    avErrorf(err, errlen, AV_ERR_PARSE,                                                            \
             "--from-timestamp '%s': %s (expected milliseconds since the epoch or RFC 3339, "      \
             "e.g. 2024-05-01T12:00:00Z)",                                                         \
             s, what)
    if (!replayDigits(&p, 4, &y) || *p++ != '-' || !replayDigits(&p, 2, &mo) || *p++ != '-' ||
        !replayDigits(&p, 2, &d))
        return REPLAY_BAD("bad date");
    if (mo < 1 || mo > 12 || d < 1 || d > replayDaysInMonth(y, mo))
        return REPLAY_BAD("no such date");
    if (*p != 'T' && *p != 't' && *p != ' ')
        return REPLAY_BAD("missing 'T' between date and time");
    p++;
    if (!replayDigits(&p, 2, &h) || *p++ != ':' || !replayDigits(&p, 2, &mi) || *p++ != ':' ||
        !replayDigits(&p, 2, &sec))
        return REPLAY_BAD("bad time");
    if (h > 23 || mi > 59 || sec > 60)
        return REPLAY_BAD("no such time");
    if (*p == '.') {
        int ndigits = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (ndigits < 3)
                frac = frac * 10 + (*p - '0');
            ndigits++;
            p++;
        }
        if (ndigits == 0)
            return REPLAY_BAD("empty fraction of a second");
        for (int i = ndigits; i < 3; i++)
            frac *= 10;
    }
    if (!replayZone(p, &zone))
        return REPLAY_BAD("missing or bad time zone (Z or +hh:mm)");
#undef REPLAY_BAD

    int64_t secs = replayDaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    if (secs < 0)
        return avErrorf(err, errlen, AV_ERR_RANGE, "--from-timestamp '%s': before 1970", s);
    *ms = secs * 1000 + frac;
    return AV_OK;
}

av_status replayParseTimestamp(const char *s, int64_t *ms, char *err, size_t errlen) {
    if (!s || !*s)
        return avErrorf(err, errlen, AV_ERR_PARSE, "--from-timestamp: empty value");
    if (strspn(s, "0123456789") == strlen(s))
        return replayParseMillis(s, ms, err, errlen);
    return replayParseRfc3339(s, ms, err, errlen);
}

int64_t replayAssignOffset(replay_mode mode, bool first_assignment) {
    if (first_assignment && mode == REPLAY_FROM_BEGINNING)
        return RD_KAFKA_OFFSET_BEGINNING;
    return RD_KAFKA_OFFSET_INVALID;
}

av_status replayTimestampOffset(const char *topic, int32_t partition, int err_code,
                                const char *err_text, int64_t found, int64_t *offset, char *err,
                                size_t errlen) {
    if (err_code != 0)
        return avErrorf(err, errlen, AV_ERR_TRANSIENT,
                        "offset lookup by timestamp for %s [%d] failed: %s", topic, (int)partition,
                        err_text ? err_text : "unknown error");
    if (found >= 0) {
        *offset = found;
        return AV_OK;
    }
    if (found == -1) {
        *offset = RD_KAFKA_OFFSET_END;
        return AV_OK;
    }
    return avErrorf(err, errlen, AV_ERR_TRANSIENT,
                    "offset lookup by timestamp for %s [%d] returned %lld", topic, (int)partition,
                    (long long)found);
}

bool replayResetIsEarliest(const char *v) {
    if (!v)
        return true;
    return strcasecmp(v, "earliest") == 0 || strcasecmp(v, "smallest") == 0 ||
           strcasecmp(v, "beginning") == 0;
}

int64_t replayStartPosition(int64_t assign_offset, int64_t committed, int64_t low, int64_t high,
                            bool reset_earliest) {
    int64_t pos;
    if (assign_offset == RD_KAFKA_OFFSET_BEGINNING)
        pos = low;
    else if (assign_offset == RD_KAFKA_OFFSET_END)
        pos = high;
    else if (assign_offset >= 0)
        pos = assign_offset;
    else if (committed >= 0)
        pos = committed;
    else
        pos = reset_earliest ? low : high;
    if (pos < low)
        pos = low;
    if (pos > high)
        pos = high;
    return pos;
}
