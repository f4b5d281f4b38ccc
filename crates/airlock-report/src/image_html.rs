//! `report.html` for a gate scan: one self-contained page a developer opens
//! from a rejection message, attaches to a ticket or prints.
//!
//! The page carries its CSS and a small vanilla script inline and loads
//! nothing else (links to advisories are plain `<a href>`). The verdict and
//! its reasons come first, then the counts per severity, every finding of
//! every platform in one table, and per platform the packages and layers.
//!
//! The findings live only in the table's DOM: the script reads the rows to
//! sort and filter them, so no feed data is ever embedded in the `<script>`
//! and nothing can break out of it. Every value from the image or the feed
//! goes through [`Escaped`]. The script applies a filter given in the URL
//! fragment (`report.html#filter=openssl&severity=high`), so a link can point
//! at a subset; when it is done it records on `<body>` the number of visible
//! rows (`data-visible-rows`), its finishing time since navigation
//! (`data-render-ms`) and its own run time (`data-script-ms`), which the
//! tests and `bench/reports.sh` read.
//!
//! The page is written into one pre-sized `String` with `fmt::Write` and
//! escaping `Display` wrappers, so a row costs no allocation: 2,000 packages
//! and 500 findings render in a few milliseconds.

use std::fmt::{self, Write as _};

use airlock_scan_model::{Finding, Package, ScanReport, Severity, VulnerabilityData};
use time::OffsetDateTime;

use crate::image::ImageReport;
use crate::{ReportContext, ReportError};

