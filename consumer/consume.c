/*
 * consume.c - `apivector consume`: the Kafka consumer service.
 *
 *   apivector consume [--config FILE] [-X prop=value ...] [--group-id G]
 *                     [--input-topic T] [--results-topic T] [--dlq-topic T]
 *                     [--workers N] [--log-level L]
 *                     [--from-beginning | --from-timestamp T] [--until-end]
 *                     [--check-config]
 *
 * The life of the process, top to bottom in consumeMain():
 *   1. arguments and configuration (file < environment < command line);
 *      --check-config stops here and prints the effective configuration;
 *   2. logging (JSON lines on stderr), signals (blocked in every thread and
 *      taken by one sigwait thread, which wakes the main loop through the
 *      wake pipe), libcurl's global init, the pipeline (WinApi1024, stores);
 *   3. the Kafka clients, the worker pool, the subscription, and the
 *      operations endpoints on metrics_port (metrics.h);
 *   4. the main loop (consumeLoop): wait on the wake pipe, then consumer
 *      poll (messages, rebalances, commit results, statistics), producer
 *      poll (delivery reports), completed jobs, due retries, commits, status;
 *   5. shutdown (consumeShutdown): on SIGTERM/SIGINT, --until-end or a fatal
 *      error: stop taking work, drain in-flight jobs up to
 *      shutdown_timeout_ms, flush, commit, close the consumer (leave the
 *      group), exit 0. A second signal abandons in-flight work (it stays
 *      uncommitted); a third exits at once, as does a shutdown that overruns
 *      its deadline by 5 s (the watchdog), both with status 1.
 *
 * Exit status: 0 done, 1 runtime failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cli.h"
#include "consume_args.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "runtime.h"

extern char **environ;

#define CONSUME_POLL_BATCH 500
#define CONSUME_TICK_MS 100
#define CONSUME_FULL_QUEUE_MS 5
#define CONSUME_WATCHDOG_GRACE_MS 5000

static void consumePipelineLog(void *ctx, int level, const char *msg) {
    if (level < CONFIG_LOG_DEBUG || level > CONFIG_LOG_ERROR)
        level = CONFIG_LOG_WARN;
    logComponent((config_log_level)level, "pipeline", "%s", msg);
}

/* ------------------------------------------------------------ signals */

typedef struct consume_signals {
    runtime *rt;
    pthread_t thread;
    atomic_bool quit;
    bool started;
} consume_signals;

static void consumeWake(runtime *rt) {
    char c = 1;
    while (write(rt->wake[1], &c, 1) < 0 && errno == EINTR) {
    }
}

/* Takes SIGTERM/SIGINT synchronously (they are blocked everywhere), counts
 * them, wakes the main loop, and watches the shutdown deadline. */
static void *consumeSignalThread(void *arg) {
    consume_signals *s = arg;
    runtime *rt = s->rt;
    sigset_t set;
    int64_t watchdog = -1;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (!atomic_load(&s->quit)) {
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig < 0) {
            if (watchdog >= 0 && clockMonoMs() > watchdog) {
                logComponent(CONFIG_LOG_ERROR, "consume",
                             "shutdown overran shutdown_timeout_ms; exiting now");
                _exit(1);
            }
            continue;
        }
        int n = atomic_fetch_add(&rt->signals, 1) + 1;
        logComponent(CONFIG_LOG_INFO, "consume", "%s received (%d): %s", strsignal(sig), n,
                     n == 1   ? "draining"
                     : n == 2 ? "abandoning in-flight work"
                              : "exiting now");
        if (n >= 3)
            _exit(1);
        if (n == 1)
            watchdog = clockMonoMs() + rt->cfg->shutdown_timeout_ms + CONSUME_WATCHDOG_GRACE_MS;
        consumeWake(rt);
    }
    return NULL;
}

/* Blocks the signals in this thread before any other thread exists, so all
 * threads (librdkafka's, libcurl's, the workers) inherit the mask. */
static void consumeBlockSignals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void consumeCheckSignals(runtime *rt) {
    int n = atomic_load(&rt->signals);
    if (n >= 1)
        rt->stopping = true;
    if (n >= 2)
        rt->fast = true;
}

/* ------------------------------------------------------------ the loop */

