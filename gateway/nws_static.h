/*  nws_static - the web files the gateway serves from its own binary:
    the JavaScript API (/namedwebsockets.js as a classic script,
    /namedwebsockets.mjs as an ES module) and the test console (/console).

    The files live in gateway/www/ and are compiled in at build time (see
    gateway/www/embed.cmake), so the gateway needs nothing on disk and
    works offline. The JS API has the gateway's port written in when it
    is served, so a page that loads it from a gateway talks to that
    gateway by default.

    Caching: every file is sent with `Cache-Control: no-cache` and a strong
    ETag (a hash of the file at build time plus the port written in); a
    browser revalidates each time and gets a bodiless 304 when nothing
    changed, so a new gateway build is never masked by a stale copy.
    The JS API is open to every origin (Access-Control-Allow-Origin: *);
    the console is for loopback peers only and forbids loading anything
    but itself (Content-Security-Policy).

    Stateless and single-threaded, like the lws service thread that calls it.
*/
#ifndef NWS_STATIC_H
#define NWS_STATIC_H

#include <libwebsockets.h>
#include <stdint.h>

typedef struct nws_static_file_t nws_static_file_t;

/*  The web file served at path (already normalised by lws, without query
    string), or NULL if path is not one of ours.  */
const nws_static_file_t *nws_static_lookup (const char *path);

/*  Checks whether this request may have file. Returns 0 if so, else the
    HTTP status to answer with (403 for the console and a peer that is not
    on a loopback address, 405 for a method other than GET or HEAD) and
    sets *why to a one-line reason.  */
int nws_static_check (struct lws *wsi, const nws_static_file_t *file, const char **why);

/*  Answers the request with file (200, or 304 when If-None-Match names its
    ETag; headers only for HEAD), writing port into the JS API, and
    finishes the transaction. Returns what the lws callback should return
    (0, or -1 to close the connection).  */
int nws_static_respond (struct lws *wsi, const nws_static_file_t *file, uint16_t port);

#endif
