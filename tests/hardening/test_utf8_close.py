"""Hardening: invalid UTF-8 in text messages (RFC 6455 sections 5.6, 8.1)
and close frames with invalid or valid codes (sections 5.5.1, 7.4), crafted
byte by byte on a bare socket, in the spirit of the Autobahn suite (cases
6.x and 7.x).

After each attack: the precise outcome for the attacker, the gateway still
runs, nothing of the attack reached the two bystanders on the same channel,
they still talk both ways and a newcomer can join.

README: "Invalid UTF-8 in a text message closes with 1007; protocol
violations with 1002 (both by libwebsockets)."
"""

import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hardtest import (CLOSE_INVALID_PAYLOAD, CLOSE_PROTOCOL, OP_BINARY, OP_CLOSE,  # noqa: E402
                      OP_CONT, OP_TEXT, HardeningCase, binary, close_frame, frame, main,
                      metrics, poll_until, status, text)

# name -> bytes of one text message (one frame) that is not UTF-8
BAD_UTF8 = {
    "0xFF": b"\xff",
    "lone continuation byte": b"ab\x80cd",
    "overlong '/' (C0 AF)": b"\xc0\xaf",
    "overlong NUL (E0 80 80)": b"\xe0\x80\x80",
    "overlong 4 bytes (F0 82 82 AC)": b"\xf0\x82\x82\xac",
    "UTF-16 surrogate U+D800": b"\xed\xa0\x80",
    "UTF-16 surrogate U+DFFF": b"\xed\xbf\xbf",
    "above U+10FFFF (F4 90 80 80)": b"\xf4\x90\x80\x80",
    "5-byte form (F8 88 80 80 80)": b"\xf8\x88\x80\x80\x80",
    "valid text, then FE": "κόσμε".encode() + b"\xfe",
    "truncated 3-byte sequence at the end": b"ab\xe2\x82",
    "truncated 4-byte sequence at the end": b"\xf0\x9f\x98",
    "only a lead byte": b"\xe2",
}

# name -> (fragments of one text message, True if the whole is valid)
FRAGMENTED = {
    "invalid sequence split across two fragments": (
        [b"\xce\xba\xe1", b"\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"], False),
    "invalid byte in the third of three fragments": ([b"abc", "κό".encode(), b"\xff"], False),
    "truncated sequence in the last fragment": ([b"hello ", b"\xe2\x82"], False),
    "surrogate split one byte per fragment": ([b"\xed", b"\xa0", b"\x80"], False),
    # positive controls
    "valid code point split one byte per fragment": ([b"\xf0", b"\x9f", b"\x98", b"\x80"], True),
    "valid text split inside a code point": (["κό".encode()[:3], "κό".encode()[3:] + b"!"], True),
}

# A text message whose last fragment is empty, after an incomplete
# sequence: libwebsockets checks for a truncated sequence only in a frame
# with payload, so these must be caught by someone else.
ENDS_EMPTY = {
    "message ends in an empty fragment after a lead byte": [b"ab\xf0", b""],
    "message ends in an empty fragment after 2 of 3 bytes": [b"ab\xe2\x82", b""],
    "empty fragments around a truncated sequence": [b"", b"\xe2\x82", b""],
}

INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
HIGH_CLOSE_CODES = [5000, 65535]
VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000,
                     4999]


def fragments(parts, opcode=OP_TEXT):
    out = b""
    for i, part in enumerate(parts):
        out += frame(opcode if i == 0 else OP_CONT, part, fin=i == len(parts) - 1)
    return out


