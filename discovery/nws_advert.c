/*  nws_advert - DNS-SD adverts of broadcast channels.  */
#include "nws_advert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S_SUFFIX "._bws"

int
nws_advert_instance (uint32_t nonce, const nws_channel_t *channel, char *buf, size_t cap)
{
    char number [16];
    int n = snprintf (number, sizeof number, "%u", (unsigned) nonce);
    size_t room = NWS_ADVERT_LABEL_MAX - (size_t) n - 1 - strlen (S_SUFFIX);
    size_t name_len = channel->name_len < room ? channel->name_len : room;
    size_t total = (size_t) n + 1 + name_len + strlen (S_SUFFIX);
    if (total + 1 > cap)
        return -ENOSPC;
    snprintf (buf, cap, "%s.%.*s%s", number, (int) name_len, channel->name, S_SUFFIX);
    return (int) total;
}

int
nws_advert_txt (const nws_channel_t *channel, char *buf, size_t cap)
{
    int n = snprintf (buf, cap, "path=/broadcast/%s", channel->name);
    if (n < 0 || (size_t) n >= cap || n > NWS_ADVERT_TXT_MAX)
        return -ENAMETOOLONG;
    return n;
}

//  Matches " (<digits>)" exactly: the suffix avahi adds on a name clash.
static int
s_clash_suffix (const char *s, size_t len)
{
    if (len < 4 || s [0] != ' ' || s [1] != '(' || s [len - 1] != ')')
        return 0;
    for (size_t i = 2; i < len - 1; i++)
        if (s [i] < '0' || s [i] > '9')
            return 0;
    return 1;
}

int
nws_advert_instance_valid (const char *name)
{
    if (!name)
        return 0;
    size_t len = strnlen (name, NWS_ADVERT_LABEL_MAX + 1);
    if (len > NWS_ADVERT_LABEL_MAX)
        return 0;
    size_t digits = 0;
    while (digits < len && name [digits] >= '0' && name [digits] <= '9')
        digits++;
    if (digits == 0 || digits >= len || name [digits] != '.')
        return 0;
    //  ".*" is greedy in the original's pattern: any "._bws" after the dot
    //  that ends the name, or is followed only by a clash suffix, will do.
    size_t suffix = strlen (S_SUFFIX);
    for (size_t at = digits + 1; at + suffix <= len; at++)
        if (memcmp (name + at, S_SUFFIX, suffix) == 0
        && (at + suffix == len || s_clash_suffix (name + at + suffix, len - at - suffix)))
            return 1;
    return 0;
}

int
nws_advert_parse_txt (const void *record, size_t len, nws_channel_t *channel)
{
    static const char key [] = "path=";
    char path [NWS_ADVERT_TXT_MAX + 1];
    if (len < sizeof key - 1 || memcmp (record, key, sizeof key - 1) != 0)
        return -ENOENT;
    len -= sizeof key - 1;
    if (len == 0 || len >= sizeof path || memchr ((const char *) record + 5, 0, len))
        return -EINVAL;
    memcpy (path, (const char *) record + sizeof key - 1, len);
    path [len] = '\0';
    if (nws_channel_parse_path (path, channel) || channel->scope != NWS_SCOPE_BROADCAST)
        return -EINVAL;
    return 0;
}

int
nws_advert_private_instance (uint32_t nonce, char *buf, size_t cap)
{
    int n = snprintf (buf, cap, "%u", (unsigned) nonce);
    return n < 0 || (size_t) n >= cap ? -ENOSPC : n;
}

int
nws_advert_private_txt (const char *tag, char *buf, size_t cap)
{
    int n = snprintf (buf, cap, "tag=%s", tag);
    return n < 0 || (size_t) n >= cap ? -ENOSPC : n;
}

int
nws_advert_private_instance_valid (const char *name)
{
    if (!name)
        return 0;
    size_t len = strnlen (name, NWS_ADVERT_LABEL_MAX + 1);
    size_t digits = strspn (name, "0123456789");
    return len <= NWS_ADVERT_LABEL_MAX && digits > 0 && digits <= 10
        && (digits == len || s_clash_suffix (name + digits, len - digits));
}

int
nws_advert_parse_tag (const void *record, size_t len, char tag [NWS_ADVERT_TAG_HEX + 1])
{
    static const char key [] = "tag=";
    const char *text = record;
    if (len < sizeof key - 1 || memcmp (text, key, sizeof key - 1) != 0)
        return -ENOENT;
    text += sizeof key - 1;
    len -= sizeof key - 1;
    if (len != NWS_ADVERT_TAG_HEX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!((text [i] >= '0' && text [i] <= '9') || (text [i] >= 'a' && text [i] <= 'f')))
            return -EINVAL;
    memcpy (tag, text, len);
    tag [len] = '\0';
    return 0;
}
