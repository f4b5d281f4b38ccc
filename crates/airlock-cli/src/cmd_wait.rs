//! `airlock wait REF`: blocks a CI pipeline until the gate has decided on a
//! pushed image, prints the verdict and its reasons, and exits 0 when it
//! was promoted, 1 when it was rejected, 2 on a timeout or an error.
//!
//! It talks to a running server over the management API (it needs no data
//! directory): a token from `/auth/token`, then
//! `GET /api/v1/tenants/<t>/images/<digest>` every second. A tag is first
//! resolved with `GET /api/v1/tenants/<t>/images?repository=..&tag=..`,
//! since developers may not pull manifests from `unscanned/`.
//!
//! A manifest that is a child of an image index is `covered`: the index is
//! the gated unit and is decided as a whole, so waiting on a child says
//! nothing by itself; `wait` reports that and exits 2 (wait on the index).

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::config::parse_duration;

/// Arguments of `airlock wait`.
#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// HOST[:PORT]/unscanned/<tenant>/<name>@sha256:<hex> or ...:<tag>.
    reference: String,
    /// Give up after this long, e.g. 10m.
    #[arg(long, default_value = "10m")]
    timeout: String,
    /// User or robot name.
    #[arg(long, env = "AIRLOCK_USERNAME")]
    username: Option<String>,
    /// Read the password (or robot token) from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Use http instead of https.
    #[arg(long)]
    insecure: bool,
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageRef {
    host: String,
    repository: String,
    tenant: String,
    reference: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Digest(String),
    Tag(String),
}

fn parse_reference(text: &str) -> anyhow::Result<ImageRef> {
    let (host, rest) = text.split_once('/').with_context(|| {
        format!(
            "invalid reference {text:?}: expected HOST/unscanned/<tenant>/<name>@<digest> or :<tag>"
        )
    })?;
    let (repository, reference) = if let Some((repository, digest)) = rest.split_once('@') {
        (repository, Target::Digest(digest.to_owned()))
    } else {
        let slash = rest.rfind('/').unwrap_or(0);
        match rest[slash..].rfind(':') {
            Some(colon) => (
                &rest[..slash + colon],
                Target::Tag(rest[slash + colon + 1..].to_owned()),
            ),
            None => bail!("invalid reference {text:?}: it names neither a digest nor a tag"),
        }
    };
    let mut parts = repository.split('/');
    let (Some("unscanned"), Some(tenant), Some(_)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("invalid reference {text:?}: the repository must be unscanned/<tenant>/<name>");
    };
    if host.is_empty() || tenant.is_empty() {
        bail!("invalid reference {text:?}: a host and a tenant are needed");
    }
    Ok(ImageRef {
        host: host.to_owned(),
        repository: repository.to_owned(),
        tenant: tenant.to_owned(),
        reference,
    })
}

