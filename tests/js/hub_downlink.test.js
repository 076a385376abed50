// node --test: the downlink hub's connect loop (flash/client/flash-hub-downlink.js) and starts
// (flash-hub-start.js): backoff, resume from each run's last seq, give-up, refusals, starts that
// wait for the downlink, messages that arrive before a start's answer, private lines.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {runScripts, plain, settle, HUB_SCRIPTS} = require("./client.js");

const NEVER = () => new Promise(() => {});  // a downlink that stays open: the loop waits there

/* A page hub with a fake clock, a wire that plays scripted SSE events, and a scripted `fetch`
 * for the downlink: `downlinks` are the answers to successive connects, each
 * {status, error} (refused), {events: [[type, data], ...], hold} (read, then dropped unless
 * `hold`), an Error (a network failure) or NEVER. `starts(url, body)` answers a start's post. */
function loadHub(downlinks, starts) {
    const clock = {now: 1_000_000};
    const sleeps = [];
    const connects = [];
    const posts = [];
    const wire = {
        postJson: async (url, body) => { posts.push({url, body}); return starts(url, body); },
        sleep: async (ms) => { sleeps.push(ms); clock.now += ms; },
        isEventStream: (response) => Boolean(response.events),
        readEvents: async (response, onEvent) => {
            for (const [type, data] of response.events) {
                await null;  // one event per turn, like a stream's chunks
                if (!onEvent({type}, data)) {
                    return true;
                }
            }
            return response.hold ? NEVER() : true;
        },
        errorText: async (response) => response.error || "",
        parseEvent() {},
    };
    const fetch = async (url, init) => {
        connects.push({url, body: JSON.parse(init.body)});
        const next = downlinks.shift();
        if (next === NEVER || next === undefined) {
            return NEVER();
        }
        if (next instanceof Error) {
            throw next;
        }
        return next.events ? {ok: true, status: 200, ...next} : {ok: false, ...next};
    };
    const scope = {__flashWire: wire};
    runScripts(HUB_SCRIPTS, {self: scope, fetch, AbortController, Date: {now: () => clock.now}});
    const hub = new scope.__flashHub.Hub();
    hub.config = {downlink: "/_flash/downlink", close: "/_flash/close", giveUp: 30};
    return {hub, clock, sleeps, connects, posts};
}

/* A tab as the hub sees it: what the hub sends it is recorded. */
function tab() {
    const got = [];
    return {client: {port: {postMessage: (msg) => got.push(plain(msg))}, refs: {}, gone: false}, got};
}

const props = (run, seq) => ["props", {run, seq, data: [["out", {children: seq}]]}];
const json = (value) => ({ok: true, status: 200, json: async () => value});

test("a dropped downlink is retried after 200 ms doubling to 5 s, resumes each run after its last seq, gives up after giveUp s", async () => {
    const network = new TypeError("network down");
    const {hub, sleeps, connects} = loadHub(
        [{events: [["hello", {downlink: "t1"}], props("a", 3)]}, ...Array(20).fill(network)], null);
    const page = tab();
    hub.register(page.client, "r1", "a.sig", null, null);
    hub.active = true;
    await hub.loop();
    assert.deepStrictEqual(sleeps, [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000]);
    assert.deepStrictEqual(connects[0].body, {downlink: null, runs: {"a.sig": 0}});
    assert.ok(connects.slice(1).every((c) => c.body.downlink === "t1" && c.body.runs["a.sig"] === 3));
    assert.strictEqual(connects.length, 11);
    assert.deepStrictEqual(page.got.slice(1), [
        {t: "event", ref: "r1", type: "props", data: [["out", {children: 3}]]},
        {t: "event", ref: "r1", type: "failed", data: {message: "Flash: streams stopped: no connection to the server for 30 s"}},
    ]);
    assert.strictEqual(hub.active, false);
    assert.deepStrictEqual(Object.keys(hub.runs), []);
});

test("a downlink refused with a 4xx gives up at once: starts waiting for it are refused", async () => {
    const {hub, sleeps, connects} = loadHub([{status: 400, error: "bad body"}], null);
    const page = tab();
    hub.receive(page.client, {t: "start", ref: "r1", url: "/_flash/stream/s", body: {}});
    await settle();
    assert.strictEqual(connects.length, 1);
    assert.deepStrictEqual(sleeps, []);
    assert.deepStrictEqual(page.got, [
        {t: "refused", ref: "r1", status: 0, error: "the server refused the downlink (400: bad body)"},
    ]);
    assert.deepStrictEqual(plain(page.client.refs), {});
});

