/*  nws_link - one proxy link: a WebSocket client connection from this
    host's nws-discovery to a peer proxy's /broadcast/<name>, with the
    header X-BroadcastWebSocket-Proxy: true (the original's convention).

    The dialing side only reads: every whole message it receives is handed
    to the owner (who publishes it into the local hub, marked as coming
    from a proxy).

    A link has a list of addresses of one peer, best first. It dials them
    in turn: a failed dial moves on to the next address at once, and only
    when all have failed does it wait (100 ms doubling to 5 s) and start
    over. A link that closes is dialed again the same way until the owner
    closes it.

    Identity: the request carries X-Nws-Proxy-Id (ours) and an nws gateway
    answers with its own (nws_runtime.h). Before the first message is
    read, the link knows which proxy it reached: the peer's id, or for a
    peer that sends none (the original proxy), "address:port". A link that
    reached our own proxy closes and never dials again (a self-link); the
    owner is asked whether to keep any other (on_open), so that it can
    keep one link per proxy and channel whatever addresses lead there.

    Resuming: an nws gateway tells the link where its stream of the
    channel starts (X-Nws-Stream: <gateway>:<room>:<index>); the link
    counts what it reads, and when it dials again asks to resume there
    (X-Nws-Resume), so that a link cut for a moment gets exactly what it
    missed from the peer's replay ring (nws_replay.h). It also says since
    when it has missed messages (X-Nws-Since-Ms): since this host's
    clients joined (a first link), or since the break; a peer whose
    gateway restarted (a new stream) replays what it got since then. When
    the peer no longer has everything (the window passed), the link tells
    its owner (on_loss) before it reads anything. A peer without streams (the original proxy) cannot resume:
    every reconnection after a break is reported as a loss.

    Runs on the lws service thread. The owner's lws protocol named
    NWS_LINK_PROTOCOL must pass its callbacks to nws_link_callback().
*/
#ifndef NWS_LINK_H
#define NWS_LINK_H

#include <libwebsockets.h>
#include <stdint.h>

#include "nws_channel.h"
#include "nws_text.h"

#define NWS_LINK_PROTOCOL "nws-link"
#define NWS_LINK_ADDRESSES 8        /* addresses a link tries */
#define NWS_LINK_ADDRESS_MAX 256    /* one numeric address or host name, NUL */
#define NWS_LINK_NAME_MAX (NWS_LINK_ADDRESS_MAX + NWS_NAME_MAX + 32) /* a link's name */
#define NWS_LINK_ID_HEADER "x-nws-proxy-id:"

typedef struct nws_link_t nws_link_t;

/*  Gets each whole message (kind is NWS_KIND_TEXT or NWS_KIND_BINARY).  */
typedef void (nws_link_fn) (void *arg, nws_link_t *link, uint8_t kind,
                            const void *data, size_t len);

/*  Told that messages from the peer were lost: a link that came back
    could not resume where it stopped, or the original proxy closed it for
    reading too slowly (4001). The link goes on by itself.  */
typedef void (nws_link_loss_fn) (void *arg, nws_link_t *link);

/*  Told that the link is open and whom it reached (nws_link_peer). Return
    0 to keep it, or -1 to have it closed at once, before any message is
    read: the link is then the owner's no more, and frees itself.  */
typedef int (nws_link_open_fn) (void *arg, nws_link_t *link);

typedef struct {
    nws_link_fn *on_message;        /* each whole message */
    nws_link_loss_fn *on_loss;      /* messages were lost */
    nws_link_open_fn *on_open;      /* keep it? (may be NULL: yes) */
    void *arg;                      /* for the three */
} nws_link_handlers_t;

/*  Creates a link for channel, named name in logs and status; own_id is
    our proxy id, since when (zclock_mono ms) it wants the messages sent
    (when this host's clients joined the channel). It dials once it has addresses (nws_link_set_addresses).
    Returns NULL when out of memory.  */
nws_link_t *nws_link_new (struct lws_context *context, struct lws_vhost *vhost,
                          const char *name, const nws_channel_t *channel,
                          const char *own_id, int64_t since, uint64_t max_message,
                          const nws_link_handlers_t *handlers);

/*  Dials with TLS from now on: the vhost's client context holds the
    network key (nws_netkey_tls_client), and the peer must hold it too.  */
void nws_link_set_tls (nws_link_t *self);

/*  Sets the peer's port and addresses (count of them, best first; at most
    NWS_LINK_ADDRESSES are kept). An open link stays on the address it
    uses; a link that is waiting dials the new list at once.  */
void nws_link_set_addresses (nws_link_t *self, uint16_t port,
                             const char (*addresses) [NWS_LINK_ADDRESS_MAX], int count);

/*  The link's number (unique in this process) and its next sequence
    number, for the envelopes of what it publishes.  */
uint32_t nws_link_id (nws_link_t *self);
uint64_t nws_link_next_seq (nws_link_t *self);

/*  Whether the owner should publish a mark for this link now (a control
    message with the last sequence number used, so that receivers notice
    lost messages nothing followed): once a second for three seconds after
    its last message, and again after the hub came back (again = 1).
    Returns 1 and sets *seq, and *age_ms to how long ago that message was
    published, when one is due.  */
int nws_link_mark (nws_link_t *self, int again, uint64_t *seq, uint64_t *age_ms);

/*  1 if the link is open (not dialing or waiting to dial).  */
int nws_link_is_open (nws_link_t *self);

/*  Whom an open link reached: "id:<proxy id>" for an nws peer, else
    "at:<address>:<port>". Empty before the first open.  */
const char *nws_link_peer (nws_link_t *self);

/*  The link's name and channel; a new name (for logs and status).  */
const char *nws_link_name (nws_link_t *self);
void nws_link_set_name (nws_link_t *self, const char *name);
const nws_channel_t *nws_link_channel (nws_link_t *self);

/*  Appends the link's status as a JSON object.  */
void nws_link_status (nws_link_t *self, nws_text_t *out);

/*  Stops the link; the memory goes once lws has closed the connection.
    Nulls *self_p. Safe on NULL.  */
void nws_link_close (nws_link_t **self_p);

/*  The protocol callback for NWS_LINK_PROTOCOL.  */
int nws_link_callback (struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

#endif
