/*
 * Flash downlink hub.
 *
 * Holds the one downlink (a fetch + ReadableStream SSE response) that carries every stream of
 * every tab of this app in this browser, and routes each run's messages to the tab that started
 * it. It runs as a SharedWorker where the browser has one (all tabs share it), else inside the
 * page (one per tab). Tabs talk to it over a MessagePort: see `Hub.prototype.receive`.
 * A dropped downlink reconnects with backoff and resumes every run after its last sequence id;
 * after `giveUp` seconds without a connection its runs are reported failed.
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function (scope) {
    "use strict";

    var MAX_BACKOFF_MS = 5000;
    var EARLY_KEEP_MS = 10000;  // messages of a run whose start answer has not arrived yet

    /* The wire helpers (flash-wire.js): on the page already, or loaded into the worker. */
    function loadWire() {
        if (!scope.__flashWire && typeof scope.importScripts === "function") {
            var match = /[#&]wire=([^&]+)/.exec(scope.location.hash || "");
            if (match) {
                scope.importScripts(decodeURIComponent(match[1]));
            }
        }
        return scope.__flashWire;
    }

    var wire = loadWire();
    var parseEvent = wire.parseEvent;
    var sleep = wire.sleep;
    var postJson = wire.postJson;
    var isEventStream = wire.isEventStream;
    var readEvents = wire.readEvents;
    var errorText = wire.errorText;

    function Hub() {
        this.config = null;      // {downlink, close, giveUp}: from the first tab
        this.token = null;       // the downlink token the server issued
        this.runs = {};          // run id -> {client, ref, handle, seq}
        this.early = {};         // run id -> [[message, time]] before its start answer
        this.startsPending = 0;
        this.waiting = [];       // starts waiting for the downlink
        this.connected = false;
        this.active = false;     // the connect loop is running
    }

    /* A tab's messages: hello, start, stop, bye. `client` is {port, refs: {ref: run id}}. */
    Hub.prototype.receive = function (client, msg) {
        if (msg.t === "hello") {
            this.config = this.config || msg.config;
        } else if (msg.t === "start") {
            this.start(client, msg);
        } else if (msg.t === "stop") {
            this.stop(client, [msg.ref]);
        } else if (msg.t === "bye") {
            this.stop(client, Object.keys(client.refs));
            client.gone = true;
        }
    };

    Hub.prototype.send = function (client, msg) {
        if (!client.gone) {
            client.port.postMessage(msg);
        }
    };

    Hub.prototype.start = function (client, msg) {
        client.refs[msg.ref] = null;  // started, handle not known yet
        if (!this.connected) {
            this.waiting.push([client, msg]);
            this.ensureConnected();
            return;
        }
        this.post(client, msg);
    };

    Hub.prototype.post = async function (client, msg) {
        var hub = this;
        var token = hub.token;
        hub.startsPending += 1;
        var answer = null;
        var failure = null;
        var controller = new AbortController();
        var response = null;
        try {
            response = await postJson(msg.url, Object.assign({}, msg.body, {downlink: token}), false, controller.signal);
            if (response.ok && isEventStream(response)) {
                answer = "private";
            } else if (response.ok) {
                answer = await response.json();
            } else if (response.status === 409) {
                failure = "downlink-gone";
            } else {
                failure = {status: response.status, error: await errorText(response)};
            }
        } catch (err) {
            failure = {status: 0, error: String(err)};
        }
        hub.startsPending -= 1;
        if (failure === "downlink-gone") {
            // The server no longer has our downlink: reconnect, then start again.
            if (hub.token === token) {
                hub.reconnect(null);
            }
            hub.start(client, msg);
            return;
        }
        if (answer === "private") {
            // Another worker holds our downlink: this answer carries the runs started here.
            hub.readPrivate(client, msg, response, controller);
            return;
        }
        if (!(msg.ref in client.refs) || client.gone) {
            // Stopped while starting: close it at once.
            if (answer) {
                hub.closeRuns(token, [answer.run]);
            }
            return;
        }
        if (failure) {
            delete client.refs[msg.ref];
            hub.send(client, {t: "refused", ref: msg.ref, status: failure.status, error: failure.error});
            return;
        }
        if (hub.token !== token) {
            // Its downlink was given up while it started (its worker shut down): start it over.
            hub.closeRuns(token, [answer.run]);
            delete client.refs[msg.ref];
            hub.send(client, {t: "event", ref: msg.ref, type: "gone", data: {}});
            return;
        }
        hub.register(client, msg.ref, answer.run, token, null);
    };

    Hub.prototype.register = function (client, ref, handle, token, line) {
        var hub = this;
        var id = handle.split(".")[0];
        client.refs[ref] = id;
        hub.runs[id] = {client: client, ref: ref, handle: handle, seq: 0, line: line};
        if (line) {
            line.runs[id] = true;
        }
        hub.send(client, {t: "started", ref: ref, handle: handle, downlink: token});
        (hub.early[id] || []).forEach(function (early) { hub.route(early[0]); });
        delete hub.early[id];
    };

    /* A start answered as its own SSE response (a private line): route its events like the
     * downlink's; when it ends, the runs it carried are gone (their tabs start them over). */
    Hub.prototype.readPrivate = async function (client, msg, response, controller) {
        var hub = this;
        var line = {controller: controller, runs: {}};
        var token = hub.token;
        hub.startsPending += 1;
        var first = true;
        try {
            var wellFormed = await readEvents(response, function (event, data) {
                if (event.type === "hello") {
                    return true;
                }
                if (event.type === "shutdown") {
                    return false;  // its worker is going away: its runs are gone (below)
                }
                var entry = typeof data.run === "string" && hub.runs[data.run];
                if (entry && !entry.line) {
                    entry.line = line;  // a run this worker started with a plain answer
                    line.runs[data.run] = true;
                }
                if (event.type === "started") {
                    if (first) {
                        first = false;
                        hub.startsPending -= 1;
                    }
                    if (!(msg.ref in client.refs) || client.gone) {
                        hub.closeRuns(token, [data.run]);
                        return false;
                    }
                    hub.register(client, msg.ref, data.run, token, line);
                    return true;
                }
                return hub.handle(event, data);
            });
        } catch (err) {
            wellFormed = true;  // aborted or dropped: handled below
        }
        if (wellFormed === false) {
            hub.malformed("an event that is not JSON");
        }
        if (first) {
            hub.startsPending -= 1;
        }
        Object.keys(line.runs).forEach(function (id) { hub.deliver(id, "gone", {}); });
    };

    Hub.prototype.stop = function (client, refs) {
        var handles = [];
        var hub = this;
        refs.forEach(function (ref) {
            var id = client.refs[ref];
            delete client.refs[ref];
            var entry = id && hub.runs[id];
            if (entry) {
                delete hub.runs[id];
                handles.push(entry.handle);
                if (entry.line) {
                    delete entry.line.runs[id];
                    if (!Object.keys(entry.line.runs).length) {
                        entry.line.controller.abort();  // its worker closes the run when it sees this
                    }
                }
            }
        });
        if (handles.length && hub.token) {
            hub.closeRuns(hub.token, handles);
        }
    };

    /* Close runs on the server, at most CLOSE_BATCH handles a request (the server refuses more:
     * admission.py). A handle the answering worker does not know may live on another worker (no
     * shared storage): ask again a few times, each request may land elsewhere. */
    var CLOSE_BATCH = 256;
    Hub.prototype.closeRuns = async function (token, handles) {
        for (var start = 0; start < handles.length; start += CLOSE_BATCH) {
            await this.closeBatch(token, handles.slice(start, start + CLOSE_BATCH));
        }
    };

    Hub.prototype.closeBatch = async function (token, handles) {
        for (var attempt = 0; attempt < 4 && handles.length; attempt += 1) {
            try {
                var response = await postJson(this.config.close, {downlink: token, runs: handles}, true);
                if (response.status !== 409) {  // 409: that worker has no such downlink at all
                    if (!response.ok) {
                        return;
                    }
                    handles = (await response.json()).unknown || [];
                }
            } catch (err) {
                return;
            }
        }
    };

    Hub.prototype.ensureConnected = function () {
        if (!this.active) {
            this.active = true;
            this.loop();
        }
    };

    /* Forget the downlink; every run on it is gone (its tab starts it over). */
    Hub.prototype.reconnect = function (reason) {
        var hub = this;
        hub.token = null;
        hub.connected = false;
        Object.keys(hub.runs).forEach(function (id) {
            if (!hub.runs[id].line) {  // runs on a private line do not depend on the downlink
                hub.deliver(id, reason ? "failed" : "gone", reason ? {message: reason} : {});
            }
        });
        if (hub.controller) {
            hub.controller.abort();
        }
    };

    Hub.prototype.loop = async function () {
        var failingSince = null;
        var failures = 0;
        for (;;) {
            var outcome;
            this.controller = new AbortController();
            try {
                outcome = await this.open(this.controller.signal);
            } catch (err) {
                outcome = this.connected ? "dropped" : "failed";
            }
            if (this.connected || outcome === "shutdown") {
                failingSince = null;
                failures = 0;
            }
            this.connected = false;
            if (outcome && outcome.refused) {
                this.giveUp("the server refused the downlink (" + outcome.refused + ")");
                return;
            }
            if (failingSince === null) {
                failingSince = Date.now();
            }
            if (Date.now() - failingSince > this.config.giveUp * 1000) {
                this.giveUp("no connection to the server for " + this.config.giveUp + " s");
                return;
            }
            failures += 1;
            await sleep(Math.min(MAX_BACKOFF_MS, 200 * Math.pow(2, failures - 1)));
        }
    };

    Hub.prototype.giveUp = function (reason) {
        var hub = this;
        hub.active = false;
        hub.reconnect("Flash: streams stopped: " + reason);
        hub.waiting.splice(0).forEach(function (item) {
            delete item[0].refs[item[1].ref];
            hub.send(item[0], {t: "refused", ref: item[1].ref, status: 0, error: reason});
        });
    };

    Hub.prototype.open = async function (signal) {
        var hub = this;
        var resume = {};
        Object.keys(hub.runs).forEach(function (id) {
            if (!hub.runs[id].line) {
                resume[hub.runs[id].handle] = hub.runs[id].seq;
            }
        });
        var response = await fetch(hub.config.downlink, {
            method: "POST",
            headers: {"Content-Type": "application/json", "Accept": "text/event-stream"},
            body: JSON.stringify({downlink: hub.token, runs: resume}),
            signal: signal,
            credentials: "same-origin",
            cache: "no-store"
        });
        if (!response.ok) {
            var text = await errorText(response);
            if ((response.status === 403 || response.status === 409) && hub.token) {
                hub.reconnect(null);  // not ours any more: start over on a new downlink
                return "dropped";
            }
            return response.status < 500 ? {refused: response.status + ": " + text} : "failed";
        }
        var shutdown = false;
        var wellFormed = await readEvents(response, function (event, data) {
            if (event.type === "hello") {
                hub.token = data.downlink;
                hub.connected = true;
                hub.waiting.splice(0).forEach(function (item) { hub.post(item[0], item[1]); });
                return true;
            }
            if (event.type === "shutdown") {
                // The worker is going away and closed our runs: each tab starts them over on the
                // next downlink (another worker, or this one restarted).
                shutdown = true;
                hub.reconnect(null);
                return false;
            }
            return hub.handle(event, data);
        });
        if (!wellFormed) {
            hub.malformed("an event that is not JSON");
        }
        return shutdown ? "shutdown" : "dropped";
    };

    /* One run's event (from the downlink or a private line); false when the line must drop. */
    Hub.prototype.handle = function (event, data) {
        if (["props", "done", "error", "gone"].indexOf(event.type) < 0 || typeof data.run !== "string") {
            this.malformed("an event of unknown shape (" + event.type + ")");
            return false;
        }
        this.route({type: event.type, run: data.run, seq: data.seq, data: data.data});
        return true;
    };

    Hub.prototype.malformed = function (what) {
        var hub = this;
        var handles = Object.keys(hub.runs).map(function (id) { return hub.runs[id].handle; });
        if (handles.length && hub.token) {
            hub.closeRuns(hub.token, handles);
        }
        Object.keys(hub.runs).forEach(function (id) {
            hub.deliver(id, "failed", {message: "Flash: the server sent " + what + "; streams stopped."});
        });
    };

    Hub.prototype.route = function (message) {
        var entry = this.runs[message.run];
        if (!entry) {
            if (this.startsPending > 0) {
                var now = Date.now();
                var list = this.early[message.run] = this.early[message.run] || [];
                list.push([message, now]);
                this.pruneEarly(now);
            }
            return;
        }
        if (message.type !== "gone") {
            entry.seq = message.seq;
        }
        this.deliver(message.run, message.type, message.data);
    };

    Hub.prototype.pruneEarly = function (now) {
        var early = this.early;
        Object.keys(early).forEach(function (id) {
            if (now - early[id][0][1] > EARLY_KEEP_MS) {
                delete early[id];
            }
        });
    };

    Hub.prototype.deliver = function (id, type, data) {
        var entry = this.runs[id];
        if (!entry) {
            return;
        }
        if (type !== "props") {
            delete this.runs[id];
            delete entry.client.refs[entry.ref];
            if (entry.line) {
                delete entry.line.runs[id];
            }
        }
        this.send(entry.client, {t: "event", ref: entry.ref, type: type, data: data});
    };

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

    var isSharedWorker = typeof SharedWorkerGlobalScope !== "undefined" && scope instanceof SharedWorkerGlobalScope;
    if (isSharedWorker) {
        var shared = new Hub();
        scope.onconnect = function (e) { attach(shared, e.ports[0]); };
    } else {
        // In the page: the fallback for browsers without SharedWorker.
        scope.__flashHub = {Hub: Hub, attach: attach};
    }
}(self));
