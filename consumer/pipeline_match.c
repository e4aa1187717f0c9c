/*
 * pipeline_match.c - the confidence gate and the match events.
 *
 * A vector is matched only when its confidence is strictly above
 * min_confidence (as the seed service compares) and some collection is
 * configured; otherwise the reason ends up in the result event's
 * match_skipped. A matched vector gets one apivector.match.v1 event per
 * collection, in configuration order (Malpedia's last): the top_n entries by
 * score and every family whose best score is strictly above min_jaccard, both
 * in the engine's result order (score descending, ties in collection order),
 * so the events are the same whatever thread computes them.
 *
 * Vectors from the event's vectors field are checked before anything is
 * fetched (a tag that does not decompress is the permanent error
 * invalid_vector) and then go through the same gate and matching, with
 * vector.source "event". A gated-out event vector produces no event.
 *
 * Collections may hold any bytes in family and sample names; match events
 * are JSON text, so names that are not UTF-8 are written with U+FFFD for
 * each bad byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "match.h"
#include "pipeline_internal.h"

/* The per-collection scratch of one match. */
typedef struct pipeline_scores {
    match_hit *hits, *top;
    match_family *fam;
    event_out_score *top_out, *fam_out;
    char **owned; /* lossy UTF-8 copies to free */
    size_t nowned;
} pipeline_scores;

bool pipelineGatePasses(const pipeline *p, double confidence, char *reason, size_t len) {
    if (!(confidence > p->cfg->min_confidence)) {
        snprintf(reason, len, "confidence %.2f is not above min_confidence %.2f", confidence,
                 p->cfg->min_confidence);
        return false;
    }
    if (p->nsources == 0) {
        snprintf(reason, len, "no collection is configured");
        return false;
    }
    return true;
}

static void pipelineScoresFree(pipeline_scores *s) {
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->hits);
    free(s->top);
    free(s->fam);
    free(s->top_out);
    free(s->fam_out);
}

/* A name as valid UTF-8: s itself, or a lossy copy kept in sc->owned. */
static const char *pipelineText(pipeline_scores *sc, const char *s) {
    if (eventOutIsUtf8(s, strlen(s)))
        return s;
    char *copy = eventOutUtf8Lossy(s, strlen(s));
    if (copy)
        sc->owned[sc->nowned++] = copy;
    return copy;
}

static bool pipelineScoresAlloc(pipeline_scores *s, const collection *c, size_t k) {
    size_t n = collectionSize(c), nf = collectionFamilyCount(c);
    s->hits = malloc((n ? n : 1) * sizeof(*s->hits));
    s->top = malloc(k * sizeof(*s->top));
    s->fam = malloc((nf ? nf : 1) * sizeof(*s->fam));
    s->top_out = calloc(k, sizeof(*s->top_out));
    s->fam_out = calloc(nf ? nf : 1, sizeof(*s->fam_out));
    /* every top entry (family, sample) and every listed family, at most */
    s->owned = calloc(2 * k + nf + 1, sizeof(char *));
    return s->hits && s->top && s->fam && s->top_out && s->fam_out && s->owned;
}

/* Fills m's top and families from the collection; false when out of memory. */
static bool pipelineScore(const pipeline *p, const collection *c, const apivector *v,
                          pipeline_scores *s, event_match *m) {
    size_t k = (size_t)p->cfg->top_n, n = collectionSize(c);
    const collection_entry *entries = collectionEntries(c);
    if (k > EVENT_OUT_MAX_TOP)
        k = EVENT_OUT_MAX_TOP;
    if (!pipelineScoresAlloc(s, c, k))
        return false;
    matchCollection(c, v, s->hits);
    size_t ntop = matchTop(s->hits, n, k, s->top);
    for (size_t i = 0; i < ntop; i++) {
        const collection_entry *e = &entries[s->top[i].entry];
        s->top_out[i].family = pipelineText(s, collectionFamily(c, e->family));
        s->top_out[i].sample = pipelineText(s, e->sample);
        s->top_out[i].score = s->top[i].score;
        if (!s->top_out[i].family || !s->top_out[i].sample)
            return false;
    }
    size_t nfam = matchFamilies(c, s->hits, n, s->fam), kept = 0;
    for (size_t i = 0; i < nfam && s->fam[i].score > p->cfg->min_jaccard; i++, kept++) {
        s->fam_out[i].family = pipelineText(s, collectionFamily(c, s->fam[i].family));
        s->fam_out[i].sample = "";
        s->fam_out[i].score = s->fam[i].score;
        if (!s->fam_out[i].family)
            return false;
    }
    m->top = s->top_out;
    m->ntop = ntop;
    m->families = s->fam_out;
    m->nfamilies = kept;
    return true;
}

