/*
 * Flash streaming client (the page side), part 1 of 3: applying updates, a batch per frame.
 *
 * Runs' `props` go through Dash's public `window.dash_clientside.set_props` (so Patch objects work
 * and downstream callbacks fire), batched per animation frame: see `coalesce` and `frameSize`.
 * The other parts: flash-stream-link.js (runs and the line to the downlink hub) and
 * flash-stream.js (Dash's clientside entry points), loaded after this one.
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function () {
    "use strict";

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

    /* Queue `[[id, props], ...]` for the next frame. */
    function apply(updates) {
        Array.prototype.push.apply(queued, updates);
        schedule();
    }

    window.__flashFrames = {apply: apply, coalesce: coalesce, deltaProps: deltaProps};
}());
