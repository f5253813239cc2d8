/*  nws_envelope - the fixed header (frame 2) of every hub message.

    A hub message is [topic][envelope][payload]. The envelope is written
    and read byte by byte, never as a C struct:

        offset  size  field
        0       1     version, 1
        1       1     kind: 1 = text, 2 = binary
        2       1     flags: bit 0 = from a peer proxy, bit 1 = control
                      (internal, not user data); other bits 0
        3       1     reserved, 0
        4       8     origin, big-endian: high 32 bits = the sending
                      process's instance id (random, non-zero), low 32 bits
                      = its connection number; 0 = external publisher
        12      8     seq, big-endian: 1, 2, 3... per origin, so that a
                      receiver can detect a gap (0 = not sequenced)
        20            end (NWS_ENVELOPE_SIZE)

    A receiver rejects another version, an unknown kind, unknown flag bits,
    a non-zero reserved byte or another length.
*/
#ifndef NWS_ENVELOPE_H
#define NWS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define NWS_ENVELOPE_VERSION  1
#define NWS_ENVELOPE_SIZE     20

#define NWS_KIND_TEXT    1
#define NWS_KIND_BINARY  2

#define NWS_FLAG_FROM_PROXY  0x01   /* arrived over a proxy link: never relayed to a proxy */
#define NWS_FLAG_CONTROL     0x02   /* internal message, never shown to clients */
#define NWS_FLAGS_KNOWN      0x03

/*  Payload of a control message telling gateways that messages of the
    channel were lost upstream (a proxy link was dropped as too slow):
    they close the channel's clients with NWS_CLOSE_GAP.  */
#define NWS_CONTROL_LOST     "lost"

/*  Payload of a control message that says how far a sender has got: its
    origin and its last sequence number are in the envelope. Gateways send
    one a second for each client for the 3 seconds after its last message
    (and again after a hub comes back; idle senders are quiet), and go on
    for 3 seconds for a client that left, so that a receiver notices
    lost messages even when nothing follows them.

        "mark"                        how far, nothing more
        "mark <last_ms>"              and how long ago its last message went
        "mark <last_ms> <first_ms>"   and how long ago its first (seq 1) went

    With the ages, a receiver that was there when those messages went, but
    never saw them (the sender, or its start, is unknown to it), knows
    that it lost them.  */
#define NWS_CONTROL_MARK     "mark"
#define NWS_CONTROL_MARK_MAX 48     /* bytes of a mark with both ages */
#define NWS_MARK_NO_AGE      UINT64_MAX /* an age not given */

typedef struct {
    uint8_t kind;                   /* NWS_KIND_TEXT or NWS_KIND_BINARY */
    uint8_t flags;                  /* NWS_FLAG_* */
    uint64_t origin;                /* instance id << 32 | connection */
    uint64_t seq;                   /* per-origin sequence number */
} nws_envelope_t;

/*  Writes env into buf, which must hold NWS_ENVELOPE_SIZE bytes.  */
void nws_envelope_encode (const nws_envelope_t *env, uint8_t *buf);

/*  Reads len bytes at buf into *env. Returns 0, -EPROTO for another
    version, or -EINVAL for a bad length or field.  */
int nws_envelope_decode (const void *buf, size_t len, nws_envelope_t *env);

/*  Writes the payload of a mark whose sender's last message was last_ms
    ago and its first first_ms ago (each at most INT64_MAX; first_ms
    NWS_MARK_NO_AGE leaves it out). Returns its length (less than
    NWS_CONTROL_MARK_MAX), or -ENOSPC.  */
int nws_control_mark (uint64_t last_ms, uint64_t first_ms, char *buf, size_t cap);

/*  Reads a mark's payload of len bytes. Returns 0 and sets *last_ms and
    *first_ms (NWS_MARK_NO_AGE when not given), -ENOENT for a plain
    "mark" (no age), -EINVAL for anything else.  */
int nws_control_mark_age (const void *payload, size_t len, uint64_t *last_ms,
                          uint64_t *first_ms);

#endif
