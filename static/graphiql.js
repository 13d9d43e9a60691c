// Mounts GraphiQL on #graphiql. A file rather than an inline script so that the page's
// Content-Security-Policy can refuse every inline script.
(function () {
  "use strict";

  var ACCEPT = "application/graphql-response+json, application/json";
  var mount = document.getElementById("graphiql");
  var endpoint = mount.dataset.endpoint;

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

  async function fetcher(params, options) {
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
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: true,
    })
  );
})();
