//! What interfaces ask of the messages their clients watch: a client's message by the id the
//! client gave it (one smsq message per recipient), the newest of them, and the webhooks
//! clients registered.

use super::{Daemon, Error};
use crate::store::{MessageDetail, WebhookRow};

impl Daemon {
    /// The messages `interface`'s client knows as `target`, in the order they were queued.
    pub async fn watched(
        &self,
        interface: &str,
        target: &str,
    ) -> Result<Vec<MessageDetail>, Error> {
        let (interface, target) = (interface.to_string(), target.to_string());
        Ok(self
            .store
            .call(move |db| db.watched_messages(&interface, &target))
            .await?)
    }

    /// The newest of `interface`'s client ids with their messages, in one read.
    pub async fn watched_recent(
        &self,
        interface: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, Vec<MessageDetail>)>, Error> {
        let interface = interface.to_string();
        Ok(self
            .store
            .call(move |db| {
                let targets = db.watched_targets(&interface, limit.clamp(1, 500), offset.max(0))?;
                let mut out = Vec::with_capacity(targets.len());
                for target in targets {
                    let messages = db.watched_messages(&interface, &target)?;
                    out.push((target, messages));
                }
                Ok(out)
            })
            .await?)
    }

    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, Error> {
        Ok(self.store.call(|db| db.webhooks()).await?)
    }

    /// Registers (or replaces) a webhook; `true` when it is new.
    pub async fn put_webhook(&self, hook: WebhookRow) -> Result<bool, Error> {
        Ok(self.store.call(move |db| db.put_webhook(&hook)).await?)
    }

    /// `false` when there was no webhook with this id.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_string();
        Ok(self.store.call(move |db| db.delete_webhook(&id)).await?)
    }
}
