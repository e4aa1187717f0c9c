/* kafka_broker.c - a real Kafka protocol endpoint for tests, in its own process.
 *
 * Usage: kafka-broker [--brokers N] [--port P] [TOPIC:PARTITIONS ...]
 *
 * Starts librdkafka's built-in mock cluster with N brokers (default 1), creates
 * every named topic with its partition count, prints exactly one line
 * "bootstrap=host:port[,host:port...]" on stdout and then waits for signals:
 *
 *   SIGTERM, SIGINT, SIGHUP  destroy the cluster and exit 0
 *   SIGUSR1                  take all brokers down: connections are dropped
 *                            and refused, topics, messages and committed
 *                            offsets stay, the ports stay reserved
 *   SIGUSR2                  bring all brokers up again on the same ports
 *
 * Everything else (state changes, librdkafka logs) goes to stderr.
 *
 * The mock brokers listen on 127.0.0.1 only: librdkafka binds each mock listener
 * to INADDR_LOOPBACK. The mock has no CreateTopics API, so topics are created
 * through rd_kafka_mock_topic_create() before the bootstrap line is printed;
 * no client can reach the cluster earlier, so a topic named here is never
 * auto-created first (auto-creation would give it the mock default of 4
 * partitions).
 *
 * Signals are never handled asynchronously: they are blocked before any thread
 * exists (librdkafka's threads inherit the mask) and the main thread takes them
 * one at a time with sigwaitinfo(), so all mock calls happen in ordinary code.
 * Like any standard signal they coalesce while pending, and a pending SIGUSR1 is
 * taken before a pending SIGUSR2: a caller waits for the effect (ports refuse or
 * accept connections, or the "brokers down/up" line) before the next signal.
 * The broker also asks the kernel for SIGTERM when its parent dies, so a test
 * script killed with SIGKILL does not leave it behind.
 *
 * --port P: librdkafka 2.0.2 has no API to choose the mock listener port; it
 * binds port 0. This program therefore interposes bind(): while the cluster is
 * being created, a bind of an IPv4 loopback address with port 0 is given the
 * ports P, P+1, ... in order. Outside that window, and without --port, bind()
 * passes through unchanged.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BROKER_MAX 16
#define TOPIC_MAX 64

typedef struct brokerTopic {
    const char *name; /* points into argv */
    size_t namelen;
    int partitions;
} brokerTopic;

typedef struct brokerOptions {
    int brokers;
    int port; /* 0: any free port */
    int topiccount;
    brokerTopic topics[TOPIC_MAX];
} brokerOptions;

/* Next port to hand out to a mock listener, 0 when not interposing. Atomic
 * because librdkafka may call bind() from its own threads. */
static atomic_int brokerPortNext;
static atomic_int brokerPortLast;

int bind(int fd, const struct sockaddr *addr, socklen_t len);

/* Interposes libc's bind() for the whole process (librdkafka included), see the
 * file comment. Only an IPv4 loopback bind to port 0 inside the armed window is
 * changed; the real bind is the raw system call. */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    int next = atomic_load(&brokerPortNext);
    if (next > 0 && addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, addr, sizeof(sin));
        if (sin.sin_port == 0 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            int port = atomic_fetch_add(&brokerPortNext, 1);
            if (port > atomic_load(&brokerPortLast)) {
                errno = EADDRINUSE;
                return -1;
            }
            sin.sin_port = htons((uint16_t)port);
            return (int)syscall(SYS_bind, fd, (const struct sockaddr *)&sin, sizeof(sin));
        }
    }
    return (int)syscall(SYS_bind, fd, addr, len);
}

static void brokerUsage(FILE *fp) {
    fprintf(fp,
            "usage: kafka-broker [--brokers N] [--port P] [TOPIC:PARTITIONS ...]\n"
            "  --brokers N  mock brokers to start, 1..%d (default 1)\n"
            "  --port P     first listener port (brokers use P..P+N-1; default: any free)\n"
            "  signals: TERM/INT/HUP stop, USR1 all brokers down, USR2 all brokers up\n",
            BROKER_MAX);
}

