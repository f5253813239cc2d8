/*  nws_advert - the DNS-SD adverts of broadcast channels, as the original
    Named WebSockets proxy writes and reads them (README, "Broadcast across the LAN"):

        type      _ws._tcp, domain local
        instance  "<decimal random>.<name>._bws" (literal dots in one label)
        port      the gateway's port
        TXT       "path=/broadcast/<name>"

    A DNS label holds at most 63 bytes, so long names are cut short in the
    instance name (the TXT path carries the whole name); a TXT string holds
    at most 255 bytes, so names over 239 bytes cannot be advertised.
    With a network key (private broadcast) an advert names no channel:

        type      _nws-private._tcp, domain local
        instance  "<decimal random>"
        port      the gateway's port
        TXT       "tag=<32 hex digits>"  (nws_netkey_tag of the channel)

    Only a key holder can tell which channel a tag stands for.
    Pure functions: no avahi, no allocation.
*/
#ifndef NWS_ADVERT_H
#define NWS_ADVERT_H

#include <stddef.h>
#include <stdint.h>

#include "nws_channel.h"

#define NWS_ADVERT_TYPE   "_ws._tcp"
#define NWS_ADVERT_LABEL_MAX 63     /* bytes in one DNS label */
#define NWS_ADVERT_TXT_MAX 255      /* bytes in one TXT string */
#define NWS_ADVERT_PRIVATE_TYPE "_nws-private._tcp"
#define NWS_ADVERT_TAG_HEX 32       /* hex digits of a tag (NWS_NETKEY_TAG_HEX) */

/*  Writes the instance name for channel with the given random number.
    Returns its length, or -ENOSPC if cap is too small (64 is enough).  */
int nws_advert_instance (uint32_t nonce, const nws_channel_t *channel, char *buf, size_t cap);

/*  Writes the TXT string "path=/broadcast/<name>". Returns its length, or
    -ENAMETOOLONG when it would not fit a TXT string.  */
int nws_advert_txt (const nws_channel_t *channel, char *buf, size_t cap);

/*  1 if an instance name found while browsing is an advert of the
    original's form, ^[0-9]+\..*\._bws( \([0-9]+\))?$, else 0.  */
int nws_advert_instance_valid (const char *name);

/*  Parses one TXT string of len bytes. Returns 0 and fills *channel (a
    broadcast channel) if it is "path=/broadcast/<valid name>", -ENOENT if
    it is another key, or -EINVAL if it is a malformed path.  */
int nws_advert_parse_txt (const void *record, size_t len, nws_channel_t *channel);

/*  Private adverts: writes the instance name ("<nonce>") and the TXT
    string "tag=<tag>". Return the length, or -ENOSPC.  */
int nws_advert_private_instance (uint32_t nonce, char *buf, size_t cap);
int nws_advert_private_txt (const char *tag, char *buf, size_t cap);

/*  1 if a name found while browsing private adverts has their form,
    ^[0-9]+( \([0-9]+\))?$ (a number, and the suffix avahi adds on a
    clash), else 0.  */
int nws_advert_private_instance_valid (const char *name);

/*  Parses one TXT string of a private advert. Returns 0 and writes the
    tag (NWS_ADVERT_TAG_HEX lowercase hex digits and a NUL) if it is
    "tag=<tag>", -ENOENT if it is another key, or -EINVAL.  */
int nws_advert_parse_tag (const void *record, size_t len, char tag [NWS_ADVERT_TAG_HEX + 1]);

#endif
