/*
 * fuzz_collection.c - libFuzzer target for collectionParse() and the
 * matching of a vector against the parsed collection.
 *
 * Small inputs are also parsed by a naive model of collection.h (quadratic
 * lists instead of hashes): family and sample order, replacement of a
 * repeated (family, sample), skipped lines. The collection must agree with
 * the model entry by entry, so a hash or ordering bug shows up as a check
 * failure, not only memory errors. Then the first entry's vector is matched
 * against the whole collection and the result order, top-k and per-family
 * bests are checked against their definitions in match.h.
 */
#include <stdlib.h>
#include <string.h>

#include "collection.h"
#include "fuzz_util.h"
#include "match.h"

#define INPUT_MAX (1u << 20)
#define MODEL_MAX 8192 /* bytes: the model is quadratic in lines */

typedef struct model_entry {
    size_t family; /* index into model families */
    const char *sample;
    size_t sample_len;
    apivector v;
} model_entry;

typedef struct model {
    const char **fam;
    size_t *fam_len;
    size_t nfam;
    model_entry *ent;
    size_t nent;
    size_t warnings;
} model;

static int isSpace(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static void strip(const char **s, size_t *n) {
    while (*n && isSpace(**s))
        (*s)++, (*n)--;
    while (*n && isSpace((*s)[*n - 1]))
        (*n)--;
}

static size_t modelFamily(model *m, const char *name, size_t n) {
    for (size_t i = 0; i < m->nfam; i++)
        if (m->fam_len[i] == n && memcmp(m->fam[i], name, n) == 0)
            return i;
    m->fam[m->nfam] = name;
    m->fam_len[m->nfam] = n;
    return m->nfam++;
}

static void modelLine(model *m, const char *line, size_t n) {
    const char *t = line;
    size_t tn = n;
    strip(&t, &tn);
    if (tn == 0 || t[0] == '#')
        return;
    if (memchr(line, '\0', n)) { /* the parser reports and skips such lines */
        m->warnings++;
        return;
    }
    const char *f[5];
    size_t fl[5], nf = 0;
    const char *start = line;
    for (size_t i = 0; i <= n && nf < 5; i++)
        if (i == n || line[i] == ';') {
            f[nf] = start;
            fl[nf++] = (size_t)(line + i - start);
            start = line + i + 1;
        }
    apivector v;
    if (nf < 5) {
        m->warnings++;
        return;
    }
    strip(&f[1], &fl[1]);
    strip(&f[4], &fl[4]);
    if (vectorDecompress(f[4], fl[4], &v, NULL, 0) != AV_OK) {
        m->warnings++;
        return;
    }
    size_t fam = modelFamily(m, f[0], fl[0]);
    for (size_t i = 0; i < m->nent; i++)
        if (m->ent[i].family == fam && m->ent[i].sample_len == fl[1] &&
            memcmp(m->ent[i].sample, f[1], fl[1]) == 0) {
            m->ent[i].v = v;
            return;
        }
    m->ent[m->nent++] = (model_entry){fam, f[1], fl[1], v};
}

static void modelBuild(model *m, const char *text, size_t len) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    m->fam = malloc(lines * sizeof(*m->fam));
    m->fam_len = malloc(lines * sizeof(*m->fam_len));
    m->ent = malloc(lines * sizeof(*m->ent));
    if (!m->fam || !m->fam_len || !m->ent)
        abort();
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        modelLine(m, text + pos, n);
        pos += n + 1;
    }
}

static void modelFree(model *m) {
    free(m->fam);
    free(m->fam_len);
    free(m->ent);
}

/* Accessors return C strings, so a name is compared up to its first NUL;
 * the counts above still hold such names to the model's byte semantics. */
static int cstrIs(const char *got, const char *want, size_t want_len) {
    size_t n = strnlen(want, want_len);
    return strlen(got) == n && memcmp(got, want, n) == 0;
}

/* The collection must list the model's entries family by family. */
static void checkAgainstModel(const collection *c, const char *text, size_t len) {
    model m = {0};
    modelBuild(&m, text, len);
    FUZZ_CHECK(collectionFamilyCount(c) == m.nfam, "%zu families, model %zu",
               collectionFamilyCount(c), m.nfam);
    FUZZ_CHECK(collectionSize(c) == m.nent, "%zu entries, model %zu", collectionSize(c), m.nent);
    FUZZ_CHECK(collectionWarningCount(c) == m.warnings, "%zu warnings, model %zu",
               collectionWarningCount(c), m.warnings);
    size_t k = 0;
    for (size_t f = 0; f < m.nfam; f++) {
        const char *name = collectionFamily(c, (uint32_t)f);
        FUZZ_CHECK(cstrIs(name, m.fam[f], m.fam_len[f]), "family %zu is \"%s\", model \"%.*s\"", f,
                   name, (int)m.fam_len[f], m.fam[f]);
        for (size_t i = 0; i < m.nent; i++) {
            if (m.ent[i].family != f)
                continue;
            const collection_entry *e = &collectionEntries(c)[k++];
            FUZZ_CHECK(e->family == f, "entry %zu: family %u, model %zu", k - 1, e->family, f);
            FUZZ_CHECK(cstrIs(e->sample, m.ent[i].sample, m.ent[i].sample_len),
                       "entry %zu: sample \"%s\", model \"%.*s\"", k - 1, e->sample,
                       (int)m.ent[i].sample_len, m.ent[i].sample);
            FUZZ_CHECK(memcmp(&e->vector, &m.ent[i].v, sizeof(apivector)) == 0,
                       "entry %zu: vector differs from the last one given", k - 1);
        }
    }
    modelFree(&m);
}

