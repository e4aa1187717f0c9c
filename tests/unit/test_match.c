/*
 * test_match.c - unit tests of weighted Jaccard matching and ranking.
 *
 * Scores are checked against hand arithmetic (rank of bit i = 1023 - i):
 * score = sum of ranks of the common bits / sum of ranks of the bits in
 * either, 0 when that sum is 0. Randomized cases compare matchScore() with
 * a direct loop over the 1024 bits, and matchTop() / matchFamilies() with a
 * full sort, on inputs built to have many ties (equal scores must keep entry
 * order, families with equal best scores keep family order).
 */
#include "engine_fixtures.h"

#include "match.h"

static apivector bitsOf(const unsigned *bits, size_t n) {
    apivector v = {{0}};
    for (size_t i = 0; i < n; i++)
        vectorSet(&v, bits[i]);
    return v;
}

static void test_score_by_hand(void **state) {
    (void)state;
    apivector empty = {{0}};
    assert_true(matchScore(&empty, &empty) == 0.0);
    apivector a = bitsOf((const unsigned[]){0, 1}, 2);
    assert_true(matchScore(&a, &a) == 1.0);
    assert_true(matchScore(&a, &empty) == 0.0);
    /* {0,1} vs {1,2}: 1022 / (1023 + 1022 + 1021) = 1022 / 3066 = 1/3. */
    apivector b = bitsOf((const unsigned[]){1, 2}, 2);
    assert_true(matchScore(&a, &b) == 1022.0 / 3066.0);
    assert_true(matchScore(&b, &a) == 1022.0 / 3066.0);
    /* {500} vs {500, 600}: 523 / (523 + 423). */
    apivector c = bitsOf((const unsigned[]){500}, 1), d = bitsOf((const unsigned[]){500, 600}, 2);
    assert_true(matchScore(&c, &d) == 523.0 / 946.0);
    /* Only the rank-0 bit (1023) in either: the union weighs 0, score 0. */
    apivector z = bitsOf((const unsigned[]){1023}, 1);
    assert_true(matchScore(&z, &z) == 0.0);
    assert_true(matchScore(&z, &empty) == 0.0);
    /* {0, 1023} vs {1023}: 0 / 1023. */
    apivector y = bitsOf((const unsigned[]){0, 1023}, 2);
    assert_true(matchScore(&y, &z) == 0.0);
    /* All bits vs bit 0: 1023 / (0 + 1 + ... + 1023) = 1023 / 523776. */
    apivector all;
    memset(&all, 0xFF, sizeof(all));
    apivector first = bitsOf((const unsigned[]){0}, 1);
    assert_true(matchScore(&all, &first) == 1023.0 / 523776.0);
}

static double bruteScore(const apivector *a, const apivector *b) {
    unsigned long inter = 0, uni = 0;
    for (unsigned i = 0; i < 1024; i++) {
        int x = vectorTest(a, i), y = vectorTest(b, i);
        inter += (x && y) ? 1023 - i : 0;
        uni += (x || y) ? 1023 - i : 0;
    }
    return uni ? (double)inter / (double)uni : 0.0;
}

static apivector randomVector(uint64_t *seed) {
    apivector v = {{0}};
    unsigned density = (unsigned)(fxRand(seed) % 30);
    for (unsigned b = 0; b < 1024; b++)
        if (fxRand(seed) % 100 < density)
            vectorSet(&v, b);
    return v;
}

static void test_score_random(void **state) {
    (void)state;
    uint64_t seed = 99;
    for (int i = 0; i < 1000; i++) {
        apivector a = randomVector(&seed), b = randomVector(&seed);
        assert_true(matchScore(&a, &b) == bruteScore(&a, &b));
    }
}

