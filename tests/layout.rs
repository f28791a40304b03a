//! The layout of `src/` (docs/architecture.md §2.1): no source file over [`MAX_LINES`] lines of
//! non-test code, and no import cycle between files.
//!
//! The file graph is built from the text: every `use` declaration and every `crate::…` /
//! `super::…` / `self::…` path in a file's non-test code is an edge to the file that holds the
//! item named. A path is followed through the modules it names (`crate::store::filter` is
//! `src/store/filter/mod.rs`) and through `pub use` re-exports to the file that defines the item
//! (`crate::scim::filter::Filter` is `src/scim/filter/ast.rs`). A `pub use` line itself is a
//! name kept for callers, not a dependency of its file's code, and `mod x;` is structure: neither
//! is an edge. Test code (`#[cfg(test)] mod tests { … }` and `#[cfg(test)] mod tests;` files) is
//! left out of both checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The most lines of non-test code (documentation included) a file of `src/` may hold.
const MAX_LINES: usize = 800;

/// A module path below the crate root: `["store", "filter"]`.
type ModPath = Vec<String>;

/// One source file of the library.
struct SourceFile {
    /// Relative to the repository: `src/store/filter/mod.rs`.
    name: String,
    module: ModPath,
    /// The non-test code, comments removed.
    code: String,
    /// Lines of non-test code, documentation and comments included.
    lines: usize,
}

/// `pub use` re-exports of one module: the name callers use → the path it stands for
/// (absolute, from the crate root).
type Reexports = BTreeMap<String, ModPath>;

struct Crate {
    files: Vec<SourceFile>,
    /// Module path → index into `files`.
    modules: BTreeMap<ModPath, usize>,
    reexports: BTreeMap<ModPath, Reexports>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `[a, b]`, `src/a/mod.rs` → `[a]`, `src/lib.rs` → `[]`; `None` for the binary.
fn module_of(relative: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match (parts.is_empty(), stem) {
        (true, "lib") => Some(Vec::new()),
        (true, "main") => None,
        (_, "mod") => Some(parts),
        _ => {
            parts.push(stem.to_owned());
            Some(parts)
        }
    }
}

/// The text without `#[cfg(test)]` modules (inline blocks end at the first `}` in column 0)
/// and without comments, and the number of lines kept (comments and docs counted).
fn non_test_code(text: &str) -> (String, usize) {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // Other attributes may follow (`#[cfg(unix)]`) before the module.
            let mut attributes = vec![line];
            while let Some(next) = lines.next_if(|next| next.starts_with("#[")) {
                attributes.push(next);
            }
            if lines
                .peek()
                .is_some_and(|next| next.starts_with("mod ") && next.ends_with('{'))
            {
                for inner in lines.by_ref() {
                    if inner == "}" {
                        break;
                    }
                }
                continue;
            }
            kept.extend(attributes);
            continue;
        }
        kept.push(line);
    }
    let count = kept.len();
    let code = kept
        .iter()
        .map(|line| match line.find("//") {
            // `//` inside a string literal is rare in this code base and only loses a path.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    (code, count)
}

/// The test-only modules a file declares: `#[cfg(test)]` followed by `mod name;`.
fn test_modules(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == "#[cfg(test)]")
        .filter_map(|w| {
            let decl = w[1].trim();
            let name = decl
                .strip_prefix("pub(crate) mod ")
                .or_else(|| decl.strip_prefix("mod "))?
                .strip_suffix(';')?;
            Some(name.to_owned())
        })
        .collect()
}

/// The `use` declarations of `code`: (is a re-export, the tree after `use`).
fn use_declarations(code: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some((at, public)) = find_use(rest) {
        let after = &rest[at + "use ".len()..];
        let end = after.find(';').unwrap_or(after.len());
        out.push((public, after[..end].to_owned()));
        rest = &after[end..];
    }
    out
}

/// The next `use` declaration: where its `use` keyword is, and whether it is `pub` (any
/// visibility). rustfmt starts each declaration on its own line.
fn find_use(code: &str) -> Option<(usize, bool)> {
    let mut from = 0;
    while let Some(i) = code[from..].find("use ") {
        let at = from + i;
        from = at + 4;
        let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
        let lead = code[line_start..at].trim();
        if lead.is_empty() {
            return Some((at, false));
        }
        if lead == "pub" || (lead.starts_with("pub(") && lead.ends_with(')')) {
            return Some((at, true));
        }
    }
    None
}

