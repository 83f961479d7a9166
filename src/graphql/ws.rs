//! The websocket endpoint: async-graphql's protocol machine, with the close
//! codes graphql-transport-ws defines, which clients act on.
//!
//! | the client sent | closed with |
//! |---|---|
//! | invalid JSON, or a message type the protocol does not have | 4400 |
//! | `subscribe` before the connection was acknowledged | 4401 |
//! | a `connection_init` that was refused (a bad token) | 4403 |
//! | a `subscribe` with the id of a subscription still running | 4409 |
//!
//! A gate between the socket and the protocol machine reads each client
//! message once (they are small), keeps the ids of running subscriptions,
//! and watches the server's own messages for the acknowledgement and for
//! subscriptions that ended. A subscription several subscribers may share
//! goes to the fan-out ([`super::fanout`]) instead of the protocol machine;
//! its messages are sent from here. The legacy graphql-ws protocol passes
//! through.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use async_graphql::{
    Data, Executor,
    http::{WebSocket as Protocol, WebSocketProtocols, WsMessage},
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{
    SinkExt, StreamExt, future,
    stream::{AbortHandle, Abortable, BoxStream, SelectAll},
};
use std::sync::Mutex;
use tokio::sync::mpsc;

use super::{
    fanout::{Fanout, Shareable},
    locked,
};
use crate::auth::{
    Viewer,
    watch::{Followed, TokenWatch},
};

/// What a connection's accepted `connection_init` established.
#[derive(Default)]
pub struct Session {
    /// The stored token it was opened with: followed, to close the
    /// connection when it is revoked or expires.
    pub token: Option<i64>,
    /// Who it is.
    pub viewer: Option<Viewer>,
}

/// Filled in by the connection's `init` once it accepts the connection.
pub type SessionSlot = Arc<Mutex<Session>>;

/// What the gate makes of a client message.
enum Admitted {
    /// For the protocol machine.
    Pass,
    /// A subscription the fan-out serves.
    Share(String, Shareable),
    /// The client completed a subscription (the protocol machine is told
    /// too: it may be one of its own).
    Stop(String),
}

/// What the gate knows of a graphql-transport-ws connection.
#[derive(Default)]
struct Gate {
    acknowledged: bool,
    running: HashSet<String>,
}

impl Gate {
    /// A client message, or the close code and reason it earns.
    fn admit(&mut self, text: &str) -> Result<Admitted, (u16, String)> {
        let message: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| (4400, "the message is not valid JSON".to_owned()))?;
        let kind = message["type"].as_str().unwrap_or_default();
        match kind {
            "connection_init" | "ping" | "pong" => Ok(Admitted::Pass),
            "subscribe" => {
                if !self.acknowledged {
                    return Err((4401, "Unauthorized".to_owned()));
                }
                let id = message["id"]
                    .as_str()
                    .ok_or_else(|| (4400, "subscribe needs an id".to_owned()))?;
                if !self.running.insert(id.to_owned()) {
                    return Err((4409, format!("Subscriber for {id} already exists")));
                }
                Ok(match Shareable::of(&message["payload"]) {
                    Some(shared) => Admitted::Share(id.to_owned(), shared),
                    None => Admitted::Pass,
                })
            }
            "complete" => {
                if let Some(id) = message["id"].as_str() {
                    self.running.remove(id);
                    return Ok(Admitted::Stop(id.to_owned()));
                }
                Ok(Admitted::Pass)
            }
            other => Err((4400, format!("unknown message type {other:?}"))),
        }
    }

    /// Notes what a server message tells: the acknowledgement, or the end of
    /// a subscription (its id may be used again).
    fn saw(&mut self, text: &str) {
        // "next" is by far the most frequent message: not parsed.
        if text.starts_with(r#"{"type":"next""#) {
            return;
        }
        let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        match message["type"].as_str() {
            Some("connection_ack") => self.acknowledged = true,
            Some("complete" | "error") => {
                if let Some(id) = message["id"].as_str() {
                    self.running.remove(id);
                }
            }
            _ => {}
        }
    }
}