class Utf8(HardeningCase):

    def test_invalid_utf8_in_a_text_frame_closes_with_1007(self):
        # Each frame in one write, and with its header one byte per write
        # (the payload in one write: bytes after the offending one would
        # race the close frame: README, "Limits and close codes").
        for what, payload in BAD_UTF8.items():
            for split in (0, 6):
                label = "%s%s" % (what, " (header one byte per write)" if split else "")
                with self.attempt(attack=label):
                    self.attack(label, frame(OP_TEXT, payload), "close", CLOSE_INVALID_PAYLOAD,
                                header_bytes=split)
                    self.assertUndisturbed(label)
        self.assertAttackersGone()

    def test_utf8_across_fragments(self):
        for what, (parts, valid) in FRAGMENTED.items():
            with self.attempt(case=what):
                data = fragments(parts)
                if valid:
                    raw = self.raw()
                    raw.send(data, byte_by_byte=True)
                    whole = b"".join(parts).decode("utf-8")
                    for who in (self.by.a, self.by.b):
                        self.assertReceives(who, [text(whole)], what=what)
                    raw.close()
                else:
                    self.attack(what, data, "close", CLOSE_INVALID_PAYLOAD)
                self.assertUndisturbed(what)
        self.assertAttackersGone()

    def test_text_ending_in_an_empty_fragment_is_checked_too(self):
        # Nobody may ever receive a text message that is not UTF-8 (a
        # browser fails its connection on one, RFC 6455 8.1): the sender is
        # closed with 1007 and the bystanders get nothing of it.
        for what, parts in ENDS_EMPTY.items():
            with self.attempt(case=what):
                self.attack(what, fragments(parts), "close", CLOSE_INVALID_PAYLOAD)
                self.assertUndisturbed(what)
        self.assertAttackersGone()

    def test_invalid_utf8_in_a_binary_message_is_delivered_as_is(self):
        raw = self.raw()
        payload = b"\xff\xfe\xed\xa0\x80\xc0\xaf"
        raw.send(frame(OP_BINARY, payload) + fragments([b"\xe2", b"\x82"], OP_BINARY))
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, [binary(payload), binary(b"\xe2\x82")])
        raw.close()
        self.assertUndisturbed("binary that is not UTF-8")

    def test_a_valid_text_then_an_invalid_one(self):
        # The valid message before the offence is delivered, nothing of
        # the invalid one is.
        self.attack("valid then invalid", frame(OP_TEXT, b"fine") + frame(OP_TEXT, b"\xff"),
                    "close", CLOSE_INVALID_PAYLOAD, delivered=[text("fine")])
        self.assertUndisturbed("valid then invalid")
        self.assertAttackersGone()

    def test_invalid_utf8_closes_are_counted(self):
        # README: "Every refusal and close is counted in /status and
        # /metrics by reason."
        before = metrics(self.port)
        for what in ("0xFF", "UTF-16 surrogate U+D800"):
            self.attack(what, frame(OP_TEXT, BAD_UTF8[what]), "close", CLOSE_INVALID_PAYLOAD)
        self.assertAttackersGone()
        after = metrics(self.port)
        grew = {k: after[k] - before.get(k, 0) for k in after
                if any(w in k for w in ("utf8", "utf_8", "1007", "invalid_payload", "not_utf8"))
                and after[k] > before.get(k, 0)}
        self.assertIn(2, grew.values(), "no counter in /metrics named for invalid UTF-8 (or "
                      "1007) went up by 2 after two 1007 closes (went up: %r); counters: %s"
                      % (grew, sorted(k for k in after if k.endswith("_total"))))


