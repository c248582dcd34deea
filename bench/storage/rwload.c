/* rwload: replays a dsgen payload file (bench/storage/dsgen.c) to a remote-write URL over N
 * concurrent keep-alive connections (libcurl multi), in file order, and reports what the
 * receiver accepted.
 *
 *   rwload --url URL [--conns 4] [--token T | --token-file F] [--progress SECONDS]
 *          [--max-requests N] PAYLOAD
 *
 * A request answered 2xx counts as stored; anything else (Prometheus answers 400 for samples out
 * of bounds or out of order, 5xx, connection errors) counts as failed and its samples as lost
 * (an upper bound: a receiver may have stored part of a refused request). The first few error
 * answers are printed on stderr. Requests are not retried.
 *
 * Prints one line of key=value pairs on stdout:
 *   requests ok failed samples samples_ok samples_lost wall_s samples_per_s mib_per_s
 * and exits 0 if every request was 2xx, 1 if some failed, 2 on usage or file errors. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_ERR_PRINT 5

typedef struct rec {
    const unsigned char *body;
    uint32_t len, nsamples;
} rec;

typedef struct slot {
    CURL *h;
    size_t rec; /* index of the record in flight */
    char resp[256];
    size_t resp_len;
    int busy;
} slot;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Keeps the start of each answer (error reasons are short); discards the rest. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    size_t len = size * n;
    size_t room = sizeof s->resp - 1 - s->resp_len;
    size_t c = len < room ? len : room;
    memcpy(s->resp + s->resp_len, p, c);
    s->resp_len += c;
    s->resp[s->resp_len] = '\0';
    return len;
}

static int usage(void)
{
    fprintf(stderr, "usage: rwload --url URL [--conns 4] [--token T | --token-file F] "
                    "[--progress SECONDS] [--max-requests N] PAYLOAD\n");
    return 2;
}

