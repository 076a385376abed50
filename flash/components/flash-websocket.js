/*
 * Flash's WebSocket component (flash/components/websocket.py documents its props).
 *
 * Opens one websocket while mounted and closes it when unmounted; after an abnormal close it
 * reconnects with backoff (0.5 s doubling to 10 s, reset once a connection stayed open 5 s).
 * Messages are JSON both ways. `{"__flash_props__": [[id, props], ...]}` is applied to those
 * components with Dash's public `window.dash_clientside.set_props`; any other message becomes
 * the `message` prop. Plain ES2015 on `window.React`, no bundler: dash-renderer finds the
 * component as `window.flash_components.WebSocket`.
 */
(function () {
    "use strict";

    var React = window.React;
    var FIRST_DELAY = 500;
    var MAX_DELAY = 10000;
    var STABLE_AFTER = 5000;   // ms open after which the next drop starts the backoff over
    var MAX_QUEUED = 100;      // sends kept while connecting
    var PROPS_KEY = "__flash_props__";
    var DELTA_PROPS = ["extendData", "prependData", "rowTransaction"];

    function dashConfig() {
        try {
            return JSON.parse(document.getElementById("_dash-config").textContent) || {};
        } catch (e) {
            return {};
        }
    }

    /* `url`, else `path` on this page's origin (relative: under requests_pathname_prefix). */
    function socketUrl(props) {
        if (props.url) {
            return props.url;
        }
        if (!props.path) {
            return null;
        }
        var path = props.path;
        if (path.charAt(0) !== "/") {
            path = (dashConfig().requests_pathname_prefix || "/") + path;
        }
        return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
    }

    function idKey(id) {
        return typeof id === "string" ? id : JSON.stringify(id, Object.keys(id).sort());
    }

    /* Props updates from every socket of the page, in order. Plain values and Patches apply at
     * once (set_props reads the current props, so back-to-back Patches compose); a delta prop
     * (extendData, ...) is an event, so a component gets at most one per render: the rest
     * waits for the next frame. */
    var pending = [];
    var touched = {};
    var scheduled = false;

    function deltaProps() {
        return (window.flash && window.flash.deltaProps) || DELTA_PROPS;
    }

    function hasDelta(props) {
        var names = deltaProps();
        return Object.keys(props).some(function (name) { return names.indexOf(name) >= 0; });
    }

    function schedule() {
        if (scheduled) {
            return;
        }
        scheduled = true;
        var next = function () {
            scheduled = false;
            touched = {};
            drain();
        };
        if (document.hidden) {
            setTimeout(next, 250);  // background tabs get no animation frames
        } else {
            window.requestAnimationFrame(function () { setTimeout(next, 0); });
        }
    }

    function drain() {
        while (pending.length) {
            var update = pending[0];
            var key = idKey(update[0]);
            var delta = hasDelta(update[1]);
            if (delta && touched[key]) {
                schedule();
                return;
            }
            pending.shift();
            if (delta) {
                touched[key] = true;
                schedule();  // forget `touched` once this has rendered
            }
            try {
                window.dash_clientside.set_props(update[0], update[1]);
            } catch (err) {
                console.warn("Flash WebSocket: could not update", update[0], err);
            }
        }
    }

    function applyUpdates(updates) {
        updates.forEach(function (update) {
            if (Array.isArray(update) && update.length === 2 && update[0] && update[1] &&
                    typeof update[1] === "object") {
                pending.push(update);
            }
        });
        drain();
    }

    class WebSocketComponent extends React.Component {
        constructor(props) {
            super(props);
            this.socket = null;
            this.timer = null;
            this.delay = FIRST_DELAY;
            this.openedAt = 0;
            this.queue = [];
            this.unmounted = false;
        }

        componentDidMount() {
            this.connect();
            this.sendProp(this.props.send);
        }

        componentDidUpdate(prev) {
            if (socketUrl(prev) !== socketUrl(this.props)) {
                this.disconnect();
                this.delay = FIRST_DELAY;
                this.connect();
            }
            if (this.props.send !== prev.send) {
                this.sendProp(this.props.send);
            }
        }

        componentWillUnmount() {
            this.unmounted = true;
            this.disconnect();
        }

        connect() {
            clearTimeout(this.timer);
            this.timer = null;
            var url = socketUrl(this.props);
            if (!url) {
                this.props.setProps({state: "closed", error: "WebSocket needs url or path."});
                return;
            }
            var socket;
            try {
                socket = new window.WebSocket(url);
            } catch (err) {  // a malformed URL: retrying cannot help
                this.props.setProps({state: "closed", error: "Invalid websocket URL: " + (err.message || err)});
                return;
            }
            socket.binaryType = "arraybuffer";
            this.socket = socket;
            this.props.setProps({state: "connecting"});
            var self = this;
            socket.onopen = function () {
                self.openedAt = Date.now();
                self.props.setProps({state: "open", error: null});
                self.flushQueue();
            };
            socket.onmessage = function (event) { self.receive(event.data); };
            socket.onclose = function (event) {
                self.socket = null;
                self.closed(event);
            };
        }

        closed(event) {
            var normal = event.code === 1000;
            this.props.setProps({
                state: "closed",
                error: normal ? null : "Connection closed (code " + event.code + (event.reason ? ": " + event.reason : "") + ")."
            });
            if (normal || this.props.reconnect === false || this.unmounted) {
                return;
            }
            if (this.openedAt && Date.now() - this.openedAt >= STABLE_AFTER) {
                this.delay = FIRST_DELAY;
            }
            this.openedAt = 0;
            var delay = this.delay;
            this.delay = Math.min(this.delay * 2, MAX_DELAY);
            var self = this;
            this.timer = setTimeout(function () { self.connect(); }, delay);
        }

        disconnect() {
            clearTimeout(this.timer);
            this.timer = null;
            var socket = this.socket;
            this.socket = null;
            if (socket) {
                socket.onopen = socket.onmessage = socket.onclose = null;
                try {
                    socket.close(1000);
                } catch (e) { /* already closing */ }
            }
        }

        sendProp(value) {
            if (value === null || value === undefined) {
                return;
            }
            var text;
            try {
                text = JSON.stringify(value);
            } catch (err) {
                this.props.setProps({send: null, error: "Could not encode the message as JSON."});
                return;
            }
            if (this.socket && this.socket.readyState === 1) {
                this.socket.send(text);
            } else if (this.queue.length < MAX_QUEUED) {
                this.queue.push(text);
            } else {
                console.warn("Flash WebSocket: not connected and " + MAX_QUEUED + " messages queued; dropped one.");
            }
            this.props.setProps({send: null});  // the same value can be sent again
        }

        flushQueue() {
            while (this.queue.length && this.socket && this.socket.readyState === 1) {
                this.socket.send(this.queue.shift());
            }
        }

        receive(raw) {
            var text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
            var data;
            try {
                data = JSON.parse(text);
            } catch (e) {
                data = text;
            }
            if (data && typeof data === "object" && !Array.isArray(data) && Array.isArray(data[PROPS_KEY])) {
                applyUpdates(data[PROPS_KEY]);
                return;
            }
            this.props.setProps({message: {data: data, at: Date.now()}});
        }

        render() {
            return null;
        }
    }

    window.flash_components = Object.assign(window.flash_components || {}, {WebSocket: WebSocketComponent});
}());
