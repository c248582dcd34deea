/* resolve: asynchronous host name lookups for the probes (c-ares on the libuv loop), so a
 * probe of "db.example.com" never waits on a thread pool or blocks the loop. Numeric addresses
 * are answered at once, without a lookup. One resolver per loop (probe_run_resolver), using the
 * system's resolv.conf and /etc/hosts. Loop thread only. */
#ifndef DD_RESOLVE_H
#define DD_RESOLVE_H

#include <sys/socket.h>
#include <uv.h>

typedef struct resolver resolver;
typedef struct resolve_req resolve_req;

/* Address family preference of a lookup. */
typedef enum resolve_family {
    RESOLVE_ANY,  /* IPv4 first, then IPv6 (blackbox_exporter's default preference) */
    RESOLVE_IPV4, /* only IPv4 */
    RESOLVE_IPV6, /* only IPv6 */
    RESOLVE_IPV6_FIRST,
} resolve_family;

/* A lookup's answer: rc 0 with the address (port set from the request) and its length, or a
 * negative code (-ENOENT: no such name or no address of the family; -ETIMEDOUT; -EIO other
 * failures) with a message in err. sa is valid during the call only. */
typedef void (*resolve_fn)(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                           const char *err);

/* Makes a resolver on loop. Returns 0, -ENOMEM or -EIO (c-ares could not read the system's
 * resolver configuration). */
int resolver_new(resolver **out, uv_loop_t *loop);
/* Looks up host (a name, an IPv4 address, or an IPv6 address with or without brackets) and
 * calls cb with the first address of the preferred family, with port set. A numeric address
 * calls cb before this returns (*req is then NULL). Otherwise *req is the lookup in progress,
 * for resolve_cancel until cb runs. Returns 0 or -ENOMEM (cb not called). */
int resolve_start(resolver *r, const char *host, int port, resolve_family fam, resolve_fn cb,
                  void *ctx, resolve_req **req);
/* Forgets a lookup in progress: its callback will not be called. Accepts NULL. */
void resolve_cancel(resolve_req *req);
/* Cancels every lookup (no callbacks) and frees the resolver once libuv has closed its
 * handles. Accepts NULL. */
void resolver_close(resolver *r);

#endif