const STYLE: &str = r#"
[hidden]{display:none!important}
:root{--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--head:#f6f8fa}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:var(--fg);background:#fff;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .5rem;word-break:break-all}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em}
.verdict{font-size:3rem;font-weight:800;letter-spacing:.05em;margin:.5rem 0;padding:.2rem 1rem;display:inline-block;border-radius:.4rem;color:#fff}
.verdict.passed{background:#1a7f37}.verdict.rejected{background:#cf222e}
#reasons{font-size:1.05rem}#reasons li{margin:.2rem 0}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:1rem 0}.meta dt{color:var(--muted)}.meta dd{margin:0;word-break:break-all}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head)}#findings thead th{position:sticky;top:0;cursor:pointer;user-select:none;white-space:nowrap}
#findings th[aria-sort=ascending]::after{content:" \25B2"}#findings th[aria-sort=descending]::after{content:" \25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.purl,td.path{word-break:break-all}td.ver code,#findings td a{white-space:nowrap}
small,.muted{color:var(--muted)}
.sev{display:inline-block;min-width:4.5em;text-align:center;padding:.05rem .4rem;border-radius:.3rem;color:#fff;font-weight:600;font-size:.8rem}
.critical{background:#8b0000}.high{background:#d1242f}.medium{background:#9a6700}.low{background:#0969da}.unknown{background:#6e7781}
#counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1.5rem;font-size:1.1rem}#counts b{font-size:1.4rem;margin-left:.3rem}
#controls{display:flex;gap:1rem;align-items:center;margin:.5rem 0}#filter{font:inherit;padding:.3rem .5rem;min-width:20rem}
.waived{font-size:.75rem;border:1px solid var(--muted);border-radius:.3rem;padding:0 .3rem;margin-left:.3rem}
.alert{background:#ffebe9;border:1px solid #cf222e;padding:.5rem 1rem}
@media print{
body{margin:0;font-size:9pt;color:#000}
*{background:none!important;box-shadow:none!important}
#controls{display:none!important}
.verdict{color:#000;border:3px solid #000;font-size:2rem}.sev{color:#000;border:1px solid #000}
a{color:#000;text-decoration:none}
thead{display:table-header-group}#findings thead th{position:static}
tr,li{break-inside:avoid;page-break-inside:avoid}h2{break-after:avoid;page-break-after:avoid}
}
"#;

/// Sorting by header click, filtering by text and severity, and a filter from
/// the URL fragment. Reads the rows from the DOM; embeds no data.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var started = performance.now();
  var table = document.getElementById("findings");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var filter = document.getElementById("filter");
  var severity = document.getElementById("severity");
  var shown = document.getElementById("shown");
  function apply() {
    var query = filter.value.trim().toLowerCase();
    var level = severity.value;
    var visible = 0;
    for (var i = 0; i < rows.length; i++) {
      var show = (!level || rows[i].getAttribute("data-severity") === level) &&
        (!query || texts[i].indexOf(query) !== -1);
      rows[i].hidden = !show;
      if (show) { visible++; }
    }
    shown.textContent = visible + " of " + rows.length + " findings shown";
    document.body.dataset.visibleRows = String(visible);
  }
  function remember() {
    var params = new URLSearchParams();
    if (filter.value) { params.set("filter", filter.value); }
    if (severity.value) { params.set("severity", severity.value); }
    try { history.replaceState(null, "", "#" + params.toString()); } catch (e) { /* file: URLs may refuse */ }
  }
  function fromFragment() {
    var params = new URLSearchParams(location.hash.slice(1));
    filter.value = params.get("filter") || "";
    severity.value = params.get("severity") || "";
    if (severity.selectedIndex < 0) { severity.value = ""; }
    apply();
  }
  function key(row, column) {
    var cell = row.cells[column];
    var sortKey = cell.getAttribute("data-key");
    return sortKey !== null ? parseFloat(sortKey) : cell.textContent.trim().toLowerCase();
  }
  function sortBy(header) {
    var column = header.cellIndex;
    // A first click sorts numbers (severity, CVSS) highest first, text A to Z.
    var current = header.getAttribute("aria-sort");
    var numeric = rows.length > 0 && rows[0].cells[column].hasAttribute("data-key");
    var ascending = current ? current !== "ascending" : !numeric;
    var headers = header.parentNode.cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var order = rows.map(function (row, index) { return [key(row, column), index]; });
    order.sort(function (a, b) {
      var d = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
      return (ascending ? d : -d) || a[1] - b[1];
    });
    var fragment = document.createDocumentFragment();
    rows = order.map(function (pair) { return rows[pair[1]]; });
    texts = order.map(function (pair) { return texts[pair[1]]; });
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }
  table.tHead.addEventListener("click", function (event) {
    var header = event.target.closest("th");
    if (header) { sortBy(header); }
  });
  filter.addEventListener("input", function () { apply(); remember(); });
  severity.addEventListener("change", function () { apply(); remember(); });
  window.addEventListener("hashchange", fromFragment);
  document.getElementById("controls").hidden = false;
  fromFragment();
  var finished = performance.now();
  document.body.dataset.scriptMs = String(finished - started);
  document.body.dataset.renderMs = String(finished);
})();
"##;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Unknown,
];

/// Renders the gate report page for `report`.
pub fn write(report: &ImageReport, context: &ReportContext) -> Result<String, ReportError> {
    let mut out = String::with_capacity(estimated_size(report));
    // Writing into a `String` cannot fail and no `Display` here returns an
    // error; the mapping only keeps the signature honest.
    write_page(&mut out, report, context).map_err(|_| ReportError::Format {
        format: "report.html",
    })?;
    Ok(out)
}

/// Bytes the page will take, roughly, so the buffer is allocated once.
fn estimated_size(report: &ImageReport) -> usize {
    let rows: usize = report
        .platforms
        .iter()
        .map(|p| p.findings.len() * 900 + p.inventory.packages.len() * 450)
        .sum();
    STYLE.len() + SCRIPT.len() + 8 * 1024 + rows
}

fn write_page(out: &mut String, report: &ImageReport, context: &ReportContext) -> fmt::Result {
    let image = &report.image;
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} {}: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        verdict_word(report),
        Escaped(&image.repository),
        Escaped(short_digest(&image.digest)),
    )?;
    write_header(out, report)?;
    write_counts(out, report)?;
    write_findings(out, report)?;
    write_packages(out, &report.platforms)?;
    write_layers(out, &report.platforms)?;
    write_warnings(out, &report.platforms)?;
    write!(
        out,
        "<footer><p class=\"muted\">Generated by {} {} at {}.</p></footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        Escaped(&context.tool_name),
        Escaped(&context.tool_version),
        Time(context.timestamp),
    )
}

fn verdict_word(report: &ImageReport) -> &'static str {
    if report.verdict.passed {
        "PASSED"
    } else {
        "REJECTED"
    }
}

fn write_header(out: &mut String, report: &ImageReport) -> fmt::Result {
    let image = &report.image;
    let class = if report.verdict.passed {
        "passed"
    } else {
        "rejected"
    };
    write!(
        out,
        "<header>\n<h1>{}</h1>\n<p id=\"verdict\" class=\"verdict {class}\">{}</p>\n",
        Escaped(&image.repository),
        verdict_word(report),
    )?;
    write_reasons(out, report)?;
    out.push_str("<dl class=\"meta\">\n");
    let mut item =
        |name: &str, value: &dyn fmt::Display| writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
    item("Image", &Code(&image.repository))?;
    item("Digest", &Code(&image.digest))?;
    item("Media type", &Code(&image.media_type))?;
    item("Tags", &List(&image.tags))?;
    item("Tenant", &Escaped(&image.tenant))?;
    item(
        "Pushed by",
        &Escaped(image.pusher.as_deref().unwrap_or("unknown")),
    )?;
    item("Pushed at", &OptionalTime(image.pushed_at))?;
    item("Scanned at", &Time(report.scanned_at))?;
    item("Scan id", &Code(&report.scan_id))?;
    item("Policy", &Policy(report))?;
    item(
        "Vulnerability data age",
        &DataAge(report.vulnerability_data_age_seconds),
    )?;
    out.push_str("</dl>\n");
    write_excepted(out, &report.verdict.excepted)?;
    write_missing_data(out, &report.platforms)?;
    out.push_str("</header>\n");
    Ok(())
}

fn write_reasons(out: &mut String, report: &ImageReport) -> fmt::Result {
    out.push_str("<ul id=\"reasons\">\n");
    for reason in &report.verdict.reasons {
        writeln!(
            out,
            "<li data-rule=\"{rule}\"><code>{rule}</code>: {}</li>",
            Escaped(&reason.message),
            rule = Escaped(&reason.rule),
        )?;
    }
    out.push_str("</ul>\n");
    if report.verdict.passed && report.verdict.reasons.is_empty() {
        out.push_str("<p>Every rule of the policy passed.</p>\n");
    }
    Ok(())
}

fn write_excepted(out: &mut String, excepted: &[String]) -> fmt::Result {
    if excepted.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<details id=\"excepted\"><summary>{} finding(s) waived by policy exceptions</summary><ul>",
        excepted.len()
    )?;
    for entry in excepted {
        writeln!(out, "<li><code>{}</code></li>", Escaped(entry))?;
    }
    out.push_str("</ul></details>\n");
    Ok(())
}

fn write_missing_data(out: &mut String, platforms: &[ScanReport]) -> fmt::Result {
    for platform in platforms {
        let sentence = match platform.vulnerability_data {
            VulnerabilityData::Present => continue,
            VulnerabilityData::Missing => "had no vulnerability data: its findings prove nothing",
            VulnerabilityData::Skipped => "was not matched against vulnerability data",
        };
        writeln!(
            out,
            "<p class=\"alert\">Platform <code>{}</code> {sentence}.</p>",
            PlatformName(platform)
        )?;
    }
    Ok(())
}

fn write_counts(out: &mut String, report: &ImageReport) -> fmt::Result {
    out.push_str("<section>\n<h2>Findings per severity</h2>\n<ul id=\"counts\">\n");
    for severity in SEVERITIES {
        let name = severity.as_str();
        let count = report.verdict.counts.get(name).copied().unwrap_or(0);
        writeln!(
            out,
            "<li data-severity=\"{name}\"><span class=\"sev {name}\">{name}</span><b>{count}</b></li>"
        )?;
    }
    out.push_str("</ul>\n<p class=\"muted\">Counts are after policy exceptions.</p>\n</section>\n");
    Ok(())
}

fn write_findings(out: &mut String, report: &ImageReport) -> fmt::Result {
    let with_platform = report.platforms.len() > 1;
    let total: usize = report.platforms.iter().map(|p| p.findings.len()).sum();
    writeln!(out, "<section>\n<h2>Findings ({total})</h2>")?;
    write_controls(out, total)?;
    out.push_str("<table id=\"findings\">\n<thead><tr>");
    if with_platform {
        out.push_str("<th scope=\"col\">Platform</th>");
    }
    out.push_str(
        "<th scope=\"col\">ID</th><th scope=\"col\">Package</th><th scope=\"col\">Installed</th>\
         <th scope=\"col\">Fixed in</th><th scope=\"col\">Severity</th><th scope=\"col\">CVSS</th>\
         <th scope=\"col\">Summary</th></tr></thead>\n<tbody>\n",
    );
    let mut waiver_key = String::new();
    for platform in &report.platforms {
        for finding in &platform.findings {
            let waived = is_waived(&mut waiver_key, finding, &report.verdict.excepted);
            write_finding(out, with_platform.then_some(platform), finding, waived)?;
        }
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    Ok(())
}

fn write_controls(out: &mut String, total: usize) -> fmt::Result {
    out.push_str(
        "<div id=\"controls\" hidden>\
         <input id=\"filter\" type=\"search\" placeholder=\"Filter findings (id, package, summary...)\" aria-label=\"Filter findings\">\
         <select id=\"severity\" aria-label=\"Severity\"><option value=\"\">All severities</option>",
    );
    for severity in SEVERITIES {
        let name = severity.as_str();
        write!(out, "<option value=\"{name}\">{name}</option>")?;
    }
    writeln!(
        out,
        "</select><span id=\"shown\" class=\"muted\">{total} findings</span></div>"
    )
}

/// Whether a policy exception waived `finding` (`<id> <package>` entries).
fn is_waived(key: &mut String, finding: &Finding, excepted: &[String]) -> bool {
    if excepted.is_empty() {
        return false;
    }
    key.clear();
    key.push_str(&finding.id);
    key.push(' ');
    key.push_str(&finding.package.name);
    excepted.iter().any(|entry| entry == key)
}

fn write_finding(
    out: &mut String,
    platform: Option<&ScanReport>,
    finding: &Finding,
    waived: bool,
) -> fmt::Result {
    let severity = finding.severity.as_str();
    write!(out, "<tr data-severity=\"{severity}\">")?;
    if let Some(platform) = platform {
        write!(out, "<td>{}</td>", PlatformName(platform))?;
    }
    write!(
        out,
        "<td><a href=\"https://osv.dev/vulnerability/{}\">{}</a>",
        UrlSegment(&finding.id),
        Escaped(&finding.id)
    )?;
    if !finding.aliases.is_empty() {
        write!(out, "<br><small>{}</small>", List(&finding.aliases))?;
    }
    if waived {
        out.push_str("<span class=\"waived\">waived</span>");
    }
    let package = &finding.package;
    write!(
        out,
        "</td><td>{} <small>{}</small></td><td class=\"ver\"><code>{}</code></td><td class=\"ver\">{}</td>\
         <td data-key=\"{}\"><span class=\"sev {severity}\">{severity}</span></td>",
        Escaped(&package.name),
        Escaped(&package.ecosystem),
        Escaped(&package.version),
        Fixed(&finding.fixed_versions),
        severity_rank(finding.severity),
    )?;
    match finding.cvss_score {
        Some(score) => write!(
            out,
            "<td class=\"num\" data-key=\"{score}\" title=\"{}\">{score:.1}</td>",
            Escaped(finding.cvss_vector.as_deref().unwrap_or(""))
        )?,
        None => out.push_str("<td class=\"num\" data-key=\"-1\"></td>"),
    }
    writeln!(
        out,
        "<td>{}</td></tr>",
        Escaped(finding.summary.as_deref().unwrap_or(""))
    )
}

fn write_packages(out: &mut String, platforms: &[ScanReport]) -> fmt::Result {
    out.push_str("<section id=\"packages\">\n<h2>Packages</h2>\n");
    for platform in platforms {
        let packages = &platform.inventory.packages;
        writeln!(
            out,
            "<h3>{} ({} packages)</h3>\n<table class=\"packages\">\n<thead><tr><th>Ecosystem</th>\
             <th>Name</th><th>Version</th><th>Package URL</th><th>Layer</th><th>Path</th></tr></thead>\n<tbody>",
            PlatformName(platform),
            packages.len()
        )?;
        for package in packages {
            write_package(out, package)?;
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn write_package(out: &mut String, package: &Package) -> fmt::Result {
    let application = if package.application {
        " <small>(application)</small>"
    } else {
        ""
    };
    writeln!(
        out,
        "<tr><td>{}</td><td>{}{application}</td><td><code>{}</code></td><td class=\"purl\"><code>{}</code></td>\
         <td><code title=\"{}\">{}</code></td><td class=\"path\"><code>/{}</code></td></tr>",
        Escaped(&package.ecosystem),
        Escaped(&package.name),
        Escaped(&package.version),
        Escaped(&package.purl),
        Escaped(&package.layer),
        Escaped(short_digest(&package.layer)),
        Escaped(&package.path),
    )
}

fn write_layers(out: &mut String, platforms: &[ScanReport]) -> fmt::Result {
    out.push_str("<section id=\"layers\">\n<h2>Layers</h2>\n");
    for platform in platforms {
        let layers = &platform.inventory.layers;
        writeln!(
            out,
            "<h3>{} ({} layers)</h3>\n<table class=\"layers\">\n<thead><tr><th>#</th><th>Digest</th>\
             <th>Size</th><th>Created by</th></tr></thead>\n<tbody>",
            PlatformName(platform),
            layers.len()
        )?;
        for (index, layer) in layers.iter().enumerate() {
            writeln!(
                out,
                "<tr><td class=\"num\">{index}</td><td><code>{}</code></td>\
                 <td class=\"num\" title=\"{} bytes\">{}</td><td><code>{}</code></td></tr>",
                Escaped(&layer.digest),
                layer.size,
                Size(layer.size),
                Escaped(layer.created_by.as_deref().unwrap_or("")),
            )?;
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn write_warnings(out: &mut String, platforms: &[ScanReport]) -> fmt::Result {
    if platforms.iter().all(|p| p.warnings.is_empty()) {
        return Ok(());
    }
    out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
    for platform in platforms {
        for warning in &platform.warnings {
            writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                PlatformName(platform),
                Escaped(warning)
            )?;
        }
    }
    out.push_str("</ul>\n</section>\n");
    Ok(())
}

/// Sort key: higher is more severe.
fn severity_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 4,
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Unknown => 0,
    }
}

/// `sha256:` and the first 12 hex digits.
fn short_digest(digest: &str) -> &str {
    let end = digest
        .char_indices()
        .nth(19)
        .map_or(digest.len(), |(index, _)| index);
    &digest[..end]
}

/// Text escaped for HTML element content and quoted attribute values.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut start = 0;
        for (index, byte) in text.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&text[start..index])?;
            f.write_str(entity)?;
            start = index + 1;
        }
        f.write_str(&text[start..])
    }
}

/// A URL path segment: unreserved characters as they are, the rest
/// percent-encoded (which also makes it safe inside an attribute).
struct UrlSegment<'a>(&'a str);

impl fmt::Display for UrlSegment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
                f.write_char(char::from(byte))?;
            } else {
                write!(f, "%{byte:02X}")?;
            }
        }
        Ok(())
    }
}

