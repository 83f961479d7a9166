// A small graphql-transport-ws client: one connection, several
// subscriptions. The caller decides what to do when it closes (the board
// reconnects and resumes from its last cursor).

export function connect(url, authorization, { onReady, onClose }) {
  const ws = new WebSocket(url, "graphql-transport-ws");
  const sinks = new Map();
  let closed = false;
  const send = (message) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const conn = {
    subscribe(id, payload, sink) {
      sinks.set(id, sink);
      send({ id, type: "subscribe", payload });
    },
    close() {
      if (!closed) {
        closed = true;
        ws.close(1000, "done");
      }
    },
  };
  ws.onopen = () => {
    send({ type: "connection_init", payload: authorization ? { authorization } : {} });
  };
  ws.onmessage = (message) => {
    let msg;
    try { msg = JSON.parse(message.data); } catch { return; }
    const sink = msg.id ? sinks.get(msg.id) : null;
    switch (msg.type) {
      case "connection_ack": onReady(conn); break;
      case "ping": send({ type: "pong" }); break;
      case "next": if (sink) sink.next(msg.payload); break;
      case "error": if (sink) { sinks.delete(msg.id); sink.error(msg.payload); } break;
      case "complete": if (sink) { sinks.delete(msg.id); sink.complete(); } break;
      default: break;
    }
  };
  ws.onclose = (event) => {
    closed = true;
    onClose(event.reason || `code ${event.code}`, event.code);
  };
  return conn;
}
