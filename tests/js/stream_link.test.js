// node --test: the page client's runs (flash/client/flash-stream-link.js, flash-stream.js): a run
// the server lost starts over, cancel conditions stop runs, and leaving the page closes them.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {loadPage} = require("./client.js");

const quiet = {warn() {}, error() {}};
const SETTINGS = {id: "s1", name: "run", url: "/_flash/stream/s1", reset: [["out", {children: "reset"}]],
                  errorStore: "_flash-error-x", preventInitial: true};
const TRANSPORT = {downlink: "/_flash/downlink", worker: "w.js", close: "/_flash/close"};

function start(page, settings = SETTINGS) {
    page.window.dash_clientside.callback_context = {
        triggered: [{prop_id: "go.n_clicks", value: 1}],
        inputs_list: [{id: "go", property: "n_clicks", value: 1}],
        states_list: [{id: "_flash-trigger-x", property: "data", value: {}}],
    };
    page.window.dash_clientside._flash.trigger(1, {streams: [settings], transport: TRANSPORT});
    return page.toHub.filter((m) => m.t === "start").pop();
}

test("the page says hello once, then starts a run with the inputs Dash passed", () => {
    const page = loadPage({console: quiet});
    const first = start(page);
    assert.deepStrictEqual(page.toHub.map((m) => m.t), ["hello", "start"]);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(first)), {t: "start", ref: first.ref, url: "/_flash/stream/s1", body: {
        inputs: [{id: "go", property: "n_clicks", value: 1}], state: [], changedPropIds: ["go.n_clicks"]}});
    assert.deepStrictEqual([...page.window.flash.running()], ["s1"]);
});

test("a run the server lost (gone) goes back to its reset values and starts again", () => {
    const page = loadPage({console: quiet});
    const first = start(page);
    page.send({t: "started", ref: first.ref, handle: "a.sig", downlink: "t1"});
    page.send({t: "event", ref: first.ref, type: "gone", data: {}});
    page.flush();
    assert.deepStrictEqual(page.seen(), [["out", {children: "reset"}]]);
    const again = page.toHub.filter((m) => m.t === "start");
    assert.strictEqual(again.length, 2);
    assert.notStrictEqual(again[1].ref, first.ref);
    page.send({t: "event", ref: first.ref, type: "props", data: [["out", {children: "late"}]]});  // the old ref: ignored
    page.flush();
    assert.strictEqual(page.seen().length, 1);
});

test("a cancel condition no longer met stops the run: the hub is told, the reset values apply", () => {
    const page = loadPage({console: quiet});
    const run = start(page);
    const cancel = {streams: [{id: "s1", desired: ["tab-1"]}]};
    page.window.dash_clientside.callback_context = {inputs_list: [{value: "tab-1"}]};
    page.window.dash_clientside._flash.cancel("tab-1", cancel);
    assert.deepStrictEqual(page.toHub.filter((m) => m.t === "stop"), [], "the condition holds: nothing stops");
    page.window.dash_clientside.callback_context = {inputs_list: [{value: "tab-2"}]};
    page.window.dash_clientside._flash.cancel("tab-2", cancel);
    assert.deepStrictEqual(page.toHub.filter((m) => m.t === "stop").map((m) => m.ref), [run.ref]);
    page.flush();
    assert.deepStrictEqual(page.seen(), [["out", {children: "reset"}]]);
    assert.deepStrictEqual([...page.window.flash.running()], []);
});

test("leaving the page says goodbye to the hub and closes its started runs itself, twice", () => {
    const posted = [];
    const page = loadPage({console: quiet, fetch: (url, init) => { posted.push([url, JSON.parse(init.body), init.keepalive]); return Promise.resolve(null); }});
    const run = start(page);
    page.send({t: "started", ref: run.ref, handle: "a.sig", downlink: "t1"});
    page.listeners.pagehide({});
    assert.deepStrictEqual(page.toHub.slice(-1).map((m) => m.t), ["bye"]);
    assert.deepStrictEqual(page.toHub.filter((m) => m.t === "stop"), [], "the goodbye stops them all");
    assert.deepStrictEqual(posted, [["/_flash/close", {downlink: "t1", runs: ["a.sig"]}, true],
                                    ["/_flash/close", {downlink: "t1", runs: ["a.sig"]}, true]]);
    page.listeners.pageshow({persisted: true});  // back from the back/forward cache
    page.flush();
    assert.deepStrictEqual(page.seen(), [["out", {children: "reset"}]]);
});
