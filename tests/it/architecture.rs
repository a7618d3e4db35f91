//! The crate's layers, checked from its imports: every `crate::…`, `super::…` and `self::…`
//! path in `src/` (tests inside `#[cfg(test)]` modules aside) is an edge between two files and
//! between their top-level modules; module edges run only downwards through [`LAYERS`] or
//! sideways within a layer, and neither the module graph nor the file graph has a cycle. The picture of the layers with each module's imports lives in
//! README.md between the `module-layers` markers; it must be what the imports say
//! (`LIFESYNC_WRITE_LAYERS=1 cargo test --test it architecture` rewrites it). And no statement
//! of the service runs on a bare pool, outside a transaction (`src/db/pinned.rs` says why).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

/// Top to bottom. A module may import modules of its own layer (without a cycle) or below.
const LAYERS: &[(&str, &[&str])] = &[
    ("entry points", &["bench", "dev"]),
    (
        "processes",
        &["bootstrap", "doctor", "embedded", "sandbox_link"],
    ),
    ("handlers", &["api", "workers", "scheduler"]),
    ("operations", &["services", "maintenance"]),
    (
        "engines",
        &["oauth", "normalizer", "providers", "webhooks", "timeline"],
    ),
    ("storage", &["db"]),
    ("observability", &["metrics"]),
    ("settings", &["config"]),
    ("plumbing", &["http", "outbound", "logging"]),
    ("trust", &["crypto", "tls"]),
    ("ground floor", &["domain"]),
];

const BEGIN: &str = "<!-- module-layers:begin (tests/it/architecture.rs writes this block) -->";
const END: &str = "<!-- module-layers:end -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module path of a source file (`src/providers/gmail.rs` → `["providers", "gmail"]`).
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root().join("src")).unwrap();
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Collects the crate-relative paths a file names, resolved to absolute module paths.
struct Imports {
    /// The file's own module path: what `self` names; `super` pops from it.
    module: Vec<String>,
    found: BTreeSet<Vec<String>>,
}

impl Imports {
    fn add(&mut self, segments: Vec<String>) {
        let mut segments = segments.into_iter().peekable();
        let mut base = match segments.peek().map(String::as_str) {
            Some("crate") => {
                segments.next();
                Vec::new()
            }
            Some("super") | Some("self") => self.module.clone(),
            _ => return,
        };
        while let Some(s) = segments.peek() {
            match s.as_str() {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            segments.next();
        }
        base.extend(segments);
        self.found.insert(base);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut s = prefix.clone();
                s.push(n.ident.to_string());
                self.add(s);
            }
            syn::UseTree::Rename(r) => {
                let mut s = prefix.clone();
                s.push(r.ident.to_string());
                self.add(s);
            }
            syn::UseTree::Glob(_) => self.add(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let is_test = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg")
                && a.parse_args::<syn::Meta>()
                    .is_ok_and(|meta| meta.path().is_ident("test"))
        });
        if !is_test {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    /// Macro arguments are tokens, not syntax: their `crate::a::…` paths are read off the
    /// token text.
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let text = m.tokens.to_string();
        let words: Vec<&str> = text.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            if *w != "crate" || words.get(i + 1) != Some(&"::") {
                continue;
            }
            let mut path = vec!["crate".to_string()];
            let mut j = i + 2;
            while let Some(ident) = words.get(j) {
                if !ident.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    break;
                }
                path.push(ident.to_string());
                if words.get(j + 1) != Some(&"::") {
                    break;
                }
                j += 2;
            }
            self.add(path);
        }
        syn::visit::visit_macro(self, m);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(segments);
        syn::visit::visit_path(self, p);
    }
}

/// Every product file's module path (`["providers", "gmail"]`) → the module paths its
/// `crate::`/`super::`/`self::` paths name (lib.rs and main.rs aside: the crate's map and
/// the binary).
fn imports_by_file() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if module.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let ast = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: not parsable: {e}", file.display()));
        let mut imports = Imports {
            module: module.clone(),
            found: BTreeSet::new(),
        };
        imports.visit_file(&ast);
        out.insert(module, imports.found);
    }
    out
}

/// The longest prefix of `path` that is a source file's module (`crate::providers::gmail::
/// Gmail` → `providers::gmail`), if any.
fn file_of(
    path: &[String],
    files: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| files.contains_key(p))
}

/// File (as `a/b`) → the files it imports.
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = imports_by_file();
    files
        .iter()
        .map(|(module, found)| {
            let deps = found
                .iter()
                .filter_map(|p| file_of(p, &files))
                .filter(|f| f != module)
                .map(|f| f.join("/"))
                .collect();
            (module.join("/"), deps)
        })
        .collect()
}