/// A shared subscription's messages on this connection: each response as
/// `next`, then `complete` (with the id, so its stop handle goes) when it
/// ends. Stopped by the client, it sends nothing more.
fn member_messages(
    id: String,
    responses: BoxStream<'static, Arc<str>>,
) -> (BoxStream<'static, (Option<String>, String)>, AbortHandle) {
    let quoted = serde_json::Value::String(id.clone()).to_string();
    let complete = format!(r#"{{"type":"complete","id":{quoted}}}"#);
    let messages = responses
        .map(move |payload| {
            (
                None,
                format!(r#"{{"type":"next","id":{quoted},"payload":{payload}}}"#),
            )
        })
        .chain(futures_util::stream::once(future::ready((
            Some(id),
            complete,
        ))));
    let (handle, registration) = AbortHandle::new_pair();
    (Abortable::new(messages, registration).boxed(), handle)
}

/// Serves one websocket until either side ends it, or until the token it
/// was opened with (set in `session` by `init`) is revoked or expires: then
/// it closes with 4403. Subscriptions the fan-out can share are served by
/// it; the rest by async-graphql's protocol machine.
pub async fn serve<E, F, R>(
    socket: WebSocket,
    executor: E,
    protocol: WebSocketProtocols,
    init: F,
    tokens: Arc<TokenWatch>,
    session: SessionSlot,
    fanout: Fanout,
) where
    E: Executor,
    F: FnOnce(serde_json::Value) -> R + Send + 'static,
    R: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    enum Control {
        Join(String, Shareable),
        Stop(String),
    }
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let gate = Arc::new(Mutex::new(Gate::default()));
    let (close_tx, mut close_rx) = mpsc::channel::<(u16, String)>(1);
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<Control>();
    let (mut sink, stream) = socket.split();
    let input_gate = gate.clone();
    let input = stream
        .take_while(|res| future::ready(res.is_ok()))
        .filter_map(|msg| future::ready(msg.ok()))
        .filter_map(|msg| {
            future::ready(match msg {
                Message::Text(text) => Some(text.as_str().to_owned().into_bytes()),
                Message::Binary(bytes) => Some(bytes.to_vec()),
                _ => None,
            })
        })
        // After a violation nothing more of the client is read. A shared
        // subscription goes to the fan-out, not to the protocol machine.
        .scan(false, move |stopped, bytes| {
            if *stopped {
                return future::ready(None);
            }
            if !transport_ws {
                return future::ready(Some(Some(bytes)));
            }
            let verdict = locked(&input_gate).admit(&String::from_utf8_lossy(&bytes));
            future::ready(match verdict {
                Err(close) => {
                    *stopped = true;
                    let _ = close_tx.try_send(close);
                    None
                }
                Ok(Admitted::Pass) => Some(Some(bytes)),
                Ok(Admitted::Share(id, shared)) => {
                    let _ = control_tx.send(Control::Join(id, shared));
                    Some(None)
                }
                Ok(Admitted::Stop(id)) => {
                    let _ = control_tx.send(Control::Stop(id));
                    Some(Some(bytes))
                }
            })
        })
        .filter_map(future::ready);
    let output = Protocol::new(executor, input, protocol).on_connection_init(init);
    futures_util::pin_mut!(output);
    let mut followed: Option<Followed> = None;
    let mut shared: SelectAll<BoxStream<'static, (Option<String>, String)>> = SelectAll::new();
    let mut stops: HashMap<String, AbortHandle> = HashMap::new();
    loop {
        let message = tokio::select! {
            biased;
            Some((code, reason)) = close_rx.recv() => {
                Message::Close(Some(CloseFrame { code, reason: reason.into() }))
            }
            () = async {
                match followed.as_mut() {
                    Some(f) => f.ended().await,
                    None => std::future::pending().await,
                }
            } => Message::Close(Some(CloseFrame {
                code: 4403,
                reason: "the token was revoked or has expired".into(),
            })),
            Some(control) = control_rx.recv() => {
                match control {
                    Control::Join(id, shareable) => {
                        // Set before the acknowledgement, which a subscribe follows.
                        let viewer = locked(&session).viewer.clone().unwrap_or(Viewer::Anonymous);
                        let member = fanout.join(shareable, &viewer);
                        let (messages, stop) = member_messages(id.clone(), member.responses());
                        if let Some(previous) = stops.insert(id, stop) {
                            previous.abort();
                        }
                        shared.push(messages);
                    }
                    Control::Stop(id) => {
                        if let Some(stop) = stops.remove(&id) {
                            stop.abort();
                        }
                    }
                }
                continue;
            }
            Some((ended, text)) = shared.next(), if !shared.is_empty() => {
                if let Some(id) = ended {
                    stops.remove(&id);
                }
                locked(&gate).saw(&text);
                Message::Text(text.into())
            }
            next = output.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if transport_ws {
                        locked(&gate).saw(&text);
                    }
                    // Once the connection is accepted, follow its token.
                    if followed.is_none()
                        && let Some(id) = locked(&session).token
                    {
                        followed = Some(tokens.follow(id));
                    }
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let acknowledged = locked(&gate).acknowledged;
                    // async-graphql answers a refused connection_init with
                    // 1002; the protocol says 4403.
                    let code = if transport_ws && code == 1002 && !acknowledged {
                        4403
                    } else {
                        code
                    };
                    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
                }
                // The client's stream may have ended on a violation just now.
                None => match close_rx.try_recv() {
                    Ok((code, reason)) => {
                        Message::Close(Some(CloseFrame { code, reason: reason.into() }))
                    }
                    Err(_) => break,
                },
            },
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_closes_with_the_protocols_codes() {
        let mut gate = Gate::default();
        let mut admit = |text: &str| gate.admit(text).map(|_| ());
        assert_eq!(admit("{oops").unwrap_err().0, 4400);
        assert_eq!(admit(r#"{"type":"hello"}"#).unwrap_err().0, 4400);
        assert_eq!(
            admit(r#"{"type":"subscribe","id":"1","payload":{}}"#)
                .unwrap_err()
                .0,
            4401
        );
        assert!(admit(r#"{"type":"connection_init"}"#).is_ok());
        gate.saw(r#"{"type":"connection_ack"}"#);
        let mut admit = |text: &str| gate.admit(text).map(|_| ());
        let sub = r#"{"type":"subscribe","id":"1","payload":{}}"#;
        assert!(admit(sub).is_ok());
        assert_eq!(admit(sub).unwrap_err().0, 4409);
        // Once the server completes it, the id is free again.
        gate.saw(r#"{"type":"complete","id":"1"}"#);
        let mut admit = |text: &str| gate.admit(text).map(|_| ());
        assert!(admit(sub).is_ok());
        // And once the client completes it.
        assert!(admit(r#"{"type":"complete","id":"1"}"#).is_ok());
        assert!(admit(sub).is_ok());
    }

    #[test]
    fn the_gate_hands_live_subscriptions_to_the_fan_out() {
        let mut gate = Gate::default();
        gate.saw(r#"{"type":"connection_ack"}"#);
        let subscribe = |id: &str, after: &str| {
            serde_json::json!({ "type": "subscribe", "id": id, "payload": {
                "query": "subscription($p: ID!, $a: String) { programEvents(programId: $p, after: $a) { event { sequence } } }",
                "variables": { "p": "UHJvZ3JhbTox", "a": after } } })
            .to_string()
        };
        assert!(matches!(
            gate.admit(&subscribe("1", "")),
            Ok(Admitted::Pass)
        ));
        let live = subscribe("2", "x").replace(r#""a":"x""#, r#""a":null"#);
        assert!(matches!(gate.admit(&live), Ok(Admitted::Share(id, _)) if id == "2"));
        // Its id is taken like any other.
        assert_eq!(gate.admit(&live).err().map(|e| e.0), Some(4409));
        assert!(matches!(
            gate.admit(r#"{"type":"complete","id":"2"}"#),
            Ok(Admitted::Stop(id)) if id == "2"
        ));
        assert!(matches!(gate.admit(&live), Ok(Admitted::Share(..))));
    }
}
