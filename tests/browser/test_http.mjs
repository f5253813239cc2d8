// test_http.mjs - the web files' HTTP side, without a browser: types,
// caching (ETag, 304), CORS, HEAD, methods, the port written into the JS
// API, and -- inside a private network namespace made for the test --
// that /console answers loopback peers only while the JS API is open.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { World, note } from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = fs.readFileSync(path.join(HERE, "..", "..", "gateway", "www", "namedwebsockets.js"), "utf8");
const CONSOLE = fs.readFileSync(path.join(HERE, "..", "..", "gateway", "www", "console.html"), "utf8");
const NETNS_ENV = "NWS_BROWSER_IN_NETNS";
const OTHER = "10.253.0.2";         // an address on lo, inside our namespace only
const inNetns = process.env[NETNS_ENV] === "1";

// One HTTP request on its own connection; resolves {status, headers, body}.
function request(port, pathname, { method = "GET", headers = {}, host = "127.0.0.1", localAddress } = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request({ host, port, path: pathname, method, headers, localAddress, agent: false },
                                 (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode, headers: res.headers,
                                          body: Buffer.concat(chunks).toString("utf8") }));
        });
        req.setTimeout(10000, () => req.destroy(new Error(`${method} ${pathname}: no answer in 10 s`)));
        req.on("error", reject);
        req.end();
    });
}

let world, gw, gw2;

before(async () => {
    world = new World(inNetns ? "http-netns" : "http");
    if (inNetns) {
        // Safety first: only in a fresh namespace where lo is all there is.
        const shown = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout || "";
        const links = shown.split("\n").filter(Boolean).map((line) => line.split(":")[1].trim());
        assert.deepEqual(links, ["lo"], "not in a private network namespace");
        for (const argv of [["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", `${OTHER}/32`, "dev", "lo"]]) {
            const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
            assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
        }
    }
    await world.startHub();
    gw = await world.startGateway(inNetns ? "0.0.0.0" : "127.0.0.1");
    if (!inNetns)
        gw2 = await world.startGateway();
});

after(() => world?.close());

