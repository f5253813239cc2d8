// test_console.mjs - the console at /console in a real browser: it loads
// nothing but itself and /status, opens a channel, shows its state and
// client count, receives text and binary from independent clients (pages
// of another origin using LocalWebSocket), sends text and binary to them,
// lists the channels in use, refuses a bad name, and closes. A screenshot
// of it in use is saved to console.png in $NWS_BROWSER_OUT.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";

import { OUT, World, note, sitePage } from "./harness.mjs";

let world, gw, site, con, pageA, pageB;
const requests = [];                // URLs the console page asked for

before(async () => {
    world = new World("console");
    await world.startHub();
    gw = await world.startGateway();
    site = await world.startSite({ "/": ["text/html; charset=utf-8", sitePage(gw.origin)] });
    await world.browser();
    con = await world.page();
    con.on("request", (r) => requests.push(r.url()));
    const response = await con.goto(`${gw.origin}/console`);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.equal(headers["content-type"], "text/html; charset=utf-8");
    assert.match(headers["content-security-policy"], /default-src 'none'/);
    assert.match(headers["content-security-policy"], /connect-src 'self'/);
    pageA = await world.page(site.origin + "/");
    pageB = await world.page(site.origin + "/");
    // The console is the tab in front: a tab behind gets no animation
    // frames, which playwright's clicks and typing wait for.
    await con.bringToFront();
});

after(() => world?.close());

const waitFor = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 10000 });
const text = (sel) => con.locator(sel).textContent();
const clientsShown = (n) => waitFor(con, (n) => document.getElementById("clients").textContent === String(n), n);

test("the console shows the gateway", async () => {
    await waitFor(con, () => /pid [0-9]+/.test(document.getElementById("gateway").textContent));
    assert.match(await text("#gateway"), new RegExp(`gateway 127\\.0\\.0\\.1:${gw.port} .* nws `));
    assert.equal(await con.locator("#state").getAttribute("data-state"), "idle");
    assert.ok(await con.locator("#send").isDisabled(), "nothing to send to before a channel is open");
});

test("a bad name is refused in the form", async () => {
    await con.fill("#name", "bad name");
    await con.click("#open");
    assert.match(await text("#name-error"), /A-Z a-z 0-9/);
    assert.equal(await con.locator("#state").getAttribute("data-state"), "idle");
    await con.fill("#name", "..");
    await con.press("#name", "Enter");
    assert.match(await text("#name-error"), /cannot be used/);
});

test("the console opens a channel and counts its clients", async () => {
    await con.selectOption("#scope", "local");
    await con.fill("#name", "lobby");
    await con.click("#open");
    await waitFor(con, () => document.getElementById("state").dataset.state === "open");
    assert.equal(await text("#url"), `ws://127.0.0.1:${gw.port}/local/lobby`);
    await clientsShown(1);
    // Independent clients: pages of another origin, through the JS API.
    await pageA.evaluate(() => window.nws.open("lobby", "LocalWebSocket", "lobby"));
    await clientsShown(2);
    await pageB.evaluate(() => window.nws.open("lobby", "LocalWebSocket", "lobby"));
    await clientsShown(3);
    assert.match(await text("#clients-note"), /including this console/);
    await pageB.evaluate(() => window.nws.open("news", "BroadcastWebSocket", "news"));
    await pageA.evaluate(() => window.nws.open("metrics", "LocalWebSocket", "metrics.cpu"));
    // The channels in use, from /status.
    await waitFor(con, () => document.querySelectorAll("#channels tr").length === 3);
    const rows = await con.$$eval("#channels tr", (trs) => trs.map((tr) =>
        [tr.dataset.scope, tr.dataset.name, tr.children[1].textContent, tr.className]));
    assert.deepEqual(rows, [["local", "lobby", "3", "mine"], ["local", "metrics.cpu", "1", ""],
                            ["broadcast", "news", "1", ""]]);
});

test("the console receives text and binary with times", async () => {
    await pageA.evaluate(() => window.nws.send("lobby", { kind: "text", text: "hello from site A" }));
    await con.locator(".msg.in", { hasText: "hello from site A" }).waitFor();
    await pageB.evaluate(() => window.nws.send("lobby", { kind: "binary", bytes: [1, 2, 254, 255, 104, 105] }));
    const binary = con.locator(".msg.in", { hasText: "01 02 fe ff 68 69" });
    await binary.waitFor();
    assert.match(await binary.textContent(), /binary 6 B/);
    assert.match(await binary.locator(".time").textContent(), /^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}$/);
    assert.equal(await binary.getAttribute("data-kind"), "binary");
    // The other clients got each other's messages too.
    assert.deepEqual(await pageB.evaluate(() => window.nws.next("lobby", 1)),
                     [{ kind: "text", text: "hello from site A" }]);
    assert.deepEqual((await pageA.evaluate(() => window.nws.next("lobby", 1)))[0].head, [1, 2, 254, 255, 104, 105]);
});

test("the console sends text and binary", async () => {
    await con.fill("#message", "hi both, from the console");
    await con.press("#message", "Enter");
    for (const p of [pageA, pageB])
        assert.deepEqual(await p.evaluate(() => window.nws.next("lobby", 1)),
                         [{ kind: "text", text: "hi both, from the console" }]);
    await con.check("#binary");
    await con.fill("#message", "bin");
    await con.click("#send");
    await con.uncheck("#binary");
    for (const p of [pageA, pageB]) {
        const [m] = await p.evaluate(() => window.nws.next("lobby", 1));
        assert.equal(m.kind, "binary");
        assert.deepEqual(m.head, [98, 105, 110]);
    }
    await pageA.evaluate(() => window.nws.send("lobby", { kind: "text", text: '{"type":"move","x":3,"y":4}' }));
    await con.locator(".msg.in", { hasText: '"type":"move"' }).waitFor();
    assert.equal(await con.locator(".msg.out").count(), 2);
    assert.equal(await text("#traffic"), "2 sent, 3 received");
    // The console's own messages are not echoed back to it.
    assert.equal(await con.locator(".msg.in").count(), 3);
});

test("a screenshot of the console in use", async () => {
    // Wait for a /status taken after the messages, so the table is current.
    await waitFor(con, () => {
        const cells = document.querySelectorAll("#channels tr.mine td.num");
        return cells.length === 3 && cells[0].textContent === "3" && Number(cells[2].textContent) >= 5;
    });
    const file = path.join(OUT, "console.png");
    await con.screenshot({ path: file });
    note(`screenshot: ${file}`);
});

test("closing the channel", async () => {
    await con.click("#close");
    assert.equal(await con.locator("#state").getAttribute("data-state"), "closed");
    assert.ok(await con.locator("#message").isDisabled());
    await waitFor(con, () => document.querySelector("#channels tr[data-name=lobby] td.num")?.textContent === "2");
    const status = await world.status(gw);
    assert.equal(status.channels.find((c) => c.name === "lobby").clients, 2);
});

test("the console loaded nothing but itself and /status", () => {
    const others = requests.filter((u) => u !== `${gw.origin}/console` && u !== `${gw.origin}/status`);
    assert.deepEqual(others, []);
    assert.ok(requests.includes(`${gw.origin}/status`));
    assert.deepEqual(con.errors, []);
    assert.deepEqual(pageA.errors, []);
    assert.deepEqual(pageB.errors, []);
});
