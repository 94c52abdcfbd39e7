//! The layer rules of ARCHITECTURE.md, checked on the sources: which top-level modules of the crate each layer may
//! name, that only the binding layer (`src/node/`) uses napi, that only `src/simd/` asks the CPU what it supports, and
//! that every module opens with a comment saying what it is for.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Each layer (a top-level module under `src/`) and the other top-level modules it must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("simd", &["kernels", "data", "nn", "models", "engine", "pool", "node"]),
    ("kernels", &["data", "nn", "models", "engine", "node"]),
    ("pool", &["data", "nn", "models", "engine", "node"]),
    ("data", &["nn", "models", "engine", "node"]),
    ("nn", &["data", "models", "engine", "node"]),
    ("models", &["node"]),
    ("engine", &["node"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without line comments (doc comments included), so that prose may name anything.
fn code_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal is rare in this crate; treat everything after it as comment.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file names through `crate::x` or `crate::{x, y::z}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start_of_item = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start_of_item = true,
                    c if c.is_whitespace() => {}
                    _ if start_of_item && depth == 0 => {
                        named.insert(identifier_at(&group[i..]).to_string());
                        start_of_item = false;
                    }
                    _ => {}
                }
            }
        } else {
            named.insert(identifier_at(rest).to_string());
        }
    }
    named
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[test]
fn layers_name_only_the_modules_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut violations = Vec::new();
    for (layer, forbidden) in FORBIDDEN {
        let mut files = Vec::new();
        let dir = src.join(layer);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let single = src.join(format!("{layer}.rs"));
        if single.is_file() {
            files.push(single);
        }
        assert!(!files.is_empty(), "layer {layer} has no sources");
        for file in files {
            for module in crate_modules(&code_of(&file)) {
                if forbidden.contains(&module.as_str()) {
                    violations.push(format!("{} names crate::{module}", relative(&file, root)));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layer rules broken:\n{}", violations.join("\n"));
}

#[test]
fn only_the_binding_uses_napi_and_only_simd_probes_the_cpu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let code = code_of(file);
        let in_binding = file.starts_with(src.join("node"));
        let in_simd = file.starts_with(src.join("simd"));
        let uses_napi = ["napi::", "napi_derive", "#[napi", "use napi"].iter().any(|p| code.contains(p));
        if uses_napi && !in_binding {
            violations.push(format!("{} uses napi outside src/node/", relative(file, root)));
        }
        if code.contains("is_x86_feature_detected") && !in_simd {
            violations.push(format!("{} probes the CPU outside src/simd/", relative(file, root)));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn every_module_says_what_it_is_for() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let silent: Vec<String> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).is_ok_and(|t| t.starts_with("//!")))
        .map(|f| relative(f, root))
        .collect();
    assert!(silent.is_empty(), "modules whose first line is not a `//!` comment:\n{}", silent.join("\n"));
}

#[test]
fn the_checker_reads_grouped_and_plain_paths() {
    let code = "use crate::{nn::Linear, models::{a, b}, engine};\nfn f() { crate::data::x(); }";
    let named: Vec<String> = crate_modules(code).into_iter().collect();
    assert_eq!(named, ["data", "engine", "models", "nn"]);
}