/// Top-level module → the top-level modules it imports.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, found) in imports_by_file() {
        let top = module[0].clone();
        let deps = graph.entry(top.clone()).or_default();
        for path in found {
            let Some(first) = path.first() else { continue };
            let src = root().join("src");
            let is_module = src.join(first).is_dir() || src.join(format!("{first}.rs")).is_file();
            if *first != top && is_module {
                deps.insert(first.clone());
            }
        }
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn picture(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = String::from("```\n");
    for (name, modules) in LAYERS {
        out.push_str(&format!("── {name} ──\n"));
        for m in *modules {
            let deps: Vec<&str> = graph
                .get(*m)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            if deps.is_empty() {
                out.push_str(&format!("  {m}\n"));
            } else {
                out.push_str(&format!("  {m} → {}\n", deps.join(", ")));
            }
        }
    }
    out.push_str("```\n");
    out
}

/// A cycle in the graph, if any (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_module_has_a_layer_and_imports_only_downwards() {
    let graph = module_graph();
    let mut problems = Vec::new();
    for (module, deps) in &graph {
        let Some(own) = layer_of(module) else {
            problems.push(format!("{module}: in no layer of tests/it/architecture.rs"));
            continue;
        };
        for dep in deps {
            match layer_of(dep) {
                Some(l) if l < own => problems.push(format!(
                    "{module} ({}) imports {dep}, a layer above ({})",
                    LAYERS[own].0, LAYERS[l].0
                )),
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

/// Within a module too: no two files import each other, directly or around a circle (a
/// parent's `mod child;` is not an import; a child naming its parent's items is).
#[test]
fn the_files_import_each_other_without_a_cycle() {
    let graph = file_graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle between files: {}", cycle.join(" → "));
    }
}

#[test]
fn the_readme_pictures_the_layers_as_the_imports_are() {
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let want = picture(&module_graph());
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the module-layers markers");
    };
    let have = &readme[b + BEGIN.len()..e];
    let have = have.trim_start_matches('\n');
    if have != want {
        if std::env::var_os("LIFESYNC_WRITE_LAYERS").is_some() {
            let new = format!("{}{BEGIN}\n{want}{}", &readme[..b], &readme[e..]);
            std::fs::write(&readme_path, new).unwrap();
        } else {
            panic!(
                "README.md's module picture is out of date; it should read:\n{want}\n\
                 (LIFESYNC_WRITE_LAYERS=1 cargo test --test it architecture writes it)"
            );
        }
    }
}

/// Finds statements run on a bare pool (`.execute(pool)`, `.fetch_all(&self.pool)`, …) and
/// connections taken from one (`.acquire()`): outside a transaction, a transaction-mode pooler
/// may split a statement's Parse and Bind over two server connections (`src/db/pinned.rs`).
#[derive(Default)]
struct BarePoolStatements {
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for BarePoolStatements {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        let runs = matches!(
            method.as_str(),
            "execute"
                | "execute_many"
                | "fetch"
                | "fetch_all"
                | "fetch_many"
                | "fetch_one"
                | "fetch_optional"
        );
        let names_a_pool = |e: &syn::Expr| {
            let mut e = e;
            while let syn::Expr::Reference(r) = e {
                e = &r.expr;
            }
            let last = match e {
                syn::Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                syn::Expr::Field(f) => match &f.member {
                    syn::Member::Named(n) => Some(n.to_string()),
                    syn::Member::Unnamed(_) => None,
                },
                _ => None,
            };
            last.is_some_and(|n| n == "pool" || n.ends_with("_pool"))
        };
        if runs && call.args.len() == 1 && names_a_pool(&call.args[0]) {
            self.found.push(format!(".{method}(…pool)"));
        }
        if method == "acquire" && call.args.is_empty() && names_a_pool(&call.receiver) {
            self.found.push("….pool.acquire()".to_string());
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

#[test]
fn every_statement_of_the_service_runs_in_a_transaction() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        // The benchmarks time the store against PostgreSQL directly, not the service's path.
        if file.starts_with(root().join("src/bench")) || file.ends_with("src/db/pinned.rs") {
            continue;
        }
        let ast = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut visitor = BarePoolStatements::default();
        visitor.visit_file(&ast);
        for f in visitor.found {
            offenders.push(format!("{}: {f}", file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "statements outside a transaction (use `db::pinned(pool)` or `pool.begin()`):\n{}",
        offenders.join("\n")
    );
}
