/*  nws_limits - defaults shared by every nws program, and the WebSocket
    close codes nws uses beyond RFC 6455's.  */
#ifndef NWS_LIMITS_H
#define NWS_LIMITS_H

#define NWS_VERSION               "0.1.0"

#define NWS_DEFAULT_PORT          9009
#define NWS_DEFAULT_MAX_MESSAGE   (1024 * 1024)        /* bytes, per message */
#define NWS_DEFAULT_QUEUE_MSGS    4096                 /* per-client send queue */
#define NWS_DEFAULT_QUEUE_BYTES   (64 * 1024 * 1024)   /* per-client send queue */
#define NWS_FILES_RESERVED        128                  /* descriptors a gateway keeps for itself */
#define NWS_DEFAULT_MAX_PER_ADDRESS 1000               /* clients from one address */
#define NWS_DEFAULT_MAX_CHANNELS  10000                /* per gateway process */
#define NWS_DEFAULT_PING_SECS     30                   /* ping a silent client */
#define NWS_DEFAULT_IDLE_SECS     75                   /* drop a silent client */
#define NWS_DEFAULT_HANDSHAKE_SECS 10                  /* HTTP/upgrade timeout */
#define NWS_DEFAULT_REPLAY_MS     5000                 /* broadcast replay window */
#define NWS_DEFAULT_REPLAY_BYTES  (16 * 1024 * 1024)   /* per broadcast channel */
#define NWS_REPLAY_MAX_MSGS       65536                /* per broadcast channel */

/*  Hub high-water marks, in messages per pipe. Large on purpose: a gateway
    drains its SUB socket as fast as it arrives, so these absorb bursts; a
    message dropped anyway is seen by the receiving gateway as a sequence
    gap and its clients are closed with NWS_CLOSE_GAP, never left silent.  */
#define NWS_HUB_HWM               1000000

/*  How long a starting hub collects subscriptions before it accepts
    publishers, so that after a hub restart no message is forwarded before
    the gateways' subscriptions are back.  */
#define NWS_HUB_GRACE_MS          300

/*  Longest wait between a hub client's reconnect attempts: well under the
    grace period, so every subscriber is back before publishers are.  */
#define NWS_HUB_RECONNECT_MAX_MS  100

/*  Close codes (4000-4999 is the application range of RFC 6455).  */
#define NWS_CLOSE_TOO_BIG         1009  /* message larger than the limit */
#define NWS_CLOSE_SLOW            4001  /* send queue full: client reads too slowly */
#define NWS_CLOSE_GAP             4002  /* messages for this client were lost upstream */
#define NWS_CLOSE_SHUTDOWN        1001  /* gateway going away */

#endif