/// Escaped text in `<code>`.
struct Code<'a>(&'a str);

impl fmt::Display for Code<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<code>{}</code>", Escaped(self.0))
    }
}

/// Escaped items joined by commas, or "none".
struct List<'a>(&'a [String]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<span class=\"muted\">none</span>");
        }
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            Escaped(item).fmt(f)?;
        }
        Ok(())
    }
}

/// Fixed versions, or a note that there is none.
struct Fixed<'a>(&'a [String]);

impl fmt::Display for Fixed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<span class=\"muted\">no fix</span>");
        }
        for (index, version) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "<code>{}</code>", Escaped(version))?;
        }
        Ok(())
    }
}

/// RFC 3339 in UTC, whole seconds, in a `<time>` element.
struct Time(OffsetDateTime);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Rfc3339Seconds(self.0);
        write!(f, "<time datetime=\"{text}\">{text}</time>")
    }
}

/// RFC 3339 in UTC, whole seconds (`2024-01-02T03:04:05Z`).
struct Rfc3339Seconds(OffsetDateTime);

impl fmt::Display for Rfc3339Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.to_offset(time::UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// A time, or "unknown".
struct OptionalTime(Option<OffsetDateTime>);

impl fmt::Display for OptionalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(time) => Time(time).fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

/// Whose policy decided, and its version.
struct Policy<'a>(&'a ImageReport);

