// node --test: the downlink hub (flash/client/flash-hub-runs.js) closes runs in batches the server accepts.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {runScripts, HUB_SCRIPTS} = require("./client.js");

/* The hub as the page loads it (no SharedWorker), with a wire whose postJson records requests. */
function loadHub(answer) {
    const posted = [];
    const wire = {
        postJson: async (url, body) => { posted.push({url, body}); return answer(body); },
        parseEvent() {}, sleep: async () => {}, isEventStream() { return true; }, readEvents() {}, errorText() { return ""; },
    };
    const scope = {__flashWire: wire};
    runScripts(HUB_SCRIPTS, {self: scope});
    const hub = new scope.__flashHub.Hub();
    hub.config = {close: "/_flash/close"};
    return {hub, posted};
}

const ok = (unknown) => ({status: 200, ok: true, json: async () => ({closed: 0, unknown})});

test("a close of many runs is sent in batches of at most 256 handles, all of them once", async () => {
    const {hub, posted} = loadHub(() => ok([]));
    const handles = Array.from({length: 600}, (_, i) => "h" + i);
    await hub.closeRuns("token", handles);
    assert.deepStrictEqual(posted.map((p) => p.body.runs.length), [256, 256, 88]);
    assert.deepStrictEqual(posted.flatMap((p) => p.body.runs), handles);
    assert.ok(posted.every((p) => p.body.downlink === "token" && p.url === "/_flash/close"));
});

test("handles another worker holds are asked for again, a few times at most", async () => {
    const {hub, posted} = loadHub((body) => ok(body.runs.slice(1)));  // each answer knows one
    await hub.closeRuns("token", ["a", "b", "c", "d", "e", "f"]);
    assert.deepStrictEqual(posted.map((p) => p.body.runs), [
        ["a", "b", "c", "d", "e", "f"], ["b", "c", "d", "e", "f"], ["c", "d", "e", "f"], ["d", "e", "f"],
    ]);
});

test("a 409 (no such downlink on that worker) is asked again; another refusal ends the close", async () => {
    const answers = [{status: 409, ok: false}, {status: 500, ok: false}];
    const {hub, posted} = loadHub(() => answers.shift());
    await hub.closeRuns("token", ["a", "b"]);
    assert.strictEqual(posted.length, 2);
});