/* Parses a decimal integer in [min, max]; returns 0 on success, -1 otherwise. */
static int brokerParseInt(const char *s, long min, long max, int *out) {
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* Parses "TOPIC:PARTITIONS" into t; prints the reason on failure. */
static int brokerParseTopic(const char *arg, brokerTopic *t) {
    const char *colon = strrchr(arg, ':');

    if (!colon || colon == arg) {
        fprintf(stderr, "kafka-broker: bad topic argument '%s': expected TOPIC:PARTITIONS\n", arg);
        return -1;
    }
    if (brokerParseInt(colon + 1, 1, 10000, &t->partitions) != 0) {
        fprintf(stderr, "kafka-broker: bad partition count in '%s': expected 1..10000\n", arg);
        return -1;
    }
    t->name = arg;
    t->namelen = (size_t)(colon - arg);
    if (t->namelen > 249) {
        fprintf(stderr, "kafka-broker: topic name in '%s' is longer than 249 bytes\n", arg);
        return -1;
    }
    return 0;
}

/* Rejects a topic named twice: the second create would fail or silently keep the
 * first partition count. */
static int brokerTopicDuplicate(const brokerOptions *o, const brokerTopic *t) {
    for (int i = 0; i < o->topiccount; i++) {
        if (o->topics[i].namelen == t->namelen && !memcmp(o->topics[i].name, t->name, t->namelen))
            return 1;
    }
    return 0;
}

/* Fills o from argv; returns 0 to run, 1 after --help, -1 on bad usage. */
static int brokerParseArgs(int argc, char **argv, brokerOptions *o) {
    memset(o, 0, sizeof(*o));
    o->brokers = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            brokerUsage(stdout);
            return 1;
        } else if (!strcmp(a, "--brokers")) {
            if (brokerParseInt(i + 1 < argc ? argv[++i] : NULL, 1, BROKER_MAX, &o->brokers)) {
                fprintf(stderr, "kafka-broker: --brokers needs a number 1..%d\n", BROKER_MAX);
                return -1;
            }
        } else if (!strcmp(a, "--port")) {
            if (brokerParseInt(i + 1 < argc ? argv[++i] : NULL, 1, 65535, &o->port)) {
                fprintf(stderr, "kafka-broker: --port needs a number 1..65535\n");
                return -1;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "kafka-broker: unknown option '%s'\n", a);
            return -1;
        } else {
            brokerTopic t;
            if (o->topiccount == TOPIC_MAX) {
                fprintf(stderr, "kafka-broker: more than %d topics\n", TOPIC_MAX);
                return -1;
            }
            if (brokerParseTopic(a, &t) != 0)
                return -1;
            if (brokerTopicDuplicate(o, &t)) {
                fprintf(stderr, "kafka-broker: topic '%.*s' named twice\n", (int)t.namelen, t.name);
                return -1;
            }
            o->topics[o->topiccount++] = t;
        }
    }
    if (o->port && o->port + o->brokers - 1 > 65535) {
        fprintf(stderr, "kafka-broker: ports %d..%d exceed 65535\n", o->port,
                o->port + o->brokers - 1);
        return -1;
    }
    return 0;
}

/* The rd_kafka_t the mock cluster needs for its book keeping. It never connects
 * anywhere: it has no bootstrap servers. */
