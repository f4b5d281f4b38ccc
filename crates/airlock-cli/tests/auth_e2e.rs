//! End-to-end tests of authentication, authorisation and the audit log: the
//! real `airlock` binary, its CLI for tenants, users and robots, and the real
//! skopeo logging in through the Docker token flow.
//!
//! Each test starts its own server over its own data directory. The login
//! throttle counts failures per client address, and every client here is
//! 127.0.0.1, so the brute-force test has a server to itself.

mod support;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    ADMIN_PASSWORD, Layout, Server, airlock_cli, airlock_cli_ok, fresh_seed, http, raw_manifest,
    require_skopeo_and_umoci, require_tools, sha256,
};

const DEV_PASSWORD: &str = "dev-password-4b1e";
const EVE_PASSWORD: &str = "eve-password-90ad";

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("airlock-auth-e2e-")
        .tempdir()
        .expect("create a temporary directory")
}

/// A server with tenant `acme`, developer `dev` in it, and a one-layer image
/// `v1` in an OCI layout, ready to push.
struct Acme {
    work: tempfile::TempDir,
    server: Server,
    layout: Layout,
}

impl Acme {
    fn start(extra: &[&str]) -> Acme {
        let work = tempdir();
        let layout = Layout::init(&work.path().join("layout"));
        layout.random_image("v1", work.path(), 16 * 1024, fresh_seed());
        let server = Server::start(&work.path().join("data"), extra);
        let data = &server.data_dir;
        airlock_cli_ok(data, &["tenant", "create", "acme"], None);
        airlock_cli_ok(
            data,
            &["user", "create", "dev", "--password-stdin"],
            Some(&format!("{DEV_PASSWORD}\n")),
        );
        let granted = airlock_cli_ok(
            data,
            &[
                "user",
                "grant",
                "dev",
                "--tenant",
                "acme",
                "--role",
                "developer",
            ],
            None,
        );
        assert!(granted.contains("developer in acme"), "{granted}");
        Acme {
            work,
            server,
            layout,
        }
    }

    fn data(&self) -> &Path {
        &self.server.data_dir
    }

    /// `oci:<layout>:<tag>`.
    fn source(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.layout.dir.display())
    }

    /// A fresh skopeo auth file path (never the user's own).
    fn authfile(&self, name: &str) -> PathBuf {
        self.work.path().join(format!("{name}-auth.json"))
    }

    /// Pushes `v1` to `repository:tag` with `user:password`.
    fn push_as(&self, user: &str, password: &str, repository_and_tag: &str) -> Output {
        skopeo_output(&[
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{user}:{password}"),
            &self.source("v1"),
            &self.server.docker_ref(repository_and_tag),
        ])
    }

    /// Pulls `repository:tag` into a new layout with `user:password`.
    fn pull_as(&self, user: &str, password: &str, repository_and_tag: &str) -> Output {
        let target = self.work.path().join(format!("pulled-{}", fresh_seed()));
        skopeo_output(&[
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--src-creds",
            &format!("{user}:{password}"),
            &self.server.docker_ref(repository_and_tag),
            &format!("oci:{}:pulled", target.display()),
        ])
    }

    /// The manifest digest the admin reads at `repository:tag`.
    fn stored_digest(&self, repository_and_tag: &str) -> String {
        sha256(&raw_manifest(&self.server.docker_ref(repository_and_tag)))
    }
}

/// Runs skopeo and returns its output whatever the exit status.
fn skopeo_output(args: &[&str]) -> Output {
    Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run skopeo: {e}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}

/// Asserts that skopeo failed with `expected` in its message: the OCI
/// `DENIED` error (skopeo quotes it as `denied: user \"dev\" may not ...`),
/// or skopeo's `403 (Forbidden)` when a bodiless `HEAD` was refused.
fn assert_refused(what: &str, output: &Output, expected: &str) {
    let message = stderr(output);
    assert!(!output.status.success(), "{what} was allowed:\n{message}");
    assert!(
        message.contains(expected),
        "{what} failed, but not with {expected:?}:\n{message}"
    );
}

