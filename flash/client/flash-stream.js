/*
 * Flash streaming client.
 *
 * Opens each event callback's stream with fetch + ReadableStream (never an XHR whose
 * responseText grows forever), parses Server-Sent Events, and applies `props` events through
 * Dash's public `window.dash_clientside.set_props`, batching updates per animation frame.
 * A dropped connection reconnects with backoff and asks to resume after the last event id.
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function () {
    "use strict";

    var running = {};        // stream id -> Run
    var queued = [];         // [id, props] waiting for the next frame
    var flushScheduled = false;
    var MAX_BACKOFF_MS = 5000;
    // Props a component consumes as events rather than state: each value must reach it in a
    // render of its own, or all but the last of a frame are lost. Apps may push more names.
    var deltaProps = ["extendData", "prependData", "rowTransaction"];

    function isPatch(value) {
        return value !== null && typeof value === "object" && value.__dash_patch_update !== undefined;
    }

    function idKey(id) {
        return typeof id === "string" ? id : JSON.stringify(id, Object.keys(id).sort());
    }

    function sameValue(a, b) {
        return JSON.stringify(a) === JSON.stringify(b);
    }

    function devToolsOn() {
        try {
            var config = JSON.parse(document.getElementById("_dash-config").textContent);
            return Boolean(config.ui);
        } catch (e) {
            return false;
        }
    }

    function newRunId() {
        if (window.crypto && window.crypto.randomUUID) {
            return window.crypto.randomUUID();
        }
        return Date.now().toString(36) + Math.random().toString(36).slice(2);
    }

    /* Patches for one prop applied back to back are one Patch with both operation lists. */
    function mergePatches(first, second) {
        return {
            __dash_patch_update: first.__dash_patch_update,
            operations: first.operations.concat(second.operations)
        };
    }

    /* Merge updates so that one frame sets each component once where that is safe: a plain
     * value replaces what is pending for that prop, a Patch joins a pending Patch of that prop
     * (its operations run after the earlier ones), and a Patch to a prop with a plain value
     * pending starts a new update so that it applies on top of that value. */
    function coalesce(updates) {
        var merged = [];
        var lastFor = {};
        updates.forEach(function (update) {
            var key = idKey(update[0]);
            var props = update[1];
            var target = lastFor[key];
            var clash = target && Object.keys(props).some(function (name) {
                return isPatch(props[name]) && name in target[1] && !isPatch(target[1][name]);
            });
            if (!target || clash) {
                target = [update[0], {}];
                merged.push(target);
                lastFor[key] = target;
            }
            Object.keys(props).forEach(function (name) {
                var pending = target[1][name];
                var value = props[name];
                target[1][name] = isPatch(value) && isPatch(pending) ? mergePatches(pending, value) : value;
            });
        });
        return merged;
    }

    /* How many queued updates go in one batch: stop before a delta prop for a component this
     * batch already updates (it would be merged or rendered away); the rest keeps its order. */
    function frameSize(updates) {
        var touched = {};
        for (var i = 0; i < updates.length; i += 1) {
            var key = idKey(updates[i][0]);
            var delta = Object.keys(updates[i][1]).some(function (name) {
                return deltaProps.indexOf(name) >= 0;
            });
            if (touched[key] === "delta" || (delta && touched[key])) {
                return i;
            }
            touched[key] = delta ? "delta" : true;
        }
        return updates.length;
    }

    /* The rest of a frame that stopped at a delta prop goes in the next task, once the component
     * has rendered the previous value (React renders in a task posted before this one). */
    var nextTask = (function () {
        var channel = new MessageChannel();
        var pending = null;
        channel.port1.onmessage = function () {
            var fn = pending;
            pending = null;
            fn();
        };
        return function (fn) {
            pending = fn;
            channel.port2.postMessage(null);
        };
    }());

    function flush() {
        var size = frameSize(queued);
        var batch = coalesce(queued.slice(0, size));
        queued = queued.slice(size);
        batch.forEach(function (update) {
            try {
                window.dash_clientside.set_props(update[0], update[1]);
            } catch (err) {
                console.warn("Flash: could not update", update[0], err);
            }
        });
        if (queued.length) {
            nextTask(flush);  // flushScheduled stays true: one drain at a time
        } else {
            flushScheduled = false;
        }
    }

    function apply(updates) {
        Array.prototype.push.apply(queued, updates);
        schedule();
    }

    function schedule() {
        if (flushScheduled) {
            return;
        }
        flushScheduled = true;
        // Background tabs get no animation frames; a timer keeps the queue from growing.
        if (document.hidden) {
            setTimeout(flush, 250);
        } else {
            requestAnimationFrame(flush);
        }
    }

    function parseEvent(block) {
        var event = {type: "message", data: "", id: null};
        block.split("\n").forEach(function (line) {
            if (!line || line.charAt(0) === ":") {
                return;
            }
            var colon = line.indexOf(":");
            var field = colon < 0 ? line : line.slice(0, colon);
            var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") {
                event.type = value;
            } else if (field === "data") {
                event.data = event.data ? event.data + "\n" + value : value;
            } else if (field === "id") {
                event.id = value;
            }
        });
        return event;
    }

    function Run(settings, request) {
        this.settings = settings;
        this.request = request;
        this.runId = newRunId();
        this.lastEventId = null;
        this.stopped = false;
        this.controller = null;
        this.failures = 0;
    }

    /* Connect, and reconnect with backoff while the stream drops; same flat loop as read(). */
    Run.prototype.start = async function () {
        while (!this.stopped) {
            this.controller = new AbortController();
            var outcome;
            try {
                outcome = await this.connect();
            } catch (err) {
                outcome = "dropped";
            }
            if (outcome !== "dropped" || this.stopped) {
                break;
            }
            this.failures += 1;
            var delay = Math.min(MAX_BACKOFF_MS, 200 * Math.pow(2, this.failures - 1));
            await new Promise(function (resolve) { setTimeout(resolve, delay); });
        }
        this.finish();
    };

    Run.prototype.finish = function () {
        if (running[this.settings.id] === this) {
            delete running[this.settings.id];
        }
    };

    Run.prototype.connect = function () {
        var run = this;
        var body = Object.assign({}, run.request, {run: run.runId, lastEventId: run.lastEventId});
        return fetch(run.settings.url, {
            method: "POST",
            headers: {"Content-Type": "application/json", "Accept": "text/event-stream"},
            body: JSON.stringify(body),
            signal: run.controller.signal,
            credentials: "same-origin",
            cache: "no-store"
        }).then(function (response) {
            if (!response.ok) {
                return response.text().then(function (text) {
                    console.error("Flash: stream " + run.settings.name + " refused (" + response.status + "): " + text);
                    return response.status < 500 ? "refused" : "dropped";
                });
            }
            return run.read(response.body.getReader());
        });
    };

    /* An async loop, not `then` returning the next read: a promise chain would keep one link
     * per chunk alive for the whole life of an endless stream. */
    Run.prototype.read = async function (reader) {
        var decoder = new TextDecoder();
        var pending = "";
        for (;;) {
            var chunk = await reader.read();
            if (chunk.done) {
                return "dropped";
            }
            pending += decoder.decode(chunk.value, {stream: true});
            var blocks = pending.split("\n\n");
            pending = blocks.pop();
            for (var i = 0; i < blocks.length; i += 1) {
                var outcome = this.handle(parseEvent(blocks[i]));
                if (outcome) {
                    reader.cancel().catch(function () { return null; });
                    return outcome;
                }
            }
        }
    };

    Run.prototype.handle = function (event) {
        if (this.stopped) {
            return "stopped";
        }
        if (event.id !== null) {
            this.lastEventId = parseInt(event.id, 10);
            this.failures = 0;
        }
        if (event.type === "props") {
            apply(JSON.parse(event.data));
        } else if (event.type === "open") {
            this.opened(JSON.parse(event.data));
        } else if (event.type === "done") {
            return "done";
        } else if (event.type === "error") {
            this.fail(JSON.parse(event.data));
            return "error";
        }
        return null;
    };

    Run.prototype.opened = function (info) {
        if (!info.resumed && this.lastEventId !== null) {
            // The server no longer had this run (past the resume window, or another worker):
            // the generator starts over, so the page starts over too, from reset_props.
            this.lastEventId = null;
            apply(this.settings.reset);
        }
    };

    Run.prototype.fail = function (error) {
        console.error("Flash: stream " + this.settings.name + " failed: " + error.message);
        apply(this.settings.reset);
        if (devToolsOn()) {
            error.at = Date.now();
            apply([[this.settings.errorStore, {data: error}]]);
        }
    };

    /* Close the stream now; the DELETE lets the server end the generator without waiting. */
    Run.prototype.stop = function (reset) {
        if (this.stopped) {
            return;
        }
        this.stopped = true;
        if (this.controller) {
            this.controller.abort();
        }
        fetch(this.settings.url + "/" + this.runId, {method: "DELETE", keepalive: true, credentials: "same-origin"})
            .catch(function () { return null; });
        if (reset) {
            apply(this.settings.reset);
        }
        this.finish();
    };

    function triggeredIds(context) {
        return (context.triggered || []).map(function (t) { return t.prop_id; }).filter(function (p) {
            return p && p !== ".";
        });
    }

    /* Dash fires a callback once when its inputs first appear in the page (a button rendered
     * by a page change or a callback), with no value; that is not a user event. */
    function appearedOnly(context) {
        var triggered = context.triggered || [];
        return triggered.every(function (t) { return t.value === null || t.value === undefined; });
    }

    function trigger(config, context) {
        var fresh = appearedOnly(context);
        var request = {
            inputs: context.inputs_list,
            state: context.states_list.slice(0, -1),  // the last State is this config
            changedPropIds: triggeredIds(context)
        };
        config.streams.forEach(function (settings) {
            if (settings.preventInitial && fresh) {
                return;
            }
            if (running[settings.id]) {
                running[settings.id].stop(false);  // a restart replaces the old stream
            }
            var run = new Run(settings, request);
            running[settings.id] = run;
            run.start();
        });
        return window.dash_clientside.no_update;
    }

    function cancel(config, context) {
        var values = context.inputs_list.map(function (input) { return input.value; });
        config.streams.forEach(function (entry) {
            var run = running[entry.id];
            var unmet = entry.desired.some(function (want, i) { return !sameValue(values[i], want); });
            if (run && unmet) {
                run.stop(true);
            }
        });
        return window.dash_clientside.no_update;
    }

    window.addEventListener("pagehide", function () {
        Object.keys(running).forEach(function (id) { running[id].stop(false); });
    });

    window.flash = Object.assign(window.flash || {}, {
        trigger: trigger,
        cancel: cancel,
        running: function () { return Object.keys(running); },
        stop: function (id) { if (running[id]) { running[id].stop(true); } },
        deltaProps: deltaProps,
        _coalesce: coalesce
    });
}());