/// Expands a use tree (`super::{self, a::B, c::{D as E}}`) into (name bound, path) pairs.
fn expand(tree: &str) -> Vec<(String, Vec<String>)> {
    let tokens: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    expand_into(&tokens, &[], &mut out);
    out
}

fn expand_into(tree: &str, prefix: &[String], out: &mut Vec<(String, Vec<String>)>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = segments(tree[..open].trim_end_matches("::"));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut base = prefix.to_vec();
        base.extend(head);
        for part in split_top(inner) {
            expand_into(part, &base, out);
        }
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p.trim(), Some(a.trim())),
        None => (tree, None),
    };
    if path.is_empty() {
        return;
    }
    let mut full = prefix.to_vec();
    let segs = segments(path);
    if segs == ["self"] {
        // `a::{self}` names `a`.
    } else {
        full.extend(segs);
    }
    let name = alias
        .map(str::to_owned)
        .or_else(|| full.last().cloned())
        .unwrap_or_default();
    out.push((name, full));
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits on the commas not nested in braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The paths written out in code: `crate::a::b`, `super::super::c`, `self::d`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let word_before = at > 0 && {
                let c = bytes[at - 1] as char;
                c.is_alphanumeric() || c == '_' || c == ':'
            };
            if word_before {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            out.push(segments(&code[at..end]));
        }
    }
    out
}

impl Crate {
    fn load() -> Crate {
        let root = src();
        let mut paths = Vec::new();
        rust_files(&root, &mut paths);
        let mut texts = BTreeMap::new();
        let mut test_only = BTreeSet::new();
        for path in &paths {
            let relative = path.strip_prefix(&root).unwrap().to_path_buf();
            let Some(module) = module_of(&relative) else {
                continue;
            };
            let text = fs::read_to_string(path).unwrap();
            for name in test_modules(&text) {
                let mut child = module.clone();
                child.push(name);
                test_only.insert(child);
            }
            texts.insert(module, (relative, text));
        }
        let mut files = Vec::new();
        let mut modules = BTreeMap::new();
        for (module, (relative, text)) in texts {
            if test_only.iter().any(|t| module.starts_with(t)) {
                continue;
            }
            let (code, lines) = non_test_code(&text);
            modules.insert(module.clone(), files.len());
            files.push(SourceFile {
                name: format!("src/{}", relative.display()),
                module,
                code,
                lines,
            });
        }
        let mut krate = Crate {
            files,
            modules,
            reexports: BTreeMap::new(),
        };
        for i in 0..krate.files.len() {
            let module = krate.files[i].module.clone();
            let mut table = Reexports::new();
            for (public, tree) in use_declarations(&krate.files[i].code) {
                if !public {
                    continue;
                }
                for (name, path) in expand(&tree) {
                    if let Some(abs) = krate.absolute(&module, &path) {
                        table.insert(name, abs);
                    }
                }
            }
            krate.reexports.insert(module, table);
        }
        krate
    }

