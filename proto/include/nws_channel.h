/*  nws_channel - channel names, URL paths and hub topics.

    A channel is a scope (local or broadcast) and a name matching
    [A-Za-z0-9._-]{1,255}. On the hub its topic is "<scope>/<name>/": the
    trailing '/' cannot occur in a name, so the subscription "local/chat/"
    selects exactly one channel ("local/chatroom/" does not start with it),
    and "broadcast/" selects every broadcast channel.

    Pure functions, no allocation, safe from any thread.
*/
#ifndef NWS_CHANNEL_H
#define NWS_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#define NWS_NAME_MAX   255          /* longest channel name, in bytes */
#define NWS_TOPIC_MAX  (10 + NWS_NAME_MAX + 1)  /* "broadcast/" + name + "/" */

typedef enum {
    NWS_SCOPE_LOCAL = 0,            /* this host only */
    NWS_SCOPE_BROADCAST = 1         /* linked across the LAN */
} nws_scope_t;

typedef struct {
    nws_scope_t scope;              /* local or broadcast */
    size_t name_len;                /* 1..NWS_NAME_MAX */
    char name[NWS_NAME_MAX + 1];    /* NUL-terminated */
} nws_channel_t;

/*  Returns 1 if the len bytes at name form a valid channel name, else 0.  */
int nws_channel_name_valid (const char *name, size_t len);

/*  "local" or "broadcast".  */
const char *nws_channel_scope_str (nws_scope_t scope);

/*  Parses a request path "/local/<name>" or "/broadcast/<name>" (no query,
    no percent-decoding: a name never needs it). Returns 0 and fills *out,
    -ENOENT if the path is not under /local/ or /broadcast/, or -EINVAL if
    it is, but the name is invalid (empty, too long, bad byte, extra '/').  */
int nws_channel_parse_path (const char *path, nws_channel_t *out);

/*  Writes the topic "<scope>/<name>/" into buf (not NUL-terminated) and
    returns its length, or -ENOSPC if cap is too small.  */
int nws_channel_topic (const nws_channel_t *channel, char *buf, size_t cap);

/*  Parses a hub topic frame of len bytes. Returns 0 and fills *out, or
    -EINVAL if it is not exactly "<scope>/<valid name>/".  */
int nws_channel_from_topic (const void *topic, size_t len, nws_channel_t *out);

/*  Interest markers. A gateway with clients of its own (not proxy links)
    on a channel also subscribes to "<topic>+": no topic starts with it, so
    it costs no traffic, but the hub sees the subscription come and go and
    so knows which channels have local interest on any gateway.  */
#define NWS_INTEREST_MARK '+'

/*  Writes "<scope>/<name>/+" into buf; returns its length or -ENOSPC.  */
int nws_channel_interest (const nws_channel_t *channel, char *buf, size_t cap);

/*  Parses an interest marker. Returns 0 or -EINVAL.  */
int nws_channel_from_interest (const void *marker, size_t len, nws_channel_t *out);

#endif
