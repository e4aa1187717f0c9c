/*
 * collection.c - parse ApiVector collection CSVs.
 *
 * One pass over the lines: families and (family, sample) pairs are interned
 * in open addressing hashes, a repeated pair overwrites its record's vector.
 * Records are then ordered by family id with a counting sort, which is stable
 * and so keeps samples in first-appearance order inside each family: the
 * reference's iteration order. Strings (family names, samples) live in one
 * arena owned by the collection.
 */
#include "collection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTION_MAX_WARNINGS 100

struct collection {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *family_off; /* arena offsets; turned into pointers at the end */
    const char **families;
    size_t nfamilies, families_cap;
    collection_entry *entries;
    size_t *sample_off;
    size_t nentries, entries_cap, samples_cap;
    char *warnings[COLLECTION_MAX_WARNINGS];
    size_t nwarnings;
};

typedef struct str_hash {
    uint32_t *slots; /* id + 1 */
    size_t mask;
} str_hash;

static uint64_t strHash(uint64_t seed, const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

static int strHashInit(str_hash *h, size_t lines) {
    size_t cap = 64;
    while (cap < lines * 2)
        cap *= 2;
    h->slots = calloc(cap, sizeof(uint32_t));
    h->mask = cap - 1;
    return h->slots != NULL;
}

static int arenaAdd(collection *c, const char *s, size_t n, size_t *off) {
    if (c->arena_len + n + 1 > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap * 2 : 4096;
        while (cap < c->arena_len + n + 1)
            cap *= 2;
        char *p = realloc(c->arena, cap);
        if (!p)
            return 0;
        c->arena = p;
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, s, n);
    c->arena[c->arena_len + n] = '\0';
    *off = c->arena_len;
    c->arena_len += n + 1;
    return 1;
}

static int growArray(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 1;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return 0;
    *p = q;
    *cap = n;
    return 1;
}

static void collectionWarn(collection *c, const char *source, size_t line, const char *why) {
    if (c->nwarnings < COLLECTION_MAX_WARNINGS) {
        char buf[2 * AV_ERRLEN];
        snprintf(buf, sizeof(buf), "%s:%zu: %s", source, line, why);
        c->warnings[c->nwarnings] = strdup(buf);
        if (!c->warnings[c->nwarnings])
            return;
    }
    c->nwarnings++;
}

/* Family id of name[0..n), adding it when new; -1 on allocation failure. */
static long familyIntern(collection *c, str_hash *h, const char *name, size_t n) {
    size_t s = strHash(0, name, n) & h->mask;
    for (; h->slots[s]; s = (s + 1) & h->mask) {
        const char *f = c->arena + c->family_off[h->slots[s] - 1];
        if (strlen(f) == n && memcmp(f, name, n) == 0)
            return (long)h->slots[s] - 1;
    }
    size_t off;
    if (!growArray((void **)&c->family_off, &c->families_cap, c->nfamilies + 1, sizeof(size_t)) ||
        !arenaAdd(c, name, n, &off))
        return -1;
    c->family_off[c->nfamilies] = off;
    h->slots[s] = (uint32_t)++c->nfamilies;
    return (long)c->nfamilies - 1;
}

/* Entry index of (family, sample), adding it when new; -1 on allocation failure. */
static long entryIntern(collection *c, str_hash *h, uint32_t family, const char *sample, size_t n,
                        int *is_new) {
    size_t s = strHash(family + 1, sample, n) & h->mask;
    for (; h->slots[s]; s = (s + 1) & h->mask) {
        size_t e = h->slots[s] - 1;
        const char *smp = c->arena + c->sample_off[e];
        if (c->entries[e].family == family && strlen(smp) == n && memcmp(smp, sample, n) == 0) {
            *is_new = 0;
            return (long)e;
        }
    }
    size_t off;
    if (!growArray((void **)&c->entries, &c->entries_cap, c->nentries + 1,
                   sizeof(collection_entry)) ||
        !growArray((void **)&c->sample_off, &c->samples_cap, c->nentries + 1, sizeof(size_t)) ||
        !arenaAdd(c, sample, n, &off))
        return -1;
    c->sample_off[c->nentries] = off;
    c->entries[c->nentries].family = family;
    h->slots[s] = (uint32_t)++c->nentries;
    *is_new = 1;
    return (long)c->nentries - 1;
}

static int isSpace(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static void stripSlice(const char **s, size_t *n) {
    while (*n && isSpace(**s))
        (*s)++, (*n)--;
    while (*n && isSpace((*s)[*n - 1]))
        (*n)--;
}

/* Handles one line; returns 0 only on allocation failure. */
static int collectionLine(collection *c, str_hash *fam, str_hash *ent, const char *line, size_t n,
                          const char *source, size_t lineno) {
    const char *t = line;
    size_t tn = n;
    stripSlice(&t, &tn);
    if (tn == 0 || t[0] == '#')
        return 1;
    if (memchr(line, '\0', n)) {
        collectionWarn(c, source, lineno, "NUL byte in line, skipped");
        return 1;
    }
    const char *f[5];
    size_t fl[5], nf = 0;
    const char *start = line;
    for (size_t i = 0; i <= n && nf < 5; i++) {
        if (i == n || line[i] == ';') {
            f[nf] = start;
            fl[nf++] = (size_t)(line + i - start);
            start = line + i + 1;
        }
    }
    if (nf < 5) {
        collectionWarn(c, source, lineno, "expected family;sample;in;num;vector, skipped");
        return 1;
    }
    stripSlice(&f[1], &fl[1]);
    stripSlice(&f[4], &fl[4]);
    apivector v;
    char why[AV_ERRLEN];
    if (vectorDecompress(f[4], fl[4], &v, why, sizeof(why)) != AV_OK) {
        collectionWarn(c, source, lineno, why);
        return 1;
    }
    long fid = familyIntern(c, fam, f[0], fl[0]);
    if (fid < 0)
        return 0;
    int is_new;
    long e = entryIntern(c, ent, (uint32_t)fid, f[1], fl[1], &is_new);
    if (e < 0)
        return 0;
    c->entries[e].vector = v;
    c->entries[e].weight = vectorWeight(&v);
    return 1;
}

/* Orders entries by family (stable) and turns arena offsets into pointers. */
static int collectionFinish(collection *c) {
    size_t *start = calloc(c->nfamilies + 1, sizeof(size_t));
    collection_entry *sorted = malloc((c->nentries ? c->nentries : 1) * sizeof(*sorted));
    c->families = malloc((c->nfamilies ? c->nfamilies : 1) * sizeof(char *));
    if (!start || !sorted || !c->families) {
        free(start);
        free(sorted);
        return 0;
    }
    for (size_t i = 0; i < c->nentries; i++)
        start[c->entries[i].family + 1]++;
    for (size_t f = 0; f < c->nfamilies; f++)
        start[f + 1] += start[f];
    for (size_t i = 0; i < c->nentries; i++) {
        collection_entry e = c->entries[i];
        e.sample = c->arena + c->sample_off[i];
        sorted[start[e.family]++] = e;
    }
    for (size_t f = 0; f < c->nfamilies; f++)
        c->families[f] = c->arena + c->family_off[f];
    free(start);
    free(c->entries);
    c->entries = sorted;
    return 1;
}

av_status collectionParse(const char *text, size_t len, const char *source, collection **out,
                          char *err, size_t errlen) {
    *out = NULL;
    collection *c = calloc(1, sizeof(*c));
    size_t lines = 1;
    for (const char *p = text; len && (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        lines++;
    str_hash fam = {0}, ent = {0};
    int ok = c && strHashInit(&fam, lines) && strHashInit(&ent, lines);
    size_t pos = 0, lineno = 0;
    while (ok && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        ok = collectionLine(c, &fam, &ent, text + pos, n, source, ++lineno);
        pos += n + 1;
    }
    free(fam.slots);
    free(ent.slots);
    if (!ok || !collectionFinish(c)) {
        collectionFree(c);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    }
    *out = c;
    return AV_OK;
}

void collectionFree(collection *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->nwarnings && i < COLLECTION_MAX_WARNINGS; i++)
        free(c->warnings[i]);
    free(c->arena);
    free(c->family_off);
    free(c->families);
    free(c->entries);
    free(c->sample_off);
    free(c);
}

size_t collectionSize(const collection *c) {
    return c->nentries;
}

size_t collectionFamilyCount(const collection *c) {
    return c->nfamilies;
}

const collection_entry *collectionEntries(const collection *c) {
    return c->entries;
}

const char *collectionFamily(const collection *c, uint32_t family) {
    return c->families[family];
}

size_t collectionWarningCount(const collection *c) {
    return c->nwarnings;
}

const char *collectionWarning(const collection *c, size_t i) {
    return i < c->nwarnings && i < COLLECTION_MAX_WARNINGS ? c->warnings[i] : NULL;
}

size_t collectionFootprint(const collection *c) {
    return sizeof(*c) + c->arena_cap + c->nentries * (sizeof(collection_entry) + sizeof(size_t)) +
           c->nfamilies * 2 * sizeof(size_t);
}
