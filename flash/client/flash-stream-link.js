/*
 * Flash streaming client (the page side), part 2 of 3: runs and the page's line to the hub.
 *
 * Starts and stops runs through the downlink hub (flash-hub.js: a SharedWorker shared by every
 * tab of the app, or the same code inside the page where SharedWorker is missing), and turns
 * each run's events into updates (flash-stream-frames.js), Dash's `running=` values, resets and
 * error reports. Dash's entry points that make runs are in flash-stream.js, loaded after this.
 */
(function () {
    "use strict";

    var apply = window.__flashFrames.apply;
    var running = {};        // stream id -> its Run
    var link = null;         // {port, transport}: a SharedWorker port, or a MessageChannel to a hub in the page
    var refs = {};           // run ref -> Run
    var nextRef = 0;
    var tabLock = "flash-tab-" + Date.now().toString(36) + Math.random().toString(36).slice(2);

    function devToolsOn() {
        try {
            var config = JSON.parse(document.getElementById("_dash-config").textContent);
            return Boolean(config.ui);
        } catch (e) {
            return false;
        }
    }

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

    /* One start of a stream; `settings` are its stream's (wiring.py), `request` the start body. */
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

    /* Close the run now; the hub asks the server to end the generator without waiting.
     * `quiet`: the hub is not told (the page is going away and says goodbye for all of them). */
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

    window.__flashRuns = {
        Run: Run,
        running: running,
        link: function () { return link; },
        dropLink: function () { link = null; }  // the next start opens a fresh line to the hub
    };
}());
