//! What the identity commands share: the accounts service over the data
//! directory, and the local operator they act as.
//!
//! Whoever can run `airlock` against the data directory can read and write
//! its database anyway, so the CLI acts with full rights; its changes are
//! audited as `system` actor `cli:<OS user>`.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use airlock_accounts::{Accounts, AccountsError, Operator};
use airlock_audit::RequestContext;
use anyhow::Context;

use crate::config::{CommonArgs, Config};

/// Runs `body` with the accounts service and the local operator.
pub fn with_accounts<T, F, Fut>(common: &CommonArgs, body: F) -> anyhow::Result<T>
where
    F: FnOnce(Arc<Accounts>, Operator, RequestContext) -> Fut,
    Fut: Future<Output = Result<T, AccountsError>>,
{
    let config = Config::load(common, None)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let database = crate::cmd_serve::open_database(&config).await?;
        let accounts = crate::cmd_serve::open_accounts(&config, database)?;
        body(accounts, local_operator(), RequestContext::default())
            .await
            .map_err(anyhow::Error::from)
    })
}

/// The local operator: the OS user running the command.
pub fn local_operator() -> Operator {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Operator::Local(user)
}

/// A password from standard input (first line), or a generated one.
/// Returns the password and whether it was generated (to be shown).
pub fn password_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        let password = text.lines().next().unwrap_or("").to_owned();
        return Ok((password, false));
    }
    Ok((airlock_auth::generate_password(), true))
}

/// Prints rows as aligned columns under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// RFC 3339 for tables.
pub fn time_text(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Prints a secret that is stored only as a hash.
pub fn show_once(label: &str, secret: &str) {
    println!("{label}: {secret}");
    println!("(shown only this once)");
}
