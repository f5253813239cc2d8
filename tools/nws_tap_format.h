/*  nws_tap_format - how nws-tap prints one hub message: one line each.

    NWS_TAP_PLAIN    the payload, then '\n'. A text message (valid UTF-8)
                     is written as it is, like mosquitto_sub does: a text
                     with a newline in it spans two lines. Anything else
                     (a binary message) is escaped so that it is safe on a
                     terminal and stays on one line: printable ASCII as it
                     is, '\\' as "\\\\", newline, CR and tab as "\\n",
                     "\\r", "\\t", every other byte as "\\xHH".
    NWS_TAP_VERBOSE  "<scope>/<name> " and then the same.
    NWS_TAP_JSON     one JSON object per line, exact for any payload:
                     {"channel":"local/chat","scope":"local","name":"chat",
                      "kind":"text","flags":0,"from_proxy":false,
                      "origin":"1a2b3c4d00000005","seq":7,"payload":"hi"}
                     "kind" is "text" or "binary"; "origin" is 16 hex
                     digits (0000000000000000 = an outside publisher); the
                     payload of a text message is a JSON string, that of a
                     binary message base64, with "encoding":"base64" added.

    Pure functions of their arguments; the output goes to a stdio stream.
*/
#ifndef NWS_TAP_FORMAT_H
#define NWS_TAP_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "nws_channel.h"
#include "nws_envelope.h"

typedef enum {
    NWS_TAP_PLAIN = 0,              /* payload only */
    NWS_TAP_VERBOSE,                /* channel, space, payload */
    NWS_TAP_JSON                    /* JSON lines with the header fields */
} nws_tap_mode_t;

/*  Writes one message as one line to out. Returns 0, or a negative errno
    if out failed (-EPIPE when its reader has gone).  */
int nws_tap_format (FILE *out, nws_tap_mode_t mode, const nws_channel_t *channel,
                    const nws_envelope_t *env, const void *payload, size_t len);

/*  Writes len bytes of data escaped as NWS_TAP_PLAIN does a binary
    payload. Returns 0 or a negative errno.  */
int nws_tap_format_escaped (FILE *out, const void *data, size_t len);

/*  Writes len bytes of data as standard base64 (RFC 4648, with padding).
    Returns 0 or a negative errno.  */
int nws_tap_format_base64 (FILE *out, const void *data, size_t len);

/*  Writes len bytes of data, which must be valid UTF-8, as a quoted JSON
    string. Returns 0 or a negative errno.  */
int nws_tap_format_json_string (FILE *out, const void *data, size_t len);

#endif
