// harness.mjs - the world of one browser test: a runtime dir, nws-hub and
// nws-gateway as real processes, small HTTP servers that play other web
// sites, and Debian's chromium driven by playwright-core.
//
// Readiness is waited for, never slept for: a program is ready when it
// prints its `ready ...` line on stdout, an HTTP server when listen()
// calls back, a page when the event the test needs has fired.
//
// Cleanup: World.close() stops everything it started, by PID, and checks
// that nothing is left (no process with the test's chromium profile, no
// hub or gateway). If the test process itself dies, the hub and gateway
// die with it (they run under `setpriv --pdeathsig KILL`) and chromium
// exits when its DevTools pipe to playwright closes.
//
// Environment (ctest sets them; defaults suit a run from the source tree):
//   NWS_HUB, NWS_GATEWAY   the programs (default build/hub/nws-hub, ...)
//   NWS_CHROMIUM           the browser (default /usr/bin/chromium)
//   NWS_BROWSER_OUT        where screenshots go (default build/tests/browser)
//   NWS_NODE_MODULES       where playwright-core is installed

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOP = path.resolve(HERE, "..", "..");
export const HUB = process.env.NWS_HUB || path.join(TOP, "build", "hub", "nws-hub");
export const GATEWAY = process.env.NWS_GATEWAY || path.join(TOP, "build", "gateway", "nws-gateway");
export const CHROMIUM = process.env.NWS_CHROMIUM || "/usr/bin/chromium";
export const OUT = process.env.NWS_BROWSER_OUT || path.join(TOP, "build", "tests", "browser");
const NODE_MODULES = process.env.NWS_NODE_MODULES || path.join(OUT, "node_modules");

export const READY_MS = 10000;      // for a program's ready line
export const STOP_MS = 5000;        // for a program to exit on SIGTERM
export const WAIT_MS = 10000;       // for anything a test waits for in a page

// The flags headless Chromium needs on a machine without network, plus one: QUIC is never needed on loopback.
export const CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
];

// playwright-core, from the node_modules that the setup step installed.
export function playwright() {
    const require = createRequire(path.join(NODE_MODULES, "noop.js"));
    try {
        return require("playwright-core");
    } catch (e) {
        throw new Error(`playwright-core is not installed in ${NODE_MODULES}: run the `
                        + `browser_setup test (npm ci) first (${e.message})`);
    }
}

export function note(...args) {
    process.stderr.write("# " + args.join(" ").replace(/\n/g, "\n# ") + "\n");
}

// A program started under setpriv, so it dies with us; its stderr goes to
// a log file, its stdout is read for the ready line.
class Proc {
    constructor(name, argv, logPath) {
        this.name = name;
        this.argv = argv;
        this.logPath = logPath;
        this.exited = false;
        const log = fs.openSync(logPath, "a");
        this.child = spawn("setpriv", ["--pdeathsig", "KILL", "--", ...argv],
                           { stdio: ["ignore", "pipe", log] });
        fs.closeSync(log);
        this.pid = this.child.pid;
        this.exit = new Promise((resolve) => {
            this.child.on("exit", (code, signal) => {
                this.exited = true;
                resolve({ code, signal });
            });
        });
        this.ready = new Promise((resolve, reject) => {
            let buffered = "";
            const timer = setTimeout(() => reject(new Error(
                `${name} printed no ready line within ${READY_MS} ms\n${this.logTail()}`)), READY_MS);
            this.child.stdout.on("data", (chunk) => {
                buffered += chunk.toString("utf8");
                const end = buffered.indexOf("\n");
                if (end < 0)
                    return;
                clearTimeout(timer);
                const line = buffered.slice(0, end);
                if (line.startsWith("ready "))
                    resolve(line);
                else
                    reject(new Error(`${name}: first stdout line ${JSON.stringify(line)} is not "ready ..."`));
            });
            this.exit.then(({ code, signal }) => {
                clearTimeout(timer);
                reject(new Error(`${name} exited (${code ?? signal}) before it was ready\n${this.logTail()}`));
            });
        });
        this.ready.catch(() => {});
    }

    logTail(lines = 30) {
        let text = "";
        try {
            text = fs.readFileSync(this.logPath, "utf8");
        } catch {
            return "(no log)";
        }
        return `--- ${this.name} (pid ${this.pid}) stderr ---\n` + text.split("\n").slice(-lines).join("\n");
    }

    // SIGTERM, then SIGKILL if it has not exited within STOP_MS.
    async stop() {
        if (this.exited)
            return this.exit;
        process.kill(this.pid, "SIGTERM");
        let timer;
        const late = new Promise((resolve) => { timer = setTimeout(resolve, STOP_MS, "late"); });
        if (await Promise.race([this.exit, late]) === "late") {
            note(`${this.name} (pid ${this.pid}) ignored SIGTERM for ${STOP_MS} ms: SIGKILL`);
            process.kill(this.pid, "SIGKILL");
        }
        clearTimeout(timer);
        return this.exit;
    }
}

// Processes whose command line contains needle (e.g. a profile dir).
function processesWith(needle) {
    const found = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid)
            continue;
        try {
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
            if (cmdline.includes(needle))
                found.push(Number(entry));
        } catch {
            // gone meanwhile
        }
    }
    return found;
}

