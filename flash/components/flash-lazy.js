/*
 * Flash's LazyLoad component (flash/components/lazy.py documents its props).
 *
 * Shows `placeholder` until the component is in view (IntersectionObserver, so a hidden tab
 * loads when it is shown), then POSTs {"args": ...} to <prefix>_flash/lazy/<loader> and gives
 * the answered layout to its LazyContent child (`layout`, with Dash's public
 * `window.dash_clientside.set_props`), whose clientside callback (`flash_lazy.content` below,
 * registered by lazy_route.py) makes it that child's `children`: dash-renderer then handles it
 * as any callback's new layout (ids registered, initial callbacks run). Errors are shown in
 * place with a Retry button. Plain ES2015 on `window.React`: `window.flash_components`.
 */
(function () {
    "use strict";

    var React = window.React;
    var h = React.createElement;

    function prefix() {
        try {
            var config = JSON.parse(document.getElementById("_dash-config").textContent) || {};
            return config.requests_pathname_prefix || "/";
        } catch (e) {
            return "/";
        }
    }

    function answer(response) {
        if (response.status === 204) {
            return {ok: true, layout: undefined};  // PreventUpdate: keep what is shown
        }
        return response.json().then(function (body) {
            if (response.ok && body && "layout" in body) {
                return {ok: true, layout: body.layout};
            }  // else a 4xx/5xx, or a 200 {"error": ...}: the loader raised LazyLoadError
            return {ok: false, error: (body && body.error) || "The server answered " + response.status + "."};
        }, function () {
            return {ok: false, error: "The server answered " + response.status + " without a JSON body."};
        });
    }

    class LazyLoad extends React.Component {
        constructor(props) {
            super(props);
            this.element = React.createRef();
            this.observer = null;
            this.visible = false;
            this.loadedKey = null;    // the loader+args whose layout `children` holds
            this.loadingKey = null;
            this.failedKey = null;
            this.request = 0;
            this.controller = null;
            this.unmounted = false;
            this.retry = this.retry.bind(this);
            if (props.status === "loaded") {
                this.loadedKey = this.key();  // loaded before this mount (e.g. a tab shown again)
            }
        }

        key() {
            return String(this.props.loader) + "|" + JSON.stringify(this.props.args || {});
        }

        componentDidMount() {
            this.observe();
        }

        componentDidUpdate(prev) {
            if (prev.root_margin !== this.props.root_margin) {
                this.observe();
            }
            this.maybeLoad();
        }

        componentWillUnmount() {
            this.unmounted = true;
            if (this.observer) {
                this.observer.disconnect();
            }
            if (this.controller) {
                this.controller.abort();
            }
        }

        observe() {
            if (this.observer) {
                this.observer.disconnect();
            }
            if (!("IntersectionObserver" in window) || !this.element.current) {
                this.visible = true;
                this.maybeLoad();
                return;
            }
            var self = this;
            var callback = function (entries) {
                self.visible = entries[entries.length - 1].isIntersecting;
                self.maybeLoad();
            };
            try {
                this.observer = new IntersectionObserver(callback, {rootMargin: this.props.root_margin || "0px"});
            } catch (err) {  // a root_margin the browser cannot parse
                console.warn("Flash LazyLoad: invalid root_margin", this.props.root_margin);
                this.observer = new IntersectionObserver(callback);
            }
            this.observer.observe(this.element.current);
        }

        maybeLoad() {
            if (!this.visible || this.unmounted) {
                return;
            }
            var key = this.key();
            if (key === this.loadingKey || key === this.loadedKey || key === this.failedKey) {
                return;
            }
            this.load(key);
        }

        retry() {
            this.failedKey = null;
            this.props.setProps({status: "idle", error: null});
        }

        load(key) {
            var self = this;
            var request = ++this.request;
            if (this.controller) {
                this.controller.abort();
            }
            var controller = this.controller = new AbortController();
            this.loadingKey = key;
            this.props.setProps({status: "loading"});
            var url = prefix() + "_flash/lazy/" + encodeURIComponent(this.props.loader);
            fetch(url, {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({args: this.props.args || {}}),
                credentials: "same-origin",
                signal: controller.signal
            }).then(answer, function (err) {
                if (err && err.name === "AbortError") {
                    throw err;
                }
                return {ok: false, error: "Could not reach the server."};
            }).then(function (result) {
                if (request !== self.request || self.unmounted) {
                    return;  // superseded by a newer load, or gone
                }
                self.loadingKey = null;
                if (!result.ok) {
                    self.failedKey = key;
                    self.props.setProps({status: "error", error: result.error});
                    return;
                }
                self.loadedKey = key;
                self.failedKey = null;
                var update = {status: "loaded", error: null};
                if (result.layout !== undefined) {
                    update.children = result.layout;
                }
                self.show(update);
            }).catch(function (err) {
                if (!err || err.name !== "AbortError") {
                    console.error("Flash LazyLoad:", err);
                }
            });
        }

        /* The layout goes to LazyContent (wrapped: a loader may return None); then the status. */
        show(update) {
            if ("children" in update) {
                window.dash_clientside.set_props(this.props.content_id, {layout: {value: update.children}});
                delete update.children;
            }
            this.props.setProps(update);
        }

        render() {
            var props = this.props;
            var status = props.status || "idle";
            var loaded = this.loadedKey !== null || status === "loaded";
            var placeholder = loaded || status === "error" ? null : (props.placeholder !== undefined && props.placeholder !== null
                ? props.placeholder
                : h("div", {className: "flash-lazy-placeholder", style: {padding: "1rem", color: "#6b7280"}}, "Loading…"));
            var error = status === "error" ? h(
                "div",
                {className: "flash-lazy-error", role: "alert",
                 style: {padding: "0.75rem 1rem", border: "1px solid #f5c2c7", background: "#f8d7da",
                         color: "#842029", borderRadius: "6px", display: "flex", gap: "1rem", alignItems: "center"}},
                h("span", {className: "flash-lazy-error-message"}, props.error || "Loading failed."),
                h("button", {type: "button", className: "flash-lazy-retry", onClick: this.retry}, "Retry")
            ) : null;
            return h(
                "div",
                {
                    id: typeof props.id === "string" ? props.id : undefined,
                    ref: this.element,
                    className: "flash-lazy" + (props.className ? " " + props.className : ""),
                    style: props.style,
                    "data-status": status,
                    "aria-busy": status === "loading" ? "true" : "false"
                },
                error,
                placeholder,
                props.children  // the LazyContent: empty until loaded
            );
        }
    }

    function LazyContent(props) {
        return h(React.Fragment, null, props.children === undefined ? null : props.children);
    }

    window.flash_components = Object.assign(window.flash_components || {}, {LazyLoad: LazyLoad, LazyContent: LazyContent});
    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.flash_lazy = {
        content: function (layout) {
            return layout ? layout.value : window.dash_clientside.no_update;
        }
    };
}());
