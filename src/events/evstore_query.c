/* evstore_query: answering event queries, newest first, one day at a time.
 *
 * Each day is asked with one SQL statement whose ORDER BY id DESC LIMIT the index answers
 * without sorting: the id range (time range and cursor) is a rowid range, a device or sensor
 * filter walks ev_device / ev_sensor (whose entries end in the rowid), a search walks the FTS5
 * doclist backwards with the rowid range given to FTS5 (fts CROSS JOIN ev keeps it the outer
 * loop). The walk stops at limit + 1 rows: the extra row says whether a next page exists. */
#include "evstore_int.h"

#include "../lib/log.h"
#include "../lib/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define QUERY_SQL_MAX (8u << 20)

typedef struct qrun {
    evstore *s;
    const evstore_filter *q;
    evstore_row_fn fn;
    void *ctx;
    const char *match; /* FTS5 expression or NULL */
    int64_t lo, hi;    /* global id range */
    size_t delivered;
    int64_t last; /* last delivered id */
    int more, stopped;
    evs_blkcache bc;
    char *err;
    size_t errcap;
} qrun;

static void in_list(buf *b, const char *col, const int64_t *v, size_t n)
{
    if (n == 1) {
        buf_printf(b, " AND %s = %" PRId64, col, v[0]);
        return;
    }
    buf_printf(b, " AND %s IN (", col);
    for (size_t i = 0; i < n; i++)
        buf_printf(b, i ? ",%" PRId64 : "%" PRId64, v[i]);
    buf_putc(b, ')');
}

#define SEV_INDEXED 4 /* ev_sev holds the rows of severity <= 4 (warning and worse) */

/* The query of one day; sev_arm >= 0: only rows of that severity, through ev_sev. */
static void build_select(const qrun *r, buf *b, int sev_arm)
{
    const evstore_filter *q = r->q;
    buf_puts(b, "SELECT e.id, e.t, e.recv, e.device, e.sensor, e.sev, e.fac, e.status,"
                " (SELECT s FROM str WHERE id = e.kind), (SELECT s FROM str WHERE id = e.host),"
                " (SELECT s FROM str WHERE id = e.app), (SELECT s FROM str WHERE id = e.source),"
                " e.fp, e.title, e.text, e.fields, e.blk, e.off FROM ");
    if (sev_arm >= 0)
        buf_printf(b, "ev e WHERE e.sev = %d AND e.sev <= %d AND e.id BETWEEN ?1 AND ?2", sev_arm,
                   SEV_INDEXED);
    else if (r->match)
        buf_puts(b, "fts CROSS JOIN ev e ON e.id = fts.rowid WHERE fts MATCH ?4"
                    " AND fts.rowid BETWEEN ?1 AND ?2");
    else
        buf_puts(b, "ev e WHERE e.id BETWEEN ?1 AND ?2");
    /* Ids are whole seconds: the milliseconds of the range's ends are checked on the row. */
    if (q->from_ms > 0 || q->to_ms > 0)
        buf_printf(b, " AND (e.id >> %d) * 1000 + e.off BETWEEN ?7 AND ?8", EVS_SEQ_BITS);
    if (q->devices_set)
        in_list(b, "e.device", q->devices, q->ndevices);
    if (q->nsensors)
        in_list(b, "e.sensor", q->sensors, q->nsensors);
    if (sev_arm < 0 && q->max_severity >= 0 && q->max_severity < EVENT_SEVERITY_N - 1)
        buf_printf(b, " AND e.sev <= %d", q->max_severity);
    if (q->kind) {
        buf_puts(b, " AND e.kind = (SELECT id FROM str WHERE s = ?5)");
        if (strcmp(q->kind, EVENT_KIND_SYSLOG) != 0) /* lets the partial index ev_kind answer */
            buf_puts(b, " AND e.kind <> 1");
    }
    if (q->fingerprint) /* the literal lets the partial index ev_fp answer */
        buf_puts(b, q->fingerprint[0] ? " AND e.fp = ?6 AND e.fp <> ''" : " AND e.fp = ?6");
}

