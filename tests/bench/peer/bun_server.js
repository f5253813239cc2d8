// The main peer nws is measured against, for benchmarks only: Bun's
// built-in WebSocket server (uWebSockets inside) with its own pub/sub,
// run by the `bun` binary from npm (node_modules/.bin/bun bun_server.js).
// nws's channel semantics: every message goes to all OTHER clients of the
// same /local/<name> or /broadcast/<name> (ws.publish skips the sender), in
// order, text as text and binary as binary; no compression; 1 MiB messages
// at most. The backpressure limit is nws's own --send-queue-bytes (64 MiB),
// so a benchmark's windowed sender never gets a message dropped. Options:
// --port N (0 = any free port), --bind ADDR (default 127.0.0.1). Prints
// `ready port=N`.
'use strict';

const arg = (name, value) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : value;
};
const PATH = /^\/(local|broadcast)\/[A-Za-z0-9._-]{1,255}$/;

const server = Bun.serve({
  hostname: arg('bind', '127.0.0.1'),
  port: Number(arg('port', '9009')),
  fetch(req, srv) {
    const path = new URL(req.url).pathname;
    if (PATH.test(path) && srv.upgrade(req, { data: { path } }))
      return undefined;
    return new Response(null, { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 1 << 20,
    idleTimeout: 960,                   // seconds, Bun's largest; it pings before
    backpressureLimit: 64 << 20,
    closeOnBackpressureLimit: false,
    publishToSelf: false,
    open(ws) { ws.subscribe(ws.data.path); },
    message(ws, message) { ws.publish(ws.data.path, message); },
    close(ws) { ws.unsubscribe(ws.data.path); },
  },
});
console.log(`ready port=${server.port}`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