/* Sleeps until something is to be done: a byte on the wake pipe (librdkafka
 * queue became non-empty, a job completed, a signal) or the timeout. */
static void consumeWait(runtime *rt, int64_t timeout_ms) {
    struct pollfd pfd = {.fd = rt->wake[0], .events = POLLIN};
    char buf[256];
    if (timeout_ms > 0 && poll(&pfd, 1, (int)timeout_ms) <= 0)
        return;
    while (read(rt->wake[0], buf, sizeof(buf)) > 0) {
    }
}

/* Serves the consumer queue; true when the batch limit was hit. */
static bool consumePollConsumer(runtime *rt) {
    for (int i = 0; i < CONSUME_POLL_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rt->consumer, 0);
        if (!m)
            return false;
        runtimeMessage(rt, m);
    }
    return true;
}

/* Until the next tick or the next due retry. A job still due after
 * runtimeDispatch found no room in the queue: check again shortly rather
 * than spin. */
static int64_t consumeTimeout(const runtime *rt, int64_t now) {
    int64_t t = CONSUME_TICK_MS, due = runtimeNextDue(rt, now);
    if (due >= 0 && due < t)
        t = due > 0 ? due : CONSUME_FULL_QUEUE_MS;
    return t;
}

static void consumeLoop(runtime *rt) {
    int64_t timeout = 0;
    while (!rt->stopping) {
        consumeWait(rt, timeout);
        int64_t now = clockMonoMs();
        bool more = consumePollConsumer(rt); /* messages, rebalances, commits, stats */
        rd_kafka_poll(rt->producer, 0);      /* delivery reports */
        runtimeDrainDone(rt);                /* completed jobs: offsets done, or retries */
        runtimeDispatch(rt, now);            /* retries whose backoff is over */
        if (now - rt->last_commit_ms >= RUNTIME_COMMIT_INTERVAL_MS)
            runtimeCommit(rt, false, NULL);
        runtimeTick(rt, now); /* status, --until-end */
        consumeCheckSignals(rt);
        timeout = more ? 0 : consumeTimeout(rt, now);
    }
}

/* ------------------------------------------------------------ shutdown */

static bool consumeCancelAll(const job *j, void *ctx) {
    return true;
}

static void consumeDrain(runtime *rt, int64_t deadline) {
    while (rt->jobs_away > 0 && clockMonoMs() < deadline) {
        consumeCheckSignals(rt);
        if (rt->fast)
            break;
        consumeWait(rt, 50);
        consumePollConsumer(rt); /* callbacks only: messages are dropped now */
        rd_kafka_poll(rt->producer, 0);
        runtimeDrainDone(rt);
        int64_t now = clockMonoMs();
        if (now - rt->last_commit_ms >= RUNTIME_COMMIT_INTERVAL_MS)
            runtimeCommit(rt, false, NULL);
        runtimeTick(rt, now);
    }
}

static void consumeShutdown(runtime *rt) {
    int64_t start = clockMonoMs(), budget = rt->cfg->shutdown_timeout_ms;
    int64_t reserve = budget / 4 < 5000 ? budget / 4 : 5000;

    statusSetShuttingDown(&rt->st);
    logComponent(CONFIG_LOG_INFO, "consume", "stopping: %lld job(s) in flight",
                 (long long)rt->jobs_away);
    rt->stopping = true;
    rt->drain_deadline = start + budget - reserve;
    runtimeDropWaiting(rt); /* retries not started stay uncommitted */
    runtimeApplyPauses(rt);
    consumeDrain(rt, rt->drain_deadline);
    rt->drain_deadline = 0; /* from here on, nobody waits for jobs */
    if (rt->fast || rt->jobs_away > 0) {
        job *c = workersCancel(rt->wk, consumeCancelAll, NULL);
        while (c) {
            job *next = c->next;
            rt->jobs_away--;
            jobFree(c);
            c = next;
        }
        workersAbort(rt->wk);
    }
    int64_t left = start + budget - reserve / 2 - clockMonoMs();
    rd_kafka_flush(rt->producer, rt->fast ? 0 : (int)(left > 0 ? left : 0));
    rd_kafka_poll(rt->producer, 0);
    runtimeDrainDone(rt);
    runtimeCommit(rt, true, NULL);
    logComponent(CONFIG_LOG_INFO, "consume", "closing the consumer (leaving the group)");
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(rt->consumer);
    if (err)
        logComponent(CONFIG_LOG_WARN, "consume", "consumer close: %s", rd_kafka_err2str(err));
}

