// node --test: the page client (flash/client/flash-stream*.js) applies Dash's running= around a run,
// and reports a stream's error to dev tools as an Error titled with its message (Dash 4.5's way).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {loadPage: loadClient} = require("./client.js");

const SETTINGS = {
    id: "s1", name: "run", url: "/_flash/stream/s1", reset: [], errorStore: "_flash-error-x", preventInitial: true,
    running: [[["start", {disabled: true}], ["busy", {children: "busy"}]],
              [["start", {disabled: false}], ["busy", {children: "idle"}]]],
};
const CONFIG = {streams: [SETTINGS], transport: {downlink: "/_flash/downlink", worker: "w.js", close: "/_flash/close"}};

function click(client) {
    client.window.dash_clientside.callback_context = {
        triggered: [{prop_id: "start.n_clicks", value: 1}],
        inputs_list: [{id: "start", property: "n_clicks", value: 1}],
        states_list: [{id: "_flash-trigger-x", property: "data", value: CONFIG}],
    };
    client.window.dash_clientside._flash.trigger(1, CONFIG);
}

test("running= values apply when a run starts and the off values once it is done", () => {
    const client = loadClient();
    click(client);
    client.flush();
    assert.deepStrictEqual(client.seen(), [["start", {disabled: true}], ["busy", {children: "busy"}]]);
    const start = client.toHub.find((m) => m.t === "start");
    client.send({t: "event", ref: start.ref, type: "props", data: [["out", {children: "step 1"}]]});
    client.send({t: "event", ref: start.ref, type: "done", data: {}});
    client.flush();
    assert.deepStrictEqual(client.seen().slice(2), [
        ["out", {children: "step 1"}], ["start", {disabled: false}], ["busy", {children: "idle"}],
    ]);
});

test("running= off values apply once after an error, and a restart keeps the new run's on values", () => {
    const client = loadClient();
    click(client);
    click(client);  // the second start replaces the first: off, then on again, in one frame
    client.flush();
    assert.deepStrictEqual(client.seen(), [["start", {disabled: true}], ["busy", {children: "busy"}]]);
    const starts = client.toHub.filter((m) => m.t === "start");
    client.send({t: "event", ref: starts[1].ref, type: "error", data: {stream: "run", message: "boom", handled: false}});
    client.send({t: "event", ref: starts[1].ref, type: "done", data: {}});  // ignored: the run is over
    client.flush();
    assert.deepStrictEqual(client.seen().slice(2), [["start", {disabled: false}], ["busy", {children: "idle"}]]);
});

test("a stream without running= applies nothing around its run", () => {
    const client = loadClient();
    const config = {...CONFIG, streams: [{...SETTINGS, running: undefined}]};
    client.window.dash_clientside.callback_context = {
        triggered: [{prop_id: "start.n_clicks", value: 1}], inputs_list: [], states_list: [{}],
    };
    client.window.dash_clientside._flash.trigger(1, config);
    client.flush();
    assert.deepStrictEqual(client.seen(), []);
});

test("a reported stream error is thrown as an Error titled with its message, the traceback as its text", () => {
    const client = loadClient();
    const report = client.window.dash_clientside._flash.report;
    assert.strictEqual(report(null), undefined);
    let thrown = null;
    try {
        report({stream: "run", message: "run 1 failed", traceback: "Traceback...\nValueError: run 1 failed"});
    } catch (err) {
        thrown = err;
    }
    assert.ok(thrown instanceof client.Error, "dev tools use an Error's own message as the title");
    assert.strictEqual(thrown.message, "run 1 failed");
    assert.strictEqual(thrown.html, "Traceback...\nValueError: run 1 failed");
    assert.strictEqual(typeof thrown.stack, "undefined", "no JavaScript stack: the error is the server's");
});
