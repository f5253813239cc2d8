/*  nws_envelope - the fixed header of every hub message (byte table in
    nws_envelope.h).  */
#include "nws_envelope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
s_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p [i] = (uint8_t) v;
}

static uint64_t
s_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p [i];
    return v;
}

void
nws_envelope_encode (const nws_envelope_t *env, uint8_t *buf)
{
    buf [0] = NWS_ENVELOPE_VERSION;
    buf [1] = env->kind;
    buf [2] = env->flags;
    buf [3] = 0;
    s_put_u64 (buf + 4, env->origin);
    s_put_u64 (buf + 12, env->seq);
}

int
nws_envelope_decode (const void *buf, size_t len, nws_envelope_t *env)
{
    const uint8_t *p = buf;
    if (!p || len < 1)
        return -EINVAL;
    if (p [0] != NWS_ENVELOPE_VERSION)
        return -EPROTO;
    if (len != NWS_ENVELOPE_SIZE)
        return -EINVAL;
    if ((p [1] != NWS_KIND_TEXT && p [1] != NWS_KIND_BINARY)
    ||  (p [2] & ~NWS_FLAGS_KNOWN) || p [3] != 0)
        return -EINVAL;
    env->kind = p [1];
    env->flags = p [2];
    env->origin = s_get_u64 (p + 4);
    env->seq = s_get_u64 (p + 12);
    return 0;
}

int
nws_control_mark (uint64_t last_ms, uint64_t first_ms, char *buf, size_t cap)
{
    //  At most 19 digits each, as the reader takes.
    if (last_ms > INT64_MAX)
        last_ms = INT64_MAX;
    int n;
    if (first_ms == NWS_MARK_NO_AGE)
        n = snprintf (buf, cap, "%s %llu", NWS_CONTROL_MARK, (unsigned long long) last_ms);
    else
        n = snprintf (buf, cap, "%s %llu %llu", NWS_CONTROL_MARK, (unsigned long long) last_ms,
                      (unsigned long long) (first_ms > INT64_MAX ? INT64_MAX : first_ms));
    return n < 0 || (size_t) n >= cap ? -ENOSPC : n;
}

//  Reads " <1 to 19 digits>" at p (no overflow). Returns the bytes taken,
//  or 0 if there is no such number there.
static size_t
s_mark_number (const char *p, size_t len, uint64_t *value)
{
    size_t digits = 0;
    uint64_t v = 0;
    if (len < 2 || p [0] != ' ')
        return 0;
    while (1 + digits < len && p [1 + digits] >= '0' && p [1 + digits] <= '9') {
        if (++digits > 19)
            return 0;
        v = v * 10 + (uint64_t) (p [digits] - '0');
    }
    *value = v;
    return digits ? 1 + digits : 0;
}

int
nws_control_mark_age (const void *payload, size_t len, uint64_t *last_ms, uint64_t *first_ms)
{
    const char *p = payload;
    if (!p || len < 4 || memcmp (p, NWS_CONTROL_MARK, 4) != 0)
        return -EINVAL;
    if (len == 4)
        return -ENOENT;
    uint64_t last, first = NWS_MARK_NO_AGE;
    size_t at = 4, used = s_mark_number (p + at, len - at, &last);
    if (!used)
        return -EINVAL;
    at += used;
    if (at < len) {
        used = s_mark_number (p + at, len - at, &first);
        if (!used || at + used != len)
            return -EINVAL;
    }
    *last_ms = last;
    *first_ms = first;
    return 0;
}
