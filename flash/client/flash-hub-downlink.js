/*
 * Flash downlink hub, part 3 of 4: the downlink (see flash-hub-runs.js for the parts).
 *
 * One connect loop per hub: it opens the downlink with the token it had and every run's last
 * sequence id (so the server resumes each run after it), reads it until it drops, and tries again
 * after 200 ms, doubling up to 5 s. A connection that was up, or a server that said it is shutting
 * down, starts the count over. After `giveUp` seconds without a connection, or when the server
 * refuses the downlink (4xx), the loop ends and every run is reported failed.
 */
(function (scope) {
    "use strict";

    var MAX_BACKOFF_MS = 5000;
    var FIRST_BACKOFF_MS = 200;
    var wire = scope.__flashWire;
    var sleep = wire.sleep;
    var readEvents = wire.readEvents;
    var errorText = wire.errorText;
    var Hub = scope.__flashHub.Hub;

    /* How long to wait before the next try, after `failures` failed ones in a row (1, 2, ...). */
    function backoffMs(failures) {
        return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * Math.pow(2, failures - 1));
    }

    Hub.prototype.ensureConnected = function () {
        if (!this.active) {
            this.active = true;
            this.loop();
        }
    };

    /* Forget the downlink; every run on it is gone (its tab starts it over), or failed with
     * `reason`. Runs on a private line do not depend on the downlink and carry on. */
    Hub.prototype.reconnect = function (reason) {
        var hub = this;
        hub.token = null;
        hub.connected = false;
        Object.keys(hub.runs).forEach(function (id) {
            if (!hub.runs[id].line) {
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
            await sleep(backoffMs(failures));
        }
    };

    /* The loop ends: the downlink's runs fail, and starts waiting for it are refused. */
    Hub.prototype.giveUp = function (reason) {
        var hub = this;
        hub.active = false;
        hub.reconnect("Flash: streams stopped: " + reason);
        hub.waiting.splice(0).forEach(function (item) {
            delete item[0].refs[item[1].ref];
            hub.send(item[0], {t: "refused", ref: item[1].ref, status: 0, error: reason});
        });
    };

    /* One connection: "dropped", "failed", "shutdown" or {refused: why} once it ends. */
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
}(self));