    /// `path` as written in `module`, from the crate root; `None` for other crates.
    fn absolute(&self, module: &ModPath, path: &[String]) -> Option<ModPath> {
        let (first, rest) = path.split_first()?;
        let mut base = match first.as_str() {
            "crate" | "$crate" => Vec::new(),
            "self" => module.clone(),
            "super" => {
                let mut m = module.clone();
                m.pop()?;
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop()?;
                    rest = &rest[1..];
                }
                m.extend(rest.iter().cloned());
                return Some(m);
            }
            name => {
                // A child module named without `self::` (edition 2018 paths); else another crate.
                let mut child = module.clone();
                child.push(name.to_owned());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                child.extend(rest.iter().cloned());
                return Some(child);
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file holding the item an absolute path names.
    fn file_of(&self, path: &[String], depth: usize) -> Option<usize> {
        let mut module: ModPath = Vec::new();
        let mut at = 0;
        while at < path.len() {
            let mut next = module.clone();
            next.push(path[at].clone());
            if !self.modules.contains_key(&next) {
                break;
            }
            module = next;
            at += 1;
        }
        if let Some(name) = path.get(at)
            && depth < 16
            && let Some(target) = self.reexports.get(&module).and_then(|t| t.get(name))
        {
            let mut target = target.clone();
            target.extend(path[at + 1..].iter().cloned());
            if let Some(file) = self.file_of(&target, depth + 1) {
                return Some(file);
            }
        }
        self.modules.get(&module).copied()
    }

    /// For each file, the files its code uses (itself excluded).
    fn graph(&self) -> Vec<BTreeSet<usize>> {
        let mut graph = vec![BTreeSet::new(); self.files.len()];
        for (i, file) in self.files.iter().enumerate() {
            let mut paths = Vec::new();
            for (public, tree) in use_declarations(&file.code) {
                if !public {
                    paths.extend(expand(&tree).into_iter().map(|(_, p)| p));
                }
            }
            // Paths written in code; those inside `pub use` trees resolve to where they point,
            // which a re-export does not depend on, so they are taken from non-`pub` code only.
            let code_without_reexports = strip_reexports(&file.code);
            paths.extend(inline_paths(&code_without_reexports));
            for path in paths {
                let Some(abs) = self.absolute(&file.module, &path) else {
                    continue;
                };
                if let Some(target) = self.file_of(&abs, 0)
                    && target != i
                {
                    graph[i].insert(target);
                }
            }
        }
        graph
    }
}

/// The code without its `pub use …;` declarations.
fn strip_reexports(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some((at, public)) = find_use(rest) {
        let (prefix, after) = rest.split_at(at);
        let end = after.find(';').map_or(after.len(), |e| e + 1);
        if public {
            let line_start = prefix.rfind('\n').map_or(0, |n| n + 1);
            out.push_str(&prefix[..line_start]);
        } else {
            out.push_str(prefix);
            out.push_str(&after[..end]);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The cycles of `graph`: its strongly connected components of more than one file (Tarjan).
fn cycles(graph: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct Tarjan<'g> {
        graph: &'g [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        components: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in &self.graph[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    self.components.push(component);
                }
            }
        }
    }
    let n = graph.len();
    let mut t = Tarjan {
        graph,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.components
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let krate = Crate::load();
    assert!(krate.files.len() > 50, "the walk found too few files");
    let over: Vec<String> = krate
        .files
        .iter()
        .filter(|f| f.lines > MAX_LINES)
        .map(|f| format!("{}: {} lines of non-test code", f.name, f.lines))
        .collect();
    assert!(
        over.is_empty(),
        "split these files (at most {MAX_LINES} lines of non-test code each):\n{}",
        over.join("\n")
    );
}

#[test]
fn no_import_cycle_between_files() {
    let krate = Crate::load();
    let graph = krate.graph();
    // The graph is not empty: the resolution of paths works.
    let edges: usize = graph.iter().map(BTreeSet::len).sum();
    assert!(
        edges > 100,
        "only {edges} edges: the path resolution is broken"
    );
    let found: Vec<String> = cycles(&graph)
        .into_iter()
        .map(|component| {
            component
                .iter()
                .map(|&i| {
                    let uses: Vec<&str> = graph[i]
                        .iter()
                        .filter(|j| component.contains(j))
                        .map(|&j| krate.files[j].name.as_str())
                        .collect();
                    format!("  {} uses {}", krate.files[i].name, uses.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles between files (each block is one cycle):\n{}",
        found.join("\n\n")
    );
}

#[test]
fn the_graph_follows_reexports_and_sees_a_cycle() {
    // The checks above are only as good as the resolution: a path through a re-export reaches
    // the defining file, and a cycle planted in the graph is found.
    let krate = Crate::load();
    let filter = krate.modules[&vec!["scim".to_owned(), "filter".to_owned()]];
    let target = krate.file_of(&segments("scim::filter::Filter"), 0).unwrap();
    assert_ne!(
        target, filter,
        "`Filter` resolved to the re-exporting mod.rs"
    );
    assert!(krate.files[target].code.contains("pub enum Filter"));
    let mut graph = krate.graph();
    assert!(cycles(&graph).iter().all(|c| !c.contains(&target)));
    let scim = krate.modules[&vec!["scim".to_owned(), "schema".to_owned()]];
    graph[scim].insert(target);
    graph[target].insert(scim);
    assert!(cycles(&graph).iter().any(|c| c.contains(&target)));
}

#[test]
fn use_trees_expand() {
    let got = expand("super::{self, a::B, c::{D as E, F}}");
    let want: Vec<(String, Vec<String>)> = vec![
        ("super".to_owned(), segments("super")),
        ("B".to_owned(), segments("super::a::B")),
        ("E".to_owned(), segments("super::c::D")),
        ("F".to_owned(), segments("super::c::F")),
    ];
    assert_eq!(got, want);
}