impl fmt::Display for Policy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = &self.0.policy;
        match &policy.tenant {
            Some(tenant) => write!(f, "tenant <code>{}</code>", Escaped(tenant))?,
            None => f.write_str("global")?,
        }
        write!(f, ", version {}", policy.version)?;
        if policy.version == 0 {
            f.write_str(" (built-in default)")?;
        }
        Ok(())
    }
}

/// The age of the vulnerability data in words, or a warning when there was none.
struct DataAge(Option<u64>);

impl fmt::Display for DataAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(seconds) = self.0 else {
            return f.write_str("<strong>no vulnerability data</strong>");
        };
        let (days, hours, minutes) = (
            seconds / 86_400,
            seconds % 86_400 / 3600,
            seconds % 3600 / 60,
        );
        write!(f, "<span title=\"{seconds} seconds\">")?;
        match (days, hours, minutes) {
            (0, 0, 0) => write!(f, "{seconds} s")?,
            (0, 0, _) => write!(f, "{minutes} min")?,
            (0, _, _) => write!(f, "{hours} h {minutes} min")?,
            _ => write!(f, "{days} d {hours} h")?,
        }
        f.write_str("</span>")
    }
}

/// A platform's name: `os/architecture[/variant]`, else its reference.
struct PlatformName<'a>(&'a ScanReport);