export class World {
    constructor(label) {
        fs.mkdirSync(OUT, { recursive: true });
        reapLeftovers();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `nws-browser-${process.pid}-${label}-`));
        this.runtimeDir = path.join(this.dir, "run");
        fs.mkdirSync(this.runtimeDir, { mode: 0o700 });
        this.procs = [];
        this.servers = [];
        this.context = null;
        this.profile = null;
        this.count = 0;
        this.failed = false;
    }

    async start(name, argv) {
        for (const prog of [argv[0]])
            if (!fs.existsSync(prog))
                throw new Error(`${prog} is not built (or set $NWS_HUB / $NWS_GATEWAY)`);
        const proc = new Proc(name, argv, path.join(this.dir, `${String(++this.count).padStart(2, "0")}-${name}.log`));
        this.procs.push(proc);
        proc.readyLine = await proc.ready;
        return proc;
    }

    startHub() {
        return this.start("hub", [HUB, "--runtime-dir", this.runtimeDir, "--grace-ms", "0"]);
    }

    // A gateway on a free port; .port and .origin come from its ready line.
    async startGateway(bind = "127.0.0.1", extra = []) {
        const n = this.procs.filter((p) => p.name.startsWith("gateway")).length + 1;
        const gw = await this.start(`gateway-${n}`, [GATEWAY, "--port", "0", "--bind", bind,
                                                     "--runtime-dir", this.runtimeDir, ...extra]);
        const match = / port=([0-9]+)/.exec(gw.readyLine);
        if (!match)
            throw new Error(`${gw.name}: ready line ${JSON.stringify(gw.readyLine)} has no port=N`);
        gw.port = Number(match[1]);
        gw.origin = `http://127.0.0.1:${gw.port}`;
        return gw;
    }

    // An HTTP server on 127.0.0.1 (another web site): routes maps a path
    // to [content type, body]; anything else is 404.
    async startSite(routes, host = "127.0.0.1") {
        const server = http.createServer((req, res) => {
            const route = routes[new URL(req.url, "http://x").pathname];
            if (!route) {
                res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
                return;
            }
            res.writeHead(200, { "content-type": route[0], "cache-control": "no-store" }).end(route[1]);
        });
        await new Promise((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, host, resolve);
        });
        this.servers.push(server);
        return { server, port: server.address().port, origin: `http://${host}:${server.address().port}` };
    }

    // A fresh chromium profile and a browser context in it.
    async browser() {
        const { chromium } = playwright();
        this.profile = fs.mkdtempSync(path.join(this.dir, "profile-"));
        this.context = await chromium.launchPersistentContext(this.profile, {
            executablePath: CHROMIUM,
            headless: true,
            args: CHROMIUM_FLAGS,
            viewport: { width: 1280, height: 800 },
            // Chromium's crash database and caches go to our temp dir too.
            env: { ...process.env, HOME: this.dir, XDG_CONFIG_HOME: path.join(this.dir, "config"),
                   XDG_CACHE_HOME: path.join(this.dir, "cache") },
            timeout: 30000,
        });
        this.context.setDefaultTimeout(WAIT_MS);
        return this.context;
    }

    // A new page that fails the test on any uncaught page error.
    async page(url) {
        const page = await this.context.newPage();
        page.errors = [];
        page.on("pageerror", (e) => page.errors.push(String(e)));
        page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
        if (url)
            await page.goto(url);
        return page;
    }

    // GET /status of gw, parsed.
    async status(gw) {
        const res = await fetch(`${gw.origin}/status`);
        if (res.status !== 200)
            throw new Error(`/status answered ${res.status}`);
        return res.json();
    }

    // Stops everything, by PID, and checks nothing is left running.
    async close() {
        const problems = [];
        if (this.context) {
            try {
                await this.context.close();
            } catch (e) {
                problems.push(`closing chromium: ${e.message}`);
            }
            for (const pid of processesWith(`--user-data-dir=${this.profile}`)) {
                problems.push(`chromium process ${pid} outlived the browser: killed`);
                try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
            }
        }
        for (const server of this.servers) {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        }
        for (const proc of this.procs.slice().reverse()) {
            const { code, signal } = await proc.stop();
            if (code !== 0 && !proc.expectedExit)
                problems.push(`${proc.name} (pid ${proc.pid}) exited with ${code ?? signal}\n${proc.logTail()}`);
        }
        for (const proc of this.procs)
            if (fs.existsSync(`/proc/${proc.pid}`) && !isZombie(proc.pid))
                problems.push(`${proc.name} (pid ${proc.pid}) still runs`);
        if (this.failed)
            for (const proc of this.procs)
                note(proc.logTail());
        fs.rmSync(this.dir, { recursive: true, force: true });
        if (problems.length)
            throw new Error(problems.join("\n"));
    }
}

// Removes the temporary dirs of test processes that died without
// cleaning up (their processes died with them; see the top of this file).
function reapLeftovers() {
    for (const entry of fs.readdirSync(os.tmpdir())) {
        const match = /^nws-browser-([0-9]+)-/.exec(entry);
        if (!match || Number(match[1]) === process.pid || fs.existsSync(`/proc/${match[1]}`))
            continue;
        fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
    }
}

function isZombie(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    } catch {
        return true;
    }
}

// The page the "other web sites" serve: it loads the JS API from the
// gateway (as a classic script or, with module set, as an ES module) and
// offers helpers to the test (see tests/browser/site.js).
export function sitePage(gatewayOrigin, { module = false, before = "" } = {}) {
    const helpers = fs.readFileSync(path.join(HERE, "site.js"), "utf8");
    const api = module
        ? `<script type="module">
             import * as nws from "${gatewayOrigin}/namedwebsockets.mjs";
             window.nwsModule = nws;
             window.dispatchEvent(new Event("nws-module"));
           </script>`
        : `<script src="${gatewayOrigin}/namedwebsockets.js"></script>`;
    return `<!doctype html><html><head><meta charset="utf-8"><title>site</title><link rel="icon" href="data:,">
<script>${before}</script>
${api}
<script>${helpers}</script>
</head><body><h1>a test site</h1></body></html>`;
}
