#!/usr/bin/python3
"""agent.py - WebSocket clients inside one multi-host test "host".

Started by the tests with host.popen() (so it runs in that host's network
namespace and reaches that host's gateway on 127.0.0.1).  Reads commands
from stdin and reports events on stdout, one JSON object per line each way.
Needs only the standard library and python3-websocket (websocket-client).

Commands ({"op": ...}):

  {"op":"open","c":ID,"path":"/broadcast/chat"[,"port":9009][,"headers":[...]]
   [,"addr":A]}
        open client ID on that path (of 127.0.0.1, or of address A: IPv4,
        or IPv6 with %scope)                   -> {"ev":"open","c":ID,"t0":T0,"t":T}
                                                  (T0 before connecting, T once open)
                                               or {"ev":"open_failed","c":ID,"err":...}
  {"op":"send","c":ID,"tag":TAG,"from":N,"count":K[,"interval":S][,"job":J]
   [,"stamp":true]}
        client ID sends the text messages "TAG:N" ... "TAG:N+K-1", one every S
        seconds (default: as fast as it can), in a thread of its own; K=0 means
        until stopped                          -> {"ev":"sent","c":ID,"job":J,
                                                   "tag":TAG,"first":N,"last":L,"t":T
                                                   [,"stamps":[T_N,...]]}
                                                  (L = last number sent, N-1 if none;
                                                   with stamp, the time each was sent)
  {"op":"stop","job":J}    stop a sending job (it then reports "sent")
  {"op":"close","c":ID}    close client ID (status 1000)
  {"op":"status"[,"port":9009][,"req":R]}
        GET http://127.0.0.1:<port>/status     -> {"ev":"status","req":R,"body":{...}}
                                               or {"ev":"status","req":R,"err":...}
  {"op":"ping","req":R}                        -> {"ev":"pong","req":R}
  {"op":"serve","port":P}
        act as an original Named WebSockets proxy's gateway on [::]:P (dual
        stack): accept WebSocket handshakes on /broadcast/<name>; a proxy
        link (X-BroadcastWebSocket-Proxy: true) gets what "fan" sends
                                               -> {"ev":"serving","port":P}
        and for each one accepted: {"ev":"accepted","s":N,"path":...,"peer":ADDR,
                                    "proxy":bool,"t":T}
  {"op":"fan","tag":TAG,"from":N,"count":K}
        send "TAG:N" ... to every accepted connection, in order
                                               -> {"ev":"fanned","tag":TAG,"to":[N...]}
  {"op":"quit"}            close every client and exit

Events reported without a command:

  {"ev":"msg","c":ID,"d":TEXT,"t":T}     a message client ID received (binary
                                         ones as {"ev":"msg","c":ID,"b":HEX})
  {"ev":"closed","c":ID,"code":C,"reason":R,"by":"peer"|"us"|"error","t":T}
                                         the connection ended (C is null when
                                         there was no close frame)
  {"ev":"error","err":...}               a command could not be carried out

T is time.monotonic() in this process; CLOCK_MONOTONIC is the same in every
namespace of the machine, so the tests compare it with their own.
"""

import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time
import urllib.request

import websocket

_out_lock = threading.Lock()


