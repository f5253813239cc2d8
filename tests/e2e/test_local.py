"""End to end: one gateway, clients on /local channels.

Every message reaches every other client of the same scope and name, in
the sender's order, never the sender, with its frame type and bytes kept.
"Nothing else arrived" is checked with fences, not with waiting: a client
that has seen all the messages sends a fence, and since everything before
it already passed the hub, anything stray would arrive before the fence.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websocket  # noqa: E402

from nwstest import NwsTestCase, binary, main, text  # noqa: E402


class LocalChannels(NwsTestCase):

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway()

    def fence(self, clients, tag):
        """Each client sends a fence; each must then receive exactly the
        other clients' fences (any interleaving across senders), nothing
        else: no echo of its own messages, no duplicate, no stray."""
        for i, c in enumerate(clients):
            c.send_text("fence-%s-%d" % (tag, i))
        for i, c in enumerate(clients):
            want = sorted("fence-%s-%d" % (tag, j) for j in range(len(clients)) if j != i)
            got = sorted(repr(m) if m.kind != "text" else m.data
                         for m in c.recv_n(len(want)))
            self.assertEqual(got, want, "client %d: after all messages, only the others' "
                             "fences may arrive" % i)

    def test_three_clients_each_get_the_others_in_order(self):
        clients = self.nws.open_clients(self.gw, "/local/chat", 3)
        rounds = 6
        for k in range(rounds):
            for i, c in enumerate(clients):
                c.send_text("from-%d-%d" % (i, k))
        for i, c in enumerate(clients):
            per_sender = {j: [] for j in range(3) if j != i}
            for m in c.recv_n(2 * rounds):
                self.assertEqual(m.kind, "text", "client %d got %r" % (i, m))
                _, sender, k = m.data.split("-")
                sender = int(sender)
                self.assertNotEqual(sender, i, "client %d received its own message %r" % (i, m))
                per_sender[sender].append(int(k))
            for j, ks in per_sender.items():
                self.assertEqual(ks, list(range(rounds)),
                                 "client %d: messages of client %d out of order or missing" % (i, j))
        self.fence(clients, "end")

    def test_names_and_scopes_stay_apart(self):
        # local/chat vs local/chatroom vs local/cha (topic prefixes both
        # ways), and the same name in both scopes.
        paths = ["/local/chat", "/local/chatroom", "/local/cha",
                 "/local/x", "/broadcast/x", "/broadcast/chat"]
        pairs = [(self.nws.client(self.gw, p), self.nws.client(self.gw, p)) for p in paths]
        for p, (a, _) in zip(paths, pairs):
            a.send_text("hello " + p)
        for p, (_, b) in zip(paths, pairs):
            self.assertReceives(b, [text("hello " + p)], what="first message on " + p)
        # Every hello has passed the hub; a leaked one would precede these.
        for p, (a, _) in zip(paths, pairs):
            a.send_text("fence " + p)
        for p, (_, b) in zip(paths, pairs):
            self.assertReceives(b, [text("fence " + p)], what="second message on " + p)
            b.send_text("back " + p)
        for p, (a, _) in zip(paths, pairs):
            self.assertReceives(a, [text("back " + p)], what="sender's first message on " + p)

    def test_binary_stays_binary_byte_for_byte(self):
        a, b, c = self.nws.open_clients(self.gw, "/local/bin", 3)
        payloads = [
            binary(bytes(range(256))),              # not UTF-8
            binary(b"\xff\xfe\x00\x00\xc3\x28"),     # invalid UTF-8 sequences, NULs
            binary(b"plain ascii, but binary"),     # valid UTF-8 must stay binary
            text("plain ascii text"),
            text("h\u00e9llo \u2713 \U0001d11e \u4e2d\u6587"),  # 2-, 3- and 4-byte UTF-8
            binary(os.urandom(200000)),             # > 64 KiB length, arrives in pieces
            text("\u00e9" * 70000),                  # 140000 bytes of 2-byte chars
        ]
        for m in payloads:
            a.send(m)
        for who in (b, c):
            self.assertReceives(who, payloads, timeout=10)
        self.fence([a, b, c], "bin")

    def test_empty_messages(self):
        a, b = self.nws.open_clients(self.gw, "/local/empty", 2)
        sent = [text(""), binary(b""), text("after")]
        for m in sent:
            a.send(m)
        self.assertReceives(b, sent)

    def test_fragmented_message_arrives_whole(self):
        a, b = self.nws.open_clients(self.gw, "/local/frag", 2)
        ABNF = websocket.ABNF
        body = "fragmented \u2713 message".encode("utf-8")
        cut = body.index("\u2713".encode("utf-8")) + 1       # split inside a UTF-8 character
        a.ws.send_frame(ABNF.create_frame(body[:cut], ABNF.OPCODE_TEXT, fin=0))
        a.ws.send_frame(ABNF.create_frame(body[cut:cut + 3], ABNF.OPCODE_CONT, fin=0))
        a.ws.send_frame(ABNF.create_frame(body[cut + 3:], ABNF.OPCODE_CONT, fin=1))
        blob = bytes(range(256)) * 300
        a.ws.send_frame(ABNF.create_frame(blob[:1000], ABNF.OPCODE_BINARY, fin=0))
        a.ws.send_frame(ABNF.create_frame(blob[1000:], ABNF.OPCODE_CONT, fin=1))
        a.send_text("after")
        self.assertReceives(b, [text(body.decode("utf-8")), binary(blob), text("after")])

    def test_invalid_utf8_text_from_a_client_closes_it_with_1007(self):
        # RFC 6455 section 8.1; lws validates UTF-8 (README, close codes).
        a, b = self.nws.open_clients(self.gw, "/local/utf8", 2)
        ABNF = websocket.ABNF
        a.ws.send_frame(ABNF.create_frame(b"\xff\xfe bad", ABNF.OPCODE_TEXT))
        self.assertClosedWith(a, 1007, limit=0)
        c = self.nws.client(self.gw, "/local/utf8")
        c.send_text("after")
        self.assertReceives(b, [text("after")], what="the other client, which saw nothing of it")


if __name__ == "__main__":
    main()
