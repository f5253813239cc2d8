// test_channels.mjs - pages of two different origins (two local HTTP
// servers on different ports) load the JS API from the gateway and talk
// through LocalWebSocket and BroadcastWebSocket: text and binary, both
// ways, nothing echoed to the sender; and the same with the ES module.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { World, note, sitePage } from "./harness.mjs";

let world, gw, siteA, siteB, pageA, pageB;

before(async () => {
    world = new World("channels");
    await world.startHub();
    gw = await world.startGateway();
    const routes = { "/": ["text/html; charset=utf-8", sitePage(gw.origin)],
                     "/module": ["text/html; charset=utf-8", sitePage(gw.origin, { module: true })] };
    siteA = await world.startSite(routes);
    siteB = await world.startSite(routes, "localhost");
    await world.browser();
    pageA = await world.page(siteA.origin + "/");
    pageB = await world.page(siteB.origin + "/");
    note(`gateway ${gw.origin}, site A ${siteA.origin}, site B ${siteB.origin}`);
});

after(() => world?.close());

// What the page's nws.describe() gives for msg (see site.js).
function expected(msg) {
    if (msg.kind === "text")
        return { kind: "text", text: msg.text };
    const bytes = msg.bytes ? Uint8Array.from(msg.bytes) : Uint8Array.from({ length: msg.length },
        (_, i) => (i * 31 + msg.seed + (i >> 8)) & 255);
    let h = 0x811c9dc5;
    for (const b of bytes)
        h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return { kind: "binary", length: bytes.length, hash: h.toString(16), head: Array.from(bytes.slice(0, 8)) };
}

const open = (page, label, ctor, name, options) =>
    page.evaluate(([l, c, n, o]) => window.nws.ready().then(() => window.nws.open(l, c, n, o)),
                  [label, ctor, name, options]);
const send = (page, label, msg) => page.evaluate(([l, m]) => window.nws.send(l, m), [label, msg]);
const next = (page, label, n) => page.evaluate(([l, k]) => window.nws.next(l, k), [label, n]);
const pending = (page, label) => page.evaluate((l) => window.nws.pending(l), label);
const close = (page, label) => page.evaluate((l) => window.nws.close(l), label);

// A sends msgsA, B sends msgsB (interleaved); each receives exactly the
// other's, in order, with its kind; then a last round trip shows that
// nothing else (no echo) arrived.
async function exchange(a, b, msgsA, msgsB) {
    for (let i = 0; i < Math.max(msgsA.length, msgsB.length); i++) {
        if (i < msgsA.length)
            await send(a.page, a.label, msgsA[i]);
        if (i < msgsB.length)
            await send(b.page, b.label, msgsB[i]);
    }
    assert.deepEqual(await next(b.page, b.label, msgsA.length), msgsA.map(expected), "B got A's messages");
    assert.deepEqual(await next(a.page, a.label, msgsB.length), msgsB.map(expected), "A got B's messages");
    const barrier = { kind: "text", text: "barrier" };
    await send(a.page, a.label, barrier);
    assert.deepEqual(await next(b.page, b.label, 1), [expected(barrier)]);
    await send(b.page, b.label, barrier);
    assert.deepEqual(await next(a.page, a.label, 1), [expected(barrier)]);
    assert.deepEqual(await pending(a.page, a.label), [], "A received nothing else (no echo)");
    assert.deepEqual(await pending(b.page, b.label), [], "B received nothing else (no echo)");
}

const MESSAGES_A = [
    { kind: "text", text: "hello from A" },
    { kind: "binary", bytes: [0, 1, 2, 127, 128, 253, 254, 255] },
    { kind: "text", text: "caf\u00e9 \u2603 \ud83d\ude00" },
    { kind: "binary", length: 200000, seed: 7 },
    { kind: "text", text: "" },
    { kind: "binary", bytes: [] },
];
const MESSAGES_B = [
    { kind: "binary", bytes: [104, 105] },
    { kind: "text", text: "hi from B" },
    { kind: "text", text: "x".repeat(70000) },
];

