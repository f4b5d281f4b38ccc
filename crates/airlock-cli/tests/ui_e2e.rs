//! The dashboard in a real browser: the real `airlock serve` with the
//! gate's fixture (a vulnerable django image pushed with skopeo and
//! rejected), Debian's headless Chromium driven over WebDriver
//! (chromedriver) with fantoccini.
//!
//! The flow is a person's: open the images page, get sent to the login,
//! sign in, find the rejected image, open it, read why it was rejected,
//! open its HTML report, sign out. And the gate's: a developer cannot open
//! the policy editor nor see another tenant's image, requests an exception
//! for the finding that rejected their image; a security member approves
//! it, and the image is promoted after re-evaluation. With
//! `AIRLOCK_UPDATE_SCREENSHOTS=1` the images list, the detail page and the
//! exceptions page are saved to `docs/` as screenshots.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use support::gate::{CVE, FIXED, Gate, VULNERABLE, decided, django_layout};
use support::{ADMIN_PASSWORD, ChildGuard, airlock_cli_ok, free_port, http, require_tools};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the browser waits for an element.
const WAIT: Duration = Duration::from_secs(20);

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A running chromedriver, killed when dropped.
struct Driver {
    _child: ChildGuard,
    url: String,
}

impl Driver {
    fn start(log: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let child = ChildGuard(Some(child));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http();
        loop {
            let ready = client
                .get(format!("{url}/status"))
                .timeout(Duration::from_secs(2))
                .send()
                .ok()
                .and_then(|r| r.json::<serde_json::Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not get ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { _child: child, url }
    }
}

/// Headless Chromium with a profile of its own.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::rustls()
        .expect("the TLS connector")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("start a browser session")
}

/// Where screenshots go: the repository's `docs/`.
fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

async fn screenshot(client: &Client, name: &str) -> Outcome {
    if std::env::var_os("AIRLOCK_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let png = client.screenshot().await?;
        std::fs::write(docs().join(name), png)?;
    }
    Ok(())
}

async fn text_of(client: &Client, css: &str) -> Result<String, Box<dyn std::error::Error>> {
    Ok(client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await?
        .text()
        .await?)
}

/// The browser's accessibility check (`support/a11y.js`) of the page at
/// `url`: labels, names, alt text, table headers, contrast, tab order.
async fn accessible(client: &Client, url: &str) -> Outcome {
    client.goto(url).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("main h1"))
        .await?;
    let problems = client
        .execute(include_str!("support/a11y.js"), Vec::new())
        .await?;
    let problems = problems.as_array().cloned().unwrap_or_default();
    assert!(
        problems.is_empty(),
        "{url} has accessibility problems:\n{}",
        problems
            .iter()
            .map(|p| p.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

/// The person's flow through the dashboard.
async fn browse(client: &Client, server: SocketAddr, digest: &str, clean: &str) -> Outcome {
    let base = format!("http://{server}");
    client.set_window_size(1280, 900).await?;

    // Not signed in: the images page sends us to the login, keeping `next`.
    client.goto(&format!("{base}/ui/images")).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await?;
    let url = client.current_url().await?;
    assert_eq!(url.path(), "/ui/login", "{url}");
    assert_eq!(url.query(), Some("next=%2Fui%2Fimages"), "{url}");
    accessible(client, url.as_str()).await?;

    client
        .find(Locator::Id("username"))
        .await?
        .send_keys("admin")
        .await?;
    client
        .find(Locator::Id("password"))
        .await?
        .send_keys(ADMIN_PASSWORD)
        .await?;
    client.find(Locator::Id("sign-in")).await?.click().await?;

    // The images page, with the rejected image.
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table#images"))
        .await?;
    assert_eq!(client.current_url().await?.path(), "/ui/images");
    assert_eq!(text_of(client, "#user-name").await?, "admin");
    let short = &digest[..digest.find(':').expect("algorithm") + 13];
    let source = client.source().await?;
    assert!(source.contains(short), "{short} is not listed:\n{source}");
    assert!(source.contains("unscanned/team-a/app"), "{source}");
    screenshot(client, "ui-images.png").await?;

    // Find the rejected image by its CVE with the filter form; the filter
    // goes into the URL and the clean image is filtered out.
    let clean_short = &clean[..clean.find(':').expect("algorithm") + 13];
    assert!(
        source.contains(clean_short),
        "the clean image is listed too"
    );
    client
        .find(Locator::Id("filter-cve"))
        .await?
        .send_keys(CVE)
        .await?;
    client
        .find(Locator::Css("form.filters button[type=submit]"))
        .await?
        .click()
        .await?;
    let deadline = Instant::now() + WAIT;
    while !client
        .current_url()
        .await?
        .as_str()
        .contains(&format!("cve={CVE}"))
    {
        assert!(
            Instant::now() < deadline,
            "the filter did not go into the URL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table#images"))
        .await?;
    let source = client.source().await?;
    assert!(source.contains(short), "filtered out:\n{source}");
    assert!(!source.contains(clean_short), "not filtered:\n{source}");

    // Export the filtered list as CSV (through the session cookie).
    let href = client
        .find(Locator::Id("export-csv"))
        .await?
        .attr("href")
        .await?
        .expect("an export link");
    let csv = client
        .execute(
            "return fetch(arguments[0]).then(r => r.ok ? r.text() : 'HTTP ' + r.status);",
            vec![serde_json::json!(href)],
        )
        .await?;
    let csv = csv.as_str().expect("text").to_owned();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "a header and one image:\n{csv}");
    assert!(
        rows[0].contains("digest") && rows[0].contains("state"),
        "{csv}"
    );
    assert!(
        rows[1].contains(digest) && rows[1].contains("rejected"),
        "{csv}"
    );

    // Filters in a URL survive a reload.
    client
        .goto(&format!("{base}/ui/images?state=rejected&q=team-a"))
        .await?;
    let source = client.source().await?;
    assert!(source.contains(short), "filtered out:\n{source}");
    assert!(!source.contains(clean_short), "not filtered:\n{source}");

    // The detail page: the verdict and why.
    client
        .find(Locator::Css("a.image-link"))
        .await?
        .click()
        .await?;
    assert_eq!(text_of(client, "#image-verdict").await?, "rejected");
    let reasons = text_of(client, "#reasons").await?;
    assert!(
        reasons.contains(CVE),
        "the reasons do not name {CVE}: {reasons}"
    );
    let timeline = text_of(client, "#timeline").await?;
    assert!(
        timeline.contains("Pushed to unscanned/team-a/app") && timeline.contains("Rejected"),
        "{timeline}"
    );
    assert_eq!(text_of(client, "#image-digest").await?, digest);
    // Its packages and layers, from the stored inventory.
    let contents = text_of(client, "details.platform").await?;
    assert!(
        contents.contains("django") && contents.contains(VULNERABLE),
        "{contents}"
    );
    assert_eq!(
        text_of(client, "#no-tag-history").await?,
        "Never promoted: nothing was copied to scanned/."
    );
    screenshot(client, "ui-image-detail.png").await?;
    // Findings filter: fixable keeps the CVE (2.2.1 fixes it).
    client
        .find(Locator::Id("finding-fixable"))
        .await?
        .click()
        .await?;
    client
        .find(Locator::Css("section form.filters button[type=submit]"))
        .await?
        .click()
        .await?;
    let deadline = Instant::now() + WAIT;
    while !client.current_url().await?.as_str().contains("fixable=on") {
        assert!(
            Instant::now() < deadline,
            "the findings filter did not apply"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let findings = text_of(client, "table#findings").await?;
    assert!(
        findings.contains(CVE) && findings.contains(FIXED),
        "{findings}"
    );
    // The filtered findings export as CSV: a header and the one finding.
    let href = client
        .find(Locator::Id("findings-csv"))
        .await?
        .attr("href")
        .await?
        .expect("an export link");
    assert!(href.contains("fixable=true"), "{href}");
    let csv = client
        .execute(
            "return fetch(arguments[0]).then(r => r.ok ? r.text() : 'HTTP ' + r.status);",
            vec![serde_json::json!(href)],
        )
        .await?;
    let csv = csv.as_str().expect("text").to_owned();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "a header and one finding:\n{csv}");
    assert!(rows[1].contains(CVE) && rows[1].contains(digest), "{csv}");

    // On a phone, neither page scrolls sideways.
    client.set_window_size(390, 844).await?;
    for page in [
        format!("{base}/ui/images"),
        client.current_url().await?.to_string(),
    ] {
        client.goto(&page).await?;
        let overflow = client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                Vec::new(),
            )
            .await?;
        assert_eq!(
            overflow,
            serde_json::json!(0),
            "{page} scrolls sideways on a phone"
        );
    }
    client.set_window_size(1280, 900).await?;

    // Every page passes the accessibility check, on a laptop and a phone.
    let detail = client.current_url().await?.to_string();
    for (width, height) in [(1280, 900), (390, 844)] {
        client.set_window_size(width, height).await?;
        for page in [
            format!("{base}/ui/images"),
            detail.clone(),
            format!("{base}/ui/vulnerabilities?cve={CVE}"),
            format!("{base}/ui/policies?tenant=team-a"),
            format!("{base}/ui/exceptions"),
            format!("{base}/ui/webhooks"),
            format!("{base}/ui/audit"),
            format!("{base}/ui/admin"),
        ] {
            accessible(client, &page).await?;
        }
    }
    client.set_window_size(1280, 900).await?;
    client.goto(&detail).await?;

    // The HTML report, through the session cookie.
    let report = client
        .find(Locator::Css(r#"a[data-report="report.html"]"#))
        .await?;
    let href = report.attr("href").await?.expect("the report link");
    assert_eq!(
        href,
        format!("/api/v1/tenants/team-a/images/{digest}/reports/report.html")
    );
    report.click().await?;
    let verdict = text_of(client, "#verdict").await?;
    assert!(verdict.contains("REJECTED"), "report verdict: {verdict}");

    // Signing out ends the session: the images page asks for a login again.
    client.back().await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("header form button"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await?;
    client.goto(&format!("{base}/ui/images")).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await?;
    assert_eq!(client.current_url().await?.path(), "/ui/login");
    Ok(())
}

/// Starts the gate's server with team-a's vulnerable django image pushed
/// and rejected; `None` (said loudly) when a tool is missing.
fn rejected_image(test: &str) -> Option<(Gate, String)> {
    if !require_tools(
        test,
        &[
            ("chromium", "chromium"),
            ("chromedriver", "chromium-driver"),
            ("skopeo", "skopeo"),
            ("python3", "python3"),
        ],
    ) {
        return None;
    }
    let gate = Gate::start(&[]);
    let (layout, digest) = django_layout(&gate.scratch("vulnerable"), VULNERABLE);
    gate.push(&layout, "unscanned/team-a/app:1.0", &[]);
    decided(&gate.server, "unscanned/team-a/app", &digest, "rejected");
    Some((gate, digest))
}

/// Runs `flow` in a fresh headless Chromium against the gate's server;
/// a failure panics with the server's log.
fn in_browser<F, Fut>(gate: &Gate, flow: F)
where
    F: FnOnce(Client, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let driver = Driver::start(&gate.scratch("chromedriver.log"));
    let profile = gate.scratch("chromium-profile");
    std::fs::create_dir_all(&profile).expect("create the browser profile");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let client = browser(&driver, &profile).await;
        let outcome = flow(client.clone(), gate.server.addr)
            .await
            .map_err(|e| e.to_string());
        let _ = client.close().await;
        outcome
    });
    if let Err(error) = outcome {
        panic!(
            "the browser flow failed: {error}\nserver log:\n{}",
            gate.server.logs()
        );
    }
}

#[test]
fn a_user_signs_in_finds_a_rejected_image_and_reads_why() {
    let name = "a_user_signs_in_finds_a_rejected_image_and_reads_why";
    let Some((gate, digest)) = rejected_image(name) else {
        return;
    };
    let (layout, clean) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&layout, "unscanned/team-a/api:1.0", &[]);
    decided(&gate.server, "unscanned/team-a/api", &clean, "promoted");

    in_browser(&gate, |client, server| {
        let (digest, clean) = (digest.clone(), clean.clone());
        async move { browse(&client, server, &digest, &clean).await }
    });
}

const DEV_PASSWORD: &str = "dev-password-for-the-browser";
const SEC_PASSWORD: &str = "sec-password-for-the-browser";

/// Signs in through the login form and waits for the page it leads to.
async fn sign_in(client: &Client, base: &str, user: &str, password: &str) -> Outcome {
    client.goto(&format!("{base}/ui/login")).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await?
        .send_keys(user)
        .await?;
    client
        .find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    client.find(Locator::Id("sign-in")).await?.click().await?;
    assert_eq!(text_of(client, "#user-name").await?, user);
    Ok(())
}

async fn sign_out(client: &Client) -> Outcome {
    client
        .find(Locator::Css("header form button"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await?;
    Ok(())
}

/// The exception flow: `digest` is team-a's rejected image, `other` an
/// image of team-b.
async fn except(client: &Client, server: SocketAddr, digest: &str, other: &str) -> Outcome {
    let base = format!("http://{server}");
    client.set_window_size(1280, 900).await?;
    sign_in(client, &base, "dev", DEV_PASSWORD).await?;

    // Another tenant's image is neither listed nor readable.
    client.goto(&format!("{base}/ui/images")).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table#images"))
        .await?;
    let source = client.source().await?;
    assert!(source.contains("unscanned/team-a/app"), "{source}");
    assert!(!source.contains("team-b"), "team-b is listed:\n{source}");
    client
        .goto(&format!("{base}/ui/images/team-b/{other}"))
        .await?;
    assert_eq!(text_of(client, "h1").await?, "Access denied");

    // The policy editor is for security: a 403 page.
    client.goto(&format!("{base}/ui/policies")).await?;
    assert_eq!(text_of(client, "h1").await?, "Access denied");
    let status = client
        .execute(
            "return fetch('/ui/policies').then(r => r.status);",
            Vec::new(),
        )
        .await?;
    assert_eq!(status, serde_json::json!(403));

    // The rejected image: request an exception for its finding.
    client
        .goto(&format!("{base}/ui/images/team-a/{digest}"))
        .await?;
    assert_eq!(text_of(client, "#image-verdict").await?, "rejected");
    client
        .find(Locator::Css("a.request-exception"))
        .await?
        .click()
        .await?;
    let vulnerability = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("req-vulnerability"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(vulnerability.as_deref(), Some(CVE));
    client
        .find(Locator::Id("req-reason"))
        .await?
        .send_keys("django's admin is not exposed in this image")
        .await?;
    client
        .find(Locator::Id("request-submit"))
        .await?
        .click()
        .await?;
    let done = text_of(client, "#exceptions-done").await?;
    assert!(done.starts_with("Requested EXC-"), "{done}");
    let id = done
        .split_whitespace()
        .nth(1)
        .expect("the exception id")
        .to_owned();
    assert_eq!(
        text_of(client, &format!("#exception-{id} .exception-status")).await?,
        "pending"
    );
    assert!(
        client
            .find(Locator::Css(&format!("#exception-{id} button.approve")))
            .await
            .is_err(),
        "a developer is offered the approval"
    );
    sign_out(client).await?;

    // Security approves it.
    sign_in(client, &base, "sec", SEC_PASSWORD).await?;
    client.goto(&format!("{base}/ui/exceptions")).await?;
    screenshot(client, "ui-exceptions.png").await?;
    for (width, height) in [(1280, 900), (390, 844)] {
        client.set_window_size(width, height).await?;
        let overflow = client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                Vec::new(),
            )
            .await?;
        assert_eq!(
            overflow,
            serde_json::json!(0),
            "the exceptions page scrolls sideways at {width} px"
        );
    }
    client.set_window_size(1280, 900).await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("#exception-{id} button.approve")))
        .await?
        .click()
        .await?;
    let done = text_of(client, "#exceptions-done").await?;
    assert!(done.starts_with(&format!("Approved {id}")), "{done}");
    assert_eq!(
        text_of(client, &format!("#exception-{id} .exception-status")).await?,
        "active"
    );

    // The gate re-evaluates the rejected image; watch it become promoted.
    let detail = format!("{base}/ui/images/team-a/{digest}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        client.goto(&detail).await?;
        let verdict = text_of(client, "#image-verdict").await?;
        if verdict == "promoted" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not promoted 60 s after the approval: {verdict}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let timeline = text_of(client, "#timeline").await?;
    assert!(
        timeline.contains("Re-evaluated from its scan")
            && timeline.contains("Promoted to scanned/team-a/app"),
        "{timeline}"
    );
    let tags = text_of(client, "#tag-history").await?;
    assert!(
        tags.contains("scanned/team-a/app") && tags.contains("1.0"),
        "{tags}"
    );
    Ok(())
}

#[test]
fn security_approves_a_developers_exception_and_the_rejected_image_is_promoted() {
    let name = "security_approves_a_developers_exception_and_the_rejected_image_is_promoted";
    let Some((gate, digest)) = rejected_image(name) else {
        return;
    };
    let (layout, other) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&layout, "unscanned/team-b/api:1.0", &[]);
    decided(&gate.server, "unscanned/team-b/api", &other, "promoted");
    let data = gate.data();
    for (user, password, role) in [
        ("dev", DEV_PASSWORD, "developer"),
        ("sec", SEC_PASSWORD, "security"),
    ] {
        airlock_cli_ok(
            data,
            &["user", "create", user, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        airlock_cli_ok(
            data,
            &["user", "grant", user, "--tenant", "team-a", "--role", role],
            None,
        );
    }

    in_browser(&gate, |client, server| {
        let (digest, other) = (digest.clone(), other.clone());
        async move { except(&client, server, &digest, &other).await }
    });
    decided(&gate.server, "unscanned/team-a/app", &digest, "promoted");
}
