/*  Unit tests of nws_envelope against the byte table in nws_envelope.h.  */
#include "nws_envelope.h"
#include "nws_unit.h"

//  The table's example, written out by hand: version 1, binary, both
//  flags, reserved 0, origin 0x0102030405060708, seq 0x1112131415161718.
static const uint8_t s_example [NWS_ENVELOPE_SIZE] = {
    0x01,                                           //  0  version
    0x02,                                           //  1  kind: binary
    0x03,                                           //  2  flags: from proxy | control
    0x00,                                           //  3  reserved
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, //  4  origin, big-endian
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18  // 12  seq, big-endian
};

//  Decodes len bytes from an exactly-sized heap copy, so that ASan sees
//  any read past len.
static int
s_decode (const uint8_t *bytes, size_t len, nws_envelope_t *env)
{
    uint8_t *copy = malloc (len ? len : 1);
    CHECK (copy);
    if (len)
        memcpy (copy, bytes, len);
    int rc = nws_envelope_decode (copy, len, env);
    free (copy);
    return rc;
}

static void
constants (void)
{
    CHECK_INT (NWS_ENVELOPE_SIZE, 20);
    CHECK_INT (NWS_ENVELOPE_VERSION, 1);
    CHECK_INT (NWS_KIND_TEXT, 1);
    CHECK_INT (NWS_KIND_BINARY, 2);
    CHECK_INT (NWS_FLAGS_KNOWN, NWS_FLAG_FROM_PROXY | NWS_FLAG_CONTROL);
}

static void
encode_layout (void)
{
    nws_envelope_t env = {
        .kind = NWS_KIND_BINARY,
        .flags = NWS_FLAG_FROM_PROXY | NWS_FLAG_CONTROL,
        .origin = UINT64_C (0x0102030405060708),
        .seq = UINT64_C (0x1112131415161718)
    };
    uint8_t buf [NWS_ENVELOPE_SIZE + 4];
    memset (buf, 0xee, sizeof buf);
    nws_envelope_encode (&env, buf);
    CHECK_MEM (buf, s_example, NWS_ENVELOPE_SIZE);
    for (size_t i = NWS_ENVELOPE_SIZE; i < sizeof buf; i++)
        CHECK_INT (buf [i], 0xee);      //  writes 20 bytes, no more
}

static void
encode_layout_text (void)
{
    static const uint8_t expected [NWS_ENVELOPE_SIZE] = {
        0x01, 0x01, 0x00, 0x00,
        0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x2a,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01
    };
    nws_envelope_t env = {
        .kind = NWS_KIND_TEXT,
        .origin = (UINT64_C (0xdeadbeef) << 32) | 42,   //  instance id << 32 | connection
        .seq = 1
    };
    uint8_t buf [NWS_ENVELOPE_SIZE];
    memset (buf, 0xee, sizeof buf);
    nws_envelope_encode (&env, buf);
    CHECK_MEM (buf, expected, NWS_ENVELOPE_SIZE);
}

//  Each origin/seq byte lands at its own offset: one bit set at a time.
static void
encode_bit_positions (void)
{
    for (int bit = 0; bit < 64; bit++) {
        nws_envelope_t env = { .kind = NWS_KIND_TEXT, .origin = UINT64_C (1) << bit,
                               .seq = UINT64_C (1) << (63 - bit) };
        uint8_t buf [NWS_ENVELOPE_SIZE], want [NWS_ENVELOPE_SIZE] = { 1, 1, 0, 0 };
        want [4 + 7 - bit / 8] = (uint8_t) (1u << (bit % 8));
        want [12 + 7 - (63 - bit) / 8] = (uint8_t) (1u << ((63 - bit) % 8));
        nws_envelope_encode (&env, buf);
        CHECK_MEM (buf, want, NWS_ENVELOPE_SIZE);
    }
}

static void
decode_example (void)
{
    nws_envelope_t env;
    memset (&env, 0, sizeof env);
    CHECK_INT (s_decode (s_example, sizeof s_example, &env), 0);
    CHECK_INT (env.kind, NWS_KIND_BINARY);
    CHECK_INT (env.flags, NWS_FLAG_FROM_PROXY | NWS_FLAG_CONTROL);
    CHECK_U64 (env.origin, UINT64_C (0x0102030405060708));
    CHECK_U64 (env.seq, UINT64_C (0x1112131415161718));
}