/// `airlock audit export --format jsonl` with extra filter flags, parsed.
fn audit_jsonl(data: &Path, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "export", "--format", "jsonl"];
    args.extend_from_slice(filters);
    airlock_cli_ok(data, &args, None)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Splits RFC 4180 CSV into rows of fields (quoted fields may hold commas,
/// quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn anonymous_requests_get_a_bearer_challenge() {
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &[]);
    let response = http().get(server.url("/v2/")).send().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"http://{}/auth/token\",service=\"airlock\"",
            server.addr
        )
        .as_str()
    );
    let response = server.token_response("admin", "not-the-password", &[]);
    assert_eq!(response.status(), 401, "a wrong password gets no token");
    let token = server.admin_token(&[]);
    let response = http()
        .get(server.url("/v2/"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "the admin's token opens /v2/");
}

#[test]
fn skopeo_login_as_a_developer_then_push_to_unscanned() {
    if !require_skopeo_and_umoci("skopeo_login_as_a_developer_then_push_to_unscanned") {
        return;
    }
    let acme = Acme::start(&[]);
    let authfile = acme.authfile("dev");
    let registry = acme.server.addr.to_string();
    let authfile_arg = authfile.to_str().unwrap();

    let wrong = skopeo_output(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile_arg,
        "-u",
        "dev",
        "-p",
        "wrong-password",
        &registry,
    ]);
    assert!(
        !wrong.status.success(),
        "login with a wrong password worked"
    );

    let login = skopeo_output(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile_arg,
        "-u",
        "dev",
        "-p",
        DEV_PASSWORD,
        &registry,
    ]);
    assert_succeeded("skopeo login as dev", &login);
    assert!(authfile.is_file(), "skopeo login wrote no auth file");

    let push = skopeo_output(&[
        "copy",
        "--quiet",
        "--authfile",
        authfile_arg,
        "--dest-tls-verify=false",
        &acme.source("v1"),
        &acme.server.docker_ref("unscanned/acme/app:v1"),
    ]);
    assert_succeeded("push to unscanned as dev", &push);
    assert_eq!(
        acme.stored_digest("unscanned/acme/app:v1"),
        acme.layout.digest("v1"),
        "the developer's push landed"
    );
}

#[test]
fn skopeo_login_with_a_robot_token_then_push_to_unscanned() {
    if !require_skopeo_and_umoci("skopeo_login_with_a_robot_token_then_push_to_unscanned") {
        return;
    }
    let acme = Acme::start(&[]);
    let created = airlock_cli_ok(
        acme.data(),
        &[
            "robot",
            "create",
            "--tenant",
            "acme",
            "--role",
            "developer",
            "--expires",
            "90d",
            "ci",
        ],
        None,
    );
    assert!(created.contains("created robot robot$acme+ci"), "{created}");
    assert!(created.contains("expires: "), "{created}");
    let token = created
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token line in:\n{created}"))
        .trim()
        .to_owned();
    assert!(token.starts_with("alr_"), "{token}");

    let authfile = acme.authfile("robot");
    let authfile_arg = authfile.to_str().unwrap();
    let registry = acme.server.addr.to_string();
    let login = skopeo_output(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile_arg,
        "-u",
        "robot$acme+ci",
        "-p",
        &token,
        &registry,
    ]);
    assert_succeeded("skopeo login as the robot", &login);
    let push = skopeo_output(&[
        "copy",
        "--quiet",
        "--authfile",
        authfile_arg,
        "--dest-tls-verify=false",
        &acme.source("v1"),
        &acme.server.docker_ref("unscanned/acme/app:v2"),
    ]);
    assert_succeeded("push to unscanned as the robot", &push);
    assert_eq!(
        acme.stored_digest("unscanned/acme/app:v2"),
        acme.layout.digest("v1")
    );

    // The token is bound to its account name.
    let response = acme.server.token_response("robot$acme+other", &token, &[]);
    assert_eq!(response.status(), 401);
}

#[test]
fn nobody_pushes_to_scanned_not_even_the_admin() {
    if !require_skopeo_and_umoci("nobody_pushes_to_scanned_not_even_the_admin") {
        return;
    }
    let acme = Acme::start(&[]);
    let by_dev = acme.push_as("dev", DEV_PASSWORD, "scanned/acme/app:v1");
    assert_refused(
        "dev's push to scanned/",
        &by_dev,
        r#"denied: user \"dev\" may not push to scanned/acme/app"#,
    );
    let by_admin = acme.push_as("admin", ADMIN_PASSWORD, "scanned/acme/app:v1");
    assert_refused(
        "admin's push to scanned/",
        &by_admin,
        r#"denied: user \"admin\" may not push to scanned/acme/app"#,
    );
    // Same credentials, the unscanned zone: allowed.
    assert_succeeded(
        "admin's push to unscanned/",
        &acme.push_as("admin", ADMIN_PASSWORD, "unscanned/acme/app:v1"),
    );
}

