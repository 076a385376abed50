/*
 * Flash downlink hub, part 2 of 4: starting a run (see flash-hub-runs.js for the parts).
 *
 * A start is posted with the downlink's token. The worker that answers either holds the downlink
 * (a JSON answer with the run's handle: its events come over the downlink) or does not (without
 * shared storage): then the answer is an SSE response of its own, a private line carrying the
 * runs started there, read here like the downlink.
 */
(function (scope) {
    "use strict";

    var wire = scope.__flashWire;
    var postJson = wire.postJson;
    var isEventStream = wire.isEventStream;
    var readEvents = wire.readEvents;
    var errorText = wire.errorText;
    var Hub = scope.__flashHub.Hub;

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
}(self));