class CloseFrames(HardeningCase):

    def assertEchoed(self, what, data, code):
        """The server answers a valid close frame with one of the same code
        (RFC 6455 5.5.1: "typically echoing the status code it received")
        and ends the TCP connection; the client leaves the channel."""
        out = self.attack(what, data, "close", code)
        self.assertEqual(out.pings, 0)

    def test_invalid_close_codes_are_answered_with_1002(self):
        for code in INVALID_CLOSE_CODES:
            with self.attempt(code=code):
                self.attack("close code %d" % code, close_frame(code), "close", CLOSE_PROTOCOL)
                self.assertUndisturbed("close code %d" % code)
        self.assertAttackersGone()

    def test_close_codes_from_5000_up_are_answered_with_1002(self):
        # RFC 6455 7.4.2 defines codes below 5000 only; Autobahn 7.13.x
        # sends these and RFC 7.4.1 gives a server no meaning for them:
        # the close frame is not valid, so 1002.
        for code in HIGH_CLOSE_CODES:
            with self.attempt(code=code):
                self.attack("close code %d" % code, close_frame(code), "close", CLOSE_PROTOCOL)
                self.assertUndisturbed("close code %d" % code)
        self.assertAttackersGone()

    def test_close_frame_with_a_one_byte_payload_is_answered_with_1002(self):
        # RFC 6455 5.5.1: a close body, if any, starts with a 2-byte code.
        out = self.attack("close with 1 byte", frame(OP_CLOSE, b"\x03"), "close", CLOSE_PROTOCOL)
        self.assertNotEqual(len(out.raw_payload), 1, "the server sent a 1-byte close payload")
        self.assertUndisturbed("close with 1 byte")
        self.assertAttackersGone()

    def test_close_reason_that_is_not_utf8_fails_the_connection(self):
        # RFC 6455 5.5.1 and 8.1: the reason is UTF-8; if not, the
        # connection fails (Autobahn 7.5.1). It must end, and nothing may
        # be echoed back as if it were a clean close.
        raw = self.raw()
        raw.send(close_frame(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
        out = raw.outcome(5, wait_tcp=False)
        raw.close()
        self.assertIn((out.kind, out.code), [("close", CLOSE_INVALID_PAYLOAD), ("drop", None)],
                      "close frame with a reason that is not UTF-8: %r" % out)
        self.assertUndisturbed("close reason not UTF-8")

    def test_strict_close_reason_that_is_not_utf8_gets_1007(self):
        # RFC 6455 7.1.7: failing an established connection, the server
        # SHOULD send a close frame; 1007 is the code for invalid data.
        self.attack("close reason not UTF-8", close_frame(1000, b"\xff\xfe"), "close",
                    CLOSE_INVALID_PAYLOAD)
        self.assertUndisturbed("close reason not UTF-8")
        self.assertAttackersGone()

    def test_valid_close_codes_are_echoed(self):
        for code in VALID_CLOSE_CODES:
            with self.attempt(code=code):
                self.assertEchoed("close code %d" % code, close_frame(code, b"bye"), code)
                self.assertUndisturbed("close code %d" % code)
        with self.attempt(code=None):
            # An empty close frame is answered with an empty one (no code).
            out = self.attack("empty close frame", close_frame(None), "close", None)
            self.assertEqual(out.raw_payload, b"", "answer to an empty close frame")
        with self.attempt(code="1000 with a 123-byte reason (125 in all, the most)"):
            self.assertEchoed("long reason", close_frame(1000, "é".encode() * 61 + b"x"), 1000)
        with self.attempt(code="1000, one byte per write"):
            raw = self.raw()
            raw.send(close_frame(1000, b"slow"), byte_by_byte=True)
            out = raw.outcome(5)
            self.assertOutcome(out, "close", 1000, "close 1000 one byte per write")
            raw.close()
        self.assertAttackersGone()
        # Every one of them left the channel: only the bystanders remain.
        poll_until(lambda: status(self.port)["clients"] == 2, 5,
                   "/status to count only the two bystanders")

    def test_nothing_after_a_close_frame_is_delivered(self):
        # RFC 6455 5.5.1: after sending a close frame the client sends no
        # more data; whatever follows it must not reach anyone.
        data = (frame(OP_TEXT, b"before close") + close_frame(1000)
                + frame(OP_TEXT, b"after close") + frame(OP_BINARY, b"\x01after"))
        self.attack("data after close", data, "close", 1000, delivered=[text("before close")])
        self.assertUndisturbed("data after a close frame")
        self.assertAttackersGone()

    def test_close_in_the_middle_of_a_fragmented_message(self):
        # A close frame may come between fragments (control frames may be
        # interleaved): the half message is dropped, never delivered.
        data = (frame(OP_TEXT, b"half", fin=False) + close_frame(1000)
                + frame(OP_CONT, b" of it"))
        self.attack("close between fragments", data, "close", 1000)
        self.assertUndisturbed("close between fragments")
        self.assertAttackersGone()


if __name__ == "__main__":
    main()