static uint32_t rankSum(const apivector *v) {
    uint32_t w = 0;
    for (unsigned b = 0; b < WINAPI_BITS; b++)
        w += vectorTest(v, b) ? WINAPI_BITS - 1 - b : 0;
    return w;
}

static void checkEntries(const collection *c) {
    size_t n = collectionSize(c), nf = collectionFamilyCount(c);
    const collection_entry *e = collectionEntries(c);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(e[i].family < nf, "entry %zu: family %u of %zu", i, e[i].family, nf);
        FUZZ_CHECK(i == 0 || e[i].family >= e[i - 1].family, "entry %zu not grouped", i);
        FUZZ_CHECK(e[i].weight == rankSum(&e[i].vector), "entry %zu: weight", i);
        (void)strlen(e[i].sample);
        (void)strlen(collectionFamily(c, e[i].family));
        char text[VECTOR_TEXT_MAX + 1];
        apivector back;
        vectorCompress(&e[i].vector, text);
        FUZZ_CHECK(vectorDecompress(text, strlen(text), &back, NULL, 0) == AV_OK &&
                       memcmp(&back, &e[i].vector, sizeof(back)) == 0,
                   "entry %zu: vector does not round-trip", i);
    }
    for (size_t f = 0; f < nf; f++)
        FUZZ_CHECK(n > 0 && e[n - 1].family >= f, "family %zu has no entry", f);
    size_t nw = collectionWarningCount(c);
    for (size_t i = 0; i < nw && i < 100; i++) {
        const char *w = collectionWarning(c, i);
        FUZZ_CHECK(w && fuzzErrorNamesSource(w), "warning %zu: %s", i, w ? w : "(null)");
    }
    FUZZ_CHECK(collectionWarning(c, nw) == NULL, "warning past the count");
    (void)collectionFootprint(c);
}

static int hitBefore(const match_hit *x, const match_hit *y) {
    return x->score > y->score || (x->score == y->score && x->entry < y->entry);
}

static void checkMatch(const collection *c) {
    size_t n = collectionSize(c), nf = collectionFamilyCount(c);
    if (n == 0)
        return;
    const apivector *q = &collectionEntries(c)[0].vector;
    double self = matchScore(q, q);
    FUZZ_CHECK(self == (rankSum(q) > 0 ? 1.0 : 0.0), "self score %g", self);
    match_hit *hits = malloc(n * sizeof(*hits)), *top = malloc(n * sizeof(*top));
    match_family *fams = malloc(nf * sizeof(*fams));
    if (!hits || !top || !fams)
        abort();
    matchCollection(c, q, hits);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(hits[i].entry == i && hits[i].score >= 0.0 && hits[i].score <= 1.0,
                   "hit %zu: entry %u score %g", i, hits[i].entry, hits[i].score);
    size_t nfam = matchFamilies(c, hits, n, fams);
    FUZZ_CHECK(nfam == nf, "%zu family bests for %zu families", nfam, nf);
    for (size_t i = 0; i < nfam; i++) {
        FUZZ_CHECK(collectionEntries(c)[fams[i].entry].family == fams[i].family &&
                       hits[fams[i].entry].score == fams[i].score,
                   "family best %zu inconsistent", i);
        for (size_t j = 0; j < n; j++)
            FUZZ_CHECK(collectionEntries(c)[j].family != fams[i].family ||
                           hits[j].score <= fams[i].score,
                       "family %u: entry %zu beats its best", fams[i].family, j);
        FUZZ_CHECK(i == 0 || fams[i].score <= fams[i - 1].score, "family bests not in order");
    }
    size_t k = n < 5 ? n : 5;
    FUZZ_CHECK(matchTop(hits, n, k, top) == k, "matchTop count");
    matchSort(hits, n);
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(hitBefore(&hits[i - 1], &hits[i]), "sorted hits %zu, %zu out of order", i - 1,
                   i);
    for (size_t i = 0; i < k; i++)
        FUZZ_CHECK(top[i].entry == hits[i].entry && top[i].score == hits[i].score,
                   "matchTop %zu differs from the sorted order", i);
    free(hits);
    free(top);
    free(fams);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > INPUT_MAX)
        return 0;
    char err[AV_ERRLEN] = "";
    collection *c = NULL;
    av_status st = collectionParse((const char *)data, size, FUZZ_SOURCE, &c, err, sizeof(err));
    FUZZ_CHECK(st == AV_OK && c, "collectionParse failed (only OOM may): %s", err);
    checkEntries(c);
    if (size <= MODEL_MAX)
        checkAgainstModel(c, (const char *)data, size);
    checkMatch(c);
    collectionFree(c);
    return 0;
}