static long parse_long(const char *s, long lo, long hi, int *ok)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        *ok = 0;
    return v;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *path = NULL, *token = NULL, *token_file = NULL;
    long conns = 4, progress = 0, max_requests = -1;
    int ok = 1;
    char tokbuf[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (path)
                return usage();
            path = a;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--conns"))
            conns = parse_long(v, 1, MAX_CONNS, &ok);
        else if (!strcmp(a, "--token"))
            token = v;
        else if (!strcmp(a, "--token-file"))
            token_file = v;
        else if (!strcmp(a, "--progress"))
            progress = parse_long(v, 0, 3600, &ok);
        else if (!strcmp(a, "--max-requests"))
            max_requests = parse_long(v, 0, 2147483647L, &ok);
        else
            return usage();
    }
    if (!ok || !url || !path)
        return usage();
    if (token_file) {
        FILE *tf = fopen(token_file, "r");
        if (!tf || !fgets(tokbuf, sizeof tokbuf, tf)) {
            fprintf(stderr, "rwload: cannot read %s\n", token_file);
            return 2;
        }
        fclose(tf);
        tokbuf[strcspn(tokbuf, "\r\n")] = '\0';
        token = tokbuf;
    }

    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || sb.st_size < 8) {
        fprintf(stderr, "rwload: cannot read %s\n", path);
        return 2;
    }
    const unsigned char *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED || memcmp(map, "DDRWPL1\n", 8)) {
        fprintf(stderr, "rwload: %s is not a dsgen payload file\n", path);
        return 2;
    }
    madvise((void *)map, (size_t)sb.st_size, MADV_SEQUENTIAL);

    /* index the records */
    size_t nrec = 0, cap = 0;
    rec *recs = NULL;
    unsigned long long total_samples = 0;
    for (size_t off = 8; off < (size_t)sb.st_size;) {
        if ((size_t)sb.st_size - off < 8) {
            fprintf(stderr, "rwload: truncated record header at %zu\n", off);
            return 2;
        }
        uint32_t len = get_u32(map + off), ns = get_u32(map + off + 4);
        if (len > (size_t)sb.st_size - off - 8) {
            fprintf(stderr, "rwload: truncated record at %zu\n", off);
            return 2;
        }
        if (nrec == cap) {
            cap = cap ? cap * 2 : 65536;
            recs = realloc(recs, cap * sizeof *recs);
            if (!recs)
                return 2;
        }
        recs[nrec++] = (rec){map + off + 8, len, ns};
        total_samples += ns;
        off += 8 + (size_t)len;
    }
    if (max_requests >= 0 && (size_t)max_requests < nrec)
        nrec = (size_t)max_requests;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/x-protobuf");
    hdr = curl_slist_append(hdr, "Content-Encoding: snappy");
    hdr = curl_slist_append(hdr, "X-Prometheus-Remote-Write-Version: 0.1.0");
    hdr = curl_slist_append(hdr, "User-Agent: dashdot-rwload");
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    char auth[600];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    slot slots[MAX_CONNS];
    memset(slots, 0, sizeof slots);
    for (long i = 0; i < conns; i++) {
        slots[i].h = curl_easy_init();
        curl_easy_setopt(slots[i].h, CURLOPT_URL, url);
        curl_easy_setopt(slots[i].h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(slots[i].h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(slots[i].h, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(slots[i].h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(slots[i].h, CURLOPT_TIMEOUT, 300L);
        curl_easy_setopt(slots[i].h, CURLOPT_TCP_NODELAY, 1L);
    }

    size_t next = 0, done = 0, nok = 0, nfail = 0, printed = 0;
    unsigned long long samples_ok = 0, samples_lost = 0, bytes = 0;
    double t0 = now_s(), last_progress = t0;
    while (done < nrec) {
        for (long i = 0; i < conns && next < nrec; i++) {
            slot *s = &slots[i];
            if (s->busy)
                continue;
            s->rec = next++;
            s->resp_len = 0;
            s->resp[0] = '\0';
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, (const char *)recs[s->rec].body);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)recs[s->rec].len);
            curl_multi_add_handle(m, s->h);
            s->busy = 1;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q, freed = 0;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
            const rec *r = &recs[s->rec];
            if (msg->data.result == CURLE_OK && code >= 200 && code < 300) {
                nok++;
                samples_ok += r->nsamples;
            } else {
                nfail++;
                samples_lost += r->nsamples;
                if (printed++ < MAX_ERR_PRINT)
                    fprintf(stderr, "rwload: request %zu: %s, HTTP %ld: %.200s\n", s->rec,
                            curl_easy_strerror(msg->data.result), code, s->resp);
            }
            bytes += r->len;
            curl_multi_remove_handle(m, s->h);
            s->busy = 0;
            done++;
            freed = 1;
        }
        /* a freed connection gets its next request at once; wait only when all are busy */
        if (done < nrec && !freed)
            curl_multi_poll(m, NULL, 0, 100, NULL);
        if (progress) {
            double t = now_s();
            if (t - last_progress >= (double)progress) {
                last_progress = t;
                fprintf(stderr, "rwload: %zu/%zu requests, %.0f samples/s, %zu failed\n", done,
                        nrec, (double)(samples_ok + samples_lost) / (t - t0), nfail);
            }
        }
    }
    double wall = now_s() - t0;
    unsigned long long samples = samples_ok + samples_lost;
    printf("requests=%zu ok=%zu failed=%zu samples=%llu samples_ok=%llu samples_lost=%llu "
           "wall_s=%.3f samples_per_s=%.0f mib_per_s=%.2f\n",
           nrec, nok, nfail, samples, samples_ok, samples_lost, wall,
           wall > 0 ? (double)samples_ok / wall : 0.0,
           wall > 0 ? (double)bytes / wall / 1048576.0 : 0.0);
    for (long i = 0; i < conns; i++)
        curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    curl_global_cleanup();
    free(recs);
    munmap((void *)map, (size_t)sb.st_size);
    close(fd);
    (void)total_samples;
    return nfail ? 1 : 0;
}
