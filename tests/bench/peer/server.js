'use strict';
// The peer nws is measured against, for benchmarks only: a plain npm `ws`
// server with nws's channel semantics. Every message goes to all OTHER
// clients of the same /local/<name>, in order, text as text and binary as
// binary; no compression; 1 MiB messages at most. Options: --port N (0 =
// any free port), --bind ADDR (default 127.0.0.1). Prints `ready port=N`.
const http = require('http');
const { WebSocketServer } = require('ws');

const arg = (name, value) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : value;
};
const rooms = new Map();                // path -> Set of open clients
const wss = new WebSocketServer({
  noServer: true, perMessageDeflate: false, maxPayload: 1 << 20, clientTracking: false,
});
const server = http.createServer((req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  if (!/^\/local\/[A-Za-z0-9._-]{1,255}$/.test(path))
    return socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (!rooms.has(path)) rooms.set(path, new Set());
    const room = rooms.get(path);
    room.add(ws);
    ws.on('error', () => {});           // ws closes the connection itself
    ws.on('message', (data, isBinary) => {
      for (const other of room) if (other !== ws) other.send(data, { binary: isBinary });
    });
    ws.on('close', () => {
      room.delete(ws);
      if (room.size === 0 && rooms.get(path) === room) rooms.delete(path);
    });
  });
});
server.listen(Number(arg('port', '9009')), arg('bind', '127.0.0.1'), () =>
  console.log(`ready port=${server.address().port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