if (inNetns) {
    test("/console answers loopback peers only", async () => {
        const far = await request(gw.port, "/console", { host: OTHER, localAddress: OTHER });
        assert.equal(far.status, 403);
        assert.match(far.body, /this host only/);
        const near = await request(gw.port, "/console");
        assert.equal(near.status, 200);
    });

    test("the JS API is open to other hosts", async () => {
        for (const file of ["/namedwebsockets.js", "/namedwebsockets.mjs"]) {
            const far = await request(gw.port, file, { host: OTHER, localAddress: OTHER });
            assert.equal(far.status, 200, file);
        }
    });
}
else {
    test("GET /namedwebsockets.js", async () => {
        const r = await request(gw.port, "/namedwebsockets.js", { headers: { origin: "http://example.test" } });
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "text/javascript; charset=utf-8");
        assert.equal(r.headers["cache-control"], "no-cache");
        assert.equal(r.headers["access-control-allow-origin"], "*");
        assert.equal(r.headers["x-content-type-options"], "nosniff");
        assert.match(r.headers.etag, /^"[0-9a-f]{16}-[0-9]+"$/);
        // The file, with this gateway's port as the default.
        const expected = SOURCE.replace("/*@port*/9009", `/*@port*/${gw.port}`);
        assert.notEqual(expected, SOURCE);
        assert.equal(r.body, expected);
        assert.equal(Number(r.headers["content-length"]), Buffer.byteLength(expected));
    });

    test("GET /namedwebsockets.mjs is the same code as a module", async () => {
        const r = await request(gw.port, "/namedwebsockets.mjs");
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "text/javascript; charset=utf-8");
        assert.equal(r.headers["access-control-allow-origin"], "*");
        const code = SOURCE.replace("/*@port*/9009", `/*@port*/${gw.port}`);
        const at = r.body.indexOf(code);
        assert.ok(at > 0, "the module contains the script");
        assert.match(r.body.slice(0, at), /const NWS_MODULE_EXPORTS = \{\};\n$/);
        assert.match(r.body.slice(at + code.length), /^\nexport const LocalWebSocket = [^\n]+\nexport const BroadcastWebSocket = /);
        assert.notEqual(r.headers.etag, (await request(gw.port, "/namedwebsockets.js")).headers.etag);
    });

    test("each gateway writes its own port, and its ETag differs", async () => {
        const a = await request(gw.port, "/namedwebsockets.js");
        const b = await request(gw2.port, "/namedwebsockets.js");
        assert.match(b.body, new RegExp(`var DEFAULT_PORT = /\\*@port\\*/${gw2.port};`));
        assert.notEqual(a.headers.etag, b.headers.etag);
    });

    test("If-None-Match: 304 without a body; the connection stays usable", async () => {
        for (const file of ["/namedwebsockets.js", "/namedwebsockets.mjs", "/console"]) {
            const first = await request(gw.port, file);
            const etag = first.headers.etag;
            for (const value of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
                const r = await request(gw.port, file, { headers: { "if-none-match": value } });
                assert.equal(r.status, 304, `${file} If-None-Match: ${value}`);
                assert.equal(r.body, "");
                assert.equal(r.headers.etag, etag);
            }
            const other = await request(gw.port, file, { headers: { "if-none-match": '"0000000000000000-1"' } });
            assert.equal(other.status, 200);
            assert.equal(other.body, first.body);
        }
        // Keep-alive: a 304 and then a 200 on one connection.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const sockets = new Set();
        const get = (headers) => new Promise((resolve, reject) => {
            http.get({ host: "127.0.0.1", port: gw.port, path: "/namedwebsockets.js", agent, headers }, (res) => {
                sockets.add(res.socket);
                res.resume();
                res.on("end", () => resolve(res.statusCode));
            }).on("error", reject);
        });
        const etag = (await request(gw.port, "/namedwebsockets.js")).headers.etag;
        assert.equal(await get({ "if-none-match": etag }), 304);
        assert.equal(await get({}), 200);
        assert.equal(sockets.size, 1, "one connection served both");
        agent.destroy();
    });

    test("HEAD sends the headers only", async () => {
        const r = await request(gw.port, "/namedwebsockets.js", { method: "HEAD" });
        assert.equal(r.status, 200);
        assert.equal(r.body, "");
        assert.ok(Number(r.headers["content-length"]) > 1000);
    });

    test("other methods: 405", async () => {
        for (const method of ["POST", "PUT", "DELETE"]) {
            const r = await request(gw.port, "/namedwebsockets.js", { method });
            assert.equal(r.status, 405, method);
        }
    });

    test("GET /console", async () => {
        const r = await request(gw.port, "/console?name=chat");
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
        assert.equal(r.headers["cache-control"], "no-cache");
        assert.equal(r.headers["x-frame-options"], "DENY");
        const csp = r.headers["content-security-policy"];
        for (const part of ["default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"])
            assert.ok(csp.includes(part), `CSP has ${part}: ${csp}`);
        assert.equal(r.headers["access-control-allow-origin"], undefined, "no CORS for the console");
        assert.equal(r.body, CONSOLE);
        // Self-contained: no URL to anything outside the page.
        assert.doesNotMatch(r.body, /(src|href)="(https?:)?\/\//);
        assert.doesNotMatch(r.body, /@import|url\(/);
    });

    test("similar paths are not the web files", async () => {
        for (const p of ["/console/", "/Console", "/namedwebsockets", "/namedwebsockets.jsx", "/www/console.html"]) {
            const r = await request(gw.port, p);
            assert.equal(r.status, 404, p);
        }
    });

    test("/console only for loopback peers (in a network namespace)", (t) => {
        if (process.getuid() !== 0) {
            t.skip("needs root for unshare -n (a private network namespace)");
            return;
        }
        const probe = spawnSync("unshare", ["-n", "true"]);
        if (probe.status !== 0) {
            t.skip(`unshare -n does not work here: ${probe.stderr}`);
            return;
        }
        const child = spawnSync("unshare", ["-n", process.execPath, fileURLToPath(import.meta.url)], {
            env: { ...process.env, [NETNS_ENV]: "1" }, encoding: "utf8", timeout: 60000,
        });
        const out = (child.stdout || "") + (child.stderr || "");
        assert.equal(child.status, 0, "tests inside the namespace failed:\n" + out);
        assert.match(out, /^# pass 2$/m, "both tests ran inside the namespace:\n" + out);
        assert.match(out, /^# fail 0$/m);
        note("inside the namespace: " + out.match(/^# pass .*$/m)[0]);
    });
}
