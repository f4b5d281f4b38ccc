//! Group commit for pull records.
//!
//! Every manifest `GET` is audited. Appending each record in its own write
//! transaction would make pulls wait on SQLite's single writer one by one;
//! instead concurrent pulls hand their records to one task that appends
//! whatever has queued up in one transaction and then answers each caller.
//! A pull still returns only after its record is committed.

use std::sync::Arc;

use airlock_audit::AuditEvent;
use airlock_store::{Database, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most records appended in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<(), String>>;

/// The handle pulls send their records through.
#[derive(Debug, Clone)]
pub(crate) struct PullAuditor {
    queue: mpsc::Sender<(AuditEvent, Reply)>,
}

impl PullAuditor {
    /// Starts the appending task (needs a tokio runtime).
    pub(crate) fn start(db: Arc<dyn Database>) -> PullAuditor {
        let (queue, mut incoming) = mpsc::channel::<(AuditEvent, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match incoming.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<AuditEvent>, Vec<Reply>) = batch.into_iter().unzip();
                let result = db
                    .append_audit(&events)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        });
        PullAuditor { queue }
    }

    /// Appends `event` with whatever else is waiting; returns once committed.
    pub(crate) async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((event, reply))
            .await
            .map_err(|_| StoreError::backend("audit a pull", "the audit task stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::backend("audit a pull", "the audit task stopped"))?
            .map_err(|e| StoreError::backend("audit a pull", e))
    }
}
