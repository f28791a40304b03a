//! The layers of docs/architecture.md §2, held by a test: `src/http/**` and `src/cli.rs` reach
//! the database only through `provisioning`. Neither may name the `store` module: no
//! `use crate::store…`, no `crate::store::…` or `store::…` path, no `store` in a grouped
//! `use crate::{…}`. Comments are not code and are skipped.
//!
//! A failure names every offending `file:line`; the fix is a function (or a re-export of what
//! it returns) in `src/provisioning/`, which the handler or command then calls.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The directories and files that must not name `store`, relative to the crate root.
const GUARDED: &[&str] = &["src/http", "src/cli.rs"];

#[test]
fn http_and_cli_never_name_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for guarded in GUARDED {
        rust_files(&root.join(guarded), &mut files);
    }
    assert!(
        files.len() > 10,
        "the guarded files were not found under {}: {files:?}",
        root.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (line, code) in store_references(&text) {
            found.push(format!("{shown}:{line}: {}", code.trim()));
        }
    }
    assert!(
        found.is_empty(),
        "http and cli must reach the database through provisioning (docs/architecture.md §2), \
         but these lines name `store`:\n  {}",
        found.join("\n  ")
    );
}

/// The checker itself: what it flags and what it lets through.
#[test]
fn the_checker_flags_every_way_of_naming_the_store() {
    let flagged = |code: &str| -> Vec<usize> {
        store_references(code)
            .into_iter()
            .map(|(line, _)| line)
            .collect()
    };
    assert_eq!(flagged("use crate::store::users::UserRow;"), [1]);
    assert_eq!(flagged("use crate::store;"), [1]);
    assert_eq!(flagged("let p = crate::store::events::PENDING;"), [1]);
    assert_eq!(flagged("fn f() -> store::Store { todo!() }"), [1]);
    assert_eq!(flagged("use super::super::store;"), [1]);
    assert_eq!(flagged("use crate::{auth, store};"), [1]);
    assert_eq!(
        flagged("use crate::{\n    auth,\n    store as db,\n};"),
        [3]
    );
    assert_eq!(flagged("use crate::{auth, store::{Store, orgs}};"), [1]);
    assert_eq!(flagged("x();\nuse crate::store::tokens::revoke;\n"), [2]);
    // Not the module: a field, a type re-exported by provisioning, comments, other words.
    assert!(flagged("state.store.ping().await").is_empty());
    assert!(flagged("use crate::provisioning::{Store, operator};").is_empty());
    assert!(flagged("// crate::store::users is not reached from here").is_empty());
    assert!(flagged("/// see [`store::users`]").is_empty());
    assert!(flagged("let restore = datastore::x; let stored = 1;").is_empty());
    assert!(flagged("let store = open_store(&settings)?;").is_empty());
}

/// Every `.rs` file at or under `path`.
fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_owned());
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for entry in entries {
        rust_files(&entry, out);
    }
}

/// The lines (1-based, with their code) of `text` that name the `store` module.
fn store_references(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    // Inside a `use` declaration that has not ended yet (its `;`).
    let mut in_use = false;
    for (index, line) in text.lines().enumerate() {
        let code = code_of(line);
        let trimmed = code.trim_start();
        let starts_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|p| trimmed.starts_with(p));
        in_use |= starts_use;
        let named = store_words(code).any(|(before, after)| {
            let after = after.trim_start();
            // A path through it (`store::…`), anywhere.
            after.starts_with("::")
                // The module itself as an item of a `use` (`crate::store;`, `{auth, store}`,
                // `store as db`).
                || (in_use
                    && (before.trim().is_empty()
                        || before.trim_end().ends_with("::")
                        || before.trim_end().ends_with('{')
                        || before.trim_end().ends_with(','))
                    && (after.is_empty()
                        || after.starts_with([',', '}', ';'])
                        || after.starts_with("as ")))
        });
        if named {
            found.push((index + 1, code.to_owned()));
        }
        if code.contains(';') {
            in_use = false;
        }
    }
    found
}

/// What is before and after each occurrence of the whole word `store` in `code`.
fn store_words(code: &str) -> impl Iterator<Item = (&str, &str)> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices("store").filter_map(move |(at, m)| {
        let (before, after) = (&code[..at], &code[at + m.len()..]);
        let bounded = !before.chars().next_back().is_some_and(word)
            && !after.chars().next().is_some_and(word)
            && !before.ends_with('.');
        bounded.then_some((before, after))
    })
}

/// A line without its `//` comment (doc comments included). Strings are not parsed: a `//`
/// inside one only hides the rest of the line from the check.
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}
