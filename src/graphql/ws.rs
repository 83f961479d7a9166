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
//! subscriptions that ended. The legacy graphql-ws protocol passes through.

use std::{collections::HashSet, sync::Arc};

use async_graphql::{
    Data, Executor,
    http::{WebSocket as Protocol, WebSocketProtocols, WsMessage},
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt, future};
use std::sync::Mutex;
use tokio::sync::mpsc;

use crate::auth::watch::{Followed, TokenWatch};

/// What the gate knows of a graphql-transport-ws connection.
#[derive(Default)]
struct Gate {
    acknowledged: bool,
    running: HashSet<String>,
}

impl Gate {
    /// A client message, or the close code and reason it earns.
    fn admit(&mut self, text: &str) -> Result<(), (u16, String)> {
        let message: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| (4400, "the message is not valid JSON".to_owned()))?;
        let kind = message["type"].as_str().unwrap_or_default();
        match kind {
            "connection_init" | "ping" | "pong" => Ok(()),
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
                Ok(())
            }
            "complete" => {
                if let Some(id) = message["id"].as_str() {
                    self.running.remove(id);
                }
                Ok(())
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

/// Serves one websocket until either side ends it, or until the token it
/// was opened with (set in `token` by `init`) is revoked or expires: then it
/// closes with 4403.
pub async fn serve<E, F, R>(
    socket: WebSocket,
    executor: E,
    protocol: WebSocketProtocols,
    init: F,
    tokens: Arc<TokenWatch>,
    token: Arc<Mutex<Option<i64>>>,
) where
    E: Executor,
    F: FnOnce(serde_json::Value) -> R + Send + 'static,
    R: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let gate = Arc::new(Mutex::new(Gate::default()));
    let (close_tx, mut close_rx) = mpsc::channel::<(u16, String)>(1);
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
        // After a violation nothing more of the client is read.
        .scan(false, move |stopped, bytes| {
            if *stopped {
                return future::ready(None);
            }
            if transport_ws {
                let text = String::from_utf8_lossy(&bytes);
                let verdict = input_gate
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .admit(&text);
                if let Err(close) = verdict {
                    *stopped = true;
                    let _ = close_tx.try_send(close);
                    return future::ready(None);
                }
            }
            future::ready(Some(bytes))
        });
    let output = Protocol::new(executor, input, protocol).on_connection_init(init);
    futures_util::pin_mut!(output);
    let mut followed: Option<Followed> = None;
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
            next = output.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if transport_ws {
                        gate.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .saw(&text);
                    }
                    // Once the connection is accepted, follow its token.
                    if followed.is_none()
                        && let Some(id) = *token.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
                    {
                        followed = Some(tokens.follow(id));
                    }
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let acknowledged = gate
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .acknowledged;
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
        assert_eq!(gate.admit("{oops").unwrap_err().0, 4400);
        assert_eq!(gate.admit(r#"{"type":"hello"}"#).unwrap_err().0, 4400);
        assert_eq!(
            gate.admit(r#"{"type":"subscribe","id":"1","payload":{}}"#)
                .unwrap_err()
                .0,
            4401
        );
        assert!(gate.admit(r#"{"type":"connection_init"}"#).is_ok());
        gate.saw(r#"{"type":"connection_ack"}"#);
        let sub = r#"{"type":"subscribe","id":"1","payload":{}}"#;
        assert!(gate.admit(sub).is_ok());
        assert_eq!(gate.admit(sub).unwrap_err().0, 4409);
        // Once the server completes it, the id is free again.
        gate.saw(r#"{"type":"complete","id":"1"}"#);
        assert!(gate.admit(sub).is_ok());
        // And once the client completes it.
        assert!(gate.admit(r#"{"type":"complete","id":"1"}"#).is_ok());
        assert!(gate.admit(sub).is_ok());
    }
}
