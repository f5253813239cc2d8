/*  nws_origin - web origins: the Origin header of a WebSocket request, the
    --allow-origin rules that say which origins may join which channels,
    and a bounded tally of the origins a channel's clients come from.

    An origin (RFC 6454) is "null" or scheme://host[:port]. Browsers send
    one with every WebSocket request and a page cannot change it; programs
    send none, and these rules do not judge them. Scheme and host compare
    without case, and a default port (80 for http and ws, 443 for https
    and wss) is the same as none.

    A rule is "[CHANNELS=]ORIGINS":

        CHANNELS  "*" (every channel; the default), or SCOPE/NAME: SCOPE is
                  local, broadcast or *, NAME a glob over channel names
                  (* any run of bytes, ? one byte)
        ORIGINS   patterns separated by commas: "*" (any origin, a
                  malformed one included), "null", or scheme://HOST[:PORT]
                  where HOST may be "*" (any host) or start with "*." (any
                  subdomain, not the domain itself) and PORT may be "*"
                  (any port, none included)

    Pure and single-threaded: rules are built at start and only read
    after; a tally belongs to its channel's room.
*/
#ifndef NWS_ORIGIN_H
#define NWS_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "nws_channel.h"

#define NWS_ORIGIN_MAX 300          /* longest origin; a longer header is malformed */
#define NWS_ORIGIN_TALLY_MAX 8      /* origins listed per channel */

/*  Reads an Origin header value of len bytes (not NUL-terminated): drops
    spaces and tabs around it, checks its form, and writes it into out
    (cap > NWS_ORIGIN_MAX) in lowercase and without a default port.
    Returns 0, or -EINVAL when it is not an origin (out is then "").  */
int nws_origin_parse (const char *value, size_t len, char *out, size_t cap);

typedef struct nws_origin_rules_t nws_origin_rules_t;

/*  An empty set of rules. Returns NULL when out of memory.  */
nws_origin_rules_t *nws_origin_rules_new (void);

/*  Frees the rules. Safe on NULL and twice.  */
void nws_origin_rules_destroy (nws_origin_rules_t **self_p);

/*  Adds one rule (the text of --allow-origin). Returns 0, -EINVAL with
    what is wrong in err, or -ENOMEM.  */
int nws_origin_rules_add (nws_origin_rules_t *self, const char *rule, char *err, size_t errlen);

/*  How many rules were added.  */
size_t nws_origin_rules_size (const nws_origin_rules_t *self);

/*  1 if a request with an Origin header may join channel: no rule covers
    channel, or one that does has a pattern matching origin (as
    nws_origin_parse wrote it; NULL for a malformed header, which only "*"
    matches). Else 0.  */
int nws_origin_rules_allow (const nws_origin_rules_t *self, const nws_channel_t *channel,
                            const char *origin);

//  The origins of a channel's clients. A stranger picks them, so it lists
//  at most NWS_ORIGIN_TALLY_MAX; clients of others are only counted.
typedef struct {
    char *names [NWS_ORIGIN_TALLY_MAX];     /* origins listed; NULL = a free slot */
    uint32_t counts [NWS_ORIGIN_TALLY_MAX]; /* clients of each */
    uint32_t none;                  /* clients without an Origin header (programs) */
    uint32_t unlisted;              /* clients of a malformed origin, or of one beyond the list */
} nws_origin_tally_t;

#define NWS_ORIGIN_SLOT_NONE (NWS_ORIGIN_TALLY_MAX + 1)      /* slot of "no header" */
#define NWS_ORIGIN_SLOT_UNLISTED (NWS_ORIGIN_TALLY_MAX + 2)  /* slot of the unlisted */

/*  Counts a client of origin (as nws_origin_parse wrote it; NULL for no
    header, "" for a malformed one). Returns its slot, never 0, for
    nws_origin_tally_remove.  */
int nws_origin_tally_add (nws_origin_tally_t *self, const char *origin);

/*  Uncounts a client of slot; slot 0 (never counted) is ignored. A listed
    origin with no clients left frees its place.  */
void nws_origin_tally_remove (nws_origin_tally_t *self, int slot);

/*  Frees what the tally holds and zeroes it.  */
void nws_origin_tally_clear (nws_origin_tally_t *self);

#endif
