//! Cross-checks against the real reference tools on this machine: dpkg's
//! ordering against `dpkg --compare-versions`, rpm's against python3-rpm's
//! `rpm.labelCompare`, each over thousands of generated version pairs with a
//! fixed seed. A missing tool fails the test under CI (naming the package to
//! install) and is skipped loudly elsewhere.

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use airlock_version::{Dpkg, Rpm, VersionScheme};

/// splitmix64: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Either fails (under CI) or prints a loud banner and tells the caller to
/// skip.
fn tool_missing(tool: &str, package: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!(
            "{tool} is missing: install the Debian package `{package}` (apt-get install -y {package})"
        );
    }
    eprintln!("==================================================================");
    eprintln!("SKIPPED: {tool} missing; install `{package}` to run this cross-check");
    eprintln!("==================================================================");
    true
}

fn ordering_from_sign(n: i64) -> Ordering {
    n.cmp(&0)
}

// ---------------------------------------------------------------- dpkg

/// A piece of a Debian version: numbers (with leading zeros), letters of both
/// cases, and every separator that sorts specially (`~`, `+`, `.`).
fn dpkg_fragment(rng: &mut Rng) -> String {
    let pieces = [
        "0",
        "00",
        "1",
        "01",
        "2",
        "9",
        "10",
        "010",
        "99",
        "100",
        "123456789012",
        "a",
        "b",
        "z",
        "A",
        "Z",
        "ab",
        "rc",
        "dfsg",
        "ubuntu",
        "deb",
        "~",
        "~~",
        "~rc",
        "~a",
        "+",
        "+b",
        "+deb12u",
        ".",
        "+really",
        "~bpo",
        // characters dpkg only warns about, which sort after letters
        "_",
        "%",
        "=",
        "@",
    ];
    let mut s = String::new();
    for _ in 0..1 + rng.below(4) {
        s.push_str(rng.pick(&pieces));
    }
    s
}

fn dpkg_version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(25) {
        v.push_str(rng.pick(&["0", "1", "2", "10", "01"]));
        v.push(':');
    }
    if rng.chance(5) {
        // dpkg warns about an upstream version not starting with a digit
        v.push_str(rng.pick(&["a", "Z", "~", "+", "."]));
    }
    v.push_str(rng.pick(&["0", "1", "2", "10", "1.0", "2.36", "7.88.1", "0.9", "00"]));
    v.push_str(&dpkg_fragment(rng));
    if rng.chance(10) {
        // an upstream version with hyphens or colons (allowed when a
        // revision or an epoch is present)
        v.push_str(rng.pick(&["-1", "-a", ":1", ":a"]));
    }
    if rng.chance(60) {
        v.push('-');
        v.push_str(rng.pick(&["0", "1", "2", "10", "1ubuntu", "0.1", "a"]));
        if rng.chance(50) {
            v.push_str(&dpkg_fragment(rng));
        }
    }
    v
}

/// A near neighbour: a small edit, so many pairs are equal or nearly so.
fn mutate(rng: &mut Rng, v: &str, extra: &[&str]) -> String {
    let mut s = v.to_owned();
    match rng.below(4) {
        0 => s.push_str(rng.pick(extra)),
        1 if s.len() > 2 => {
            s.pop();
        }
        2 => {
            let zeros = rng.pick(&["0", "00"]);
            if let Some(i) = s.find(|c: char| c.is_ascii_digit()) {
                s.insert_str(i, zeros);
            }
        }
        _ => {}
    }
    s
}