static int build_sql(const qrun *r, buf *b)
{
    const evstore_filter *q = r->q;
    if (!r->match && !q->devices_set && !q->nsensors && !q->fingerprint && q->max_severity >= 0 &&
        q->max_severity <= SEV_INDEXED) {
        /* Severity drives: one arm per severity, each in id order through ev_sev, merged by
         * SQLite (UNION ALL with ORDER BY is a merge, not a sort). A day without such events
         * costs nothing instead of a scan of every row. */
        for (int k = 0; k <= q->max_severity; k++) {
            if (k)
                buf_puts(b, " UNION ALL ");
            build_select(r, b, k);
        }
        buf_puts(b, " ORDER BY 1 DESC LIMIT ?3");
        return b->err;
    }
    build_select(r, b, -1);
    buf_puts(b, r->match ? " ORDER BY fts.rowid DESC LIMIT ?3" : " ORDER BY e.id DESC LIMIT ?3");
    return b->err;
}

static const char *col_str(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

/* Asks one day. Returns 0 or -errno. */
static int run_day(qrun *r, evs_seg *g, const char *sql)
{
    int64_t base = evs__day_base(g->day);
    int64_t llo = r->lo > base ? r->lo - base : 0;
    int64_t lhi = r->hi - base;
    if (lhi > (EVS_DAY_S << EVS_SEQ_BITS) - 1)
        lhi = (EVS_DAY_S << EVS_SEQ_BITS) - 1;
    if (llo > lhi)
        return 0;
    sqlite3 *db = NULL;
    int rc = evs__reader_get(r->s, g, &db);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = evs__sqlerr(db, src, g->path, "query");
        goto out;
    }
    sqlite3_bind_int64(st, 1, llo);
    sqlite3_bind_int64(st, 2, lhi);
    sqlite3_bind_int64(st, 3, (int64_t)(r->q->limit - r->delivered + 1));
    if (r->match)
        sqlite3_bind_text(st, 4, r->match, -1, SQLITE_STATIC);
    if (r->q->kind)
        sqlite3_bind_text(st, 5, r->q->kind, -1, SQLITE_STATIC);
    if (r->q->fingerprint)
        sqlite3_bind_text(st, 6, r->q->fingerprint, -1, SQLITE_STATIC);
    if (r->q->from_ms > 0 || r->q->to_ms > 0) {
        int64_t day_ms = g->day * EVS_DAY_MS;
        sqlite3_bind_int64(st, 7, r->q->from_ms > 0 ? r->q->from_ms - day_ms : INT64_MIN);
        sqlite3_bind_int64(st, 8, r->q->to_ms > 0 ? r->q->to_ms - day_ms : INT64_MAX);
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = base + sqlite3_column_int64(st, 0);
        if (r->delivered == r->q->limit) {
            r->more = 1;
            break;
        }
        int64_t eff = (id >> EVS_SEQ_BITS) * 1000 + sqlite3_column_int64(st, 17);
        event ev;
        event_init(&ev);
        ev.t_ms = eff + sqlite3_column_int64(st, 1);
        ev.recv_ms = eff + sqlite3_column_int64(st, 2);
        ev.device_id = sqlite3_column_int64(st, 3);
        ev.sensor_id = sqlite3_column_int64(st, 4);
        ev.severity = sqlite3_column_int(st, 5);
        ev.facility = sqlite3_column_int(st, 6);
        ev.status = sqlite3_column_int(st, 7);
        ev.kind = col_str(st, 8);
        ev.host = col_str(st, 9);
        ev.app = col_str(st, 10);
        ev.source = col_str(st, 11);
        ev.fingerprint = col_str(st, 12);
        if (sqlite3_column_type(st, 16) == SQLITE_NULL) {
            ev.title = col_str(st, 13);
            ev.text = sqlite3_column_type(st, 14) == SQLITE_NULL ? ev.title : col_str(st, 14);
            ev.fields = col_str(st, 15);
        } else if ((rc = evs__blk_payload(&r->bc, db, g, sqlite3_column_int64(st, 16), &ev))) {
            snprintf(r->err, r->errcap, "events: %s: cannot read a sealed block", g->path);
            goto out;
        }
        r->delivered++;
        r->last = id;
        if (r->fn(r->ctx, id, &ev)) {
            r->stopped = 1;
            break;
        }
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        if (r->match && src == SQLITE_ERROR) {
            log_warn("events: search %s: %s", r->match, sqlite3_errmsg(db));
            snprintf(r->err, r->errcap, "search: not understood");
            rc = -EINVAL;
        } else {
            rc = evs__sqlerr(db, src, g->path, "query");
            snprintf(r->err, r->errcap, "events: %s: %s", g->path, sqlite3_errstr(src));
        }
    }
out:
    sqlite3_finalize(st);
    evs__reader_put(r->s, g, db);
    return rc;
}

