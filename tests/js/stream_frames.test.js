// node --test: the page client's frame batching (flash/client/flash-stream-frames.js): one
// set_props per component and frame where merging is safe, delta props each in a render of their own.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {runScripts, plain} = require("./client.js");

/* The frames part alone, with a recording set_props and frames, timers and tasks run by hand. */
function loadFrames(hidden = false) {
    const applied = [];
    const pending = {frame: null, timer: null, task: null};
    function Channel() {
        const port1 = {onmessage: null};
        this.port1 = port1;
        this.port2 = {postMessage: () => { pending.task = () => port1.onmessage({}); }};
    }
    const context = runScripts(["flash-stream-frames.js"], {
        window: {dash_clientside: {set_props: (id, props) => applied.push(plain([id, props]))}},
        document: {hidden},
        requestAnimationFrame: (fn) => { pending.frame = fn; },
        setTimeout: (fn, ms) => { pending.timer = [fn, ms]; },
        MessageChannel: Channel,
        console,
    });
    const run = (kind) => {
        const fn = pending[kind];
        pending[kind] = null;
        (kind === "timer" ? fn[0] : fn)();
    };
    return {frames: context.window.__flashFrames, applied, pending, run};
}

const patch = (...operations) => ({__dash_patch_update: "__dash_patch_update", operations});

test("updates of one frame are merged per component: a plain value replaces, Patches join in order", () => {
    const {frames, applied, run} = loadFrames();
    frames.apply([["out", {children: "a"}], [{type: "x", i: 1}, {value: 1}], ["out", {children: "b", title: "t"}]]);
    frames.apply([["log", {children: patch("op1")}], ["log", {children: patch("op2")}], [{i: 1, type: "x"}, {value: 2}]]);
    run("frame");
    assert.deepStrictEqual(applied, [
        ["out", {children: "b", title: "t"}],
        [{type: "x", i: 1}, {value: 2}],  // a dict id is one component whatever its key order
        ["log", {children: patch("op1", "op2")}],
    ]);
});

test("a Patch after a plain value of the same prop applies on top of it, as an update of its own", () => {
    const {frames} = loadFrames();
    const merged = frames.coalesce([["log", {children: ["x"]}], ["log", {children: patch("append")}]]);
    assert.deepStrictEqual(plain(merged), [["log", {children: ["x"]}], ["log", {children: patch("append")}]]);
});

test("delta props reach a component in a render each: the rest of the frame waits for the next task", () => {
    const {frames, applied, pending, run} = loadFrames();
    frames.apply([["graph", {extendData: 1}], ["graph", {extendData: 2}], ["label", {children: "x"}]]);
    run("frame");
    assert.deepStrictEqual(applied, [["graph", {extendData: 1}]]);
    assert.ok(pending.task && !pending.frame, "the rest goes in the next task, not the next frame");
    frames.apply([["label", {children: "y"}]]);  // a drain is under way: no second one is scheduled
    assert.strictEqual(pending.frame, null);
    run("task");
    assert.deepStrictEqual(applied.slice(1), [["graph", {extendData: 2}], ["label", {children: "y"}]]);
    assert.strictEqual(pending.task, null);
    frames.deltaProps.push("customDelta");  // apps may add names (window.flash.deltaProps)
    frames.apply([["c", {customDelta: 1}], ["c", {customDelta: 2}]]);
    run("frame");
    assert.deepStrictEqual(applied.slice(3), [["c", {customDelta: 1}]]);
});

test("a background tab (no animation frames) applies its queue every 250 ms", () => {
    const {frames, applied, pending, run} = loadFrames(true);
    frames.apply([["out", {children: 1}]]);
    assert.strictEqual(pending.frame, null);
    assert.strictEqual(pending.timer[1], 250);
    run("timer");
    assert.deepStrictEqual(applied, [["out", {children: 1}]]);
});
