/*  nws_envelope - the fixed header of every hub message (byte table in
    nws_envelope.h).  */
#include "nws_envelope.h"

#include <errno.h>

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