static rd_kafka_t *brokerHandleNew(void) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    /* log_level 4 drops the notice that this handle has no bootstrap servers,
     * which is intended; warnings and errors of the mock still show. */
    if (rd_kafka_conf_set(conf, "client.id", "kafka-broker", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-broker: config: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka-broker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Returns a TCP socket bound (not listening) to 127.0.0.1:port with the same
 * SO_REUSEADDR option the mock listener uses, or -1 with errno set. */
static int brokerPortBind(int port) {
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr = {.s_addr = htonl(INADDR_LOOPBACK)}};
    int on = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        syscall(SYS_bind, fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Checks that ports first..last can be bound on 127.0.0.1. librdkafka 2.0.2
 * aborts (an assertion in its cleanup path) when a mock listener fails to bind,
 * so a busy port must be reported before the cluster is created. A port in
 * TIME_WAIT counts as free, as it does for the mock. */
static int brokerPortsFree(int first, int last) {
    for (int port = first; port <= last; port++) {
        int fd = brokerPortBind(port);
        if (fd == -1) {
            fprintf(stderr, "kafka-broker: cannot use port 127.0.0.1:%d: %s\n", port,
                    strerror(errno));
            return -1;
        }
        close(fd);
    }
    return 0;
}

/* Creates the cluster, on the requested ports when --port was given. */
static rd_kafka_mock_cluster_t *brokerClusterNew(rd_kafka_t *rk, const brokerOptions *o) {
    rd_kafka_mock_cluster_t *mcluster;

    if (o->port) {
        if (brokerPortsFree(o->port, o->port + o->brokers - 1) != 0)
            return NULL;
        atomic_store(&brokerPortLast, o->port + o->brokers - 1);
        atomic_store(&brokerPortNext, o->port);
    }
    mcluster = rd_kafka_mock_cluster_new(rk, o->brokers);
    atomic_store(&brokerPortNext, 0);
    if (!mcluster)
        fprintf(stderr, "kafka-broker: cannot start mock cluster\n");
    return mcluster;
}

/* Reads the listener ports, in broker id order, from the bootstrap list
 * "127.0.0.1:P1,127.0.0.1:P2,...". Returns 0 when all n were found. */
static int brokerPortsParse(const char *bootstraps, int *ports, int n) {
    const char *p = bootstraps;

    for (int i = 0; i < n; i++) {
        const char *colon = strchr(p, ':');
        char *end;
        long port;

        if (!colon)
            return -1;
        port = strtol(colon + 1, &end, 10);
        if (port < 1 || port > 65535 || (*end != ',' && *end != '\0'))
            return -1;
        ports[i] = (int)port;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int brokerTopicsCreate(rd_kafka_mock_cluster_t *mcluster, const brokerOptions *o) {
    /* The mock's replicas are bookkeeping only; more than the broker count is
     * invalid. */
    int replicas = o->brokers < 3 ? o->brokers : 3;

    for (int i = 0; i < o->topiccount; i++) {
        const brokerTopic *t = &o->topics[i];
        char name[256];
        rd_kafka_resp_err_t err;

        snprintf(name, sizeof(name), "%.*s", (int)t->namelen, t->name);
        err = rd_kafka_mock_topic_create(mcluster, name, t->partitions, replicas);
        if (err) {
            fprintf(stderr, "kafka-broker: cannot create topic '%s' (%d partitions): %s\n", name,
                    t->partitions, rd_kafka_err2str(err));
            return -1;
        }
        fprintf(stderr, "kafka-broker: topic %s partitions=%d\n", name, t->partitions);
    }
    return 0;
}

/* The running cluster and what an outage needs to keep. */
typedef struct brokerCluster {
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
    int ports[BROKER_MAX]; /* listener port of broker id i + 1 */
    int holds[BROKER_MAX]; /* placeholder socket per port while down, else -1 */
    int down;              /* 1 between SIGUSR1 and SIGUSR2 */
} brokerCluster;

/* Takes every broker down. librdkafka 2.0.2 closes a down broker's listener and
 * binds the same port again when it comes up. In between, a client's ephemeral
 * port or a "find a free port" bind(0) of another test could get the port and
 * the re-bind would fail (librdkafka then aborts). So each port is held by a
 * bound, non-listening socket: connections are refused, as by a dead broker, and
 * the kernel hands the port to nobody. Only a program that binds this very port
 * with SO_REUSEADDR could still take it, as it could from a real dead broker. */
static void brokerDown(brokerCluster *c) {
    if (c->down) {
        fprintf(stderr, "kafka-broker: brokers already down\n");
        return;
    }
    c->down = 1;
    for (int i = 0; i < c->brokers; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(c->mcluster, i + 1);
        if (err) {
            fprintf(stderr, "kafka-broker: broker %d down failed: %s\n", i + 1,
                    rd_kafka_err2str(err));
            continue;
        }
        if (c->holds[i] == -1 && (c->holds[i] = brokerPortBind(c->ports[i])) == -1)
            fprintf(stderr, "kafka-broker: cannot hold port %d while down: %s\n", c->ports[i],
                    strerror(errno));
    }
    fprintf(stderr, "kafka-broker: brokers down\n");
}

/* Brings every broker up. The mock's listener binds beside the placeholder
 * (both use SO_REUSEADDR and the placeholder never listens), so the placeholder
 * is closed only after the broker listens again. */
static void brokerUp(brokerCluster *c) {
    if (!c->down) {
        fprintf(stderr, "kafka-broker: brokers already up\n");
        return;
    }
    c->down = 0;
    for (int i = 0; i < c->brokers; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(c->mcluster, i + 1);
        if (err)
            fprintf(stderr, "kafka-broker: broker %d up failed: %s\n", i + 1,
                    rd_kafka_err2str(err));
        if (c->holds[i] != -1) {
            close(c->holds[i]);
            c->holds[i] = -1;
        }
    }
    fprintf(stderr, "kafka-broker: brokers up\n");
}

/* Takes signals until one asks to stop. */
static void brokerServe(brokerCluster *c, const sigset_t *set) {
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(set, &info);

        if (sig == -1) {
            if (errno == EINTR)
                continue;
            perror("kafka-broker: sigwaitinfo");
            return;
        }
        if (sig == SIGUSR1) {
            brokerDown(c);
        } else if (sig == SIGUSR2) {
            brokerUp(c);
        } else {
            fprintf(stderr, "kafka-broker: %s, stopping\n", strsignal(sig));
            return;
        }
    }
}

/* Blocks the signals the broker takes with sigwaitinfo() and arranges for
 * SIGTERM when the parent dies. Must run before any thread exists so every
 * thread inherits the mask. */
static int brokerSignalsInit(sigset_t *set) {
    pid_t parent;

    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0) {
        fprintf(stderr, "kafka-broker: cannot block signals\n");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The second getppid() closes the race with a parent that died before
     * prctl() took effect. */
    parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != parent) {
        fprintf(stderr, "kafka-broker: parent exited during start\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    brokerOptions opts;
    brokerCluster cluster;
    sigset_t set;
    rd_kafka_t *rk;
    const char *bootstraps;
    int rc = brokerParseArgs(argc, argv, &opts);

    if (rc != 0) {
        if (rc < 0)
            brokerUsage(stderr);
        return rc < 0 ? 2 : 0;
    }
    if (brokerSignalsInit(&set) != 0)
        return 1;

    memset(&cluster, 0, sizeof(cluster));
    cluster.brokers = opts.brokers;
    for (int i = 0; i < BROKER_MAX; i++)
        cluster.holds[i] = -1;
    if (!(rk = brokerHandleNew()))
        return 1;
    if (!(cluster.mcluster = brokerClusterNew(rk, &opts))) {
        rd_kafka_destroy(rk);
        return 1;
    }
    bootstraps = rd_kafka_mock_cluster_bootstraps(cluster.mcluster);
    if (brokerPortsParse(bootstraps, cluster.ports, opts.brokers) != 0) {
        fprintf(stderr, "kafka-broker: unexpected bootstrap list '%s'\n", bootstraps);
        rc = 1;
    } else if (brokerTopicsCreate(cluster.mcluster, &opts) != 0) {
        rc = 1;
    } else {
        printf("bootstrap=%s\n", bootstraps);
        fflush(stdout);
        fprintf(stderr, "kafka-broker: pid %d, %d broker(s) ready at %s\n", (int)getpid(),
                opts.brokers, bootstraps);
        brokerServe(&cluster, &set);
    }

    rd_kafka_mock_cluster_destroy(cluster.mcluster);
    rd_kafka_destroy(rk);
    for (int i = 0; i < BROKER_MAX; i++) {
        if (cluster.holds[i] != -1)
            close(cluster.holds[i]);
    }
    fprintf(stderr, "kafka-broker: %s\n", rc ? "failed" : "stopped");
    return rc;
}
