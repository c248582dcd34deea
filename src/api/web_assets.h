/* web_assets: the web UI's built files (web/dist), embedded into the binary at build time by
 * scripts/embed.py. Read-only data; any thread. */
#ifndef DD_WEB_ASSETS_H
#define DD_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;         /* "/index.html", "/assets/index-abc123.js", ... */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
    int immutable;            /* content-hashed file name: may be cached forever */
} web_asset;

/* Returns the asset at `path` (e.g. "/index.html"), or NULL. */
const web_asset *web_asset_find(const char *path);

#endif