#[test]
fn dpkg_matches_dpkg_compare_versions() {
    if Command::new("dpkg").arg("--version").output().is_err() && tool_missing("dpkg", "dpkg") {
        return;
    }
    let mut rng = Rng(0x00da_1c0c_ab1e_5eed);
    let mut pairs: Vec<(String, String)> = Vec::new();
    while pairs.len() < 2_500 {
        let a = dpkg_version(&mut rng);
        let b = if rng.chance(50) {
            mutate(&mut rng, &a, &["~", "+", "0", "a", "-1", ".0", "~~"])
        } else {
            dpkg_version(&mut rng)
        };
        // only versions we accept go to dpkg; rejections are checked below
        if Dpkg.validate(&a).is_ok() && Dpkg.validate(&b).is_ok() {
            pairs.push((a, b));
        }
    }
    let mut script = String::from("exec 2>/dev/null\n");
    for (a, b) in &pairs {
        script.push_str(&format!(
            "dpkg --compare-versions '{a}' lt '{b}'; l=$?; if [ $l = 1 ]; then dpkg --compare-versions '{a}' eq '{b}'; echo \"1 $?\"; else echo \"$l 9\"; fi\n"
        ));
    }
    let output = run_with_stdin("sh", &["-s"], &script);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), pairs.len(), "one answer per pair");
    let mut disagreements = Vec::new();
    for ((a, b), line) in pairs.iter().zip(&lines) {
        let want = match *line {
            "0 9" => Ordering::Less,
            "1 0" => Ordering::Equal,
            "1 1" => Ordering::Greater,
            other => panic!("dpkg failed on {a:?} vs {b:?}: {other}"),
        };
        let got = Dpkg.compare(a, b).unwrap();
        if got != want {
            disagreements.push(format!("{a} vs {b}: dpkg {want:?}, ours {got:?}"));
        }
    }
    let equal = lines.iter().filter(|l| **l == "1 0").count();
    eprintln!(
        "dpkg cross-check: {} pairs, {equal} equal, {} disagreements",
        pairs.len(),
        disagreements.len()
    );
    assert!(
        equal > 50,
        "the generator should produce equal pairs too ({equal})"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn dpkg_rejects_what_dpkg_rejects() {
    if Command::new("dpkg").arg("--version").output().is_err() && tool_missing("dpkg", "dpkg") {
        return;
    }
    let fixed = [
        "0:",
        ":1",
        "a:1",
        "1:",
        "1.0-",
        "0:0-",
        "1.0 1",
        "1:2:3",
        "1.0-0:0",
        "2147483647:1",
        "2147483648:1",
        "99999999999999999999:1",
        "+1:1",
        "1:-1",
        "abc",
        "1.0$",
        "1.0_1",
        "1.0-a_b",
        "0:0-0:0",
        "1.0-1-",
        "~",
        "1:a",
        "1.0-~",
        "01:1.0",
    ];
    // plus generated strings over an alphabet rich in separators (never
    // starting with `-`, which dpkg's command line would read as an option)
    let mut rng = Rng(0x0bad_0bad_5eed);
    let alphabet: Vec<char> = "0123456789az:-.~+_ $%".chars().collect();
    let mut generated: Vec<String> = Vec::new();
    while generated.len() < 600 {
        let len = 1 + rng.below(8);
        let v: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        if !v.starts_with('-') && !v.trim().is_empty() {
            generated.push(v);
        }
    }
    let candidates: Vec<&str> = fixed
        .iter()
        .copied()
        .chain(generated.iter().map(String::as_str))
        .collect();
    let mut script = String::from("exec 2>/dev/null\n");
    for v in &candidates {
        script.push_str(&format!(
            "dpkg --compare-versions '{v}' eq '{v}'; echo $?\n"
        ));
    }
    let output = run_with_stdin("sh", &["-s"], &script);
    assert_eq!(
        output.lines().count(),
        candidates.len(),
        "one answer per candidate"
    );
    let mut disagreements = Vec::new();
    let mut accepted = 0;
    for (v, code) in candidates.iter().zip(output.lines()) {
        let dpkg_accepts = code == "0";
        let ours = Dpkg.validate(v).is_ok();
        accepted += usize::from(ours);
        if dpkg_accepts != ours {
            disagreements.push(format!("{v:?}: dpkg accepts={dpkg_accepts}, ours={ours}"));
        }
    }
    eprintln!(
        "dpkg validity cross-check: {} strings, {accepted} accepted, {} disagreements",
        candidates.len(),
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

// ---------------------------------------------------------------- rpm

fn rpm_part(rng: &mut Rng) -> String {
    let pieces = [
        "0",
        "00",
        "1",
        "01",
        "2",
        "9",
        "10",
        "0010",
        "123456789012345678901",
        "a",
        "b",
        "z",
        "A",
        "Z",
        "rc",
        "el",
        "fc",
        "git",
        "p",
        ".",
        "_",
        "+",
        "~",
        "~~",
        "^",
        "^^",
        "~rc",
        "^git",
        ".el9",
        "_1",
        "..",
        "%",
        "{",
        "}",
    ];
    let mut s = String::new();
    for _ in 0..1 + rng.below(5) {
        s.push_str(rng.pick(&pieces));
    }
    s
}

struct Evr {
    epoch: Option<String>,
    version: String,
    release: Option<String>,
}

impl Evr {
    fn label(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.epoch {
            s.push_str(e);
            s.push(':');
        }
        s.push_str(&self.version);
        if let Some(r) = &self.release {
            s.push('-');
            s.push_str(r);
        }
        s
    }
}

fn rpm_evr(rng: &mut Rng) -> Evr {
    Evr {
        epoch: rng
            .chance(30)
            .then(|| rng.pick(&["0", "1", "2", "10", "01"]).to_owned()),
        version: rpm_part(rng),
        release: rng.chance(70).then(|| rpm_part(rng)),
    }
}

fn mutate_evr(rng: &mut Rng, v: &Evr) -> Evr {
    let extra = ["~", "^", ".", "0", "a", "_", "~rc1", "^1"];
    Evr {
        epoch: if rng.chance(20) {
            Some("0".to_owned())
        } else {
            v.epoch.clone()
        },
        version: if rng.chance(60) {
            mutate(rng, &v.version, &extra)
        } else {
            v.version.clone()
        },
        release: match &v.release {
            Some(r) if rng.chance(60) => Some(mutate(rng, r, &extra)),
            other => other.clone(),
        },
    }
}

const LABEL_COMPARE: &str = r#"
import sys, rpm
out = []
for line in sys.stdin:
    e1, v1, r1, e2, v2, r2 = line.rstrip("\n").split("\t")
    out.append(str(rpm.labelCompare((e1, v1, r1), (e2, v2, r2))))
sys.stdout.write("\n".join(out) + "\n")
"#;

#[test]
fn rpm_matches_python_rpm_label_compare() {
    let python = "/usr/bin/python3";
    let has_rpm = Command::new(python)
        .args(["-c", "import rpm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_rpm
        && tool_missing(
            "python3-rpm (import rpm under /usr/bin/python3)",
            "python3-rpm",
        )
    {
        return;
    }
    let mut rng = Rng(0x0072_706d_5eed_0001);
    let mut pairs: Vec<(Evr, Evr)> = Vec::new();
    while pairs.len() < 3_000 {
        let a = rpm_evr(&mut rng);
        let b = if rng.chance(50) {
            mutate_evr(&mut rng, &a)
        } else {
            rpm_evr(&mut rng)
        };
        if Rpm.validate(&a.label()).is_ok() && Rpm.validate(&b.label()).is_ok() {
            pairs.push((a, b));
        }
    }
    let mut input = String::new();
    for (a, b) in &pairs {
        for v in [a, b] {
            input.push_str(v.epoch.as_deref().unwrap_or("0"));
            input.push('\t');
            input.push_str(&v.version);
            input.push('\t');
            // a missing release compares like an empty one
            input.push_str(v.release.as_deref().unwrap_or(""));
            input.push('\t');
        }
        input.pop();
        input.push('\n');
    }
    let output = run_with_stdin(python, &["-c", LABEL_COMPARE], &input);
    let answers: Vec<i64> = output
        .lines()
        .map(|l| l.trim().parse().expect("labelCompare prints an integer"))
        .collect();
    assert_eq!(answers.len(), pairs.len(), "one answer per pair");
    let mut disagreements = Vec::new();
    for ((a, b), answer) in pairs.iter().zip(&answers) {
        let want = ordering_from_sign(*answer);
        let (la, lb) = (a.label(), b.label());
        let got = Rpm.compare(&la, &lb).unwrap();
        if got != want {
            disagreements.push(format!("{la} vs {lb}: rpm {want:?}, ours {got:?}"));
        }
    }
    let equal = answers.iter().filter(|a| **a == 0).count();
    eprintln!(
        "rpm cross-check: {} pairs, {equal} equal, {} disagreements",
        pairs.len(),
        disagreements.len()
    );
    assert!(
        equal > 50,
        "the generator should produce equal pairs too ({equal})"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn run_with_stdin(program: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("wait for reference tool");
    writer
        .join()
        .expect("writer thread")
        .expect("write to reference tool");
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
