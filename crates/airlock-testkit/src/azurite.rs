//! A real Azure Blob Storage emulator for tests: [`AzuriteServer`] runs
//! Azurite's blob service on a free loopback port, in memory, with one
//! container and the emulator's well-known account, and kills it when
//! dropped.
//!
//! The binary is found through `$AIRLOCK_AZURITE_BLOB`, then `azurite-blob`
//! on `PATH`. Install it with `npm install -g azurite@3.35.0` (the newest
//! release that runs on Node.js 20; 3.36 and later need Node.js 21 or 22).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Azurite's well-known account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key (public, the same in every Azurite).
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const MISSING: &str = "azurite is needed for this test: npm install -g azurite@3.35.0";

/// A running Azurite blob service, killed on drop.
#[derive(Debug)]
pub struct AzuriteServer {
    child: Child,
    address: SocketAddr,
    container: String,
}

fn find_binary() -> PathBuf {
    crate::server::find_binary("AIRLOCK_AZURITE_BLOB", "azurite-blob", &[], MISSING)
}

impl AzuriteServer {
    /// Starts Azurite, waits until it accepts connections and creates the
    /// container `airlock-test`. Panics (loudly) if Azurite is missing or
    /// does not come up.
    pub fn start() -> AzuriteServer {
        let binary = find_binary();
        let (child, address) = crate::server::start_listening(
            &binary,
            |port| {
                ["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()]
                    .into_iter()
                    .chain(["--inMemoryPersistence", "--silent", "--disableTelemetry"])
                    .chain(["--skipApiVersionCheck"])
                    .map(str::to_owned)
                    .collect()
            },
            MISSING,
            Duration::from_secs(30),
        );
        let server = AzuriteServer {
            child,
            address,
            container: "airlock-test".to_owned(),
        };
        server.create_container();
        server
    }

    /// The account's blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`
    /// (Azurite addresses accounts by path).
    pub fn endpoint(&self) -> String {
        format!("http://{}/{AZURITE_ACCOUNT}", self.address)
    }

    /// The container that exists on the server.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// Creates the container with a `Create Container` request signed with
    /// the account key (Shared Key authorization).
    fn create_container(&self) {
        let version = "2021-08-06";
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs();
        let date = http_date(now);
        let resource_path = format!("/{AZURITE_ACCOUNT}/{}", self.container);
        let string_to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
             /{AZURITE_ACCOUNT}{resource_path}\nrestype:container"
        );
        let key = BASE64
            .decode(AZURITE_ACCOUNT_KEY)
            .expect("the well-known key is base64");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac takes any key length");
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        let request = format!(
            "PUT {resource_path}?restype=container HTTP/1.1\r\nHost: {}\r\n\
             x-ms-date: {date}\r\nx-ms-version: {version}\r\n\
             Authorization: SharedKey {AZURITE_ACCOUNT}:{signature}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.address
        );
        let mut stream = TcpStream::connect(self.address).expect("connect to azurite");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        stream
            .write_all(request.as_bytes())
            .expect("send Create Container");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response.lines().next().unwrap_or_default();
        assert!(
            status.contains(" 201 "),
            "azurite refused to create container {}: {response}",
            self.container
        );
    }
}

/// Seconds since the Unix epoch as an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

impl Drop for AzuriteServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_rfc_1123() {
        assert_eq!(super::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            super::http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            super::http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }
}