#[test]
fn developers_cannot_pull_from_unscanned_but_the_admin_can() {
    if !require_skopeo_and_umoci("developers_cannot_pull_from_unscanned_but_the_admin_can") {
        return;
    }
    let acme = Acme::start(&[]);
    assert_succeeded(
        "dev's push",
        &acme.push_as("dev", DEV_PASSWORD, "unscanned/acme/app:v1"),
    );
    let by_dev = acme.pull_as("dev", DEV_PASSWORD, "unscanned/acme/app:v1");
    assert_refused(
        "dev's pull from unscanned/",
        &by_dev,
        r#"denied: user \"dev\" may not pull from unscanned/acme/app"#,
    );
    let by_admin = acme.pull_as("admin", ADMIN_PASSWORD, "unscanned/acme/app:v1");
    assert_succeeded("admin's pull from unscanned/", &by_admin);
}

#[test]
fn a_reader_of_another_tenant_gets_nothing_of_acme() {
    if !require_skopeo_and_umoci("a_reader_of_another_tenant_gets_nothing_of_acme") {
        return;
    }
    let acme = Acme::start(&[]);
    let data = acme.data();
    airlock_cli_ok(data, &["tenant", "create", "other"], None);
    airlock_cli_ok(
        data,
        &["user", "create", "eve", "--password-stdin"],
        Some(&format!("{EVE_PASSWORD}\n")),
    );
    airlock_cli_ok(
        data,
        &[
            "user", "grant", "eve", "--tenant", "other", "--role", "reader",
        ],
        None,
    );
    assert_succeeded(
        "dev's push",
        &acme.push_as("dev", DEV_PASSWORD, "unscanned/acme/app:v1"),
    );

    assert_refused(
        "eve's pull from scanned/acme",
        &acme.pull_as("eve", EVE_PASSWORD, "scanned/acme/app:v1"),
        r#"denied: user \"eve\" may not pull from scanned/acme/app"#,
    );
    // skopeo first asks whether the layer is already there (HEAD), which
    // is refused before any upload starts.
    assert_refused(
        "eve's push to unscanned/acme",
        &acme.push_as("eve", EVE_PASSWORD, "unscanned/acme/app:v3"),
        "failed to read from destination repository unscanned/acme/app: 403 (Forbidden)",
    );

    let catalog = |user: &str, password: &str| -> Vec<String> {
        let token = acme.server.token(user, password, &["registry:catalog:*"]);
        let response = http()
            .get(acme.server.url("/v2/_catalog"))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{user}'s catalog");
        let body: Value = response.json().unwrap();
        body["repositories"]
            .as_array()
            .unwrap_or_else(|| panic!("no repositories in {body}"))
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        catalog("admin", ADMIN_PASSWORD).contains(&"unscanned/acme/app".to_owned()),
        "the admin's catalog lists acme's repository"
    );
    let seen_by_eve = catalog("eve", EVE_PASSWORD);
    assert!(
        seen_by_eve.iter().all(|r| !r.contains("/acme/")),
        "eve sees acme's repositories: {seen_by_eve:?}"
    );
}

#[test]
fn brute_force_logins_are_throttled_and_audited() {
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &[]);
    let data = server.data_dir.clone();
    airlock_cli_ok(
        &data,
        &["user", "create", "dev", "--password-stdin"],
        Some(&format!("{DEV_PASSWORD}\n")),
    );

    let statuses: Vec<u16> = (0..50)
        .map(|n| {
            server
                .token_response("dev", &format!("guess-{n}"), &[])
                .status()
                .as_u16()
        })
        .collect();
    assert!(
        statuses[..10].iter().all(|s| *s == 401),
        "the first ten failures are plain refusals: {statuses:?}"
    );
    assert!(
        statuses[10..].iter().all(|s| *s == 429),
        "past ten failures logins are throttled: {statuses:?}"
    );
    let failures: Vec<Value> = audit_jsonl(&data, &["--action", "auth.login"])
        .into_iter()
        .filter(|r| r["target"] == "account:dev" && r["outcome"] == "failure")
        .collect();
    assert_eq!(failures.len(), 50, "one failure record per refused login");
    let throttled = failures
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|reason| reason.starts_with("rate limited"))
        })
        .count();
    assert_eq!(throttled, 40, "{failures:#?}");
    // Even the right password is refused while throttled.
    assert_eq!(
        server.token_response("dev", DEV_PASSWORD, &[]).status(),
        429
    );
}

