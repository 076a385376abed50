/*
 * Flash streaming client (the page side), part 3 of 3: Dash's entry points.
 *
 * The clientside callbacks Flash registers for each stream (wiring.py) call `_flash.trigger`
 * (start a run), `_flash.cancel` (stop runs whose cancel condition is no longer met) and
 * `_flash.report` (a stream's error, for dev tools); the page's own lifecycle ends its runs.
 * The runs themselves: flash-stream-link.js; applying their updates: flash-stream-frames.js
 * (both loaded before this one). The wire protocol is described in docs/streaming-protocol.md.
 */
(function () {
    "use strict";

    var frames = window.__flashFrames;
    var apply = frames.apply;
    var runs = window.__flashRuns;
    var running = runs.running;  // stream id -> its Run
    var Run = runs.Run;

    function sameValue(a, b) {
        return JSON.stringify(a) === JSON.stringify(b);
    }

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
        var link = runs.link();
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
        runs.dropLink();
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
            coalesce: frames.coalesce
        }
    });

    /* The public API. */
    window.flash = Object.assign(window.flash || {}, {
        running: function () { return Object.keys(running); },
        stop: function (id) { if (running[id]) { running[id].stop(true); } },
        deltaProps: frames.deltaProps
    });
}());
