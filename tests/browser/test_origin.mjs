// test_origin.mjs - web origins (nws-gateway --allow-origin) in Chromium.
// Pages of two loopback sites (two HTTP servers on different ports) and
// two https sites that playwright serves from memory (app.example and
// evil.example): an allowed page joins and talks; a page of another
// origin gets the `error` then `close` a plain WebSocket gets, never an
// `open` nor a message; the "done when" literally; /status and
// the console show where a channel's clients come from.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { World, note, sitePage } from "./harness.mjs";

let world, gw, siteA, siteB, pageA, pageA2, pageB, pageApp, pageApp2, pageEvil, con;
const routes = {};

before(async () => {
    world = new World("origin");
    await world.startHub();
    // The sites first: the rules name their origins.
    siteA = await world.startSite(routes);
    siteB = await world.startSite(routes);
    gw = await world.startGateway("127.0.0.1", [
        "--allow-origin", "local/home.*=https://app.example",
        "--allow-origin", `local/site.*=${siteA.origin}`,
    ]);
    routes["/"] = ["text/html; charset=utf-8", sitePage(gw.origin)];
    await world.browser();
    // The https sites exist only inside the browser. Chromium lets a
    // public site's page reach loopback only with the user's permission
    // (Local Network Access): granted, as a user may, so that the
    // gateway's rules are what is tested.
    for (const host of ["app.example", "evil.example"]) {
        await world.context.route(`https://${host}/`, (route) => route.fulfill({
            status: 200, contentType: "text/html; charset=utf-8", body: routes["/"][1] }));
        await world.context.grantPermissions(["local-network-access"], { origin: `https://${host}` });
    }
    pageA = await world.page(siteA.origin + "/");
    pageA2 = await world.page(siteA.origin + "/");
    pageB = await world.page(siteB.origin + "/");
    pageApp = await world.page("https://app.example/");
    pageApp2 = await world.page("https://app.example/");
    pageEvil = await world.page("https://evil.example/");
    note(`gateway ${gw.origin}, site A ${siteA.origin} (allowed), site B ${siteB.origin}`);
});

after(() => world?.close());

// Opens name with ctor in page and records every event of the socket
// until it is open or closed: ["open"] or ["error", "close 1006"].
function attempt(page, label, ctor, name) {
    return page.evaluate(([label, ctor, name]) => new Promise((resolve) => {
        const events = [];
        const ws = new window[ctor](name);
        window.attempts = window.attempts || {};
        window.attempts[label] = { ws, events };
        ws.onopen = () => { events.push("open"); resolve(events.slice()); };
        ws.onerror = () => events.push("error");
        ws.onmessage = (e) => events.push("message " + e.data);
        ws.onclose = (e) => { events.push("close " + e.code); resolve(events.slice()); };
    }), [label, ctor, name]);
}

// Every event the attempt label saw so far.
const eventsOf = (page, label) => page.evaluate((l) => window.attempts[l].events.slice(), label);
const open = (page, label, ctor, name) => page.evaluate(([l, c, n]) => window.nws.open(l, c, n),
                                                       [label, ctor, name]);
const send = (page, label, text) => page.evaluate(([l, t]) => window.nws.send(l, { kind: "text", text: t }),
                                                  [label, text]);
const next = (page, label, n = 1) => page.evaluate(([l, k]) => window.nws.next(l, k), [label, n]);
const refusal = /WebSocket connection to .* failed.*403/;

test("a page of an allowed origin joins and talks; another origin's gets error then close", async () => {
    const before = (await world.status(gw)).counters.refused_origin;
    await open(pageA, "a", "LocalWebSocket", "site.room");
    await open(pageA2, "a2", "LocalWebSocket", "site.room");
    assert.deepEqual(await attempt(pageB, "b", "LocalWebSocket", "site.room"), ["error", "close 1006"]);
    await send(pageA, "a", "hello from A");
    assert.deepEqual(await next(pageA2, "a2"), [{ kind: "text", text: "hello from A" }]);
    await send(pageA2, "a2", "hello from A2");
    assert.deepEqual(await next(pageA, "a"), [{ kind: "text", text: "hello from A2" }]);
    assert.deepEqual(await eventsOf(pageB, "b"), ["error", "close 1006"], "B never saw a message");
    // The same through the classic BroadcastWebSocket: no rule covers it, so B joins.
    assert.deepEqual(await attempt(pageB, "b-news", "BroadcastWebSocket", "site.room"), ["open"]);
    const status = await world.status(gw);
    assert.equal(status.counters.refused_origin, before + 1);
    const room = status.channels.find((c) => c.scope === "local" && c.name === "site.room");
    assert.deepEqual(room.origins, { [siteA.origin]: 2 });
    assert.equal(room.clients, 2);
    const news = status.channels.find((c) => c.scope === "broadcast" && c.name === "site.room");
    assert.deepEqual(news.origins, { [siteB.origin]: 1 });
    assert.ok(pageB.errors.length === 1 && refusal.test(pageB.errors[0]), pageB.errors.join("\n"));
    pageB.errors = [];
});

test("done when: https://evil.example cannot join local/home.lights but can join local/chat", async () => {
    assert.deepEqual(await attempt(pageEvil, "lights", "LocalWebSocket", "home.lights"),
                     ["error", "close 1006"]);
    assert.deepEqual(await attempt(pageEvil, "chat", "LocalWebSocket", "chat"), ["open"]);
    assert.deepEqual(await attempt(pageApp, "lights", "LocalWebSocket", "home.lights"), ["open"]);
    // The app's channel works, and the evil page heard nothing of it.
    await open(pageApp2, "lights", "LocalWebSocket", "home.lights");
    await pageApp.evaluate(() => window.attempts.lights.ws.send("lights on"));
    assert.deepEqual(await next(pageApp2, "lights"), [{ kind: "text", text: "lights on" }]);
    assert.deepEqual(await eventsOf(pageEvil, "lights"), ["error", "close 1006"]);
    const channels = (await world.status(gw)).channels;
    assert.deepEqual(channels.find((c) => c.name === "chat").origins, { "https://evil.example": 1 });
    assert.deepEqual(channels.find((c) => c.name === "home.lights").origins,
                     { "https://app.example": 2 });
    assert.ok(pageEvil.errors.length === 1 && refusal.test(pageEvil.errors[0]), pageEvil.errors.join("\n"));
    pageEvil.errors = [];
});

test("the console shows where a channel's clients come from", async () => {
    con = await world.page();
    await con.goto(`${gw.origin}/console`);
    const row = con.locator("#channels tr[data-name='home.lights'] .origins");
    await row.waitFor();
    assert.equal(await row.textContent(), "https://app.example 2");
    assert.equal(await con.locator("#channels tr[data-scope=local][data-name='site.room'] .origins")
                          .textContent(), `${siteA.origin} 2`);
});

test("no other errors in the pages", () => {
    for (const p of [pageA, pageA2, pageB, pageApp, pageApp2, pageEvil, con])
        assert.deepEqual(p.errors, []);
});
