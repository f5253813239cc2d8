/*  nws_link - one proxy link: a WebSocket client connection from this
    host's nws-discovery to a peer proxy's /broadcast/<name>, with the
    header X-BroadcastWebSocket-Proxy: true (DESIGN.md section 5).

    The dialing side only reads: every whole message it receives is handed
    to the owner (who publishes it into the local hub, marked as coming
    from a proxy). A link that fails or closes is dialed again with
    exponential backoff (100 ms doubling to 5 s) until it is closed.

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

typedef struct nws_link_t nws_link_t;

/*  Gets each whole message (kind is NWS_KIND_TEXT or NWS_KIND_BINARY).  */
typedef void (nws_link_fn) (void *arg, nws_link_t *link, uint8_t kind,
                            const void *data, size_t len);

/*  Told that messages were lost on the link: the peer closed it because
    we read too slowly (4001). The link dials again by itself.  */
typedef void (nws_link_loss_fn) (void *arg, nws_link_t *link);

/*  Creates a link to ws://address:port/broadcast/<channel> and dials it.
    key names the link in logs and status. Returns NULL when out of memory.  */
nws_link_t *nws_link_new (struct lws_context *context, struct lws_vhost *vhost,
                          const char *key,
                          const nws_channel_t *channel, const char *address,
                          uint16_t port, uint64_t max_message,
                          nws_link_fn *handler, nws_link_loss_fn *on_loss, void *arg);

/*  The link's number (unique in this process) and its next sequence
    number, for the envelopes of what it publishes.  */
uint32_t nws_link_id (nws_link_t *self);
uint64_t nws_link_next_seq (nws_link_t *self);

/*  1 if the link is open (not dialing or waiting to dial).  */
int nws_link_is_open (nws_link_t *self);

/*  The channel linked.  */
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
