//! Open websocket connections and the tokens they were opened with: a
//! token that is revoked (its row deleted, by any server process) or that
//! expires ends its connections within about a second.
//!
//! One task per process checks, once a second, which of the tokens its
//! connections hold are still valid: one statement per 500 open tokens,
//! whatever the number of connections.

use std::{collections::HashMap, sync::Arc, time::Duration};

use entity::token;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::broadcast;

use crate::{clock::Clock, db::Store};

/// The tokens of this process's open connections.
pub struct TokenWatch {
    open: std::sync::Mutex<HashMap<i64, usize>>,
    ended: broadcast::Sender<i64>,
}

impl TokenWatch {
    /// Starts the check, every `period`.
    pub fn start(store: Store, clock: Arc<dyn Clock>, period: Duration) -> Arc<Self> {
        let (ended, _) = broadcast::channel(256);
        let watch = Arc::new(Self {
            open: std::sync::Mutex::new(HashMap::new()),
            ended,
        });
        let weak = Arc::downgrade(&watch);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(watch) = weak.upgrade() else {
                    return;
                };
                if let Err(err) = watch.check(&store, clock.as_ref()).await {
                    tracing::warn!(error = %err, "cannot check the tokens of open connections");
                }
            }
        });
        watch
    }

    fn open_tokens(&self) -> Vec<i64> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Announces every open token that no longer authenticates. It is
    /// announced again each period while a connection still holds it.
    async fn check(&self, store: &Store, clock: &dyn Clock) -> Result<(), sea_orm::DbErr> {
        let open = self.open_tokens();
        let now = clock.now();
        for chunk in open.chunks(500) {
            let valid: Vec<i64> = token::Entity::find()
                .filter(token::Column::Id.is_in(chunk.to_vec()))
                .all(store.conn())
                .await?
                .into_iter()
                .filter(|t| t.expires_at.is_none_or(|at| at > now))
                .map(|t| t.id)
                .collect();
            for id in chunk.iter().filter(|id| !valid.contains(id)) {
                let _ = self.ended.send(*id);
            }
        }
        Ok(())
    }

    /// Follows token `id` for one connection, until the returned value drops.
    pub fn follow(self: &Arc<Self>, id: i64) -> Followed {
        *self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id)
            .or_default() += 1;
        Followed {
            watch: self.clone(),
            id,
            ended: self.ended.subscribe(),
        }
    }
}

/// One connection's token, followed.
pub struct Followed {
    watch: Arc<TokenWatch>,
    id: i64,
    ended: broadcast::Receiver<i64>,
}

impl Followed {
    /// Completes when the token no longer authenticates.
    pub async fn ended(&mut self) {
        loop {
            match self.ended.recv().await {
                Ok(id) if id == self.id => return,
                // Missed announcements are made again next period.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

impl Drop for Followed {
    fn drop(&mut self) {
        let mut open = self
            .watch
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.id);
            }
        }
    }
}