/* A collection from (family, vector) pairs; samples are named s<i>. */
static collection *collectionOf(const unsigned *family, const apivector *v, size_t n) {
    fx_buf b = {0};
    fxAppendf(&b, "%s", "");
    for (size_t i = 0; i < n; i++) {
        char text[VECTOR_TEXT_MAX + 1];
        vectorCompress(&v[i], text);
        fxAppendf(&b, "F%u;s%zu;0;0;%s\n", family[i], i, text);
    }
    collection *c = NULL;
    char err[AV_ERRLEN] = "";
    assert_int_equal(collectionParse(b.p, b.len, "m.csv", &c, err, sizeof(err)), AV_OK);
    free(b.p);
    return c;
}

static void test_collection_by_hand(void **state) {
    (void)state;
    /* A/s1 {0}, A/s2 {0,1}, B/s1 {1}, C/s1 {}. */
    const char *text = "A;s1;;;gA170\nA;s2;;;wA170\nB;s1;;;QA170\nC;s1;;;A171\n";
    collection *c = NULL;
    char err[AV_ERRLEN] = "";
    assert_int_equal(collectionParse(text, strlen(text), "m.csv", &c, err, sizeof(err)), AV_OK);
    apivector q = bitsOf((const unsigned[]){0, 1}, 2);
    match_hit hits[4];
    matchCollection(c, &q, hits);
    /* Union with {0,1}: 2045 for every entry. */
    assert_true(hits[0].score == 1023.0 / 2045.0);
    assert_true(hits[1].score == 1.0);
    assert_true(hits[2].score == 1022.0 / 2045.0);
    assert_true(hits[3].score == 0.0);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(hits[i].entry, i);
    match_family fam[3];
    assert_int_equal(matchFamilies(c, hits, 4, fam), 3);
    assert_int_equal(fam[0].family, 0); /* A, via A/s2 */
    assert_int_equal(fam[0].entry, 1);
    assert_int_equal(fam[1].family, 1);
    assert_int_equal(fam[1].entry, 2);
    assert_int_equal(fam[2].family, 2);
    assert_true(fam[2].score == 0.0);
    matchSort(hits, 4);
    const uint32_t order[] = {1, 0, 2, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(hits[i].entry, order[i]);
    /* An empty query scores 0 everywhere: entry order, family order. */
    apivector none = {{0}};
    matchCollection(c, &none, hits);
    matchSort(hits, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(hits[i].entry, i);
        assert_true(hits[i].score == 0.0);
    }
    assert_int_equal(matchFamilies(c, hits, 4, fam), 3);
    assert_int_equal(fam[0].entry, 0); /* A's first entry on a tie */
    assert_int_equal(fam[1].family, 1);
    assert_int_equal(fam[2].family, 2);
    /* Families without any hit given are left out. */
    assert_int_equal(matchFamilies(c, &hits[2], 1, fam), 1);
    assert_int_equal(fam[0].family, 1);
    collectionFree(c);
}

static void test_sort_ties(void **state) {
    (void)state;
    match_hit h[] = {{0, .5}, {1, .7}, {2, .5}, {3, .7}, {4, 0}};
    matchSort(h, 5);
    const uint32_t want[] = {1, 3, 0, 2, 4};
    for (int i = 0; i < 5; i++)
        assert_int_equal(h[i].entry, want[i]);
    /* Input order does not matter, entry order does. */
    match_hit s[] = {{3, .5}, {1, .5}, {2, .9}, {0, .5}};
    matchSort(s, 4);
    const uint32_t want2[] = {2, 0, 1, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i].entry, want2[i]);
    matchSort(s, 0);
    matchSort(NULL, 0);
}

static int beforeRef(const match_hit *x, const match_hit *y) {
    return x->score > y->score || (x->score == y->score && x->entry < y->entry);
}

/* Insertion sort into result order: obviously right, fine for 60 hits. */
static void refSort(match_hit *h, size_t n) {
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && beforeRef(&h[j], &h[j - 1]); j--) {
            match_hit t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
}