/// Runs `airlock wait`; exit codes: 0 promoted, 1 rejected, 2 otherwise.
pub fn run(args: WaitArgs) -> anyhow::Result<u8> {
    let image = parse_reference(&args.reference)?;
    let timeout = parse_duration(&args.timeout).context("invalid --timeout")?;
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        Some(text.lines().next().unwrap_or("").to_owned())
    } else {
        std::env::var("AIRLOCK_PASSWORD").ok()
    };
    let (Some(username), Some(password)) = (args.username.clone(), password) else {
        bail!(
            "credentials needed: --username with --password-stdin, or AIRLOCK_USERNAME and AIRLOCK_PASSWORD"
        );
    };
    let scheme = if args.insecure { "http" } else { "https" };
    let base = format!("{scheme}://{}", image.host);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let token = fetch_token(&client, &base, &username, &password)?;
    let deadline = Instant::now() + timeout;
    let api = format!("{base}/api/v1/tenants/{}", image.tenant);
    let mut last_state = String::new();
    loop {
        let status = match &image.reference {
            Target::Digest(digest) => get_json(
                &client,
                &format!("{api}/images/{digest}"),
                &[("repository", image.repository.as_str())],
                &token,
            )?,
            Target::Tag(tag) => resolve_tag(&client, &api, &image.repository, tag, &token)?
                .map(|digest| {
                    get_json(
                        &client,
                        &format!("{api}/images/{digest}"),
                        &[("repository", image.repository.as_str())],
                        &token,
                    )
                })
                .transpose()?
                .flatten(),
        };
        if let Some(status) = status {
            let state = status["state"].as_str().unwrap_or("unknown").to_owned();
            if state != last_state {
                eprintln!(
                    "{}@{}: {state}",
                    image.repository,
                    status["digest"].as_str().unwrap_or("?")
                );
                last_state.clone_from(&state);
            }
            match state.as_str() {
                "promoted" => {
                    print_verdict(&status);
                    return Ok(0);
                }
                "rejected" => {
                    print_verdict(&status);
                    return Ok(1);
                }
                "covered" => {
                    println!(
                        "covered: this manifest is a child of an image index, which is gated as a whole; wait on the index's digest"
                    );
                    return Ok(2);
                }
                _ => {}
            }
        }
        if Instant::now() >= deadline {
            eprintln!(
                "timed out after {} waiting for {} (last state: {})",
                args.timeout,
                args.reference,
                if last_state.is_empty() {
                    "not yet recorded"
                } else {
                    &last_state
                }
            );
            return Ok(2);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn fetch_token(
    client: &reqwest::blocking::Client,
    base: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/auth/token"),
        &[("service", crate::cmd_serve::SERVICE)],
    )
    .with_context(|| format!("invalid server address {base}"))?;
    let response = client
        .get(url)
        .basic_auth(username, Some(password))
        .send()
        .with_context(|| format!("cannot reach {base}/auth/token"))?;
    let status = response.status();
    let body: Value = response.json().context("cannot read the token response")?;
    if !status.is_success() {
        bail!("login refused ({status}): {}", error_message(&body));
    }
    body["token"]
        .as_str()
        .map(str::to_owned)
        .context("the token response has no token")
}

/// The JSON at `url`, or `None` on 404 (not recorded yet).
fn get_json(
    client: &reqwest::blocking::Client,
    url: &str,
    query: &[(&str, &str)],
    token: &str,
) -> anyhow::Result<Option<Value>> {
    let full = reqwest::Url::parse_with_params(url, query)
        .with_context(|| format!("invalid address {url}"))?;
    let response = client
        .get(full)
        .bearer_auth(token)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body: Value = response
        .json()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if !status.is_success() {
        bail!("{url} failed ({status}): {}", error_message(&body));
    }
    Ok(Some(body))
}

fn resolve_tag(
    client: &reqwest::blocking::Client,
    api: &str,
    repository: &str,
    tag: &str,
    token: &str,
) -> anyhow::Result<Option<String>> {
    let listing = get_json(
        client,
        &format!("{api}/images"),
        &[("repository", repository), ("tag", tag)],
        token,
    )?;
    Ok(listing
        .as_ref()
        .and_then(|l| l["images"].as_array())
        .and_then(|images| images.first())
        .and_then(|image| image["digest"].as_str())
        .map(str::to_owned))
}

fn error_message(body: &Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}

/// Prints the decision and, for each failed rule, its findings.
fn print_verdict(status: &Value) {
    let state = status["state"].as_str().unwrap_or("unknown");
    let policy = &status["policy"];
    let policy = match (policy["tenant"].as_str(), policy["version"].as_i64()) {
        (Some(t), Some(v)) => format!("policy of tenant {t} v{v}"),
        (None, Some(0)) => "built-in default policy".to_owned(),
        (None, Some(v)) => format!("global policy v{v}"),
        _ => "no policy".to_owned(),
    };
    println!(
        "{} {}: {state} ({policy})",
        status["repository"].as_str().unwrap_or("?"),
        status["digest"].as_str().unwrap_or("?")
    );
    if let Some(counts) = status["verdict"]["counts"].as_object() {
        let counts: Vec<String> = counts
            .iter()
            .map(|(severity, n)| format!("{severity}: {n}"))
            .collect();
        println!("findings: {}", counts.join(", "));
    }
    for reason in status["reasons"].as_array().into_iter().flatten() {
        println!(
            "- {}: {}",
            reason["rule"].as_str().unwrap_or("?"),
            reason["message"].as_str().unwrap_or("")
        );
        for finding in reason["findings"].as_array().into_iter().flatten() {
            let fixed: Vec<&str> = finding["fixed_versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "    {} {} {} {}{}{}",
                finding["id"].as_str().unwrap_or("?"),
                finding["severity"].as_str().unwrap_or("?"),
                finding["package"].as_str().unwrap_or("?"),
                finding["version"].as_str().unwrap_or("?"),
                if fixed.is_empty() {
                    String::new()
                } else {
                    format!(" (fixed in {})", fixed.join(", "))
                },
                finding["platform"]
                    .as_str()
                    .map(|p| format!(" [{p}]"))
                    .unwrap_or_default(),
            );
        }
        for package in reason["packages"].as_array().into_iter().flatten() {
            println!(
                "    {} {} (matches {})",
                package["name"].as_str().unwrap_or("?"),
                package["version"].as_str().unwrap_or("?"),
                package["pattern"].as_str().unwrap_or("?"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_digest_or_a_tag() {
        let digest = parse_reference("localhost:5000/unscanned/acme/app@sha256:abc").unwrap();
        assert_eq!(digest.host, "localhost:5000");
        assert_eq!(digest.repository, "unscanned/acme/app");
        assert_eq!(digest.tenant, "acme");
        assert_eq!(digest.reference, Target::Digest("sha256:abc".into()));
        let tag = parse_reference("registry.example/unscanned/acme/team/app:1.2").unwrap();
        assert_eq!(tag.host, "registry.example");
        assert_eq!(tag.repository, "unscanned/acme/team/app");
        assert_eq!(tag.reference, Target::Tag("1.2".into()));
        assert!(parse_reference("localhost:5000/unscanned/acme/app").is_err());
        assert!(parse_reference("localhost:5000/scanned/acme/app:1").is_err());
        assert!(parse_reference("localhost:5000/unscanned/acme:1").is_err());
    }
}
