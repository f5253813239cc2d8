// site.js - helpers inside the test pages (tests/browser/harness.mjs puts
// this script in every page of the test "web sites"). The test calls them
// with page.evaluate(); every wait is on an event, with a deadline.
//
// A message is described as {kind: "text", text} or
// {kind: "binary", length, hash, head} (FNV-1a of the bytes, first 8
// bytes), so large binary messages are compared without shipping them.
"use strict";
(function () {
    function fnv1a(bytes) {
        let h = 0x811c9dc5;
        for (let i = 0; i < bytes.length; i++) {
            h ^= bytes[i];
            h = Math.imul(h, 0x01000193) >>> 0;
        }
        return h.toString(16);
    }

    function describe(data) {
        if (typeof data === "string")
            return { kind: "text", text: data };
        const bytes = new Uint8Array(data);
        return { kind: "binary", length: bytes.length, hash: fnv1a(bytes), head: Array.from(bytes.slice(0, 8)) };
    }

    // {kind: "binary", bytes: [...]} or {kind: "binary", length, seed}.
    function bytesOf(msg) {
        if (msg.bytes)
            return new Uint8Array(msg.bytes);
        const out = new Uint8Array(msg.length);
        for (let i = 0; i < out.length; i++)
            out[i] = (i * 31 + msg.seed + (i >> 8)) & 255;
        return out;
    }

    const sockets = {};             // label -> {ws, queue, waiters}

    function api() {
        return window.nwsModule || window;
    }

    window.nws = {
        fnv1a, describe, bytesOf,

        // Resolves once the module (if this page imports one) is loaded.
        ready() {
            if (!document.querySelector("script[type=module]") || window.nwsModule)
                return Promise.resolve(true);
            return new Promise((resolve) => window.addEventListener("nws-module", () => resolve(true)));
        },

        // Opens label with LocalWebSocket or BroadcastWebSocket (ctor);
        // resolves with the socket's URL once it is open.
        open(label, ctor, name, options, timeoutMs = 10000) {
            const ws = options === undefined ? new (api()[ctor])(name) : new (api()[ctor])(name, options);
            ws.binaryType = "arraybuffer";
            const entry = { ws, queue: [], waiters: [], closed: null };
            sockets[label] = entry;
            ws.onmessage = (event) => {
                entry.queue.push(describe(event.data));
                entry.waiters.slice().forEach((w) => w());
            };
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`${label}: not open within ${timeoutMs} ms`)), timeoutMs);
                ws.onopen = () => { clearTimeout(timer); resolve(ws.url); };
                ws.onclose = (event) => {
                    clearTimeout(timer);
                    entry.closed = { code: event.code, reason: event.reason };
                    entry.waiters.slice().forEach((w) => w());
                    reject(new Error(`${label}: closed before open (code ${event.code})`));
                };
            });
        },

        send(label, msg) {
            const ws = sockets[label].ws;
            if (msg.kind === "text")
                ws.send(msg.text);
            else
                ws.send(bytesOf(msg));
            return true;
        },

        // Resolves with the next n messages of label (removing them).
        next(label, n = 1, timeoutMs = 10000) {
            const entry = sockets[label];
            return new Promise((resolve, reject) => {
                const check = () => {
                    if (entry.queue.length >= n) {
                        done();
                        resolve(entry.queue.splice(0, n));
                    }
                    else if (entry.closed) {
                        done();
                        reject(new Error(`${label}: closed (code ${entry.closed.code}) with ${entry.queue.length} of ${n} messages`));
                    }
                };
                const timer = setTimeout(() => {
                    done();
                    reject(new Error(`${label}: ${entry.queue.length} of ${n} messages within ${timeoutMs} ms: ${JSON.stringify(entry.queue).slice(0, 300)}`));
                }, timeoutMs);
                const done = () => {
                    clearTimeout(timer);
                    entry.waiters = entry.waiters.filter((w) => w !== check);
                };
                entry.waiters.push(check);
                check();
            });
        },

        // Messages of label not yet taken by next().
        pending(label) {
            return sockets[label].queue.slice();
        },

        close(label) {
            sockets[label].ws.close(1000);
            return true;
        },
    };
})();