/* Frees what the process holds, in dependency order. Returns false when a
 * worker is still stuck in the pipeline: then nothing may be freed. */
static bool consumeRelease(runtime *rt) {
    if (rt->wk && !workersStop(rt->wk, 2000)) {
        logComponent(CONFIG_LOG_WARN, "consume",
                     "%zu worker(s) still busy; exiting without cleanup", workersRunning(rt->wk));
        return false;
    }
    if (rt->producer) {
        rd_kafka_purge(rt->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rt->producer, 1000);
    }
    if (rt->wk) {
        job *j = workersTakeDone(rt->wk);
        while (j) {
            job *next = j->next;
            jobFree(j);
            j = next;
        }
    }
    runtimeDropWaiting(rt);
    workersFree(rt->wk);
    if (rt->consumer_queue) {
        rd_kafka_queue_io_event_enable(rt->consumer_queue, -1, NULL, 0);
        rd_kafka_queue_destroy(rt->consumer_queue);
    }
    if (rt->producer_queue) {
        rd_kafka_queue_io_event_enable(rt->producer_queue, -1, NULL, 0);
        rd_kafka_queue_destroy(rt->producer_queue);
    }
    if (rt->producer)
        rd_kafka_destroy(rt->producer);
    if (rt->consumer)
        rd_kafka_destroy(rt->consumer);
    pipelineFree(rt->pipe);
    trackerFree(rt->tr);
    return true;
}

static void consumeSummary(runtime *rt) {
    double seconds = (double)(clockMonoMs() - rt->started_ms) / 1000.0;
    printf("{\"consumed\":%llu,\"results\":%llu,\"matches\":%llu,\"dead_letters\":%llu,"
           "\"retried\":%llu,\"duplicates\":%llu,\"seconds\":%.3f,\"complete\":%s}\n",
           (unsigned long long)rt->counts.consumed, (unsigned long long)rt->counts.results,
           (unsigned long long)rt->counts.matches, (unsigned long long)rt->counts.dead_letters,
           (unsigned long long)rt->counts.retried, (unsigned long long)rt->counts.duplicates,
           seconds, rt->finished ? "true" : "false");
    fflush(stdout);
}

/* ------------------------------------------------------------ start-up */

static av_status consumeStart(runtime *rt, char *err, size_t errlen) {
    av_status st;
    size_t nworkers = rt->cfg->workers > 0 ? (size_t)rt->cfg->workers : workersDefaultCount();

    if (statusInit(&rt->st) != 0 || !(rt->tr = trackerNew()))
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
    statusSetWorkers(&rt->st, (int64_t)nworkers);
    rt->hooks = (kafka_hooks){.opaque = rt,
                              .st = &rt->st,
                              .rebalance = runtimeRebalance,
                              .commit = runtimeCommitResult,
                              .delivery = runtimeDelivery,
                              .fatal = runtimeKafkaFatal};
    if ((st = httpGlobalInit(err, errlen)) != AV_OK ||
        (st = pipelineNew(rt->cfg, consumePipelineLog, NULL, &rt->pipe, err, errlen)) != AV_OK ||
        (st = kafkaProducerNew(rt->cfg, &rt->hooks, &rt->producer, err, errlen)) != AV_OK ||
        (st = kafkaConsumerNew(rt->cfg, &rt->hooks, &rt->consumer, err, errlen)) != AV_OK)
        return st;
    rt->consumer_queue = rd_kafka_queue_get_consumer(rt->consumer);
    rt->producer_queue = rd_kafka_queue_get_main(rt->producer);
    rd_kafka_queue_io_event_enable(rt->consumer_queue, rt->wake[1], "1", 1);
    rd_kafka_queue_io_event_enable(rt->producer_queue, rt->wake[1], "1", 1);
    /* The queue holds every job in flight plus slack; backpressure pauses
     * partitions long before it fills (see runtimeMessage). */
    if ((st = workersNew(nworkers, (size_t)rt->cfg->max_inflight_events + 64, rt->pipe,
                         rt->producer, rt->cfg, rt->wake[1], &rt->wk, err, errlen)) != AV_OK)
        return st;

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, rt->cfg->input_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(rt->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr)
        return avErrorf(err, errlen, AV_ERR_USAGE, "subscribe to %s: %s", rt->cfg->input_topic,
                        rd_kafka_err2str(kerr));
    /* The operations endpoints (metrics.h) answer from the status; one tick
     * first, so /healthz is fine before the loop's first iteration. */
    runtimeTick(rt, clockMonoMs());
    if (rt->cfg->metrics_port > 0 &&
        (st = metricsStart(rt->cfg->metrics_bind, (int)rt->cfg->metrics_port, &rt->st, &rt->metrics,
                           err, errlen)) != AV_OK)
        return st;
    logComponent(CONFIG_LOG_INFO, "consume",
                 "apivector %s consuming %s as group %s with %zu worker(s); results to %s, dead "
                 "letters to %s",
                 APIVECTOR_VERSION, rt->cfg->input_topic, rt->cfg->group_id, nworkers,
                 rt->cfg->results_topic, rt->cfg->dlq_topic);
    return AV_OK;
}