impl fmt::Display for PlatformName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let artifact = &self.0.inventory.artifact;
        let Some(platform) = &artifact.platform else {
            return Escaped(&artifact.reference).fmt(f);
        };
        write!(
            f,
            "{}/{}",
            Escaped(&platform.os),
            Escaped(&platform.architecture)
        )?;
        if let Some(variant) = &platform.variant {
            write!(f, "/{}", Escaped(variant))?;
        }
        Ok(())
    }
}

/// A byte count in binary units.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        let text = Escaped(r#"<a href="x">Tom & 'Jerry'</a>"#).to_string();
        assert_eq!(
            text,
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(Escaped("plain ünïcode").to_string(), "plain ünïcode");
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(UrlSegment("GHSA-1234-abcd").to_string(), "GHSA-1234-abcd");
        assert_eq!(UrlSegment("a\"b/c d").to_string(), "a%22b%2Fc%20d");
    }

    #[test]
    fn data_age_reads_as_words() {
        for (seconds, words) in [
            (42, "42 s"),
            (600, "10 min"),
            (3 * 3600 + 120, "3 h 2 min"),
            (2 * 86_400 + 5 * 3600, "2 d 5 h"),
        ] {
            assert!(
                DataAge(Some(seconds)).to_string().contains(words),
                "{seconds}"
            );
        }
        assert!(DataAge(None).to_string().contains("no vulnerability data"));
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Size(29_000_000).to_string(), "27.7 MiB");
    }
}
