#!/usr/bin/python3
"""agent.py - WebSocket clients inside one multi-host test "host".

Started by the tests with host.popen() (so it runs in that host's network
namespace and reaches that host's gateway on 127.0.0.1).  Reads commands
from stdin and reports events on stdout, one JSON object per line each way.
Needs only the standard library and python3-websocket (websocket-client).

Commands ({"op": ...}):

  {"op":"open","c":ID,"path":"/broadcast/chat"[,"port":9009][,"headers":[...]]}
        open client ID on that path            -> {"ev":"open","c":ID,"t0":T0,"t":T}
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

import json
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
                url = "ws://127.0.0.1:%d%s" % (cmd.get("port", 9009), cmd["path"])
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
