/*
 * Flash downlink hub, part 1 of 4: the run table.
 *
 * The hub holds the one downlink (a fetch + ReadableStream SSE response) that carries every stream
 * of every tab of this app in this browser, and routes each run's messages to the tab that started
 * it. This part keeps which tab started which run, routes each run's events to it (keeping those
 * that arrive before the run's start answer), and closes runs on the server in batches.
 *
 * The hub's other parts add to `Hub.prototype`, in the order the page (or the worker) loads them:
 *   flash-hub-start.js     starting a run: the start request, and the private line an answer may be
 *   flash-hub-downlink.js  the downlink: connect, reconnect with backoff, resume, give up
 *   flash-hub.js           wiring a tab's port to a hub; the SharedWorker (or in-page) entry point
 * All four read the wire helpers (flash-wire.js), loaded before them.
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function (scope) {
    "use strict";

    var EARLY_KEEP_MS = 10000;  // messages of a run whose start answer has not arrived yet
    var postJson = scope.__flashWire.postJson;

    function Hub() {
        this.config = null;      // {downlink, close, giveUp}: from the first tab
        this.token = null;       // the downlink token the server issued
        this.runs = {};          // run id -> {client, ref, handle, seq, line}
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

    /* A start waits for the downlink (the server binds each run to it), then is posted. */
    Hub.prototype.start = function (client, msg) {
        client.refs[msg.ref] = null;  // started, handle not known yet
        if (!this.connected) {
            this.waiting.push([client, msg]);
            this.ensureConnected();
            return;
        }
        this.post(client, msg);
    };

    /* The server answered a start with its handle: the run is the tab's from now on, and the
     * messages that came before the answer are delivered first. `line`: its private line, if any. */
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

    /* One run's event (from the downlink or a private line); false when the line must drop. */
    Hub.prototype.handle = function (event, data) {
        if (["props", "done", "error", "gone"].indexOf(event.type) < 0 || typeof data.run !== "string") {
            this.malformed("an event of unknown shape (" + event.type + ")");
            return false;
        }
        this.route({type: event.type, run: data.run, seq: data.seq, data: data.data});
        return true;
    };

    /* The server sent something this client cannot read: fail every run and close them there. */
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

    /* Hand an event to the run's tab; any event but `props` ends the run here. */
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

    scope.__flashHub = {Hub: Hub};
}(self));
