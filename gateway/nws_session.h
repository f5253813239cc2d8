/*  nws_session - one WebSocket client of the gateway: its state, the
    message it is sending, the frames waiting for it, and its keepalive.

    Internal to the gateway, and single-threaded (the loop's thread). A
    session is lws's per-connection user data, zeroed by lws, so it has
    no new/destroy pair: the gateway moves it through its states, and
    frees what it holds with nws_session_release.

        HTTP ──filter──> JOINING ──established──> OPEN ──close──> CLOSING
          └──────────────────┴─────────────────────┴──────────────┴──> GONE

    Only OPEN and CLOSING sessions are members of their room; a JOINING
    one is counted in its room's `joining` (the room must not be freed
    under it), and a GONE one has left everything.
*/
#ifndef NWS_SESSION_H
#define NWS_SESSION_H

#include <libwebsockets.h>
#include <stdint.h>

#include "nws_frame.h"

#define NWS_SESSION_BATCH_BYTES 262144 /* most bytes of small frames sent in one write */
#define NWS_SESSION_RX_RESERVE 65536   /* most reserved for a message before it arrives */
#define NWS_SESSION_CLOSE_GRACE_SECS 5 /* to send a close frame to a stuck reader */

typedef enum {
    NWS_SESSION_HTTP = 0,           /* plain HTTP, or a handshake not yet accepted */
    NWS_SESSION_JOINING,            /* handshake accepted, 101 not yet sent */
    NWS_SESSION_OPEN,               /* WebSocket open, a member of its room */
    NWS_SESSION_CLOSING,            /* close decided; waiting to send it */
    NWS_SESSION_GONE                /* left its room; lws is closing it */
} nws_session_state_t;

typedef struct nws_room_t nws_room_t;
typedef struct nws_session_t nws_session_t;

struct nws_session_t {
    struct lws *wsi;                /* the connection, from OPEN on */
    nws_session_state_t state;      /* see above */
    nws_room_t *room;               /* its room from JOINING on, until GONE */
    nws_session_t *prev, *next;     /* room membership, while OPEN/CLOSING */
    int corked;                     /* frames queued, not yet written */
    nws_session_t *cork_prev, *cork_next; /* in the list of those */
    uint32_t id;                    /* connection number: low half of origin */
    uint64_t seq;                   /* last sequence number we sent */
    uint64_t marked_seq;            /* seq when its marks began */
    int mark_ticks;                 /* marks still to send for it */
    int64_t sent_at;                /* zclock_mono of its last message */
    int64_t first_sent_at;          /* and of its first */
    int64_t joined_at;              /* zclock_mono when it joined */
    int is_proxy;                   /* a peer proxy's link */
    char proxy_peer [64];           /* which proxy: "id:..." or "mac:...", or "" */
    int shadowed;                   /* another link of that proxy gets our messages */
    int streamed;                   /* an nws peer's link: told its stream position */
    uint8_t origin_slot;            /* its count in room->web_origins; 0 = none */
    uint64_t stream_from;           /* first stream index it gets (replay) */
    int unsure;                     /* joined while the room was unconfirmed */
    nws_frame_t *rx;                /* message being reassembled, or NULL */
    size_t rx_utf8;                 /* bytes of a text rx known to be whole UTF-8 */
    nws_queue_t queue;              /* frames waiting to be written */
    char peer [48];                 /* peer address, counted by admission */
    int64_t last_rx;                /* zclock_mono when we last heard from it */
    int ping_due;                   /* send a ping at the next WRITEABLE */
    int ping_sent;                  /* a ping is out, unanswered */
    int64_t ping_sent_at;           /* zclock_mono when it went */
    uint16_t close_code;            /* when CLOSING */
    const char *close_reason;       /* when CLOSING, static */
};

/*  The client was heard from (a frame or a pong): it is alive.  */
void nws_session_heard (nws_session_t *self);

/*  Decides to close an OPEN session with code and a static reason: the
    close frame goes out from its next WRITEABLE callback (never a free in
    the middle of a fan-out), or the connection is dropped if the peer
    reads nothing for NWS_SESSION_CLOSE_GRACE_SECS. Anything else is
    left alone.  */
void nws_session_close (nws_session_t *self, uint16_t code, const char *reason);

typedef enum {
    NWS_SESSION_RX_MORE = 0,        /* part of a message: wait for the rest */
    NWS_SESSION_RX_MESSAGE,         /* a whole message: take it from self->rx */
    NWS_SESSION_RX_TOO_BIG,         /* over max_message: close (1009 set) */
    NWS_SESSION_RX_BAD_UTF8,        /* text that is not UTF-8: close (1007 set) */
    NWS_SESSION_RX_FAILED           /* out of memory: close */
} nws_session_rx_t;

/*  Appends one piece (in, len) of an OPEN session's message, read by lws
    from wsi. A message is judged by the length its frame announces, and
    text as it comes, at its first impossible byte. Anything but MORE or
    MESSAGE means the connection must close; its close code is set.  */
nws_session_rx_t nws_session_receive (nws_session_t *self, struct lws *wsi,
                                      const void *in, size_t len, uint64_t max_message);

/*  Writes what is due from a WRITEABLE callback: the close frame of a
    CLOSING session, a ping, or queued frames (small ones framed here and
    sent together in one write). Returns -1 to close the connection.  */
int nws_session_writeable (nws_session_t *self, struct lws *wsi);

/*  Writes into out the header of a final, unmasked server frame of kind
    (NWS_KIND_TEXT or _BINARY) and len payload bytes. Returns its length
    (2, 4 or 10 bytes).  */
size_t nws_session_frame_header (uint8_t *out, uint8_t kind, size_t len);

/*  RFC 6455 7.4: 1 if a peer may send code in a close frame, else 0.  */
int nws_session_close_code_valid (unsigned code);

/*  Judges the payload of a client's close frame: 0 if it may be echoed,
    1002 for a bad code or length, 1007 for a reason that is not UTF-8.  */
int nws_session_close_check (const uint8_t *payload, size_t len);

/*  The client sent a close frame (payload in, len): nothing it sent after
    that counts, and a message it left half-sent is dropped. Returns 0 to
    let lws echo it, or the code of the close frame written instead (see
    nws_session_close_check): lws must then just close.  */
int nws_session_peer_close (nws_session_t *self, struct lws *wsi, const void *in, size_t len);

typedef enum {
    NWS_KEEPALIVE_NONE = 0,         /* heard from lately, or a ping is out */
    NWS_KEEPALIVE_PING,             /* silent for ping_ms: ping it */
    NWS_KEEPALIVE_DROP              /* silent for idle_ms, ping unanswered */
} nws_keepalive_t;

/*  What an OPEN session needs at now (zclock_mono). One silent for
    idle_ms is dropped only once a ping went unanswered for a second, so
    that a sweep's own step never makes a live client look silent.  */
nws_keepalive_t nws_session_keepalive (const nws_session_t *self, int64_t now,
                                       int64_t ping_ms, int64_t idle_ms);

/*  Adds self to the list *corked of sessions with frames to write, once.
    Returns 1 if the list was empty before.  */
int nws_session_cork (nws_session_t *self, nws_session_t **corked);

/*  Takes self off that list, if it is on it.  */
void nws_session_uncork (nws_session_t *self, nws_session_t **corked);

/*  Drops what the session holds: its queue, its half-received message
    and its place in *corked.  */
void nws_session_release (nws_session_t *self, nws_session_t **corked);

#endif
