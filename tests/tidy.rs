//! The invariants of ARCHITECTURE.md that a reading of the source can
//! check, checked on every test run (as rust-analyzer's tidy test does):
//! printing only in `cli`, drivers only in `engine`, a doc comment at the
//! top of every module, and no import cycle between the top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles between top-level modules that are known and to be removed. A
/// new cycle fails the test; so does one of these once it is gone, so that
/// the list stays true. (Empty: the layers are acyclic.)
const KNOWN_CYCLES: &[&[&str]] = &[];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The file's lines that are code: comments (`//`, `///`, `//!`) dropped.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// zerodown's own sources: `src/` (the test application is an example).
fn zerodown_files() -> Vec<PathBuf> {
    rust_files(Path::new("src"))
}

/// The top-level module a file belongs to (`src/ops/column.rs` → `ops`),
/// or `None` for the crate roots.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Where a file's code matches `pattern` (a plain substring on a word
/// boundary), as `path:line`.
fn uses(files: &[PathBuf], words: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for path in files {
        for (n, line) in code_lines(path) {
            let hit = words.iter().any(|w| {
                line.match_indices(w).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            });
            if hit {
                out.push(format!("{}:{n}: {}", path.display(), line.trim()));
            }
        }
    }
    out
}

#[test]
fn only_cli_prints() {
    let files: Vec<PathBuf> = zerodown_files()
        .into_iter()
        .filter(|p| !p.starts_with("src/cli") && !p.ends_with("src/main.rs"))
        .collect();
    let found = uses(
        &files,
        &["println!", "eprintln!", "print!", "eprint!", "dbg!"],
    );
    assert!(
        found.is_empty(),
        "printing outside cli:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_engine_names_a_driver() {
    let files: Vec<PathBuf> = zerodown_files()
        .into_iter()
        .filter(|p| !p.starts_with("src/engine"))
        .collect();
    let found = uses(&files, &["tokio_postgres", "mysql_async", "rusqlite"]);
    assert!(
        found.is_empty(),
        "a driver outside engine:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_opens_with_its_doc_comment() {
    let missing: Vec<String> = zerodown_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "no `//!` doc comment first: {missing:?}"
    );
}

/// The top-level modules each one names (`crate::x`, `crate::{x, y}`).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in zerodown_files() {
        let Some(module) = module_of(&path) else {
            continue;
        };
        let code: String = code_lines(&path)
            .into_iter()
            .map(|(_, l)| l + "\n")
            .collect();
        let deps = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => top_level_names(group),
                None => vec![ident(rest)],
            };
            deps.extend(names.into_iter().filter(|n| !n.is_empty() && *n != module));
        }
    }
    graph
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first name of each item of a `{…}` use group.
fn top_level_names(group: &str) -> Vec<String> {
    let (mut depth, mut start, mut names) = (0, true, Vec::new());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && (c.is_alphanumeric() || c == '_') => {
                names.push(ident(&group[i..]));
                start = false;
            }
            _ => {}
        }
    }
    names
}

/// The strongly connected groups of more than one module.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    let reaches = |from: &str, to: &str| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from.to_string()]);
        while let Some(m) = todo.pop() {
            for d in graph.get(&m).into_iter().flatten() {
                if d == to {
                    return true;
                }
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        false
    };
    let mut out = BTreeSet::new();
    for a in graph.keys() {
        let group: Vec<String> = graph
            .keys()
            .filter(|b| *b == a || (reaches(a, b) && reaches(b, a)))
            .cloned()
            .collect();
        if group.len() > 1 {
            out.insert(group);
        }
    }
    out
}

#[test]
fn top_level_modules_import_each_other_in_no_cycle_but_the_known_ones() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the module graph was read: {graph:?}");
    let found = cycles(&graph);
    let known: BTreeSet<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|m| m.to_string()).collect())
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(
        new.is_empty(),
        "new import cycles: {new:?}\n(graph: {graph:#?})"
    );
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "cycles gone, remove them from KNOWN_CYCLES: {gone:?}"
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(m, ds)| (m.to_string(), ds.iter().map(|d| d.to_string()).collect()))
    .collect();
    let expected: BTreeSet<Vec<String>> =
        [vec!["a".to_string(), "b".to_string(), "c".to_string()]].into();
    assert_eq!(cycles(&graph), expected);
    assert_eq!(top_level_names("x::Y, z::{a, b}, w};"), ["x", "z", "w"]);
}

/// Arms that match `Operation` variants next to a catch-all arm (`_`,
/// a binding), and `let Operation::X … else` that catch the rest: each
/// hides a new variant from the compiler. Test modules may.
struct WildcardArms<'a> {
    file: &'a Path,
    found: Vec<String>,
}

fn names_operation(pat: &syn::Pat) -> bool {
    let path = match pat {
        syn::Pat::Struct(p) => &p.path,
        syn::Pat::TupleStruct(p) => &p.path,
        syn::Pat::Path(p) => &p.path,
        syn::Pat::Or(or) => return or.cases.iter().any(names_operation),
        _ => return false,
    };
    path.segments.len() >= 2 && path.segments[path.segments.len() - 2].ident == "Operation"
}

impl<'ast> syn::visit::Visit<'ast> for WildcardArms<'_> {
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        if m.arms.iter().any(|a| names_operation(&a.pat)) {
            for arm in &m.arms {
                if matches!(arm.pat, syn::Pat::Wild(_) | syn::Pat::Ident(_)) {
                    self.found.push(format!(
                        "{}: a catch-all arm in a match over Operation",
                        self.file.display()
                    ));
                }
            }
        }
        syn::visit::visit_expr_match(self, m);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let is_test = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
        });
        if !is_test {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if local.init.as_ref().is_some_and(|i| i.diverge.is_some()) && names_operation(&local.pat) {
            self.found
                .push(format!("{}: `let Operation::… else`", self.file.display()));
        }
        syn::visit::visit_local(self, local);
    }
}

#[test]
fn no_match_over_operation_has_a_catch_all_arm() {
    let mut found = Vec::new();
    // `tests.rs` files are test modules (`#[cfg(test)] mod tests;`).
    for path in zerodown_files()
        .into_iter()
        .filter(|p| !p.ends_with("tests.rs"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut visitor = WildcardArms {
            file: &path,
            found: Vec::new(),
        };
        syn::visit::Visit::visit_file(&mut visitor, &file);
        found.extend(visitor.found);
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The check sees one.
    let planted: syn::File =
        syn::parse_str("fn f(op: &Operation) { match op { Operation::Raw { .. } => {} _ => {} } }")
            .unwrap();
    let mut visitor = WildcardArms {
        file: Path::new("planted.rs"),
        found: Vec::new(),
    };
    syn::visit::Visit::visit_file(&mut visitor, &planted);
    assert_eq!(visitor.found.len(), 1);
}

#[test]
fn no_file_holds_a_merge_conflict_marker() {
    let out = std::process::Command::new("git")
        .args(["grep", "-n", "-E", "^(<<<<<<<|>>>>>>>) "])
        .output()
        .expect("run git grep");
    let found = String::from_utf8_lossy(&out.stdout);
    assert!(found.trim().is_empty(), "conflict markers:\n{found}");
}
