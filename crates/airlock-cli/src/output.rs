//! What the management commands share besides the API client: reading a
//! secret, and printing the API's JSON answers as tables.

use std::io::Read;

use anyhow::Context;
use serde_json::Value;

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

/// A string field of a JSON object as text: `""` when absent or null.
pub fn str_field(value: &Value, key: &str) -> String {
    opt_field(value, key).unwrap_or_default()
}

/// A field of a JSON object as text, `None` when absent or null.
pub fn opt_field(value: &Value, key: &str) -> Option<String> {
    match &value[key] {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The items of a JSON array (none when it is not one).
pub fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// Prints a secret that is stored only as a hash.
pub fn show_once(label: &str, secret: &str) {
    println!("{label}: {secret}");
    println!("(shown only this once)");
}
