/*
 * Flash streaming client (the page side).
 *
 * Starts and stops runs through the downlink hub (flash-hub.js: a SharedWorker shared by every
 * tab of the app, or the same code inside the page where SharedWorker is missing), and applies
 * their `props` through Dash's public `window.dash_clientside.set_props`, batching updates per
 * animation frame. The wire protocol is described in docs/streaming-protocol.md.
 */
(function () {
    "use strict";

    var running = {};        // stream id -> Run
    var queued = [];         // [id, props] waiting for the next frame
    var flushScheduled = false;
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

    /* The page's line to the hub: a SharedWorker port, or a MessageChannel to a hub in the page. */
    var link = null;
    var refs = {};           // run ref -> Run
    var nextRef = 0;
    var tabLock = "flash-tab-" + Date.now().toString(36) + Math.random().toString(36).slice(2);

    function openLink(transport) {
        var port = null;
        if (typeof SharedWorker === "function" && !window.__flashNoSharedWorker) {
            try {
                var worker = new SharedWorker(transport.worker, {name: "flash:" + transport.downlink});
                port = worker.port;
                worker.onerror = function () {
                    console.warn("Flash: the shared downlink worker failed; using one downlink in this tab.");
                    replaceLink(transport);
                };
            } catch (err) {
                port = null;
            }
        }
        if (!port) {
            var channel = new MessageChannel();
            window.__flashHub.attach(new window.__flashHub.Hub(), channel.port2);
            port = channel.port1;
        }
        port.onmessage = function (e) { fromHub(e.data); };
        port.start();
        port.postMessage({t: "hello", config: transport});
        if (navigator.locks) {
            // Held for the life of this document; once held, the hub queues for it and so
            // learns when the tab is gone (closed, crashed) even if pagehide never ran.
            navigator.locks.request(tabLock, function () {
                port.postMessage({t: "lock", lock: tabLock});
                return new Promise(function () { return null; });
            });
        }
        return {port: port, transport: transport};
    }

    function replaceLink(transport) {
        var old = Object.keys(refs).map(function (ref) { return refs[ref]; });
        window.__flashNoSharedWorker = true;
        link = openLink(transport);
        old.forEach(function (run) { run.restart(); });
    }

    function linkFor(transport) {
        if (!link) {
            link = openLink(transport);
        }
        return link;
    }

    function fromHub(msg) {
        var run = refs[msg.ref];
        if (!run) {
            return;
        }
        if (msg.t === "started") {
            run.handle = msg.handle;
            run.downlink = msg.downlink;
        } else if (msg.t === "refused") {
            run.refused(msg);
        } else if (msg.t === "event") {
            run.handle_(msg.type, msg.data);
        }
    }

    function Run(settings, request, transport) {
        this.settings = settings;
        this.request = request;
        this.transport = transport;
        this.stopped = false;
        this.finished = false;
        this.handle = null;
        this.downlink = null;
        this.ref = null;
    }

    Run.prototype.start = function () {
        this.ref = "r" + (nextRef += 1);
        refs[this.ref] = this;
        linkFor(this.transport).port.postMessage({t: "start", ref: this.ref, url: this.settings.url, body: this.request});
    };

    /* The server lost the run (a restart, or past its resume window): the page starts over. */
    Run.prototype.restart = function () {
        delete refs[this.ref];
        this.handle = null;
        apply(this.settings.reset);
        if (!this.stopped) {
            this.start();
        }
    };

    Run.prototype.finish = function () {
        delete refs[this.ref];
        if (running[this.settings.id] === this) {
            delete running[this.settings.id];
        }
        if (!this.finished && this.settings.running) {
            apply(this.settings.running[1]);  // Dash's running= off values, once the run ended
        }
        this.finished = true;
    };

    Run.prototype.handle_ = function (type, data) {
        if (this.stopped) {
            return;
        }
        if (type === "props") {
            apply(data);
        } else if (type === "done") {
            this.finish();
        } else if (type === "gone") {
            this.restart();
        } else if (type === "error") {
            this.fail(data);
        } else if (type === "failed") {
            this.fail({stream: this.settings.name, message: data.message});
        }
    };

    Run.prototype.refused = function (msg) {
        this.fail({stream: this.settings.name,
                   message: "the server refused to start it (" + msg.status + "): " + msg.error});
    };

    Run.prototype.fail = function (error) {
        var text = "Flash: stream " + this.settings.name + " failed: " + error.message;
        if (error.handled) {
            console.warn(text);  // on_error already told the user
        } else {
            console.error(text);
        }
        apply(this.settings.reset);
        if (devToolsOn()) {
            error.at = Date.now();
            error.stream = error.stream || this.settings.name;
            apply([[this.settings.errorStore, {data: error}]]);
        }
        this.finish();
    };

    /* Close the run now; the hub asks the server to end the generator without waiting. */
    Run.prototype.stop = function (reset, quiet) {
        if (this.stopped) {
            return;
        }
        this.stopped = true;
        if (link && this.ref in refs && !quiet) {
            link.port.postMessage({t: "stop", ref: this.ref});
        }
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
            var run = new Run(settings, request, config.transport);
            running[settings.id] = run;
            if (settings.running) {
                apply(settings.running[0]);  // Dash's running= values, for as long as the run goes on
            }
            run.start();
        });
        return window.dash_clientside.no_update;
    }

    /* The error store's clientside callback: throwing a JS Error is how dev tools get an error
     * titled with its own message (a server callback's would be titled with the store's id).
     * The Python traceback the server sent in debug mode shows as the error's text; no JS stack. */
    function report(error) {
        if (!error) {
            return;
        }
        var shown = Object.create(Error.prototype);
        shown.message = String(error.message);
        if (error.traceback) {
            shown.html = String(error.traceback);
        }
        throw shown;
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

    /* Leaving the page ends its runs: the hub is told, and the page itself sends the close
     * (keepalive) in case a shared hub goes away with this, its last tab. */
    var suspended = [];
    window.addEventListener("pagehide", function () {
        var byDownlink = {};
        Object.keys(running).forEach(function (id) {
            var run = running[id];
            if (run.handle && run.downlink) {
                (byDownlink[run.downlink] = byDownlink[run.downlink] || []).push(run.handle);
            }
            run.stop(false, true);  // the goodbye below stops them all at once
            suspended.push(run);
        });
        if (link) {
            link.port.postMessage({t: "bye"});
            // Twice: without shared storage, each request may reach another worker.
            Object.keys(byDownlink).forEach(function (token) {
                [0, 1].forEach(function () {
                    fetch(link.transport.close, {
                        method: "POST", keepalive: true, credentials: "same-origin",
                        headers: {"Content-Type": "application/json"},
                        body: JSON.stringify({downlink: token, runs: byDownlink[token]})
                    }).catch(function () { return null; });
                });
            });
        }
    });

    /* Back from the back/forward cache: the runs were closed on the way out, so the page goes
     * back to each one's reset state, and the next start opens a fresh line to the hub. */
    window.addEventListener("pageshow", function (e) {
        if (!e.persisted) {
            return;
        }
        link = null;
        suspended.splice(0).forEach(function (run) { apply(run.settings.reset); });
    });

    window.dash_clientside = Object.assign(window.dash_clientside || {}, {
        _flash: {
            trigger: function () {
                var args = Array.prototype.slice.call(arguments);
                return trigger(args[args.length - 1], window.dash_clientside.callback_context);
            },
            cancel: function () {
                var args = Array.prototype.slice.call(arguments);
                return cancel(args[args.length - 1], window.dash_clientside.callback_context);
            },
            report: report,
            coalesce: coalesce
        }
    });

    /* The public API. */
    window.flash = Object.assign(window.flash || {}, {
        running: function () { return Object.keys(running); },
        stop: function (id) { if (running[id]) { running[id].stop(true); } },
        deltaProps: deltaProps
    });
}());
