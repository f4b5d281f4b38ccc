//! The HTTP sink: one signed POST per attempt.
//!
//! The client follows no redirects (a 3xx is a failed attempt: following
//! it would send the signed event to a URL nobody checked), ignores proxy
//! settings from the environment, resolves names through
//! [`GuardedResolver`] and gives up on an attempt after the configured
//! timeout, connecting included.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use airlock_webhook::cloudevent::STRUCTURED_CONTENT_TYPE;
use airlock_webhook::{Secret, TargetPolicy, check_url, signature};
use reqwest::header::CONTENT_TYPE;
use time::OffsetDateTime;

use crate::NotifyError;
use crate::dispatcher::Failure;
use crate::resolver::GuardedResolver;

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("airlock/", env!("CARGO_PKG_VERSION"));

/// Sends signed CloudEvents over HTTP.
#[derive(Debug, Clone)]
pub(crate) struct HttpSink {
    client: reqwest::Client,
    targets: TargetPolicy,
    timeout: Duration,
}

impl HttpSink {
    pub(crate) fn new(targets: TargetPolicy, timeout: Duration) -> Result<HttpSink, NotifyError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver::new(targets)))
            .build()
            .map_err(|e| NotifyError::Client(error_chain(&e)))?;
        Ok(HttpSink {
            client,
            targets,
            timeout,
        })
    }

    /// POSTs `body` (a CloudEvent) to `url`, signed with `secret`. Returns
    /// the 2xx status, or why the attempt failed.
    pub(crate) async fn send(
        &self,
        url: &str,
        secret: &str,
        event_id: &str,
        body: Vec<u8>,
    ) -> Result<Option<u16>, Failure> {
        let url = check_url(url, self.targets).map_err(|e| Failure {
            status: None,
            message: format!("refused: {e}"),
            permanent: false,
        })?;
        let secret = Secret::parse(secret).map_err(|e| Failure {
            status: None,
            message: format!("unusable subscription secret: {e}"),
            permanent: true,
        })?;
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let mut request = self
            .client
            .post(url.as_str())
            .header(CONTENT_TYPE, STRUCTURED_CONTENT_TYPE);
        for (name, value) in signature::headers(&secret, event_id, timestamp, &body) {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| Failure {
            status: None,
            message: if e.is_timeout() {
                format!("timed out after {} ms", self.timeout.as_millis())
            } else {
                error_chain(&e)
            },
            permanent: false,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(Some(status.as_u16()));
        }
        let message = if status.is_redirection() {
            format!("receiver answered {status} (redirects are not followed)")
        } else {
            format!("receiver answered {status}")
        };
        Err(Failure {
            status: Some(status.as_u16()),
            message,
            permanent: false,
        })
    }
}

/// An error with its causes, `outer: inner: ...`: reqwest's own message
/// alone ("error sending request") does not say what went wrong.
fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