test("a 5xx is retried; a start waits for the downlink, and its run's messages sent before the answer come after it", async () => {
    let answer;
    const answered = new Promise((resolve) => { answer = resolve; });
    const {hub, sleeps, posts} = loadHub(
        [{status: 503, error: "busy"}, {events: [["hello", {downlink: "t2"}], props("b", 1), props("b", 2)], hold: true}],
        () => answered);
    const page = tab();
    hub.receive(page.client, {t: "start", ref: "r1", url: "/_flash/stream/s", body: {inputs: []}});
    await settle();
    assert.deepStrictEqual(sleeps, [200]);
    assert.deepStrictEqual(posts.map((p) => plain(p)), [{url: "/_flash/stream/s", body: {inputs: [], downlink: "t2"}}]);
    assert.deepStrictEqual(page.got, [], "nothing before the start is answered");
    answer(json({run: "b.sig"}));
    await settle();
    assert.deepStrictEqual(page.got, [
        {t: "started", ref: "r1", handle: "b.sig", downlink: "t2"},
        {t: "event", ref: "r1", type: "props", data: [["out", {children: 1}]]},
        {t: "event", ref: "r1", type: "props", data: [["out", {children: 2}]]},
    ]);
    assert.strictEqual(hub.runs.b.seq, 2);
});

test("a 409 for the downlink the hub had: its runs are gone and the next downlink is a new one", async () => {
    const {hub, sleeps, connects} = loadHub([{status: 409, error: "unknown downlink"}, NEVER], null);
    const page = tab();
    hub.token = "t1";
    hub.register(page.client, "r1", "a.sig", "t1", null);
    hub.active = true;
    hub.loop();
    await settle();
    assert.deepStrictEqual(page.got.slice(1), [{t: "event", ref: "r1", type: "gone", data: {}}]);
    assert.deepStrictEqual(sleeps, [200]);
    assert.deepStrictEqual(connects.map((c) => c.body), [{downlink: "t1", runs: {"a.sig": 0}}, {downlink: null, runs: {}}]);
});

test("a worker shutting down ends the downlink: its runs are gone, and the count toward giving up starts over", async () => {
    const {hub, sleeps, connects} = loadHub(
        [{events: [["hello", {downlink: "t1"}], ["shutdown", {}], props("a", 9)]}, NEVER], null);
    const page = tab();
    hub.register(page.client, "r1", "a.sig", "t1", null);
    hub.active = true;
    hub.loop();
    await settle();
    assert.deepStrictEqual(page.got.slice(1), [{t: "event", ref: "r1", type: "gone", data: {}}]);
    assert.deepStrictEqual(sleeps, [200]);
    assert.deepStrictEqual(connects[1].body, {downlink: null, runs: {}});
});

test("an event of unknown shape fails every run and closes them on the server", async () => {
    const {hub, posts} = loadHub([{events: [["hello", {downlink: "t1"}], ["bogus", {run: "a"}]]}, NEVER],
        () => json({closed: 1, unknown: []}));
    const page = tab();
    hub.register(page.client, "r1", "a.sig", "t1", null);
    hub.active = true;
    hub.loop();
    await settle();
    assert.deepStrictEqual(page.got.slice(1), [{t: "event", ref: "r1", type: "failed",
        data: {message: "Flash: the server sent an event of unknown shape (bogus); streams stopped."}}]);
    assert.deepStrictEqual(posts.map((p) => plain(p)), [{url: "/_flash/close", body: {downlink: "t1", runs: ["a.sig"]}}]);
});

test("messages for a run not started yet are kept 10 s at most", () => {
    const {hub, clock} = loadHub([], null);
    const page = tab();
    hub.startsPending = 1;
    hub.route({type: "props", run: "old", seq: 1, data: []});
    clock.now += 10_001;
    hub.route({type: "props", run: "new", seq: 1, data: []});
    hub.register(page.client, "r1", "old.sig", "t1", null);
    hub.register(page.client, "r2", "new.sig", "t1", null);
    assert.deepStrictEqual(page.got.map((m) => [m.t, m.ref]), [["started", "r1"], ["started", "r2"], ["event", "r2"]]);
    hub.startsPending = 0;
    hub.route({type: "props", run: "other", seq: 1, data: []});
    assert.deepStrictEqual(plain(hub.early), {}, "nothing is kept when no start is pending");
});

test("a start another worker answers as its own SSE response: its events go to the tab, its end means gone", async () => {
    const {hub} = loadHub([], () => ({ok: true, status: 200, events: [
        ["hello", {downlink: "t1", private: true}], ["started", {run: "p.sig"}], props("p", 1),
    ]}));
    const page = tab();
    hub.token = "t1";
    hub.connected = true;
    hub.receive(page.client, {t: "start", ref: "r1", url: "/_flash/stream/s", body: {}});
    await settle();
    assert.deepStrictEqual(page.got, [
        {t: "started", ref: "r1", handle: "p.sig", downlink: "t1"},
        {t: "event", ref: "r1", type: "props", data: [["out", {children: 1}]]},
        {t: "event", ref: "r1", type: "gone", data: {}},
    ]);
    assert.strictEqual(hub.startsPending, 0);
    assert.deepStrictEqual(Object.keys(hub.runs), []);
});

test("a start the server refuses is reported to its tab with the server's error", async () => {
    const {hub} = loadHub([], () => ({ok: false, status: 400, error: "no such stream"}));
    const page = tab();
    hub.token = "t1";
    hub.connected = true;
    hub.receive(page.client, {t: "start", ref: "r1", url: "/_flash/stream/x", body: {}});
    await settle();
    assert.deepStrictEqual(page.got, [{t: "refused", ref: "r1", status: 400, error: "no such stream"}]);
});
