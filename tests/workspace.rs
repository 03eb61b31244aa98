//! Checks over the whole repository: what every crate and document promises.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn packages(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(root().join(dir))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.join("Cargo.toml").is_file());
    out.sort();
    out
}

#[test]
fn every_library_crate_has_a_readme_docs_lint_and_workspace_lints() {
    let crates = packages("crates");
    assert!(crates.len() >= 2, "expected the library crates under crates/");
    for krate in crates {
        let name = krate.file_name().unwrap().to_string_lossy().to_string();
        let readme = krate.join("README.md");
        assert!(readme.is_file(), "{name} has no README.md");
        assert!(fs::read_to_string(&readme).unwrap().len() > 200, "{name}'s README is a stub");
        let lib = fs::read_to_string(krate.join("src/lib.rs")).unwrap();
        assert!(
            lib.contains("#![deny(missing_docs)]"),
            "{name}/src/lib.rs lacks #![deny(missing_docs)]"
        );
        let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{name} does not inherit workspace lints"
        );
    }
}

#[test]
fn every_member_inherits_workspace_lints() {
    for dir in ["bins", "examples"] {
        for pkg in packages(dir) {
            let manifest = fs::read_to_string(pkg.join("Cargo.toml")).unwrap();
            assert!(
                manifest.contains("[lints]\nworkspace = true"),
                "{} does not inherit workspace lints",
                pkg.display()
            );
        }
    }
}

/// Relative markdown links `](path)` of a document.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !target.contains("://") && !target.starts_with('#') && !target.starts_with("mailto:") {
            links.push(target.split('#').next().unwrap().to_owned());
        }
    }
    links
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut stack = vec![root().join("docs"), root().join("crates"), root().join("bins")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for entry in rd.filter_map(Result::ok) {
            let p = entry.path();
            if p.is_dir() && !p.ends_with("target") {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = fs::read_to_string(&file).unwrap();
        for link in relative_links(&text) {
            if link.is_empty() {
                continue;
            }
            let target = file.parent().unwrap().join(&link);
            if !target.exists() {
                broken.push(format!("{} -> {link}", file.strip_prefix(root()).unwrap().display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn link_checker_finds_links() {
    let links = relative_links("see [a](docs/a.md#x) and [b](https://x.y) and [c](../c.md)");
    assert_eq!(links, ["docs/a.md", "../c.md"]);
}

#[test]
fn readme_quick_start_has_exactly_the_two_commands_and_ci_runs_the_test_one() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let quick = readme.split("## Quick start").nth(1).expect("README has a Quick start");
    let quick = quick.split("\n## ").next().unwrap();
    let block = quick.split("```sh").nth(1).unwrap().split("```").next().unwrap();
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, ["make demo", "make test"]);

    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "make test"), ".ci/run must run `make test`");
    let makefile = fs::read_to_string(root().join("Makefile")).unwrap();
    for needle in [
        "fmt --all --check",
        "clippy --locked --workspace --all-targets -- -D warnings",
        "test --locked --workspace",
        "RUSTDOCFLAGS=\"-D warnings\"",
    ] {
        assert!(makefile.contains(needle), "Makefile's test target lacks `{needle}`");
    }
}

#[test]
fn webhook_reference_exists_in_english_and_chinese_and_names_every_event() {
    let en = fs::read_to_string(root().join("docs/webhooks.md")).unwrap();
    let zh = fs::read_to_string(root().join("docs/zh/webhooks.md")).unwrap();
    for t in [
        "app_launch",
        "app_exit",
        "live_start",
        "live_end",
        "video_file_create",
        "video_file_finish",
        "video_transmux_finish",
        "title_change",
        "category_change",
        "error",
        "session_id",
    ] {
        assert!(en.contains(&format!("`{t}`")), "docs/webhooks.md does not document {t}");
        assert!(zh.contains(&format!("`{t}`")), "docs/zh/webhooks.md does not document {t}");
    }
}