int evstore_query(evstore *s, const evstore_filter *q, evstore_row_fn fn, void *ctx, int64_t *next,
                  char *err, size_t errcap)
{
    char dummy[1];
    if (!err || !errcap)
        err = dummy, errcap = sizeof dummy;
    err[0] = '\0';
    if (next)
        *next = 0;
    if (!s || !q || !fn) {
        snprintf(err, errcap, "events: no query");
        return -EINVAL;
    }
    if (q->limit < 1 || q->limit > EVSTORE_LIMIT_MAX) {
        snprintf(err, errcap, "limit: must be 1..%d", EVSTORE_LIMIT_MAX);
        return -EINVAL;
    }
    if (q->max_severity < -1) {
        snprintf(err, errcap, "severity: must be -1 (any) or 0..7");
        return -EINVAL;
    }
    if (q->from_ms > 0 && q->to_ms > 0 && q->from_ms > q->to_ms) {
        snprintf(err, errcap, "from: after to");
        return -EINVAL;
    }
    if (q->cursor < 0) {
        snprintf(err, errcap, "cursor: not an event id");
        return -EINVAL;
    }
    if ((q->ndevices && !q->devices) || (q->nsensors && !q->sensors)) {
        snprintf(err, errcap, "events: device or sensor list missing");
        return -EINVAL;
    }
    qrun r;
    memset(&r, 0, sizeof r);
    r.s = s, r.q = q, r.fn = fn, r.ctx = ctx, r.err = err, r.errcap = errcap;
    evs__blkcache_init(&r.bc);
    buf match, sql;
    buf_init(&match, 0);
    buf_init(&sql, QUERY_SQL_MAX);
    evs_seg **segs = NULL;
    size_t nsegs = 0;
    int rc = 0;
    if (q->q) {
        rc = evs__fts_expr(s, q->q, &match, err, errcap);
        if (rc < 0)
            goto out;
        if (rc == 0)
            r.match = match.data;
        rc = 0;
    }
    if (q->devices_set && q->ndevices == 0)
        goto out; /* nothing visible */
    r.lo = q->from_ms > 0
               ? ((q->from_ms > EVS_MS_MAX ? EVS_MS_MAX : q->from_ms) / 1000) << EVS_SEQ_BITS
               : 0;
    r.hi = q->to_ms > 0 && q->to_ms <= EVS_MS_MAX
               ? ((q->to_ms / 1000) << EVS_SEQ_BITS) | EVS_SEQ_MASK
               : INT64_MAX;
    if (q->cursor > 0 && q->cursor - 1 < r.hi)
        r.hi = q->cursor - 1;
    if (r.lo > r.hi)
        goto out;
    if ((rc = build_sql(&r, &sql))) {
        snprintf(err, errcap,
                 rc == -E2BIG ? "events: too many devices or sensors" : "events: out of memory");
        rc = rc == -E2BIG ? -EINVAL : rc;
        goto out;
    }
    int64_t lo_day = (r.lo >> EVS_SEQ_BITS) / EVS_DAY_S;
    int64_t hi_day = (r.hi >> EVS_SEQ_BITS) / EVS_DAY_S;
    if ((rc = evs__segs_range(s, lo_day, hi_day, &segs, &nsegs))) {
        snprintf(err, errcap, "events: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsegs && !rc && !r.more && !r.stopped; i++)
        rc = run_day(&r, segs[i], sql.data);
    if (!rc && next && (r.more || r.stopped))
        *next = r.last;
    if (rc == -ENOMEM)
        snprintf(err, errcap, "events: out of memory");
out:
    evs__segs_release(s, segs, nsegs);
    evs__blkcache_free(&r.bc);
    buf_free(&match);
    buf_free(&sql);
    return rc;
}