static event_error pipelineMatchOne(pipeline_job *j, const pipeline_held *h, const apivector *v,
                                    const char *text, double confidence,
                                    event_vector_source source) {
    pipeline_scores sc = {0};
    event_match m = {
        .event_id = j->ev->event_id,
        .source = pipelineSource(j),
        .vector_source = source,
        .vector = text,
        .confidence = confidence,
        .collection_name = h->src->name,
        .collection_sha256 = h->sha256,
        .collection_families = (int64_t)collectionFamilyCount(h->c),
        .collection_vectors = (int64_t)collectionSize(h->c),
        .classification = h->src->classification,
    };
    char *json = NULL;
    size_t len = 0;
    if (!pipelineScore(j->p, h->c, v, &sc, &m)) {
        pipelineScoresFree(&sc);
        pipelineMsgf(j, "matching against %s: out of memory", h->src->name);
        return EVENT_ERR_INTERNAL;
    }
    av_status st = eventOutMatch(&m, &json, &len, j->msg, sizeof(j->msg));
    pipelineScoresFree(&sc);
    if (st != AV_OK)
        return EVENT_ERR_INTERNAL;
    j->out->match_events++;
    return pipelineAddRecord(j, PIPELINE_RESULTS, j->ev->event_id, strlen(j->ev->event_id), json,
                             len);
}

event_error pipelineMatchVector(pipeline_job *j, const apivector *v, const char *text,
                                double confidence, event_vector_source source) {
    double t0 = clockMonoMsPrecise();
    event_error code = pipelineGetCollections(j);
    double t1 = clockMonoMsPrecise();
    j->fetch_ms += t1 - t0;
    for (size_t i = 0; code == EVENT_ERR_NONE && i < j->nheld; i++) {
        if (j->held[i].stale)
            j->held_stale = 1;
        code = pipelineMatchOne(j, &j->held[i], v, text, confidence, source);
    }
    j->match_ms += clockMonoMsPrecise() - t1;
    return code;
}

/* Decompresses vectors[i] of the event; the message names the item. */
static event_error pipelineEventVector(pipeline_job *j, size_t i, apivector *v, const char **text) {
    int32_t in, num;
    char msg[AV_ERRLEN];
    if (!eventSplitTag(j->ev->vectors[i], &in, &num, text)) {
        pipelineMsgf(j, "vectors[%zu]: expected in:num:vector", i);
        return EVENT_ERR_INVALID_VECTOR;
    }
    if (vectorDecompress(*text, strlen(*text), v, msg, sizeof(msg)) != AV_OK) {
        pipelineMsgf(j, "vectors[%zu]: %s", i, msg);
        return EVENT_ERR_INVALID_VECTOR;
    }
    return EVENT_ERR_NONE;
}

event_error pipelineEventVectors(pipeline_job *j, int check_only) {
    for (size_t i = 0; i < j->ev->nvectors; i++) {
        apivector v;
        const char *text;
        char reason[128];
        event_error code = pipelineEventVector(j, i, &v, &text);
        if (code != EVENT_ERR_NONE)
            return code;
        if (check_only)
            continue;
        double confidence = vectorConfidence(j->winapi, &v);
        if (!pipelineGatePasses(j->p, confidence, reason, sizeof(reason)))
            continue;
        code = pipelineMatchVector(j, &v, text, confidence, EVENT_VECTOR_FROM_EVENT);
        if (code != EVENT_ERR_NONE)
            return code;
    }
    return EVENT_ERR_NONE;
}