#[test]
fn audit_verify_finds_a_forged_record() {
    if !require_tools(
        "audit_verify_finds_a_forged_record",
        &[("python3", "python3")],
    ) {
        return;
    }
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &[]);
    let data = server.data_dir.clone();
    airlock_cli_ok(&data, &["tenant", "create", "acme"], None);
    airlock_cli_ok(
        &data,
        &["user", "create", "dev", "--password-stdin"],
        Some(&format!("{DEV_PASSWORD}\n")),
    );
    server.admin_token(&[]);
    server.token("dev", DEV_PASSWORD, &[]);
    assert_eq!(server.token_response("dev", "wrong", &[]).status(), 401);

    let verify = airlock_cli(&data, &["audit", "verify"], None);
    let report = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(verify.status.success(), "{report}");
    let count: u64 = report
        .strip_prefix("audit log intact: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected verify output: {report}"));
    assert!(count >= 6, "{report}");
    let forged = count / 2;
    let sql = |statements: &str| support::db_exec(&data, statements);
    let update = format!("UPDATE audit_log SET target = 'forged' WHERE seq = {forged};");

    let refused = sql(&update);
    assert!(
        !refused.status.success(),
        "the trigger let an UPDATE through"
    );
    assert!(
        stderr(&refused).contains("append-only"),
        "{}",
        stderr(&refused)
    );
    let verify = airlock_cli(&data, &["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "the refused UPDATE changed nothing"
    );

    // PostgreSQL names a trigger per table; SQLite per database.
    let drop_trigger = if support::postgres_s3() {
        "DROP TRIGGER audit_log_no_update ON audit_log;"
    } else {
        "DROP TRIGGER audit_log_no_update;"
    };
    let tampered = sql(&format!("{drop_trigger} {update}"));
    assert!(tampered.status.success(), "{}", stderr(&tampered));
    let verify = airlock_cli(&data, &["audit", "verify"], None);
    let report = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert_eq!(verify.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!("audit chain broken at record {forged}:")),
        "{report}"
    );
}

#[test]
fn audit_records_are_forwarded_to_syslog() {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let target = format!("udp://{}", socket.local_addr().unwrap());
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &["--audit-syslog", &target]);
    server.admin_token(&[]);

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let found = loop {
        if let Ok(size) = socket.recv(&mut buffer) {
            let datagram = String::from_utf8_lossy(&buffer[..size]).into_owned();
            let matches = datagram.starts_with('<')
                && datagram.contains("airlock")
                && datagram.contains("auth.login");
            received.push(datagram);
            if matches {
                break true;
            }
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(
        found,
        "no auth.login datagram within 5 s; received: {received:#?}"
    );
}

#[test]
fn csv_export_filters_by_tenant_and_time() {
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &[]);
    let data = server.data_dir.clone();
    for tenant in ["acme", "other"] {
        airlock_cli_ok(&data, &["tenant", "create", tenant], None);
        airlock_cli_ok(
            &data,
            &[
                "robot", "create", "--tenant", tenant, "--role", "reader", "ci",
            ],
            None,
        );
    }

    let text = airlock_cli_ok(
        &data,
        &["audit", "export", "--format", "csv", "--tenant", "acme"],
        None,
    );
    let rows = parse_csv(&text);
    let header = &rows[0];
    assert_eq!(
        header.join(","),
        "seq,time,actor_kind,actor_name,tenant,action,target,outcome,reason,request_id,\
         client_addr,user_agent,details,prev_hash,hash"
    );
    let tenant = header.iter().position(|h| h == "tenant").unwrap();
    let action = header.iter().position(|h| h == "action").unwrap();
    assert!(rows.len() >= 3, "acme's records are exported: {text}");
    for row in &rows[1..] {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(row[tenant], "acme", "{row:?}");
    }
    let actions: Vec<&str> = rows[1..].iter().map(|r| r[action].as_str()).collect();
    assert!(actions.contains(&"tenant.create"), "{actions:?}");
    let unfiltered = parse_csv(&airlock_cli_ok(
        &data,
        &["audit", "export", "--format", "csv"],
        None,
    ));
    assert!(
        unfiltered[1..].iter().any(|r| r[tenant] == "other"),
        "the other tenant's records exist, so the filter removed them"
    );

    let future = airlock_cli_ok(
        &data,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--since",
            "2999-01-01T00:00:00Z",
        ],
        None,
    );
    assert_eq!(parse_csv(&future), vec![header.clone()], "{future}");
}

