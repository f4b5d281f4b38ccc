//! Path hygiene for tar entries: every path the walker uses is relative to the
//! image root, without `.`/empty components, and can never point outside the
//! root. Two rules: entry names with a `..` that would climb above the root
//! are rejected; link targets are re-rooted (`/x` means `<root>/x`) and `..`
//! stops at the root, like a chroot would resolve them.

/// Normalises a tar entry name. `None` when a `..` climbs above the root.
pub(crate) fn normalize_entry_path(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in raw.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Resolves a link target inside the image root. `base_dir` is the directory
/// relative targets start from (the link's parent for symlinks, the root for
/// hardlinks); `..` is clamped at the root.
pub(crate) fn resolve_in_root(base_dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(base_dir.split('/').filter(|c| !c.is_empty() && *c != "."));
    }
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The parent directory of a normalised path (`""` for the root).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The last component of a normalised path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// Joins a directory and a name.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `path` is `dir` itself or lies below it (`dir == ""` is the root).
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_lose_dot_slash_and_leading_slash() {
        assert_eq!(
            normalize_entry_path("./etc/os-release").as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(
            normalize_entry_path("/usr//lib/./x").as_deref(),
            Some("usr/lib/x")
        );
        assert_eq!(
            normalize_entry_path("usr/lib/../bin/sh").as_deref(),
            Some("usr/bin/sh")
        );
        assert_eq!(normalize_entry_path("./").as_deref(), Some(""));
    }

    #[test]
    fn entry_paths_escaping_the_root_are_rejected() {
        assert_eq!(normalize_entry_path("../../etc/passwd"), None);
        assert_eq!(normalize_entry_path("a/../../etc/passwd"), None);
        assert_eq!(normalize_entry_path("/../x"), None);
    }

    #[test]
    fn link_targets_are_rerooted_and_clamped() {
        assert_eq!(
            resolve_in_root("etc", "../usr/lib/os-release"),
            "usr/lib/os-release"
        );
        assert_eq!(
            resolve_in_root("etc", "/../../../../host/etc/shadow"),
            "host/etc/shadow"
        );
        assert_eq!(resolve_in_root("a/b", "../../../../x"), "x");
        assert_eq!(resolve_in_root("a", "b/./c"), "a/b/c");
        assert_eq!(resolve_in_root("", "/abs"), "abs");
    }

    #[test]
    fn within_matches_whole_components_only() {
        assert!(is_within("usr/lib/x", "usr/lib"));
        assert!(is_within("usr/lib", "usr/lib"));
        assert!(!is_within("usr/libexec/x", "usr/lib"));
        assert!(is_within("anything", ""));
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(file_name("a/b/c"), "c");
        assert_eq!(join("", "c"), "c");
    }
}
