"""A WebSocket client run as its own process, to be frozen with SIGSTOP.

    /usr/bin/python3 frozen_client.py URL

Connects with a small receive buffer (so the kernel soaks up little of
what it is sent), prints "open", then reads faultlib-numbered messages
("label|segment|n|...") until the connection ends, and prints one JSON
line: {"count", "last", "bad": [[expected, got]...], "end": [...]} where
end is ["close", code, reason], ["dropped", why] or ["timeout"].
"""

import json
import socket
import struct
import sys

import websocket

READ_TIMEOUT = 30.0                 # the test ends long before


def main():
    url = sys.argv[1]
    ws = websocket.create_connection(
        url, timeout=READ_TIMEOUT, skip_utf8_validation=True,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    print("open", flush=True)
    count, expected, bad, end = 0, 1, [], None
    while end is None:
        try:
            opcode, frame = ws.recv_data_frame(False)
        except websocket.WebSocketTimeoutException:
            end = ["timeout"]
            break
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
            end = ["dropped", repr(e)]
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
            end = ["close", code, data[2:].decode("utf-8", "replace")]
            break
        n = int(frame.data.decode("utf-8").split("|")[2])
        if n != expected and len(bad) < 10:
            bad.append([expected, n])
        expected = n + 1
        count += 1
    print(json.dumps({"count": count, "last": expected - 1, "bad": bad, "end": end}), flush=True)
    try:
        ws.shutdown()
    except Exception:
        pass


if __name__ == "__main__":
    main()
