/*
 * Flash dev tools: the "Streams" panel (docs/devtools.md).
 *
 * Loaded on every page, does nothing unless Dash's dev tools UI is on (`ui` in the page's
 * `_dash-config`, i.e. `app.run(debug=True)`). Then a small "Streams" button sits at the bottom
 * left; it opens a panel that reads `<prefix>_flash/debug/streams` every second while open:
 * this worker's live runs (name, state, frames, rate, age, what waits for the browser) with a
 * Stop button each (a dot marks a stream this page runs), and the last runs that failed, with
 * their traceback.
 */
(function () {
    "use strict";

    var POLL_MS = 1000;
    var config = null;
    try {
        config = JSON.parse(document.getElementById("_dash-config").textContent);
    } catch (e) {
        return;
    }
    if (!config || !config.ui) {
        return;
    }
    var prefix = config.requests_pathname_prefix || "/";
    var listUrl = prefix + "_flash/debug/streams";
    var stopUrl = prefix + "_flash/debug/streams/stop";
    var timer = null;
    var panel = null;
    var body = null;

    function el(tag, attrs, text) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (key) {
            node.setAttribute(key, attrs[key]);
        });
        if (text !== undefined && text !== null) {
            node.textContent = String(text);
        }
        return node;
    }

    function cell(row, text) {
        row.appendChild(el("td", {style: "padding:2px 6px;border-bottom:1px solid #eee"}, text));
    }

    function sizeOf(bytes) {
        if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
        if (bytes >= 1024) { return (bytes / 1024).toFixed(1) + " KB"; }
        return bytes + " B";
    }

    function seconds(value) {
        return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
    }

    function stop(runId, button) {
        button.disabled = true;
        fetch(stopUrl, {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({run: runId}),
            credentials: "same-origin"
        }).then(refresh, refresh);
    }

    function onThisPage() {
        try {
            return window.flash && window.flash.running ? window.flash.running() : [];
        } catch (e) {
            return [];
        }
    }

    function runsTable(runs) {
        if (!runs.length) {
            return el("p", {"class": "flash-devtools-empty", style: "margin:4px 0;color:#666"}, "No live streams.");
        }
        var here = onThisPage();  // stream ids this page runs (another tab may run the same one)
        var table = el("table", {"class": "flash-devtools-runs", style: "border-collapse:collapse;width:100%"});
        var head = el("tr");
        ["Stream", "State", "Frames", "Bytes", "Rate", "Age", "Queued", ""].forEach(function (name) {
            head.appendChild(el("th", {style: "text-align:left;padding:2px 6px"}, name));
        });
        table.appendChild(head);
        runs.forEach(function (run) {
            var row = el("tr", {"class": "flash-devtools-run", "data-run": run.run});
            cell(row, (here.indexOf(run.stream) >= 0 ? "\u25cf " : "") + run.name);
            cell(row, run.state);
            cell(row, run.frames);
            cell(row, sizeOf(run.bytes));
            cell(row, run.rate + "/s");
            cell(row, seconds(run.age));
            cell(row, run.queued + " (" + run.queued_bytes + " B)");
            var last = el("td", {style: "padding:2px 6px;border-bottom:1px solid #eee"});
            var button = el("button", {"class": "flash-devtools-stop", type: "button"}, "Stop");
            button.disabled = run.state === "closing";
            button.onclick = function () { stop(run.run, button); };
            last.appendChild(button);
            row.appendChild(last);
            table.appendChild(row);
        });
        return table;
    }

    function errorsList(errors) {
        var box = el("div", {"class": "flash-devtools-errors"});
        errors.forEach(function (failure) {
            var details = el("details", {"class": "flash-devtools-error", style: "margin:4px 0"});
            details.appendChild(el("summary", {style: "cursor:pointer;color:#b00"},
                failure.name + ": " + failure.message + " (after " + failure.frames + " frames)"));
            details.appendChild(el("pre", {style: "white-space:pre-wrap;font-size:11px;margin:4px 0;max-height:240px;overflow:auto"},
                failure.traceback));
            box.appendChild(details);
        });
        return box;
    }

    function render(data) {
        if (!body) {
            return;
        }
        body.textContent = "";
        body.appendChild(el("div", {style: "color:#666;margin-bottom:4px"}, "Worker " + data.worker));
        body.appendChild(runsTable(data.runs || []));
        if (data.errors && data.errors.length) {
            body.appendChild(el("h4", {style: "margin:8px 0 2px"}, "Failed runs"));
            body.appendChild(errorsList(data.errors));
        }
    }

    function refresh() {
        fetch(listUrl, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
            if (!response.ok) {
                throw new Error("HTTP " + response.status);
            }
            return response.json();
        }).then(render, function (err) {
            if (body) {
                body.textContent = "Streams unavailable: " + err.message;
            }
        });
    }

    function open() {
        panel = el("div", {id: "flash-devtools-streams", style: "position:fixed;left:8px;bottom:44px;z-index:10001;" +
            "background:#fff;color:#222;border:1px solid #ccc;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.2);" +
            "font:12px/1.4 sans-serif;padding:8px;width:560px;max-width:90vw;max-height:60vh;overflow:auto"});
        panel.appendChild(el("strong", {}, "Streams"));
        body = el("div", {"class": "flash-devtools-body", style: "margin-top:4px"}, "Loading...");
        panel.appendChild(body);
        document.body.appendChild(panel);
        refresh();
        timer = setInterval(refresh, POLL_MS);
    }

    function close() {
        clearInterval(timer);
        timer = null;
        if (panel && panel.parentNode) {
            panel.parentNode.removeChild(panel);
        }
        panel = body = null;
    }

    function install() {
        var toggle = el("button", {id: "flash-devtools-toggle", type: "button", title: "Flash: live streams",
            style: "position:fixed;left:8px;bottom:8px;z-index:10001;font:12px sans-serif;padding:4px 10px;" +
                "border:1px solid #ccc;border-radius:12px;background:#fff;cursor:pointer"}, "Streams");
        toggle.onclick = function () {
            if (panel) { close(); } else { open(); }
        };
        document.body.appendChild(toggle);
    }

    if (document.body) {
        install();
    } else {
        document.addEventListener("DOMContentLoaded", install);
    }
}());