#[test]
fn first_start_prints_a_generated_admin_password_once() {
    let work = tempdir();
    let data = work.path().join("data");
    let start = || {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
            .parse()
            .unwrap();
        let listen = format!("{addr}");
        Server::spawn(
            &data,
            addr,
            &[
                "serve",
                "--listen",
                &listen,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[("AIRLOCK_ADMIN_PASSWORD", "")],
        )
    };

    let server = start();
    let logs = server.logs();
    let password = logs
        .lines()
        .find_map(|line| line.split("created user \"admin\" with password ").nth(1))
        .unwrap_or_else(|| panic!("no generated password on stderr:\n{logs}"))
        .trim()
        .to_owned();
    assert!(password.len() >= 16, "{password:?}");
    assert_ne!(password, ADMIN_PASSWORD);
    server.token("admin", &password, &[]);
    assert_eq!(
        server.token_response("admin", ADMIN_PASSWORD, &[]).status(),
        401,
        "the usual test password was not used"
    );
    assert!(server.terminate().success());

    let server = start();
    let logs = server.logs();
    assert!(
        !logs.contains("created user"),
        "the second start created or printed a password again:\n{logs}"
    );
    server.token("admin", &password, &[]);
}

/// `airlock ARGS --server <server>` from an empty working directory, with
/// no data directory and no credentials configured: the command can only
/// reach the server's management API, as whoever the caller adds.
fn remote_command(server: &Server, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(support::AIRLOCK);
    command
        .args(args)
        .arg("--server")
        .arg(server.url(""))
        .current_dir(cwd)
        .env("USER", "os-user");
    for key in [
        "AIRLOCK_DATA_DIR",
        "AIRLOCK_CONFIG",
        "AIRLOCK_USERNAME",
        "AIRLOCK_PASSWORD",
        "AIRLOCK_TOKEN",
    ] {
        command.env_remove(key);
    }
    command
}

/// Runs [`remote_command`] as `user` with `password` in `AIRLOCK_PASSWORD`.
fn remote_cli(server: &Server, cwd: &Path, user: &str, password: &str, args: &[&str]) -> Output {
    remote_command(server, cwd, args)
        .env("AIRLOCK_USERNAME", user)
        .env("AIRLOCK_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run airlock {args:?}: {e}"))
}

