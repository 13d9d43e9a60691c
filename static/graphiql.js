// Mounts GraphiQL on #graphiql. A file rather than an inline script so that the page's
// Content-Security-Policy can refuse every inline script.
(function () {
  "use strict";

  var ACCEPT = "application/graphql-response+json, application/json";
  var mount = document.getElementById("graphiql");
  var endpoint = mount.dataset.endpoint;

  // The admin's "Explore the API" hands a token of the caller's own over in the fragment
  // (#token=…), which the browser never sends to a server. Take it out of the address at once,
  // so that the history keeps no copy either.
  var token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  var EXAMPLE = [
    "# kehu's customer graph in one request. Run it with the ▶ button (Ctrl-Enter);",
    "# the Docs pane lists every type and field, and what each permission reaches.",
    "# Without a token, open GraphiQL from the admin (\"Explore the API\"), or put",
    "# {\"Authorization\": \"Bearer kehu_…\"} in the Headers tab below.",
    "{",
    "  me { id displayName permissions dataScope }",
    "  customers(first: 5) {",
    "    totalCount",
    "    pageInfo { hasNextPage endCursor }",
    "    edges {",
    "      node {",
    "        id name phone tags",
    "        referrer { name }",
    "        referrals(first: 3) { totalCount edges { node { name } } }",
    "        referralStats { downstreamCount downstreamRevenue { amount currency } }",
    "        interactions(first: 3) { edges { node { kind summary occurredAt } } }",
    "        orderCount lifetimeValue { amount currency }",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  if (typeof React === "undefined" || typeof ReactDOM === "undefined" || typeof GraphiQL === "undefined") {
    mount.textContent =
      "GraphiQL could not load its scripts. Run `python -m server.assets` on the server " +
      "(or allow the CDN), then reload. The API itself answers at " + endpoint + ".";
    return;
  }

  // Set through the CSSOM, which the policy allows, instead of an inline <style>.
  document.documentElement.style.height = "100%";
  document.body.style.height = "100%";
  document.body.style.margin = "0";
  document.body.style.overflow = "hidden";
  mount.style.height = "100vh";

  // GraphiQL's dialogs insert a <style> and sign it with this global when it is set
  // (the convention of the get-nonce package they use); the policy allows that nonce.
  window.__webpack_nonce__ = mount.dataset.styleNonce;

  // Whether the operation GraphiQL runs is a subscription (GraphiQL names it when the
  // document holds several; comments cannot hide or fake the keyword).
  function isSubscription(params) {
    var text = params.query.replace(/#[^\n\r]*/g, "");
    if (params.operationName) {
      return new RegExp("\\bsubscription\\s+" + params.operationName + "\\b").test(text);
    }
    return /^\s*subscription\b/.test(text);
  }

  // A subscription over the graphql-transport-ws protocol on the same path, the headers
  // (the Authorization token) sent in connection_init; GraphiQL reads the results as an
  // async iterator and shows each one as it comes.
  function subscribe(params, headers) {
    var url = new URL(endpoint, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(url.href, "graphql-transport-ws");
    var results = [];
    var waiting = null;
    var done = false;

    function push(result) {
      if (waiting) {
        var resolve = waiting;
        waiting = null;
        resolve(result);
      } else {
        results.push(result);
      }
    }
    function finish() {
      if (done) return;
      done = true;
      push({ value: undefined, done: true });
      try { socket.close(1000); } catch (error) { /* already closed */ }
    }
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "connection_init", payload: headers }));
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: params }));
      } else if (message.type === "next") {
        push({ value: message.payload, done: false });
      } else if (message.type === "error") {
        push({ value: { errors: message.payload }, done: false });
        finish();
      } else if (message.type === "complete") {
        finish();
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = function (event) {
      if (done) return;
      var reason = event.code === 4403 ? "forbidden: send a token with complaint.read in the Headers tab" : event.reason;
      push({ value: { errors: [{ message: "The subscription ended (" + event.code + (reason ? ": " + reason : "") + ")." }] }, done: false });
      finish();
    };
    var iterator = {
      next: function () {
        if (results.length) return Promise.resolve(results.shift());
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise(function (resolve) { waiting = resolve; });
      },
      return: function () {
        results = [];
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    iterator[Symbol.asyncIterator] = function () { return iterator; };
    return iterator;
  }

  async function fetcher(params, options) {
    if (isSubscription(params)) {
      return subscribe(params, (options && options.headers) || {});
    }
    var headers = Object.assign(
      { Accept: ACCEPT, "Content-Type": "application/json" },
      (options && options.headers) || {}
    );
    var response = await fetch(endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    });
    var text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      // A proxy's HTML error page, say: show it as a GraphQL error rather than fail silently.
      return { errors: [{ message: "HTTP " + response.status + ": " + text.slice(0, 500) }] };
    }
  }

  ReactDOM.createRoot(mount).render(
    React.createElement(GraphiQL, Object.assign({
      fetcher: fetcher,
      defaultQuery: EXAMPLE,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: true,
    }, token ? { headers: JSON.stringify({ Authorization: "Bearer " + token }, null, 2) } : {}))
  );
})();
