// test_api.mjs - the JS API's contract in a real page: bad names (and
// hosts, ports) throw a TypeError before any connection is tried; the
// script leaves existing globals alone; a page can point it at another
// gateway with NamedWebSocketsConfig or options; the ES module validates
// the same way.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { World, sitePage } from "./harness.mjs";

let world, gw1, gw2, site, page, pageM;

before(async () => {
    world = new World("api");
    await world.startHub();
    gw1 = await world.startGateway();
    gw2 = await world.startGateway();
    site = await world.startSite({
        "/": ["text/html; charset=utf-8", sitePage(gw1.origin)],
        "/module": ["text/html; charset=utf-8", sitePage(gw1.origin, { module: true })],
        // A page that already has a LocalWebSocket of its own, and a config.
        "/taken": ["text/html; charset=utf-8", sitePage(gw1.origin, {
            before: `window.LocalWebSocket = function mine() { return "mine"; };
                     var NamedWebSocketsConfig = { port: ${gw2.port} };`,
        })],
    });
    await world.browser();
    page = await world.page(site.origin + "/");
    pageM = await world.page(site.origin + "/module");
    await pageM.evaluate(() => window.nws.ready());
});

after(() => world?.close());

const BAD_NAMES = ["", ".", "..", "a b", "a/b", "a%20b", "caf\u00e9", "x".repeat(256), "chat\n",
                   "tab\there", "semi;colon", "q?x", "h#sh", "../local/x"];
const BAD_VALUES = ["42", "null", "undefined", "({})", "['chat']"];     // as JS source

// Runs every bad name (and non-string value) through ctor in the page;
// returns what each threw.
function tryBad(p, api, ctor) {
    return p.evaluate(([api, ctor, names, values]) => {
        const where = api === "module" ? window.nwsModule : window;
        const before = performance.getEntriesByType("resource").length;
        const results = [];
        const attempt = (label, fn) => {
            try {
                const ws = fn();
                results.push({ label, threw: null, url: ws && ws.url });
            } catch (e) {
                results.push({ label, threw: e.constructor.name, message: e.message });
            }
        };
        for (const name of names)
            attempt(JSON.stringify(name), () => new where[ctor](name));
        for (const source of values)
            attempt(source, () => new where[ctor](eval(source)));
        return { results, newResources: performance.getEntriesByType("resource").length - before };
    }, [api, ctor, BAD_NAMES, BAD_VALUES]);
}

for (const api of ["classic", "module"]) {
    for (const ctor of ["LocalWebSocket", "BroadcastWebSocket"]) {
        test(`${api} ${ctor}: a bad name throws a TypeError`, async () => {
            const status0 = await world.status(gw1);
            const { results } = await tryBad(api === "module" ? pageM : page, api, ctor);
            for (const r of results) {
                assert.equal(r.threw, "TypeError", `${ctor}(${r.label}) must throw a TypeError, got ${JSON.stringify(r)}`);
                assert.match(r.message, new RegExp(`^${ctor}: invalid channel name .*A-Z a-z 0-9 \\. _ -`),
                             `${ctor}(${r.label}): a clear message`);
            }
            const status1 = await world.status(gw1);
            assert.equal(status1.counters.http_errors, status0.counters.http_errors,
                         "no request reached the gateway");
            assert.equal(status1.connections, status0.connections);
        });
    }
}

test("valid edge names are accepted", async () => {
    const urls = await page.evaluate(() => ["x".repeat(255), "...", "-", "_", "A.b-C_9", "0"].map(
        (n) => { const ws = new LocalWebSocket(n); ws.close(); return ws.url; }));
    assert.equal(urls.length, 6);
    for (const url of urls)
        assert.match(url, new RegExp(`^ws://localhost:${gw1.port}/local/[A-Za-z0-9._-]+$`));
    // "..." is a name, not a dot segment: it really joins a channel.
    await page.evaluate(() => window.nws.open("dots", "LocalWebSocket", "..."));
    await pageM.evaluate(() => window.nws.open("dots", "LocalWebSocket", "..."));
    await page.evaluate(() => window.nws.send("dots", { kind: "text", text: "three dots" }));
    assert.deepEqual(await pageM.evaluate(() => window.nws.next("dots", 1)), [{ kind: "text", text: "three dots" }]);
});

