/*
 * Flash wire helpers: reading Server-Sent Events from a fetch response and posting JSON.
 *
 * Shared by the downlink hub (flash-hub.js), which loads this file with `importScripts` when it
 * runs as a SharedWorker (the URL comes in the worker URL's `#wire=` fragment) and finds it on
 * the page otherwise (Dash loads this suite's scripts in order, this one first).
 * The wire protocol is described in docs/streaming-protocol.md.
 */
(function (scope) {
    "use strict";

    function parseEvent(block) {
        var event = {type: "message", data: ""};
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
            }
        });
        return event;
    }

    function sleep(ms) {
        return new Promise(function (resolve) { setTimeout(resolve, ms); });
    }

    function postJson(url, body, keepalive, signal) {
        return fetch(url, {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify(body),
            credentials: "same-origin",
            cache: "no-store",
            keepalive: Boolean(keepalive),
            signal: signal
        });
    }

    function isEventStream(response) {
        return (response.headers.get("Content-Type") || "").indexOf("text/event-stream") === 0;
    }

    /* Read an SSE response block by block, skipping heartbeat comments; `onEvent(event, data)`
     * gets each event with its parsed data and returns false to stop reading. Resolves to
     * false when an event's data is not JSON (the caller reports it), else true. */
    async function readEvents(response, onEvent) {
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var pending = "";
        for (;;) {
            var chunk = await reader.read();
            if (chunk.done) {
                return true;
            }
            pending += decoder.decode(chunk.value, {stream: true});
            var blocks = pending.split("\n\n");
            pending = blocks.pop();
            for (var i = 0; i < blocks.length; i += 1) {
                var event = parseEvent(blocks[i]);
                if (event.type === "message" && !event.data) {
                    continue;  // a heartbeat comment
                }
                var data;
                try {
                    data = JSON.parse(event.data);
                } catch (err) {
                    reader.cancel().catch(function () { return null; });
                    return false;
                }
                if (!onEvent(event, data)) {
                    reader.cancel().catch(function () { return null; });
                    return true;
                }
            }
        }
    }

    function errorText(response) {
        return response.text().then(function (text) {
            try {
                return JSON.parse(text).error || text;
            } catch (e) {
                return text;
            }
        });
    }

    scope.__flashWire = {
        parseEvent: parseEvent,
        sleep: sleep,
        postJson: postJson,
        isEventStream: isEventStream,
        readEvents: readEvents,
        errorText: errorText
    };
}(self));
