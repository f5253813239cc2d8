/*  nws_channel - channel names, URL paths and hub topics.  */
#include "nws_channel.h"

#include <errno.h>
#include <string.h>

static const struct {
    const char *str;                /* scope as written in paths and topics */
    size_t len;                     /* strlen (str) */
} s_scopes[] = {
    [NWS_SCOPE_LOCAL] = { "local", 5 },
    [NWS_SCOPE_BROADCAST] = { "broadcast", 9 },
};

static int
s_name_byte_ok (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
nws_channel_name_valid (const char *name, size_t len)
{
    if (!name || len == 0 || len > NWS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!s_name_byte_ok ((unsigned char) name[i]))
            return 0;
    return 1;
}

const char *
nws_channel_scope_str (nws_scope_t scope)
{
    return scope == NWS_SCOPE_BROADCAST ? "broadcast" : "local";
}

//  Matches "<scope><sep>" at the start of s; returns the scope's index or -1.
static int
s_scope_prefix (const char *s, size_t len, char sep, size_t *used)
{
    for (int i = 0; i < 2; i++) {
        size_t n = s_scopes[i].len;
        if (len > n && memcmp (s, s_scopes[i].str, n) == 0 && s[n] == sep) {
            *used = n + 1;
            return i;
        }
    }
    return -1;
}

static int
s_fill (nws_channel_t *out, int scope, const char *name, size_t len)
{
    if (!nws_channel_name_valid (name, len))
        return -EINVAL;
    out->scope = (nws_scope_t) scope;
    out->name_len = len;
    memcpy (out->name, name, len);
    out->name [len] = '\0';
    return 0;
}

int
nws_channel_parse_path (const char *path, nws_channel_t *out)
{
    if (!path || path [0] != '/')
        return -ENOENT;
    size_t len = strlen (path + 1), used;
    int scope = s_scope_prefix (path + 1, len, '/', &used);
    if (scope < 0)
        return -ENOENT;
    return s_fill (out, scope, path + 1 + used, len - used);
}

int
nws_channel_topic (const nws_channel_t *channel, char *buf, size_t cap)
{
    const char *scope = nws_channel_scope_str (channel->scope);
    size_t slen = strlen (scope);
    size_t total = slen + 1 + channel->name_len + 1;
    if (total > cap)
        return -ENOSPC;
    memcpy (buf, scope, slen);
    buf [slen] = '/';
    memcpy (buf + slen + 1, channel->name, channel->name_len);
    buf [total - 1] = '/';
    return (int) total;
}

int
nws_channel_from_topic (const void *topic, size_t len, nws_channel_t *out)
{
    const char *s = topic;
    size_t used;
    if (!s || len < 2 || s [len - 1] != '/')
        return -EINVAL;
    int scope = s_scope_prefix (s, len, '/', &used);
    if (scope < 0)
        return -EINVAL;
    return s_fill (out, scope, s + used, len - used - 1);
}

int
nws_channel_interest (const nws_channel_t *channel, char *buf, size_t cap)
{
    int len = nws_channel_topic (channel, buf, cap);
    if (len < 0 || (size_t) len + 1 > cap)
        return -ENOSPC;
    buf [len] = NWS_INTEREST_MARK;
    return len + 1;
}

int
nws_channel_from_interest (const void *marker, size_t len, nws_channel_t *out)
{
    const char *s = marker;
    if (!s || len < 2 || s [len - 1] != NWS_INTEREST_MARK)
        return -EINVAL;
    return nws_channel_from_topic (s, len - 1, out);
}