test("bad hosts, ports and options throw a TypeError", async () => {
    const results = await page.evaluate(() => {
        const cases = [{ port: 0 }, { port: 65536 }, { port: 1.5 }, { port: "http" }, { port: NaN },
                       { host: "" }, { host: "a b" }, { host: "evil.com/x" }, { host: "user@host" },
                       { host: 42 }, "not options"];
        return cases.map((options) => {
            try {
                new LocalWebSocket("chat", options).close();
                return "no error for " + JSON.stringify(options);
            } catch (e) {
                return e.constructor.name + ": " + e.message;
            }
        });
    });
    for (const r of results)
        assert.match(r, /^TypeError: LocalWebSocket: invalid (host|port)|^TypeError: LocalWebSocket: options must be/, r);
});

test("options and NamedWebSocketsConfig choose the gateway", async () => {
    const urls = await page.evaluate(([p1, p2]) => {
        const out = {};
        out.plain = NamedWebSockets.url("local", "chat");
        out.options = NamedWebSockets.url("broadcast", "chat", { port: p2, host: "127.0.0.1" });
        out.ipv6 = NamedWebSockets.url("local", "chat", { host: "::1" });
        out.portString = NamedWebSockets.url("local", "chat", { port: String(p2) });
        window.NamedWebSocketsConfig = { port: p2 };
        out.config = NamedWebSockets.url("local", "chat");
        out.optionsOverConfig = NamedWebSockets.url("local", "chat", { port: p1 });
        delete window.NamedWebSocketsConfig;
        out.after = NamedWebSockets.url("local", "chat");
        return out;
    }, [gw1.port, gw2.port]);
    assert.deepEqual(urls, {
        plain: `ws://localhost:${gw1.port}/local/chat`,
        options: `ws://127.0.0.1:${gw2.port}/broadcast/chat`,
        ipv6: `ws://[::1]:${gw1.port}/local/chat`,
        portString: `ws://localhost:${gw2.port}/local/chat`,
        config: `ws://localhost:${gw2.port}/local/chat`,
        optionsOverConfig: `ws://localhost:${gw1.port}/local/chat`,
        after: `ws://localhost:${gw1.port}/local/chat`,
    });
});

test("existing globals are kept; NamedWebSocketsConfig set before loading works", async () => {
    const taken = await world.page(site.origin + "/taken");
    try {
        const seen = await taken.evaluate(() => ({
            local: LocalWebSocket.name,
            broadcast: typeof BroadcastWebSocket,
            api: typeof NamedWebSockets,
        }));
        assert.deepEqual(seen, { local: "mine", broadcast: "function", api: "object" });
        // Through the API object: a client on gateway 2 (from the config)
        // talks with one on gateway 1, through the hub.
        const url2 = await taken.evaluate(() => {
            window.LocalWebSocket = NamedWebSockets.LocalWebSocket;
            return window.nws.open("g2", "LocalWebSocket", "two-gateways");
        });
        assert.equal(url2, `ws://localhost:${gw2.port}/local/two-gateways`);
        const url1 = await page.evaluate(() => window.nws.open("g1", "LocalWebSocket", "two-gateways"));
        assert.equal(url1, `ws://localhost:${gw1.port}/local/two-gateways`);
        await taken.evaluate(() => window.nws.send("g2", { kind: "binary", bytes: [2, 2] }));
        assert.deepEqual(await page.evaluate(() => window.nws.next("g1", 1)),
                         [{ kind: "binary", length: 2, hash: fnv([2, 2]), head: [2, 2] }]);
        await page.evaluate(() => window.nws.send("g1", { kind: "text", text: "via the hub" }));
        assert.deepEqual(await taken.evaluate(() => window.nws.next("g2", 1)), [{ kind: "text", text: "via the hub" }]);
        const s2 = await world.status(gw2);
        assert.equal(s2.channels.find((c) => c.name === "two-gateways")?.clients, 1, "gateway 2 has the config's client");
        assert.deepEqual(taken.errors, []);
    }
    finally {
        await taken.close();
    }
});

test("no errors in the pages", () => {
    assert.deepEqual(page.errors, []);
    assert.deepEqual(pageM.errors, []);
});

function fnv(bytes) {
    let h = 0x811c9dc5;
    for (const b of bytes)
        h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h.toString(16);
}