static void
round_trip (void)
{
    static const uint64_t values [] = {
        0, 1, 0xff, 0x100, UINT64_C (0xffffffff), UINT64_C (0x100000000),
        UINT64_C (0x7fffffffffffffff), UINT64_C (0x8000000000000000),
        UINT64_C (0xfedcba9876543210), UINT64_MAX - 1, UINT64_MAX
    };
    const size_t n = sizeof values / sizeof values [0];
    for (int kind = NWS_KIND_TEXT; kind <= NWS_KIND_BINARY; kind++)
        for (int flags = 0; flags <= NWS_FLAGS_KNOWN; flags++)
            for (size_t o = 0; o < n; o++)
                for (size_t s = 0; s < n; s++) {
                    nws_envelope_t in = {
                        .kind = (uint8_t) kind, .flags = (uint8_t) flags,
                        .origin = values [o], .seq = values [s]
                    }, out;
                    uint8_t buf [NWS_ENVELOPE_SIZE];
                    nws_envelope_encode (&in, buf);
                    memset (&out, 0x5a, sizeof out);
                    CHECK_INT (s_decode (buf, sizeof buf, &out), 0);
                    CHECK_INT (out.kind, in.kind);
                    CHECK_INT (out.flags, in.flags);
                    CHECK_U64 (out.origin, in.origin);
                    CHECK_U64 (out.seq, in.seq);
                }
}

static void
round_trip_max (void)
{
    nws_envelope_t in = { .kind = NWS_KIND_BINARY, .flags = NWS_FLAGS_KNOWN,
                          .origin = UINT64_MAX, .seq = UINT64_MAX }, out;
    uint8_t buf [NWS_ENVELOPE_SIZE];
    static const uint8_t expected [NWS_ENVELOPE_SIZE] = {
        1, 2, 3, 0,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    };
    nws_envelope_encode (&in, buf);
    CHECK_MEM (buf, expected, NWS_ENVELOPE_SIZE);
    CHECK_INT (s_decode (buf, sizeof buf, &out), 0);
    CHECK_U64 (out.origin, UINT64_MAX);
    CHECK_U64 (out.seq, UINT64_MAX);
}

static void
rejects_version (void)
{
    static const uint8_t versions [] = { 0x00, 0x02, 0x7f, 0x80, 0xff };
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t buf [NWS_ENVELOPE_SIZE];
        nws_envelope_t env;
        memcpy (buf, s_example, sizeof buf);
        buf [0] = versions [i];
        CHECK_INT (s_decode (buf, sizeof buf, &env), -EPROTO);
    }
}

static void
rejects_length (void)
{
    uint8_t buf [NWS_ENVELOPE_SIZE + 16];
    nws_envelope_t env;
    memset (buf, 0, sizeof buf);
    memcpy (buf, s_example, NWS_ENVELOPE_SIZE);
    for (size_t len = 0; len < sizeof buf; len++) {
        int rc = s_decode (buf, len, &env);
        if (len == NWS_ENVELOPE_SIZE)
            CHECK_INT (rc, 0);
        else
        if (rc != -EINVAL) {
            fprintf (stderr, "length %zu: rc %d, expected -EINVAL\n", len, rc);
            CHECK (0);
        }
    }
    CHECK_INT (nws_envelope_decode (NULL, 0, &env), -EINVAL);
    CHECK_INT (nws_envelope_decode (NULL, NWS_ENVELOPE_SIZE, &env), -EINVAL);
}

static void
rejects_kind (void)
{
    for (int kind = 0; kind < 256; kind++) {
        uint8_t buf [NWS_ENVELOPE_SIZE];
        nws_envelope_t env;
        memcpy (buf, s_example, sizeof buf);
        buf [1] = (uint8_t) kind;
        int want = kind == NWS_KIND_TEXT || kind == NWS_KIND_BINARY ? 0 : -EINVAL;
        if (s_decode (buf, sizeof buf, &env) != want) {
            fprintf (stderr, "kind %d: expected %d\n", kind, want);
            CHECK (0);
        }
    }
    //  the two named in the brief, explicitly
    uint8_t buf [NWS_ENVELOPE_SIZE];
    nws_envelope_t env;
    memcpy (buf, s_example, sizeof buf);
    buf [1] = 0;
    CHECK_INT (s_decode (buf, sizeof buf, &env), -EINVAL);
    buf [1] = 3;
    CHECK_INT (s_decode (buf, sizeof buf, &env), -EINVAL);
}

