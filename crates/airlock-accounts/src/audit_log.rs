//! Reading the audit log as a person does (DESIGN §7): searching it by
//! actor, action, tenant, outcome and time, newest first; verifying its
//! hash chain; exporting a search as CSV or JSON Lines while it is read.
//!
//! Auditors and admins only, like the export of the API: each operation
//! is authorized with `ManageAction::ReadAudit`, and a refusal is audited.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use airlock_audit::{
    AuditRecord, ChainBreak, ChainVerifier, ExportFormat, ExportWriter, RequestContext,
};
use airlock_auth::ManageAction;
use airlock_store::{AuditCursor, AuditFilter, AuditSearch, Database};
use bytes::Bytes;
use futures::stream::Stream;

use crate::{Accounts, AccountsError, Operator};

/// Records read from the store at a time while verifying or exporting.
const PAGE: usize = 1000;

/// Chunks an export may have in flight before reading waits for the client.
const EXPORT_QUEUE: usize = 4;

/// What a verification of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChainStatus {
    /// Records verified, from the first one.
    pub records: u64,
    /// The seq of the last verified record (0 for an empty log).
    pub last_seq: u64,
    /// The hash of the last verified record (the genesis hash for an empty
    /// log): the chain's head when it is intact.
    pub last_hash: String,
    /// Where and how the chain breaks, if it does.
    pub broken: Option<ChainBreak>,
}

impl Accounts {
    /// A page of the records matching `search` from `cursor`, in the
    /// cursor's order (auditors and admins).
    pub async fn search_audit(
        &self,
        operator: &Operator,
        request: &RequestContext,
        search: &AuditSearch,
        cursor: AuditCursor,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AccountsError> {
        self.allow(operator, ManageAction::ReadAudit, "audit", request)
            .await?;
        Ok(self.store.search_audit(search, cursor, limit).await?)
    }

    /// Verifies the hash chain of the whole log, reading it in pages
    /// (auditors and admins). Stops at the first break.
    pub async fn verify_audit_chain(
        &self,
        operator: &Operator,
        request: &RequestContext,
    ) -> Result<AuditChainStatus, AccountsError> {
        self.allow(operator, ManageAction::ReadAudit, "audit", request)
            .await?;
        let mut verifier = ChainVerifier::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .audit_records(&AuditFilter::default(), after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for record in &page {
                if let Err(broken) = verifier.push(record) {
                    let summary = verifier.finish();
                    return Ok(AuditChainStatus {
                        records: summary.records,
                        last_seq: summary.last_seq,
                        last_hash: summary.last_hash,
                        broken: Some(broken),
                    });
                }
            }
        }
        let summary = verifier.finish();
        Ok(AuditChainStatus {
            records: summary.records,
            last_seq: summary.last_seq,
            last_hash: summary.last_hash,
            broken: None,
        })
    }

    /// Every record matching `search`, oldest first, encoded as `format`
    /// while it is read, a page at a time (auditors and admins): memory
    /// stays bounded whatever the size of the log.
    pub async fn export_audit(
        &self,
        operator: &Operator,
        request: &RequestContext,
        search: AuditSearch,
        format: ExportFormat,
    ) -> Result<impl Stream<Item = Result<Bytes, AccountsError>> + Send + 'static, AccountsError>
    {
        self.allow(operator, ManageAction::ReadAudit, "audit", request)
            .await?;
        let store = self.store.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(EXPORT_QUEUE);
        tokio::spawn(async move {
            if let Err(error) = encode(store, search, format, &sender).await {
                // The client is told by a broken body; nothing else can be sent.
                tracing::warn!(%error, "audit export failed");
                let _ = sender.send(Err(error)).await;
            }
        });
        Ok(futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
        ))
    }
}

/// The bytes an [`ExportWriter`] wrote so far, taken after each page.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Written {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Written {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn encoding_failed(e: std::io::Error) -> AccountsError {
    AccountsError::Internal(format!("encode audit export: {e}"))
}

/// Reads `search` page by page into `sender`; stops quietly when the
/// client goes away.
async fn encode(
    store: Arc<dyn Database>,
    search: AuditSearch,
    format: ExportFormat,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, AccountsError>>,
) -> Result<(), AccountsError> {
    let written = Written::default();
    let mut writer = ExportWriter::new(format, written.clone()).map_err(encoding_failed)?;
    let mut after = 0;
    loop {
        let page = store
            .search_audit(&search, AuditCursor::After(after), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            writer.write(record).map_err(encoding_failed)?;
        }
        let chunk = written.take();
        if !chunk.is_empty() && sender.send(Ok(Bytes::from(chunk))).await.is_err() {
            return Ok(());
        }
    }
    writer.finish().map_err(encoding_failed)?;
    let chunk = written.take();
    if !chunk.is_empty() {
        let _ = sender.send(Ok(Bytes::from(chunk))).await;
    }
    Ok(())
}
