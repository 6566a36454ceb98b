//! The architecture's written invariants (docs/ARCHITECTURE.md), checked on the
//! source tree as rust-analyzer's tidy tests do: each fails naming the file at
//! fault and how to mend it. The OpenAPI invariant (every route documented) is
//! `gateway/tests/openapi.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file below `dir`, relative to the root, sorted.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(path: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join(dir), &mut found);
    found.sort();
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

/// The names of a manifest's `[dependencies]` (not dev- or build-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let key = line.split(['=', '.']).next().unwrap().trim();
            names.push(key.trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn the_domain_depends_on_no_runtime_database_web_or_messaging_crate() {
    let manifest = read(&root().join("domain/Cargo.toml"));
    let found = dependencies(&manifest);
    assert!(found.iter().any(|name| name == "cqrs-es"), "{found:?}");
    for forbidden in ["tokio", "sqlx", "axum", "async-nats", "reqwest", "hyper"] {
        assert!(
            !found.iter().any(|name| name == forbidden),
            "domain/Cargo.toml lists `{forbidden}` in [dependencies]: the domain is pure \
             (no I/O, no clock); put the I/O in gateway/ or projections/"
        );
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc_saying_what_it_is_for() {
    let mut undocumented = Vec::new();
    for dir in ["domain", "projections", "gateway", "tests"] {
        for path in rust_files(dir) {
            let text = read(&path);
            let first = text.lines().map(str::trim).find(|line| !line.is_empty());
            if !first.is_some_and(|line| line.starts_with("//!")) {
                undocumented.push(relative(&path));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "these files do not open with a `//!` doc saying what they are for: {undocumented:#?}"
    );
}

/// `migrations/CHECKSUMS`: `<sha256 hex>  <file name>` per committed migration.
const CHECKSUMS: &str = "migrations/CHECKSUMS";

#[test]
fn an_applied_migration_never_changes() {
    let listed: BTreeMap<String, String> = read(&root().join(CHECKSUMS))
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (sum, name) = line.split_once("  ").unwrap();
            (name.to_owned(), sum.to_owned())
        })
        .collect();
    let mut present = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "sql") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let sum = format!("{:x}", Sha256::digest(std::fs::read(&path).unwrap()));
            present.insert(name, sum);
        }
    }
    for (name, sum) in &listed {
        match present.get(name) {
            None => panic!("migration {name} was removed: an applied migration stays"),
            Some(now) => assert_eq!(
                now, sum,
                "migration {name} changed since it was committed: a database that applied it \
                 will refuse to start. Undo the change and add a new migration instead"
            ),
        }
    }
    for (name, sum) in &present {
        assert!(
            listed.contains_key(name),
            "new migration {name}: once it is final, add `{sum}  {name}` to {CHECKSUMS}"
        );
    }
}

/// The string literals of Rust source, roughly: enough to find SQL.
fn string_literals(source: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut chars = source.chars().peekable();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '/') if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '\'') => {
                // A char literal ('"' or '\"') or a lifetime: skip what a quote could hide.
                let mut ahead = chars.clone();
                match (ahead.next(), ahead.next(), ahead.next()) {
                    (Some('\\'), Some(_), Some('\'')) => {
                        chars.nth(2);
                    }
                    (Some(_), Some('\''), _) => {
                        chars.nth(1);
                    }
                    _ => {}
                }
            }
            (None, '"') => current = Some(String::new()),
            (Some(text), '\\') => {
                if let Some(next) = chars.next() {
                    text.push(next);
                }
            }
            (Some(_), '"') => literals.extend(current.take()),
            (Some(text), c) => text.push(c),
            (None, _) => {}
        }
    }
    literals
}

/// Whether SQL text changes a read-model table (or locks one).
fn writes_read_model(sql: &str) -> bool {
    let sql = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let names_read_model = sql.contains("read_model") || sql.contains("_schema}");
    let writes = [
        "insert into",
        "update ",
        "delete from",
        "truncate",
        "drop schema",
        "drop table",
        "alter table",
        "create table",
        "for update",
    ]
    .iter()
    .any(|verb| sql.contains(verb));
    names_read_model && writes
}

#[test]
fn only_projections_writes_the_read_models() {
    let mut offenders = Vec::new();
    for dir in ["domain/src", "gateway/src"] {
        for path in rust_files(dir) {
            for sql in string_literals(&read(&path)) {
                if writes_read_model(&sql) {
                    offenders.push(format!("{}: {}", relative(&path), sql.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "only `projections` writes `read_model.*`; move these statements there behind a \
         typed function: {offenders:#?}"
    );
}

#[test]
fn the_read_model_check_sees_statements_across_lines_and_ignores_reads() {
    let source = r#"
        let a = "SELECT * FROM read_model.licenses WHERE id = $1";
        let b = "UPDATE
            read_model.licenses SET hidden = true";
        let c = format!("SELECT 1 FROM {LIVE_SCHEMA}.checkpoints FOR UPDATE");
        let d = '"'; // "INSERT INTO read_model.x"
    "#;
    let flagged: Vec<String> = string_literals(source)
        .into_iter()
        .filter(|sql| writes_read_model(sql))
        .collect();
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert!(flagged[0].starts_with("UPDATE"));
    assert!(flagged[1].contains("FOR UPDATE"));
}

/// The module names a `lib.rs` or `mod.rs` declares.
fn declared_modules(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim)
        .filter_map(|line| {
            line.strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
        })
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_crate_layout_names_each_of_its_modules() {
    for lib in [
        "domain/src/lib.rs",
        "projections/src/lib.rs",
        "gateway/src/lib.rs",
        "tests/src/lib.rs",
    ] {
        let source = read(&root().join(lib));
        let layout: String = source
            .lines()
            .skip_while(|line| !line.starts_with("//! # Layout"))
            .take_while(|line| line.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!layout.is_empty(), "{lib} has no `# Layout` section");
        for module in declared_modules(&source) {
            assert!(
                layout.contains(&format!("[`{module}`]")),
                "{lib}'s `# Layout` does not say what [`{module}`] is for"
            );
        }
    }
}