static int consumeCheckConfig(const config *cfg) {
    char *dump = configDump(cfg, true);
    if (!dump) {
        cliError("consume", "out of memory");
        return CLI_INPUT;
    }
    printf("%s\n", dump);
    free(dump);
    return CLI_OK;
}

static int consumeRun(const config *cfg, const runtime_opts *opts) {
    runtime *rt = calloc(1, sizeof(*rt));
    consume_signals sig = {.rt = rt};
    char err[AV_ERRLEN];
    int code = CLI_OK;

    if (!rt) {
        cliError("consume", "out of memory");
        return CLI_INPUT;
    }
    rt->cfg = cfg;
    rt->opts = *opts;
    rt->started_ms = clockMonoMs();
    consumeBlockSignals();
    atomic_init(&sig.quit, false);
    if (pipe2(rt->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        cliError("consume", "pipe: %s", strerror(errno));
        free(rt);
        return CLI_INPUT;
    }
    /* Signals during start-up are counted too; the loop then stops at once. */
    sig.started = pthread_create(&sig.thread, NULL, consumeSignalThread, &sig) == 0;
    if (consumeStart(rt, err, sizeof(err)) != AV_OK) {
        logComponent(CONFIG_LOG_ERROR, "consume", "cannot start: %s", err);
        code = CLI_INPUT;
    } else {
        consumeCheckSignals(rt);
        consumeLoop(rt);
        consumeShutdown(rt);
        if (opts->until_end)
            consumeSummary(rt);
        if (atomic_load(&rt->fatal))
            code = CLI_INPUT;
    }
    if (!consumeRelease(rt)) {
        fflush(stdout);
        _exit(code); /* a worker may still use what would be freed */
    }
    if (sig.started) {
        atomic_store(&sig.quit, true);
        pthread_join(sig.thread, NULL);
    }
    metricsStop(rt->metrics); /* before the status it reads goes away */
    logComponent(CONFIG_LOG_INFO, "consume", "stopped (exit %d)", code);
    close(rt->wake[0]);
    close(rt->wake[1]);
    statusDestroy(&rt->st);
    free(rt);
    return code;
}

int consumeMain(int argc, char **argv) {
    consume_args a;
    config *cfg = NULL;
    char err[AV_ERRLEN];
    int rc;

    rc = consumeArgsParse(argc, argv, &a);
    if (rc != 0) {
        consumeArgsFree(&a);
        return rc > 0 ? CLI_OK : CLI_USAGE;
    }
    if (consumeConfigLoad(&a, environ, &cfg, err, sizeof(err)) != AV_OK) {
        cliError("consume", "%s", err);
        consumeArgsFree(&a);
        return CLI_USAGE;
    }
    consumeArgsFree(&a);
    if (a.check_config) {
        rc = consumeCheckConfig(cfg);
    } else {
        logSetLevel(cfg->log_level);
        consumeLogSecrets(cfg);
        rc = consumeRun(cfg, &a.opts);
        logReset();
    }
    configFree(cfg);
    return rc;
}