static void test_top_equals_sort(void **state) {
    (void)state;
    uint64_t seed = 1234;
    const double pool[] = {0.0, 0.25, 0.5, 0.75, 1.0};
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(fxRand(&seed) % 61);
        match_hit hits[60], sorted[60], top[64];
        for (size_t i = 0; i < n; i++)
            hits[i].entry = (uint32_t)i;
        for (size_t i = n; i > 1; i--) { /* shuffle the entry ids */
            size_t j = (size_t)(fxRand(&seed) % i);
            uint32_t t = hits[i - 1].entry;
            hits[i - 1].entry = hits[j].entry;
            hits[j].entry = t;
        }
        for (size_t i = 0; i < n; i++)
            hits[i].score = fxRand(&seed) % 4 ? pool[fxRand(&seed) % 5]
                                              : (double)(fxRand(&seed) % 1000) / 1000.0;
        memcpy(sorted, hits, n * sizeof(*hits));
        refSort(sorted, n);
        match_hit lib[60];
        memcpy(lib, hits, n * sizeof(*hits));
        matchSort(lib, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(lib[i].entry, sorted[i].entry);
            assert_true(lib[i].score == sorted[i].score);
        }
        size_t k = (size_t)(fxRand(&seed) % (n + 4));
        size_t m = matchTop(hits, n, k, top);
        assert_int_equal(m, k < n ? k : n);
        for (size_t i = 0; i < m; i++) {
            assert_int_equal(top[i].entry, sorted[i].entry);
            assert_true(top[i].score == sorted[i].score);
        }
    }
}

static void test_families_random(void **state) {
    (void)state;
    uint64_t seed = 555;
    for (int iter = 0; iter < 200; iter++) {
        size_t n = 1 + (size_t)(fxRand(&seed) % 40);
        unsigned nf = 1 + (unsigned)(fxRand(&seed) % 6);
        unsigned family[40];
        apivector v[40];
        /* Few distinct vectors, so equal scores are common. */
        apivector pool[4];
        for (int p = 0; p < 4; p++)
            pool[p] = randomVector(&seed);
        for (size_t i = 0; i < n; i++) {
            family[i] = (unsigned)(fxRand(&seed) % nf);
            v[i] = pool[fxRand(&seed) % 4];
        }
        collection *c = collectionOf(family, v, n);
        apivector q = fxRand(&seed) % 3 ? pool[fxRand(&seed) % 4] : randomVector(&seed);
        size_t size = collectionSize(c);
        match_hit hits[40], sorted[40];
        matchCollection(c, &q, hits);
        for (size_t i = 0; i < size; i++)
            assert_true(hits[i].score == bruteScore(&q, &collectionEntries(c)[i].vector));
        /* A random subset of the hits, in random order. */
        size_t idx[40];
        for (size_t i = 0; i < size; i++)
            idx[i] = i;
        for (size_t i = size; i > 1; i--) {
            size_t j = (size_t)(fxRand(&seed) % i), t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        size_t m = fxRand(&seed) % 3 ? size : (size_t)(fxRand(&seed) % (size + 1));
        for (size_t i = 0; i < m; i++)
            sorted[i] = hits[idx[i]];
        match_hit given[40];
        memcpy(given, sorted, m * sizeof(*given));
        refSort(sorted, m);
        /* Reference: first appearance of each family in result order. */
        uint32_t want_fam[8], want_entry[8];
        size_t nwant = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t f = collectionEntries(c)[sorted[i].entry].family;
            size_t j = 0;
            while (j < nwant && want_fam[j] != f)
                j++;
            if (j == nwant) {
                want_fam[nwant] = f;
                want_entry[nwant++] = sorted[i].entry;
            }
        }
        match_family out[8];
        assert_int_equal(matchFamilies(c, given, m, out), nwant);
        for (size_t j = 0; j < nwant; j++) {
            assert_int_equal(out[j].family, want_fam[j]);
            assert_int_equal(out[j].entry, want_entry[j]);
            assert_true(out[j].score == hits[want_entry[j]].score);
        }
        collectionFree(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_by_hand),      cmocka_unit_test(test_score_random),
        cmocka_unit_test(test_collection_by_hand), cmocka_unit_test(test_sort_ties),
        cmocka_unit_test(test_top_equals_sort),    cmocka_unit_test(test_families_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
