/*  namedwebsockets.js - LocalWebSocket and BroadcastWebSocket for web pages.

    Served by nws-gateway as /namedwebsockets.js (a classic script) and as
    /namedwebsockets.mjs (the same code as an ES module):

        <script src="http://localhost:9009/namedwebsockets.js"></script>
        <script>
            var ws = new LocalWebSocket("chat");        // pages and apps on this machine
            var all = new BroadcastWebSocket("chat");   // ... and on the whole LAN
        </script>

        import { LocalWebSocket, BroadcastWebSocket } from "http://localhost:9009/namedwebsockets.mjs";

    Each call returns a plain WebSocket (use it like any other; `new` is
    optional) connected to ws://HOST:PORT/local/<name>, respectively
    ws://HOST:PORT/broadcast/<name>. Every connection that uses the same
    scope and name is linked: what one sends reaches all the others.

    HOST and PORT, first found wins:
      1. the second argument:           new LocalWebSocket("chat", {host: "localhost", port: 9010})
      2. a global, read on each call:   NamedWebSocketsConfig = {host: "localhost", port: 9010}
      3. "localhost" and the port of the gateway that served this file
         (it writes its port into DEFAULT_PORT below; 9009 by default).

    A name is 1 to 255 of A-Z a-z 0-9 . _ - and neither "." nor ".." (the
    gateway normalises paths, so those two could never reach a channel).
    A bad name, host or port throws a TypeError before any connection is
    tried.

    The classic script defines the globals LocalWebSocket, BroadcastWebSocket
    and NamedWebSockets (all three plus isValidName and url), each only
    where no global of that name exists yet. The ES module defines no
    global; it exports LocalWebSocket, BroadcastWebSocket, isValidName and,
    as default, the NamedWebSockets object. (The module is this file with
    a module-scoped NWS_MODULE_EXPORTS declared before it and the exports
    after it; see gateway/www/embed.cmake.)
*/
(function (root, moduleExports) {
    "use strict";

    var DEFAULT_HOST = "localhost";
    var DEFAULT_PORT = /*@port*/9009;
    var NAME = /^[A-Za-z0-9._-]{1,255}$/;
    var HOST = /^(\[[0-9A-Fa-f:.]+\]|[^\s\/?#@\[\]:]+)$/;

    function isValidName (name) {
        return typeof name === "string" && NAME.test(name) && name !== "." && name !== "..";
    }

    function show (value) {
        return typeof value === "string" ? JSON.stringify(value) : String(value);
    }

    function pick (key, options, config, fallback) {
        if (options != null && options[key] != null)
            return options[key];
        if (config != null && config[key] != null)
            return config[key];
        return fallback;
    }

    //  The URL of channel scope/name; who is the function to blame in errors.
    function channelUrl (who, scope, name, options) {
        if (!isValidName(name))
            throw new TypeError(who + ": invalid channel name " + show(name)
                + ": use 1 to 255 of A-Z a-z 0-9 . _ - (and not \".\" or \"..\")");
        if (options != null && typeof options !== "object")
            throw new TypeError(who + ": options must be an object like {host: \"localhost\", port: 9009}");
        var config = typeof NamedWebSocketsConfig !== "undefined"
                   ? NamedWebSocketsConfig : root.NamedWebSocketsConfig;
        var host = pick("host", options, config, DEFAULT_HOST);
        var port = pick("port", options, config, DEFAULT_PORT);
        if (typeof host === "string" && host.indexOf(":") >= 0 && host.charAt(0) !== "[")
            host = "[" + host + "]";                // a bare IPv6 address
        if (typeof host !== "string" || !HOST.test(host))
            throw new TypeError(who + ": invalid host " + show(host));
        var number = typeof port === "string" && /^[0-9]{1,5}$/.test(port) ? Number(port) : port;
        if (typeof number !== "number" || number % 1 !== 0 || number < 1 || number > 65535)
            throw new TypeError(who + ": invalid port " + show(port) + ": use 1 to 65535");
        return "ws://" + host + ":" + number + "/" + scope + "/" + name;
    }

    function open (who, scope, name, options) {
        var url = channelUrl(who, scope, name, options);
        if (typeof root.WebSocket !== "function")
            throw new TypeError(who + ": this environment has no WebSocket");
        return new root.WebSocket(url);
    }

    //  A WebSocket linked with every other user of name on this machine.
    function LocalWebSocket (name, options) {
        return open("LocalWebSocket", "local", name, options);
    }

    //  A WebSocket linked with every other user of name on the LAN.
    function BroadcastWebSocket (name, options) {
        return open("BroadcastWebSocket", "broadcast", name, options);
    }

    var api = {
        LocalWebSocket: LocalWebSocket,
        BroadcastWebSocket: BroadcastWebSocket,
        isValidName: isValidName,
        //  url("local" | "broadcast", name[, options]): the URL a call would open.
        url: function (scope, name, options) {
            if (scope !== "local" && scope !== "broadcast")
                throw new TypeError("NamedWebSockets.url: scope must be \"local\" or \"broadcast\"");
            return channelUrl("NamedWebSockets.url", scope, name, options);
        }
    };

    if (moduleExports) {
        moduleExports.api = api;
        return;
    }
    ["LocalWebSocket", "BroadcastWebSocket"].forEach(function (key) {
        if (!(key in root))
            root[key] = api[key];
    });
    if (!("NamedWebSockets" in root))
        root.NamedWebSockets = api;
}(typeof globalThis !== "undefined" ? globalThis : typeof self !== "undefined" ? self : this,
  this === undefined && typeof NWS_MODULE_EXPORTS === "object" ? NWS_MODULE_EXPORTS : null));