def report(**ev):
    line = json.dumps(ev, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Client:
    def __init__(self, cid, url, headers):
        self.cid = cid
        self.closing = False
        kw = {"header": headers} if headers else {}
        self.ws = websocket.create_connection(url, timeout=10, enable_multithread=True, **kw)
        self.ws.settimeout(None)
        self.thread = threading.Thread(target=self._reader, daemon=True)

    def start(self):
        self.thread.start()

    def _reader(self):
        code, reason, by = None, "", "peer"
        try:
            while True:
                opcode, data = self.ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    report(ev="msg", c=self.cid, d=data.decode("utf-8", "replace"),
                           t=time.monotonic())
                elif opcode == websocket.ABNF.OPCODE_BINARY:
                    report(ev="msg", c=self.cid, b=data.hex(), t=time.monotonic())
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    raw = data.data if hasattr(data, "data") else data
                    if raw and len(raw) >= 2:
                        code = struct.unpack("!H", raw[:2])[0]
                        reason = raw[2:].decode("utf-8", "replace")
                    break
        except Exception as e:                      # noqa: BLE001 - report it
            by = "error"
            reason = "%s: %s" % (type(e).__name__, e)
        if self.closing and by == "peer":
            by = "us"
        try:
            self.ws.shutdown()
        except Exception:                           # noqa: BLE001
            pass
        report(ev="closed", c=self.cid, code=code, reason=reason,
               by="us" if self.closing and by != "error" else by, t=time.monotonic())

    def send(self, text):
        self.ws.send(text)

    def close(self):
        self.closing = True
        try:
            self.ws.send_close(websocket.STATUS_NORMAL)
        except Exception:                           # noqa: BLE001
            pass


class Server(threading.Thread):
    """The server side of the original proxy, as far as a proxy link sees
    it: a WebSocket handshake, then text frames that it sends. What the
    other side sends is read and dropped (the dialing side only reads)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.bind(("::", port))
        self.sock.listen(16)
        self.conns = []
        self.lock = threading.Lock()

    def run(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(conn, peer), daemon=True).start()

    def _handshake(self, conn, peer):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            data = conn.recv(4096)
            if not data:
                conn.close()
                return
            head += data
        lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                      % accept).encode())
        with self.lock:
            self.conns.append(conn)
            n = len(self.conns)
        address = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
        report(ev="accepted", s=n, path=path, peer=address,
               proxy=headers.get("x-broadcastwebsocket-proxy", "").lower() == "true",
               t=time.monotonic())
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    def fan(self, texts):
        with self.lock:
            conns = list(self.conns)
        to = []
        for k, conn in enumerate(conns):
            try:
                for text in texts:
                    data = text.encode()
                    conn.sendall(struct.pack("!BB", 0x81, len(data)) + data)
                to.append(k + 1)
            except OSError:
                pass
        return to


class Sender(threading.Thread):
    def __init__(self, client, job, tag, first, count, interval, stamp):
        super().__init__(daemon=True)
        self.client, self.job, self.tag = client, job, tag
        self.first, self.count, self.interval = first, count, interval
        self.stamps = [] if stamp else None
        self.stopped = threading.Event()

    def run(self):
        n = self.first - 1
        err = None
        next_t = time.monotonic()
        try:
            while not self.stopped.is_set() and (self.count == 0 or
                                                 n < self.first + self.count - 1):
                if self.interval:
                    left = next_t - time.monotonic()
                    if left > 0 and self.stopped.wait(left):
                        break
                    next_t += self.interval
                if self.stamps is not None:
                    self.stamps.append(time.monotonic())
                self.client.send("%s:%d" % (self.tag, n + 1))
                n += 1
        except Exception as e:                      # noqa: BLE001
            err = "%s: %s" % (type(e).__name__, e)
        report(ev="sent", c=self.client.cid, job=self.job, tag=self.tag,
               first=self.first, last=n, err=err, t=time.monotonic(),
               **({"stamps": self.stamps} if self.stamps is not None else {}))


def main():
    clients, jobs = {}, {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "open":
                cid = cmd["c"]
                addr = cmd.get("addr", "127.0.0.1")
                url = "ws://%s:%d%s" % ("[%s]" % addr if ":" in addr else addr,
                                        cmd.get("port", 9009), cmd["path"])
                t0 = time.monotonic()
                try:
                    cl = Client(cid, url, cmd.get("headers"))
                except Exception as e:              # noqa: BLE001
                    report(ev="open_failed", c=cid, err="%s: %s" % (type(e).__name__, e),
                           t=time.monotonic())
                    continue
                clients[cid] = cl
                report(ev="open", c=cid, t0=t0, t=time.monotonic())
                cl.start()
            elif op == "send":
                job = cmd.get("job", cmd["c"])
                s = Sender(clients[cmd["c"]], job, cmd["tag"], cmd.get("from", 1),
                           cmd.get("count", 1), cmd.get("interval", 0),
                           cmd.get("stamp", False))
                jobs[job] = s
                s.start()
            elif op == "stop":
                s = jobs.get(cmd["job"])
                if s:
                    s.stopped.set()
            elif op == "close":
                clients[cmd["c"]].close()
            elif op == "status":
                url = "http://127.0.0.1:%d/status" % cmd.get("port", 9009)
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        body = json.loads(r.read().decode())
                    report(ev="status", req=cmd.get("req"), body=body)
                except Exception as e:              # noqa: BLE001
                    report(ev="status", req=cmd.get("req"),
                           err="%s: %s" % (type(e).__name__, e))
            elif op == "serve":
                server = Server(cmd["port"])
                server.start()
                report(ev="serving", port=cmd["port"])
            elif op == "fan":
                texts = ["%s:%d" % (cmd["tag"], n) for n in
                         range(cmd.get("from", 1), cmd.get("from", 1) + cmd["count"])]
                report(ev="fanned", tag=cmd["tag"], to=server.fan(texts))
            elif op == "ping":
                report(ev="pong", req=cmd.get("req"))
            elif op == "quit":
                break
            else:
                report(ev="error", err="unknown op %r" % op)
        except Exception as e:                      # noqa: BLE001
            report(ev="error", err="%s: %s (%s)" % (type(e).__name__, e, line[:200]))
    for s in jobs.values():
        s.stopped.set()
    for s in jobs.values():
        s.join(2)
    for cl in clients.values():
        cl.close()
    for cl in clients.values():
        cl.thread.join(2)


if __name__ == "__main__":
    main()