static void
rejects_flags (void)
{
    for (int flags = 0; flags < 256; flags++) {
        uint8_t buf [NWS_ENVELOPE_SIZE];
        nws_envelope_t env;
        memcpy (buf, s_example, sizeof buf);
        buf [2] = (uint8_t) flags;
        int want = (flags & ~NWS_FLAGS_KNOWN) ? -EINVAL : 0;
        if (s_decode (buf, sizeof buf, &env) != want) {
            fprintf (stderr, "flags 0x%02x: expected %d\n", flags, want);
            CHECK (0);
        }
        if (want == 0)
            CHECK_INT (env.flags, flags);
    }
}

static void
rejects_reserved (void)
{
    for (int reserved = 1; reserved < 256; reserved++) {
        uint8_t buf [NWS_ENVELOPE_SIZE];
        nws_envelope_t env;
        memcpy (buf, s_example, sizeof buf);
        buf [3] = (uint8_t) reserved;
        CHECK_INT (s_decode (buf, sizeof buf, &env), -EINVAL);
    }
}

//  "mark" alone, "mark <last ms>" or "mark <last ms> <first ms>";
//  nothing else is a mark.
static void
mark_age (void)
{
    char buf [NWS_CONTROL_MARK_MAX];
    uint64_t age = 7, first = 7;
    int len = nws_control_mark (1234, NWS_MARK_NO_AGE, buf, sizeof buf);
    CHECK_INT (len, 9);
    CHECK (memcmp (buf, "mark 1234", 9) == 0);
    CHECK_INT (nws_control_mark_age (buf, (size_t) len, &age, &first), 0);
    CHECK_INT (age, 1234);
    CHECK (first == NWS_MARK_NO_AGE);
    len = nws_control_mark (12, 3456, buf, sizeof buf);
    CHECK_INT (len, 12);
    CHECK (memcmp (buf, "mark 12 3456", 12) == 0);
    CHECK_INT (nws_control_mark_age (buf, (size_t) len, &age, &first), 0);
    CHECK_INT (age, 12);
    CHECK_INT (first, 3456);
    len = nws_control_mark (UINT64_MAX, UINT64_MAX - 1, buf, sizeof buf);
    CHECK (len > 0 && len < NWS_CONTROL_MARK_MAX);
    CHECK_INT (nws_control_mark_age (buf, (size_t) len, &age, &first), 0);
    CHECK (age == INT64_MAX && first == INT64_MAX);
    CHECK_INT (nws_control_mark (1, NWS_MARK_NO_AGE, buf, 6), -ENOSPC);
    CHECK_INT (nws_control_mark (1, 2, buf, 8), -ENOSPC);
    CHECK_INT (nws_control_mark_age ("mark", 4, &age, &first), -ENOENT);
    CHECK_INT (nws_control_mark_age ("mark 0", 6, &age, &first), 0);
    CHECK_INT (age, 0);
    CHECK_INT (nws_control_mark_age ("mark 0 0", 8, &age, &first), 0);
    CHECK_INT (first, 0);
    CHECK_INT (nws_control_mark_age ("mark ", 5, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark  1", 7, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark 1a", 7, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark 1 ", 7, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark 1 2 3", 10, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark 1  2", 9, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark-1", 6, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("lost", 4, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mar", 3, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age (NULL, 0, &age, &first), -EINVAL);
    //  20 digits could overflow: refused
    CHECK_INT (nws_control_mark_age ("mark 99999999999999999999", 25, &age, &first), -EINVAL);
    CHECK_INT (nws_control_mark_age ("mark 1 99999999999999999999", 27, &age, &first), -EINVAL);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (constants),
        NWS_UNIT_CASE (encode_layout),
        NWS_UNIT_CASE (encode_layout_text),
        NWS_UNIT_CASE (encode_bit_positions),
        NWS_UNIT_CASE (decode_example),
        NWS_UNIT_CASE (round_trip),
        NWS_UNIT_CASE (round_trip_max),
        NWS_UNIT_CASE (rejects_version),
        NWS_UNIT_CASE (rejects_length),
        NWS_UNIT_CASE (rejects_kind),
        NWS_UNIT_CASE (rejects_flags),
        NWS_UNIT_CASE (rejects_reserved),
        NWS_UNIT_CASE (mark_age),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
