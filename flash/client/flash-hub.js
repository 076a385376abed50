/*
 * Flash downlink hub, part 4 of 4: the entry point (see flash-hub-runs.js for the parts).
 *
 * Runs as a SharedWorker where the browser has one (all tabs of the app share it), else inside the
 * page (one per tab). Tabs talk to it over a MessagePort: see `Hub.prototype.receive`.
 * A worker sees none of the page's scripts: this file is the worker's script, and its URL's
 * fragment names, in order, the scripts it loads with `importScripts` first
 * (`#load=<flash-wire.js>&load=<flash-hub-runs.js>&...`, fingerprinted: wiring.py). On the page,
 * Dash has loaded the same scripts before this one, in the same order.
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function (scope) {
    "use strict";

    /* In a worker: the wire helpers and the hub's parts, from this script's URL fragment. */
    function loadParts() {
        if (scope.__flashHub || typeof scope.importScripts !== "function") {
            return;
        }
        var urls = [];
        var pattern = /[#&]load=([^&]+)/g;
        var match;
        while ((match = pattern.exec(scope.location.hash || "")) !== null) {
            urls.push(decodeURIComponent(match[1]));
        }
        scope.importScripts.apply(scope, urls);
    }

    loadParts();
    var Hub = scope.__flashHub.Hub;

    /* Wire a port to a hub: messages in, and (in a worker) the tab's lock for when it dies. */
    function attach(hub, port) {
        var client = {port: port, refs: {}, gone: false};
        port.onmessage = function (e) {
            var msg = e.data || {};
            if (msg.t === "lock" && typeof msg.lock === "string" && scope.navigator && scope.navigator.locks) {
                // The tab holds this lock for its whole life: it is ours once the tab is gone.
                scope.navigator.locks.request(msg.lock, function () {
                    hub.receive(client, {t: "bye"});
                });
            }
            hub.receive(client, msg);
        };
        if (port.start) {
            port.start();
        }
        return client;
    }

    scope.__flashHub.attach = attach;
    var isSharedWorker = typeof SharedWorkerGlobalScope !== "undefined" && scope instanceof SharedWorkerGlobalScope;
    if (isSharedWorker) {
        var shared = new Hub();
        scope.onconnect = function (e) { attach(shared, e.ports[0]); };
    }
    // In the page (the fallback for browsers without SharedWorker) the tab makes its own hub:
    // `new __flashHub.Hub()` and `__flashHub.attach(hub, port)` (flash-stream-link.js).
}(self));
