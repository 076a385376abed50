// Loads flash/client's scripts into a Node vm context the way a page (or a worker) does: in order,
// into one global scope. Used by the *.test.js files here; not a test itself.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const CLIENT_DIR = path.join(__dirname, "..", "..", "flash", "client");
// The order of flash/client/__init__.py's `_js_dist` (test_client_suite.py checks the page's).
const HUB_SCRIPTS = ["flash-hub-runs.js", "flash-hub-start.js", "flash-hub-downlink.js", "flash-hub.js"];
const STREAM_SCRIPTS = ["flash-stream-frames.js", "flash-stream-link.js", "flash-stream.js"];

/* Run the named client scripts in `sandbox` (it becomes their global object); returns it. */
function runScripts(names, sandbox) {
    vm.createContext(sandbox);
    for (const name of names) {
        vm.runInContext(fs.readFileSync(path.join(CLIENT_DIR, name), "utf8"), sandbox, {filename: name});
    }
    return sandbox;
}

/* A value from the vm's realm as a plain value of this one, for deepStrictEqual. */
const plain = (value) => JSON.parse(JSON.stringify(value));

/* Let pending promise callbacks and immediates run (the hub's async steps are chained promises). */
async function settle(rounds = 20) {
    for (let i = 0; i < rounds; i += 1) {
        await new Promise((resolve) => setImmediate(resolve));
    }
}

/* The page client (flash-stream*.js) as a page loads it, with a stub hub (no SharedWorker), a
 * recording set_props, frames run by hand (`flush`), the messages it posts to the hub (`toHub`), a
 * way to answer them (`send`), and the page's event listeners (`listeners.pagehide(...)`). */
function loadPage({fetch = () => Promise.resolve(null), console: log = console} = {}) {
    const applied = [];
    const toHub = [];
    const listeners = {};
    let frame = null;
    let fromHub = null;
    const fakeChannel = function () {
        this.port1 = {postMessage() {}, start() {}};
        this.port2 = {postMessage() {}};
    };
    const window = {
        dash_clientside: {no_update: {}, set_props: (id, props) => applied.push([id, props])},
        addEventListener(type, fn) { listeners[type] = fn; },
        __flashHub: {
            Hub: function () {},
            attach() {},
        },
    };
    const context = {
        window, document: {hidden: false, getElementById: () => null}, navigator: {}, fetch,
        requestAnimationFrame: (fn) => { frame = fn; }, MessageChannel: fakeChannel,
        console: log, JSON, Date, Math, Object, Array, String, Error, Promise,
    };
    runScripts(STREAM_SCRIPTS, context);
    // the link's port: what the page posts to the hub, and a way to answer it
    const realChannel = context.MessageChannel;
    context.MessageChannel = function () {
        realChannel.call(this);
        this.port1.postMessage = (msg) => toHub.push(msg);
        Object.defineProperty(this.port1, "onmessage", {set(fn) { fromHub = fn; }, get() { return fromHub; }});
    };
    const flush = () => { const fn = frame; frame = null; if (fn) { fn(); } };
    const send = (msg) => fromHub({data: msg});
    // in this realm (the client's objects have the vm's prototypes), for deepStrictEqual
    const seen = () => JSON.parse(JSON.stringify(applied));
    return {window, seen, toHub, flush, send, listeners, Error: context.Error};
}

module.exports = {runScripts, loadPage, plain, settle, HUB_SCRIPTS, STREAM_SCRIPTS};
