/* libFuzzer target: the event store's search syntax (the q= of GET /api/v1/events, outside
 * input translated by evstore_query into an FTS5 query). One store with a handful of events is
 * opened once in a temporary directory; each input (cut at EVSTORE_Q_MAX bytes, NUL bytes
 * ending it) is run as a search. A search either answers (at most the limit, every row valid)
 * or fails with -EINVAL and a reason that starts with "search: " — never another error, never
 * SQLite's own message, never a crash. */
#include "events/evstore.h"
#include "lib/event.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #x, __FILE__, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static evstore *store;
static char dir[] = "/tmp/fuzz-evsearch.XXXXXX";

static void cleanup(void)
{
    evstore_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_evsearch: could not remove %s\n", dir);
}

static void setup(void)
{
    static const char *const texts[] = {
        "sshd accepted password for root from 10.0.0.5 port 22",
        "kernel: eth0 link down",
        "disk /dev/sda1 almost full (97%)",
        "\"quoted\" words AND OR NOT NEAR( col:umn * ^ - + {braces}",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac unicode",
    };
    char err[256];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(evstore_open(&store, dir, NULL, err, sizeof err) == 0);
    atexit(cleanup);
    event ev[5];
    for (size_t i = 0; i < 5; i++) {
        event_init(&ev[i]);
        ev[i].t_ms = 1767225600000LL + (int64_t)i * 1000; /* 2026-01-01, fixed */
        ev[i].recv_ms = ev[i].t_ms;
        ev[i].kind = EVENT_KIND_SYSLOG;
        ev[i].host = i % 2 ? "web1" : "db-2";
        ev[i].app = "app";
        ev[i].title = texts[i];
        ev[i].text = texts[i];
    }
    CHECK(evstore_append(store, ev, 5, NULL) == 0);
}

static int row(void *ctx, int64_t id, const event *ev)
{
    size_t *n = ctx;
    CHECK(id > 0 && ev && ev->title && ev->text);
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        setup();
    char q[EVSTORE_Q_MAX + 64];
    size_t n = size < sizeof q - 1 ? size : sizeof q - 1;
    memcpy(q, data, n);
    q[n] = '\0';
    evstore_filter f;
    memset(&f, 0, sizeof f);
    f.max_severity = -1;
    f.q = q;
    f.limit = 3;
    char err[256] = "";
    int64_t next = 0;
    size_t rows = 0;
    int rc = evstore_query(store, &f, row, &rows, &next, err, sizeof err);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0)
        CHECK(rows <= 3);
    else
        CHECK(strncmp(err, "search: ", 8) == 0 || strncmp(err, "limit", 5) == 0);
    return 0;
}
