"""Hardening: malformed WebSocket frames (RFC 6455 section 5), crafted bit
by bit on a bare socket, in the spirit of the Autobahn test suite.

Each attack comes from a fresh connection on the channel two bystanders
(python3-websocket) use; it is sent in one write, and again one byte per
write up to the byte that makes it invalid. After each one: the attacker
got the precise outcome (a close frame with the code the RFC asks for,
then the end of the TCP connection, within lws's 5 s wait for the answer),
the gateway still runs, nothing of the attack reached the bystanders, they
still talk both ways and a newcomer can join.

RFC 6455 7.1.7 asks for a close frame ("SHOULD") where libwebsockets 4.1
drops some connections instead (oversized control frames, a 64-bit length
with its top bit set, bytes arriving after the offence): those tests accept
either, and nothing else.

README ("Limits and close codes"): protocol violations close with 1002 (by
libwebsockets); a message over --max-message closes its sender with 1009;
libwebsockets 4.1 accepts unmasked client frames (an RFC violation of the
library, documented there).
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hardtest import (CLOSE_PROTOCOL, CLOSE_TOO_BIG, OP_BINARY, OP_CLOSE,  # noqa: E402
                      OP_CONT, OP_PING, OP_PONG, OP_TEXT, HardeningCase, binary, frame,
                      main, metrics, note, poll_until, rss_kib, text)

MIB = 1024 * 1024

# name -> (valid bytes first, the offending frame, messages the bystanders
# get from the valid part). Each offence shows in the first byte of the
# offending frame; a close frame 1002 must answer it.
PROTOCOL_ERRORS = {}
for _rsv, _name in ((4, "RSV1"), (2, "RSV2"), (1, "RSV3"), (7, "RSV1+2+3")):
    PROTOCOL_ERRORS["text with %s" % _name] = (b"", frame(OP_TEXT, b"hello", rsv=_rsv), [])
PROTOCOL_ERRORS["binary with RSV1"] = (b"", frame(OP_BINARY, b"\x00\x01", rsv=4), [])
PROTOCOL_ERRORS["ping with RSV2"] = (b"", frame(OP_PING, b"p", rsv=2), [])
PROTOCOL_ERRORS["empty text with RSV3"] = (b"", frame(OP_TEXT, b"", rsv=1), [])
PROTOCOL_ERRORS["continuation with RSV1 in a fragmented message"] = (
    frame(OP_TEXT, b"frag", fin=False), frame(OP_CONT, b"ment", rsv=4), [])
for _op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    PROTOCOL_ERRORS["reserved opcode 0x%X" % _op] = (b"", frame(_op, b"x"), [])
    PROTOCOL_ERRORS["reserved opcode 0x%X, empty" % _op] = (b"", frame(_op, b""), [])
PROTOCOL_ERRORS["reserved opcode 0x5 inside a fragmented message"] = (
    frame(OP_TEXT, b"frag", fin=False), frame(5, b"x"), [])
PROTOCOL_ERRORS["ping with FIN=0"] = (b"", frame(OP_PING, b"ping", fin=False), [])
PROTOCOL_ERRORS["pong with FIN=0"] = (b"", frame(OP_PONG, b"pong", fin=False), [])
PROTOCOL_ERRORS["close with FIN=0"] = (b"", frame(OP_CLOSE, struct.pack("!H", 1000), fin=False),
                                       [])
PROTOCOL_ERRORS["ping with FIN=0 inside a fragmented message"] = (
    frame(OP_TEXT, b"frag", fin=False), frame(OP_PING, b"", fin=False), [])
PROTOCOL_ERRORS["continuation (FIN=1) with nothing to continue"] = (
    b"", frame(OP_CONT, b"orphan"), [])
PROTOCOL_ERRORS["continuation (FIN=0) with nothing to continue"] = (
    b"", frame(OP_CONT, b"x", fin=False), [])
PROTOCOL_ERRORS["continuation after a complete message"] = (
    frame(OP_TEXT, b"whole"), frame(OP_CONT, b"more"), [text("whole")])
PROTOCOL_ERRORS["text in the middle of a fragmented text"] = (
    frame(OP_TEXT, b"part 1", fin=False), frame(OP_TEXT, b"intruder"), [])
PROTOCOL_ERRORS["binary in the middle of a fragmented text"] = (
    frame(OP_TEXT, b"part 1", fin=False), frame(OP_BINARY, b"\x01"), [])
PROTOCOL_ERRORS["text FIN=0 in the middle of a fragmented binary"] = (
    frame(OP_BINARY, b"\x01", fin=False) + frame(OP_CONT, b"\x02", fin=False),
    frame(OP_TEXT, b"x", fin=False), [])

# Control frames with a payload over 125 bytes (RFC 6455 5.5): the
# connection must fail; 1002 is the code for it.
OVERSIZED_CONTROL = {
    "ping with 126 bytes": frame(OP_PING, b"p" * 126),
    "pong with 126 bytes": frame(OP_PONG, b"p" * 126),
    "close with 126 bytes": frame(OP_CLOSE, struct.pack("!H", 1000) + b"r" * 124),
    "ping with 64 KiB": frame(OP_PING, b"p" * 65535),
    "ping with a 64-bit length of 5": frame(OP_PING, b"abcde", length_form=64),
}

# The 64-bit length with its most significant bit set (RFC 6455 5.2: "the
# most significant bit MUST be 0").
TOP_BIT_LENGTHS = {
    "binary, 64-bit length 2^63": frame(OP_BINARY, b"", length=1 << 63, length_form=64),
    "text, 64-bit length 2^64-1": frame(OP_TEXT, b"", length=(1 << 64) - 1, length_form=64),
}


def fragmented_over_limit(total, pieces):
    """A binary message of total bytes in pieces frames (all masked)."""
    size = total // pieces
    out = b""
    for i in range(pieces):
        n = size if i < pieces - 1 else total - size * (pieces - 1)
        out += frame(OP_BINARY if i == 0 else OP_CONT, b"\x05" * n, fin=i == pieces - 1)
    return out


class Frames(HardeningCase):

    # -- RFC 6455 5.2, 5.4, 5.5: reserved bits, opcodes, fragmentation ----

    def test_protocol_errors_close_with_1002(self):
        # All bytes in one write: the gateway reads the offending frame
        # whole.
        for what, (before, bad, delivered) in PROTOCOL_ERRORS.items():
            with self.attempt(attack=what):
                self.attack(what, before + bad, "close", CLOSE_PROTOCOL, delivered=delivered)
                self.assertUndisturbed(what)
        self.assertAttackersGone()

    def test_protocol_errors_one_byte_per_write_close_with_1002(self):
        # One byte per write, up to and including the first byte of the
        # offending frame (where each offence shows): the parser meets the
        # frames in pieces.
        for what, (before, bad, delivered) in PROTOCOL_ERRORS.items():
            with self.attempt(attack=what):
                self.attack(what + " (one byte per write)", before + bad[:1], "close",
                            CLOSE_PROTOCOL, byte_by_byte=True, delivered=delivered)
                self.assertUndisturbed(what)
        self.assertAttackersGone()

    def test_protocol_error_with_more_bytes_following_ends_the_connection(self):
        # The whole offending frame one byte per write, 50 times: the rest
        # of the frame arrives after the offence was seen. RFC 6455 7.1.7
        # asks for a close frame 1002 (SHOULD); lws 4.1 drops the
        # connection instead when a byte arrives before it writes that
        # frame, which is timing (README, "Limits and close codes"). What
        # holds every time: each connection ends in one of the two ways,
        # nothing reaches anyone, and every close frame sent is counted.
        before, bad, _ = PROTOCOL_ERRORS["text in the middle of a fragmented text"]
        counted = metrics(self.port)["nws_closed_protocol_error_total"]
        kinds = []
        for i in range(50):
            out = self.attack("attempt %d, one byte per write" % (i + 1), before + bad, "close",
                              CLOSE_PROTOCOL, byte_by_byte=True, or_drop=True)
            kinds.append(out.kind)
        self.assertAttackersGone()
        self.assertUndisturbed("50 attempts")
        closes = kinds.count("close")
        note("more bytes after the offence: %d close frames 1002, %d drops", closes,
             kinds.count("drop"))
        grew = metrics(self.port)["nws_closed_protocol_error_total"] - counted
        self.assertTrue(closes <= grew <= 50, "nws_closed_protocol_error_total went up by %d "
                        "for %d close frames 1002 out of 50 attempts" % (grew, closes))

    def test_oversized_control_frames_fail_the_connection(self):
        # RFC 6455 7.1.7 asks for a close frame 1002 (SHOULD); lws 4.1
        # drops these connections without one (README, "Limits and close
        # codes"). Either way the connection ends at once, nothing reaches
        # anyone, and after a close frame the server ends the connection.
        for what, data in OVERSIZED_CONTROL.items():
            with self.attempt(attack=what):
                self.attack(what, data, "close", CLOSE_PROTOCOL, or_drop=True)
                self.assertUndisturbed(what)
        self.assertAttackersGone()

    # -- what must pass: the positive controls of the cases above --------

    def test_valid_edge_cases_pass(self):
        raw = self.raw()
        # A ping of 125 bytes (the most a control frame carries) is
        # answered with a pong carrying the same bytes (RFC 6455 5.5.2-3).
        raw.send(frame(OP_PING, bytes(range(125))))
        deadline = time.monotonic() + 5
        fin, op, payload = raw.read_frame(deadline)
        self.assertEqual((fin, op, payload), (True, OP_PONG, bytes(range(125))),
                         "answer to a 125-byte ping")
        # A ping between the fragments of a message, an empty
        # continuation, an unsolicited pong: the message arrives whole.
        raw.send(frame(OP_TEXT, "κό".encode(), fin=False) + frame(OP_PING, b"mid")
                 + frame(OP_PONG, b"unsolicited")
                 + frame(OP_CONT, b"", fin=False) + frame(OP_CONT, "σμε".encode()))
        fin, op, payload = raw.read_frame(deadline)
        self.assertEqual((op, payload), (OP_PONG, b"mid"), "answer to a ping between fragments")
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, [text("κόσμε")], what="fragmented message with a ping inside")
        # 16-bit and 64-bit length forms, a zero-length frame, binary.
        raw.send(frame(OP_BINARY, b"\x07" * 300) + frame(OP_BINARY, b"\x08" * 70000)
                 + frame(OP_TEXT, b"") + frame(OP_BINARY, b""))
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, [binary(b"\x07" * 300), binary(b"\x08" * 70000), text(""),
                                      binary(b"")], what="length forms")
        # A message of 2,000 one-byte fragments, sent one byte per write.
        parts = frame(OP_BINARY, b"\x00", fin=False) + b"".join(
            frame(OP_CONT, bytes([i % 256]), fin=i == 1999) for i in range(1, 2000))
        raw.send(parts, byte_by_byte=True)
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, [binary(bytes(i % 256 for i in range(2000)))],
                                what="2,000 fragments", timeout=15)
        self.assertUndisturbed("valid edge cases")

    # -- RFC 6455 5.1, 5.3: unmasked client frames ------------------------

    def test_unmasked_client_frame(self):
        # RFC 6455 5.1: a server MUST close a connection on an unmasked
        # client frame (1002). libwebsockets 4.1 accepts it instead; the
        # README says so ("Limits and close codes": "libwebsockets 4.1
        # accepts unmasked client frames, which RFC 6455 forbids"). Either
        # way nobody else may be disturbed: if accepted, the message is
        # delivered like any other, whole and once.
        for one_by_one in (False, True):
            with self.attempt(byte_by_byte=one_by_one):
                raw = self.raw()
                msg = "unmasked hello %s" % one_by_one
                raw.send(frame(OP_TEXT, msg.encode(), mask=False), byte_by_byte=one_by_one)
                raw.send(frame(OP_TEXT, b"masked after"))
                # Whatever the gateway chose, it chose it before it read the
                # masked frame: wait for that one or for the close.
                got = []
                try:
                    got = [self.by.b.recv(timeout=3).data for _ in range(2)]
                except AssertionError:
                    pass
                if got:
                    self.assertEqual(got, [msg, "masked after"],
                                     "an unmasked frame accepted (README: lws 4.1) must be "
                                     "delivered normally")
                    self.assertReceives(self.by.a, [text(msg), text("masked after")])
                    verdict = "accepted and delivered (the lws 4.1 behaviour in the README)"
                else:
                    out = raw.outcome(5)
                    self.assertEqual((out.kind, out.code), ("close", CLOSE_PROTOCOL),
                                     "an unmasked frame not delivered must be refused with 1002")
                    verdict = "refused with 1002 (RFC 6455 5.1)"
                note("unmasked client frame: %s", verdict)
                raw.close()
                self.assertUndisturbed("unmasked frame")

    # -- RFC 6455 5.2: 64-bit lengths ---------------------------------------

    def test_top_bit_of_64_bit_length_fails_the_connection(self):
        # RFC 6455 5.2: the most significant bit MUST be 0. As above, lws
        # 4.1 drops the connection where 7.1.7 asks for a close frame 1002;
        # with bytes after the header or without, memory must not follow
        # the announced length.
        before = rss_kib(self.gw.pid)
        for what, data in TOP_BIT_LENGTHS.items():
            for extra in (0, 1024):
                with self.attempt(attack=what, extra=extra):
                    self.attack("%s, %d bytes after" % (what, extra), data + b"\x00" * extra,
                                "close", CLOSE_PROTOCOL, or_drop=True)
                    self.assertUndisturbed(what)
        self.assertAttackersGone()
        grown = rss_kib(self.gw.pid) - before
        self.assertLess(grown, 8 * 1024, "gateway RSS grew by %d KiB" % grown)

    def test_huge_announced_length_closes_with_1009_without_memory_growth(self):
        # 2^40 bytes announced; the payload streams in until the gateway
        # has seen more than --max-message (1 MiB by default) and closes
        # the sender with 1009. Its memory must not follow the announced
        # length.
        before = rss_kib(self.gw.pid)
        before_m = metrics(self.port)
        for what, length in (("64-bit length 2^40", 1 << 40),
                             ("64-bit length 2^63-1", (1 << 63) - 1),
                             ("64-bit length max+1", MIB + 1)):
            with self.attempt(attack=what):
                # Only what the announced frame holds (the gateway needs a
                # bit over 1 MiB): more would be read as another frame.
                self.attack(what, frame(OP_BINARY, b"", length=length, length_form=64)
                            + b"\x09" * min(length, MIB + 4096), "close", CLOSE_TOO_BIG,
                            timeout=10)
                self.assertUndisturbed(what)
        self.assertAttackersGone()
        grown = rss_kib(self.gw.pid) - before
        self.assertLess(grown, 16 * 1024, "gateway RSS grew by %d KiB" % grown)
        after = metrics(self.port)
        self.assertEqual(after["nws_closed_too_big_total"] - before_m["nws_closed_too_big_total"],
                         3, "nws_closed_too_big_total counts the three 1009 closes")

    def test_announced_length_over_limit_closes_at_once(self):
        # The header alone says the message will be over --max-message:
        # the sender can be closed with 1009 when the first bytes of the
        # payload arrive, not after the gateway has read a whole
        # --max-message of it.
        self.attack("2^40 announced, 1 KiB sent",
                    frame(OP_BINARY, b"", length=1 << 40, length_form=64) + b"\x09" * 1024,
                    "close", CLOSE_TOO_BIG)
        self.assertUndisturbed("2^40 announced")
        self.assertAttackersGone()

    def test_many_huge_announcements_do_not_grow_memory(self):
        # 100 connections each announce 2^40 bytes and send 64 KiB of it:
        # the gateway holds what arrived, not what was announced.
        before = rss_kib(self.gw.pid)
        raws = []
        for _ in range(100):
            raw = self.raw()
            raw.send(frame(OP_BINARY, b"", length=1 << 40, length_form=64) + b"\x09" * 65536)
            raws.append(raw)
        self.assertUndisturbed("100 huge announcements")   # all of it has been read by now
        grown = rss_kib(self.gw.pid) - before
        self.assertLess(grown, 48 * 1024, "gateway RSS grew by %d KiB for 100 clients each "
                        "announcing 2^40 bytes and sending 64 KiB" % grown)
        for raw in raws:
            raw.close()
        poll_until(lambda: metrics(self.port)["nws_clients"] == 2, 5,
                   "the 100 attackers to be gone from nws_clients")

    def test_fragmented_message_over_limit_closes_with_1009(self):
        # 1 MiB + 1 in 3 fragments, and in 1,000 fragments.
        for pieces in (3, 1000):
            with self.attempt(pieces=pieces):
                data = fragmented_over_limit(MIB + 1, pieces)
                self.attack("%d fragments, 1 MiB + 1 in all" % pieces, data, "close",
                            CLOSE_TOO_BIG, timeout=10)
                self.assertUndisturbed("fragmented 1 MiB + 1")
        self.assertAttackersGone()

    # -- counted ------------------------------------------------------------

    def test_protocol_error_closes_are_counted(self):
        # README: "Every refusal and close is counted in /status and
        # /metrics by reason." A counter named for protocol errors (or
        # 1002) must go up by one for each such close.
        before = metrics(self.port)
        for what in ("text with RSV1", "reserved opcode 0x3", "ping with FIN=0"):
            before_bytes, bad, _ = PROTOCOL_ERRORS[what]
            self.attack(what, before_bytes + bad, "close", CLOSE_PROTOCOL)
        self.assertAttackersGone()
        after = metrics(self.port)
        grew = {k: after[k] - before.get(k, 0) for k in after
                if any(w in k for w in ("protocol", "1002")) and after[k] > before.get(k, 0)}
        self.assertTrue(grew, "no counter in /metrics named for protocol errors (or 1002) went "
                        "up after three 1002 closes; counters: %s"
                        % sorted(k for k in after if k.endswith("_total")))
        self.assertIn(3, grew.values(), "protocol-error counters went up by %r, not 3" % grew)


if __name__ == "__main__":
    main()
