// GraphiQL on this server: queries and mutations over HTTP with the headers
// typed in the editor, subscriptions over the websocket with the same
// `Authorization` header sent in `connection_init`.
import { connect } from "/assets/live.js";

const httpUrl = new URL("/graphql", location.href).href;
const wsUrl = httpUrl.replace(/^http/, "ws") + "/ws";
const overHttp = GraphiQL.createFetcher({ url: httpUrl });

function authorization(headers) {
  for (const [name, value] of Object.entries(headers || {})) {
    if (name.toLowerCase() === "authorization") return String(value);
  }
  return null;
}

function isSubscription(opts, params) {
  const doc = opts && opts.documentAST;
  if (doc) {
    const ops = doc.definitions.filter((d) => d.kind === "OperationDefinition");
    const chosen = ops.find((d) => d.name && d.name.value === params.operationName) || ops[0];
    return Boolean(chosen && chosen.operation === "subscription");
  }
  return /^\s*subscription\b/.test(params.query);
}

// One websocket per subscription, as an async iterator of results.
function subscribe(params, auth) {
  const queue = [];
  let wake = null;
  let done = false;
  const push = (item) => {
    queue.push(item);
    if (wake) { wake(); wake = null; }
  };
  const socket = connect(wsUrl, auth, {
    onReady(conn) {
      conn.subscribe("1", params, {
        next: (payload) => push({ value: payload }),
        error: (errors) => { push({ value: { errors } }); push({ end: true }); },
        complete: () => push({ end: true }),
      });
    },
    onClose(reason) {
      if (!done) push({ value: { errors: [{ message: `websocket closed: ${reason}` }] } });
      push({ end: true });
    },
  });
  return {
    [Symbol.asyncIterator]() { return this; },
    async next() {
      while (!queue.length) await new Promise((resolve) => { wake = resolve; });
      const item = queue.shift();
      if (item.end) { done = true; socket.close(); return { done: true, value: undefined }; }
      return { done: false, value: item.value };
    },
    async return() { done = true; socket.close(); return { done: true, value: undefined }; },
  };
}

function fetcher(params, opts) {
  if (isSubscription(opts, params)) return subscribe(params, authorization(opts && opts.headers));
  return overHttp(params, opts);
}

// For scripts and tests: the same fetcher GraphiQL uses.
window.portfolioGraphiQL = { fetcher };

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer <token>" }, null, 2),
    shouldPersistHeaders: true,
  }),
);