for (const [ctor, scope] of [["LocalWebSocket", "local"], ["BroadcastWebSocket", "broadcast"]]) {
    test(`${ctor}: two origins exchange text and binary`, async () => {
        const name = `two-origins.${scope}`;
        const urlA = await open(pageA, "a-" + scope, ctor, name);
        const urlB = await open(pageB, "b-" + scope, ctor, name);
        // Default: localhost and the port of the gateway that served the script.
        assert.equal(urlA, `ws://localhost:${gw.port}/${scope}/${name}`);
        assert.equal(urlB, urlA);
        const status = await world.status(gw);
        const entry = status.channels.find((c) => c.scope === scope && c.name === name);
        assert.equal(entry?.clients, 2, "the gateway sees both pages in the channel");
        await exchange({ page: pageA, label: "a-" + scope }, { page: pageB, label: "b-" + scope },
                       MESSAGES_A, MESSAGES_B);
        await close(pageA, "a-" + scope);
        await close(pageB, "b-" + scope);
    });
}

test("local and broadcast channels of one name are separate", async () => {
    await open(pageA, "a-l", "LocalWebSocket", "same");
    await open(pageB, "b-b", "BroadcastWebSocket", "same");
    await open(pageB, "b-l", "LocalWebSocket", "same");
    await send(pageA, "a-l", { kind: "text", text: "to local only" });
    assert.deepEqual(await next(pageB, "b-l", 1), [expected({ kind: "text", text: "to local only" })]);
    await send(pageB, "b-l", { kind: "text", text: "back" });
    assert.deepEqual(await next(pageA, "a-l", 1), [expected({ kind: "text", text: "back" })]);
    assert.deepEqual(await pending(pageB, "b-b"), [], "the broadcast channel got nothing");
    for (const [p, l] of [[pageA, "a-l"], [pageB, "b-b"], [pageB, "b-l"]])
        await close(p, l);
});

test("ES module: a module page talks with a classic-script page", async () => {
    const pageM = await world.page(siteB.origin + "/module");
    try {
        const globals = await pageM.evaluate(() => window.nws.ready().then(() => ({
            exports: Object.keys(window.nwsModule).sort(),
            defaultKeys: Object.keys(window.nwsModule.default).sort(),
            globalLocal: typeof window.LocalWebSocket,
            globalBroadcast: typeof window.BroadcastWebSocket,
            globalApi: typeof window.NamedWebSockets,
        })));
        assert.deepEqual(globals, {
            exports: ["BroadcastWebSocket", "LocalWebSocket", "default", "isValidName"],
            defaultKeys: ["BroadcastWebSocket", "LocalWebSocket", "isValidName", "url"],
            globalLocal: "undefined", globalBroadcast: "undefined", globalApi: "undefined",
        }, "the module exports the API and defines no globals");
        for (const [ctor, scope] of [["LocalWebSocket", "local"], ["BroadcastWebSocket", "broadcast"]]) {
            const name = `module.${scope}`;
            const urlM = await open(pageM, "m", ctor, name);
            assert.equal(urlM, `ws://localhost:${gw.port}/${scope}/${name}`);
            await open(pageA, "a", ctor, name);
            await exchange({ page: pageM, label: "m" }, { page: pageA, label: "a" },
                           [{ kind: "text", text: "from the module" }, { kind: "binary", bytes: [9, 8, 7] }],
                           [{ kind: "binary", bytes: [1] }, { kind: "text", text: "from the classic script" }]);
            await close(pageM, "m");
            await close(pageA, "a");
        }
        assert.deepEqual(pageM.errors, []);
    }
    finally {
        await pageM.close();
    }
});

test("no errors in the pages", () => {
    assert.deepEqual(pageA.errors, [], "site A");
    assert.deepEqual(pageB.errors, [], "site B");
});
