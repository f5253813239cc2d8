"""zmq_peer - an outside program on the nws hub, written from the README's
wire format with nothing but Python's standard library and python3-zmq
(no project code), as any third party would.

    zmq_peer.py sub ENDPOINT TOPIC
        SUB on the hub's subscriber endpoint; prints one JSON line per
        message: {"frames":3,"topic":"local/chat/","version":1,"kind":1,
        "flags":0,"reserved":0,"origin":N,"seq":N,"payload":"<hex>"}.
        Runs until killed.
    zmq_peer.py pub ENDPOINT TOPIC MESSAGE...
        Publishes each MESSAGE as a bare 2-frame [topic][payload] message
        (UTF-8) on the hub's publisher endpoint, then exits 0.

An endpoint with an IPv6 host ("tcp://[::1]:N") needs ZMQ_IPV6 in libzmq.
"""

import json
import struct
import sys

import zmq


def socket(ctx, kind, endpoint):
    s = ctx.socket(kind)
    if endpoint.startswith("tcp://["):
        s.setsockopt(zmq.IPV6, 1)
    s.connect(endpoint)
    return s


def sub(endpoint, topic):
    ctx = zmq.Context()
    s = socket(ctx, zmq.SUB, endpoint)
    s.setsockopt(zmq.SUBSCRIBE, topic.encode())
    while True:
        frames = s.recv_multipart()
        out = {"frames": len(frames), "topic": frames[0].decode("utf-8", "replace"),
               "payload": frames[-1].hex()}
        if len(frames) == 3 and len(frames[1]) == 20:
            version, kind, flags, reserved, origin, seq = struct.unpack("!BBBBQQ", frames[1])
            out.update(version=version, kind=kind, flags=flags, reserved=reserved,
                       origin=origin, seq=seq)
        print(json.dumps(out), flush=True)


def pub(endpoint, topic, messages):
    ctx = zmq.Context()
    # An XPUB, not a PUB: it receives the hub's subscription, so we know
    # when the hub listens (a PUB drops what it sends before that).
    s = socket(ctx, zmq.XPUB, endpoint)
    if not s.poll(10000, zmq.POLLIN):
        sys.exit("zmq_peer: no hub at %s" % endpoint)
    s.recv()
    for m in messages:
        s.send_multipart([topic.encode(), m.encode("utf-8")])
    s.close(linger=5000)            # let the messages leave before exiting
    ctx.term()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "sub":
        sub(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "pub":
        pub(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
