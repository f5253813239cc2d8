#!/usr/bin/python3
"""capture.py OUT - records every Ethernet frame seen on any interface of
the network namespace it runs in (the harness's switch: every port of the
LAN's bridge) into OUT, until SIGTERM. What a host on the LAN could see.

Frames are written as a 4-byte big-endian length and the frame. Prints
"ready" on stdout once the socket is open: frames after that are caught.
A raw packet socket (AF_PACKET, ETH_P_ALL) from the standard library, so
no tcpdump is needed.
"""

import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003


def main():
    out = open(sys.argv[1], "wb")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        try:
            frame = sock.recv(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        out.write(struct.pack(">I", len(frame)) + frame)
    out.close()


if __name__ == "__main__":
    main()