#[test]
fn management_commands_with_server_act_as_the_signed_in_user() {
    let acme = Acme::start(&[]);
    let server = &acme.server;
    const SEC_PASSWORD: &str = "sec-password-5c2d";
    airlock_cli_ok(
        acme.data(),
        &["user", "create", "sec", "--password-stdin"],
        Some(&format!("{SEC_PASSWORD}\n")),
    );
    airlock_cli_ok(
        acme.data(),
        &[
            "user", "grant", "sec", "--tenant", "acme", "--role", "security",
        ],
        None,
    );
    let cwd = acme.work.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();

    // An admin lists the tenants.
    let listed = remote_cli(server, &cwd, "admin", ADMIN_PASSWORD, &["tenant", "list"]);
    assert_succeeded("tenant list as admin", &listed);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("acme"),
        "{listed:?}"
    );

    // A developer may not create tenants: refused by the server, as dev.
    let refused = remote_cli(
        server,
        &cwd,
        "dev",
        DEV_PASSWORD,
        &["tenant", "create", "rogue"],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let message = stderr(&refused);
    assert!(message.contains("forbidden: "), "{message}");
    assert!(message.contains("user \"dev\" may not"), "{message}");
    let listed = remote_cli(server, &cwd, "admin", ADMIN_PASSWORD, &["tenant", "list"]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("rogue"),
        "{listed:?}"
    );
    let denials: Vec<Value> = audit_jsonl(acme.data(), &["--action", "access.denied"])
        .into_iter()
        .filter(|r| r["actor"]["name"] == "dev" && r["actor"]["kind"] == "user")
        .collect();
    assert_eq!(denials.len(), 1, "one refusal, by dev: {denials:#?}");
    let denial = &denials[0];
    assert_eq!(denial["outcome"], "denied", "{denial}");
    assert!(
        denial["user_agent"]
            .as_str()
            .or_else(|| denial["request"]["user_agent"].as_str())
            .is_some_and(|agent| agent.starts_with("airlock-cli/")),
        "sent by the CLI: {denial}"
    );
    assert!(
        denial.to_string().contains("127.0.0.1"),
        "over the network, from the loopback address: {denial}"
    );

    // Four eyes over the network too: security requests, cannot approve its
    // own request, and the developer may not approve at all; the admin may.
    let requested = remote_cli(
        server,
        &cwd,
        "sec",
        SEC_PASSWORD,
        &[
            "exception",
            "request",
            "--tenant",
            "acme",
            "--id",
            "CVE-2024-1234",
            "--reason",
            "not reachable",
            "--expires",
            "30d",
        ],
    );
    assert_succeeded("exception request as sec", &requested);
    let id = String::from_utf8_lossy(&requested.stdout).trim().to_owned();
    assert!(id.starts_with("EXC-"), "{id}");
    let own = remote_cli(
        server,
        &cwd,
        "sec",
        SEC_PASSWORD,
        &["exception", "approve", &id],
    );
    assert_eq!(own.status.code(), Some(2), "{own:?}");
    assert!(
        stderr(&own).contains("forbidden: an exception's approver must not be its requester"),
        "{own:?}"
    );
    let by_dev = remote_cli(
        server,
        &cwd,
        "dev",
        DEV_PASSWORD,
        &["exception", "approve", &id],
    );
    assert_eq!(by_dev.status.code(), Some(2), "{by_dev:?}");
    assert!(stderr(&by_dev).contains("forbidden: "), "{by_dev:?}");
    let approved = remote_cli(
        server,
        &cwd,
        "admin",
        ADMIN_PASSWORD,
        &["exception", "approve", &id, "--tenant", "acme"],
    );
    assert_succeeded("exception approve as admin", &approved);
    let listed = remote_cli(
        server,
        &cwd,
        "dev",
        DEV_PASSWORD,
        &["exception", "list", "--tenant", "acme", "--json"],
    );
    assert_succeeded("exception list as dev", &listed);
    let exceptions: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(exceptions[0]["requested_by"], "sec", "{exceptions}");
    assert_eq!(exceptions[0]["approved_by"], "admin", "{exceptions}");

    // A robot signs in with its token (AIRLOCK_TOKEN) and has its role only.
    let robot = remote_cli(
        server,
        &cwd,
        "admin",
        ADMIN_PASSWORD,
        &[
            "robot",
            "create",
            "--tenant",
            "acme",
            "--role",
            "developer",
            "ci",
            "--json",
        ],
    );
    assert_succeeded("robot create as admin", &robot);
    let robot: Value = serde_json::from_slice(&robot.stdout).unwrap();
    let as_robot = |args: &[&str]| {
        remote_command(server, &cwd, args)
            .env("AIRLOCK_USERNAME", robot["name"].as_str().unwrap())
            .env("AIRLOCK_TOKEN", robot["token"].as_str().unwrap())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let listed = as_robot(&["exception", "list", "--tenant", "acme"]);
    assert_succeeded("exception list as the robot", &listed);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&id),
        "{listed:?}"
    );
    let refused = as_robot(&["user", "list"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        stderr(&refused).contains("forbidden: robot \"robot$acme+ci\" may not"),
        "{refused:?}"
    );

    // The password may come from standard input instead.
    let mut child = remote_command(server, &cwd, &["user", "list", "--server-password-stdin"])
        .env("AIRLOCK_USERNAME", "admin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{ADMIN_PASSWORD}").unwrap();
    }
    let users = child.wait_with_output().unwrap();
    assert_succeeded("user list with --server-password-stdin", &users);
    assert!(
        String::from_utf8_lossy(&users.stdout).contains("sec"),
        "{users:?}"
    );

    // Wrong credentials never reach the API; no data directory was touched.
    let wrong = remote_cli(server, &cwd, "dev", "wrong", &["tenant", "list"]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(stderr(&wrong).contains("cannot sign in"), "{wrong:?}");
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "the remote commands created no local data directory"
    );
}
