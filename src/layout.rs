//! The import rules between modules, checked against the source tree.
//!
//! Owns: the table of which module may not name which (the `Layout`
//! section of the crate docs, as data) and a test that reads every
//! `src/**/*.rs` and fails when a file names a forbidden module through a
//! `crate::` path (`use crate::core::X`, `use crate::{core, ..}`,
//! `crate::core::f()` in an expression). Comments are ignored; so is test
//! code (`tests.rs` files and a trailing `#[cfg(test)] mod tests { .. }`)
//! where a rule says so. And a second test that builds the graph of the
//! crate's top-level modules from the same `crate::` names (test code
//! included) and fails on any cycle, printing it with the files that make
//! each edge.
//! Must not touch: anything at run time; this module is compiled for tests
//! only.
//!
//! Enforced now:
//! - `sdk` (the backend contract) names nothing of the crate but `crypto`.
//! - Secrets engines (`logical` itself, `logical::{kv, cubbyhole, identity,
//!   apikeys, fields}`) and auth methods (`auth` itself, `auth::{approle,
//!   userpass, tokenutil, cidr}`) never name `core`, `router`, `audit`,
//!   `http`, `server`, `policy` or `expiration`; engines do not name `auth`
//!   either. They see their mount as the contract's `MountPoint`.
//! - Outside their tests, those engines and auth methods, and `audit`,
//!   `policy`, `expiration` and `router`, never name `physical`: they reach
//!   storage through the barrier.
//! - `http` names nothing of the crate but `core`, `sdk`, `crypto` and
//!   `config`: it calls the core, never an engine, the router or storage.
//! - No `static` in `src/` holds mutable state (a lock, a cell, an atomic,
//!   a lazily built value; `static mut`, `thread_local!`, `lazy_static!`)
//!   outside [`GLOBAL_STATE_ALLOWED`] (a test fixture): a mount's state
//!   lives in its backend instance, shared state in the unsealed state.
//! - `audit` names neither `core` nor `auth`: the core hands it flat
//!   records (`TokenRecord`, `ErrorRecord`) built from its own types.
//! - No cycle among the top-level modules (`core`, `logical`, `auth`,
//!   `audit`, `router`, `policy`, `expiration`, `sdk`, `barrier`, ...):
//!   `core` sits above the engines, the auth methods, the router, policy,
//!   expiration and audit; none of them names it. The `sys/` handlers and
//!   the token store are parts of `core` (`core::system`,
//!   `core::token_store`).
//!
//! An edge may be set aside, by file, while the work that removes it is
//! under way ([`PENDING`]; the test fails once the edge is gone, so the
//! entry goes with it). None is set aside today.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Names a file may still use until the work that removes them lands, as
/// (file relative to `src/`, top-level module named). Exempt from the rules
/// and left out of the module graph; a stale entry fails the test.
/// Empty now: the last one (apikeys' scheduler walking the router) went
/// when the core's scheduler took over the mounts' periodic work.
const PENDING: &[(&str, &str)] = &[];

/// One rule: files under any of `scope` (paths relative to `src/`, a
/// directory or a file) must not name any of `forbidden` (top-level
/// modules of the crate).
struct Rule {
    scope: &'static [&'static str],
    /// Allowed names are everything else; `only` turns the rule around:
    /// the files may name nothing of the crate but these.
    forbidden: &'static [&'static str],
    only: Option<&'static [&'static str]>,
    /// Whether test code is exempt.
    skip_tests: bool,
    why: &'static str,
}

const ENGINES: &[&str] = &[
    "logical/mod.rs",
    "logical/fields.rs",
    "logical/cubbyhole.rs",
    "logical/kv",
    "logical/identity",
    "logical/apikeys",
];

const AUTH_METHODS: &[&str] = &[
    "auth/mod.rs",
    "auth/approle",
    "auth/userpass",
    "auth/jwt",
    "auth/tokenutil.rs",
    "auth/cidr.rs",
];

const ABOVE_BARRIER: &[&str] = &[
    "logical/mod.rs",
    "logical/fields.rs",
    "logical/cubbyhole.rs",
    "logical/kv",
    "logical/identity",
    "logical/apikeys",
    "auth/approle",
    "auth/userpass",
    "auth/jwt",
    "auth/tokenutil.rs",
    "auth/cidr.rs",
    "audit",
    "policy",
    "expiration",
    "router",
];

const RULES: &[Rule] = &[
    Rule {
        scope: &["sdk"],
        forbidden: &[],
        only: Some(&["crypto"]),
        skip_tests: false,
        why: "the backend contract is a leaf",
    },
    Rule {
        scope: ENGINES,
        forbidden: &[
            "core",
            "router",
            "auth",
            "audit",
            "http",
            "server",
            "policy",
            "expiration",
        ],
        only: None,
        skip_tests: false,
        why: "secrets engines see only the contract (sdk), their storage view and crypto",
    },
    Rule {
        scope: AUTH_METHODS,
        forbidden: &[
            "core",
            "router",
            "audit",
            "http",
            "server",
            "policy",
            "expiration",
        ],
        only: None,
        skip_tests: false,
        why: "auth methods see only the contract (sdk), their storage view and crypto",
    },
    Rule {
        scope: ABOVE_BARRIER,
        forbidden: &["physical"],
        only: None,
        skip_tests: true,
        why: "nothing above the barrier touches physical storage",
    },
    Rule {
        scope: &["audit"],
        forbidden: &["core", "auth"],
        only: None,
        skip_tests: false,
        why: "audit records what the core hands it (flat records), not core or token types",
    },
    Rule {
        scope: &["http"],
        forbidden: &[],
        only: Some(&["core", "sdk", "crypto", "config"]),
        skip_tests: false,
        why: "http only calls the core",
    },
];

/// `text` without `//` comments (line, doc and inner doc). Block comments
/// are not used in this crate's imports; string literals holding `//` at
/// worst hide the rest of their line, never add a name.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without a trailing `#[cfg(test)] mod tests { .. }` (the crate's
/// convention puts unit tests last).
fn strip_tests(text: &str) -> &str {
    let mut search = 0;
    while let Some(i) = text[search..].find("#[cfg(test)]") {
        let at = search + i;
        let rest = text[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod tests {") {
            return &text[..at];
        }
        search = at + 1;
    }
    text
}

/// The top-level crate modules a piece of code names through `crate::`.
fn named_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `vault_rs_crate::` or `my_crate::` are not `crate::`.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest_trim = rest.trim_start();
        if let Some(group) = rest_trim.strip_prefix('{') {
            // `crate::{a::b, c}`: the first segment of each top-level item.
            let mut depth = 0usize;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        item.push(c);
                    }
                    '}' if depth == 0 => break,
                    '}' => {
                        depth -= 1;
                        item.push(c);
                    }
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ => item.push(c),
                }
            }
            items.push(item);
            for it in items {
                let name = first_ident(it.trim());
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name = first_ident(rest_trim);
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn in_scope(rel: &str, scope: &[&str]) -> bool {
    scope.iter().any(|s| {
        rel == *s
            || rel
                .strip_prefix(s)
                .is_some_and(|tail| tail.starts_with('/'))
    })
}

/// Every violation of `rules` in `files` (path relative to `src/`, text).
fn violations(rules: &[Rule], files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, text) in files {
        let code = strip_comments(text);
        for rule in rules.iter().filter(|r| in_scope(rel, r.scope)) {
            let code = if rule.skip_tests {
                if rel.ends_with("/tests.rs") || rel == "tests.rs" {
                    continue;
                }
                strip_tests(&code)
            } else {
                &code
            };
            for name in named_modules(code) {
                if PENDING.contains(&(rel.as_str(), name.as_str())) {
                    continue;
                }
                let bad = match rule.only {
                    Some(allowed) => !allowed.contains(&name.as_str()),
                    None => rule.forbidden.contains(&name.as_str()),
                };
                if bad {
                    found.push(format!("src/{rel} names crate::{name} ({})", rule.why));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_forbidden_import_in_the_source_tree() {
    let files = source_files();
    // The scan must see the modules it rules on, or it proves nothing.
    for must in [
        "sdk/mod.rs",
        "logical/kv/v2/data.rs",
        "auth/approle/mod.rs",
        "http/handler.rs",
        "audit/entry.rs",
    ] {
        assert!(files.iter().any(|(r, _)| r == must), "{must} not scanned");
    }
    let found = violations(RULES, &files);
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_every_form_of_import() {
    let file = |rel: &str, text: &str| vec![(rel.to_string(), text.to_string())];
    let bad = [
        "use crate::core::Response;",
        "use crate::core::{Active, Core};",
        "use crate::{core::Core, crypto};",
        "use crate::{\n    crypto::SecretString,\n    core,\n};",
        "fn f() { let _ = crate::core::time::unix_now(); }",
        "pub(crate) use crate::audit::AuditBroker;",
    ];
    for text in bad {
        assert!(
            !violations(RULES, &file("logical/kv/v1.rs", text)).is_empty(),
            "missed: {text}"
        );
    }
    let fine = [
        "use crate::sdk::{Operation, Response};",
        "use crate::barrier::StorageView;",
        "// use crate::core::Response;",
        "/// [`Core`]: crate::core::Core",
        "use vault_rs_crate::core::X;",
        "use crate::{crypto, sdk::Response};",
    ];
    for text in fine {
        let v = violations(RULES, &file("logical/kv/v1.rs", text));
        assert!(v.is_empty(), "flagged {text}: {v:?}");
    }
    // The leaf may name crypto and nothing else.
    assert!(violations(RULES, &file("sdk/request.rs", "use crate::crypto::X;")).is_empty());
    assert!(!violations(RULES, &file("sdk/request.rs", "use crate::router::X;")).is_empty());
    // audit takes flat records: no core or token types, in tests either.
    for text in [
        "use crate::core::CoreError;",
        "use crate::auth::token::TokenEntry;",
    ] {
        assert!(!violations(RULES, &file("audit/entry.rs", text)).is_empty());
        assert!(!violations(
            RULES,
            &file(
                "audit/mod.rs",
                &format!("#[cfg(test)]\nmod tests {{\n    {text}\n}}\n")
            )
        )
        .is_empty());
    }
    assert!(violations(RULES, &file("audit/entry.rs", "use crate::sdk::Response;")).is_empty());
    // http must not reach storage.
    assert!(!violations(RULES, &file("http/mod.rs", "use crate::barrier::Barrier;")).is_empty());
    // Test code may use an in-memory physical backend; other code may not.
    let tail = "use crate::barrier::X;\n#[cfg(test)]\nmod tests {\n    use crate::physical::InmemBackend;\n}\n";
    assert!(violations(RULES, &file("logical/identity/mod.rs", tail)).is_empty());
    assert!(violations(
        RULES,
        &file("logical/kv/v2/tests.rs", "use crate::physical::X;")
    )
    .is_empty());
    assert!(!violations(
        RULES,
        &file("logical/kv/v2/data.rs", "use crate::physical::X;")
    )
    .is_empty());
    // Scopes match whole path segments: `logical/kvx` is not `logical/kv`.
    assert!(violations(RULES, &file("logical/kvx/a.rs", "use crate::core::X;")).is_empty());
    assert!(!violations(RULES, &file("logical/kv/a.rs", "use crate::core::X;")).is_empty());
}

/// The top-level module a file belongs to (`core/system/mod.rs` → `core`,
/// `server/tls.rs` and `server.rs` → `server`); `None` for the crate root
/// and this file (it names modules in its examples).
fn top_module(rel: &str) -> Option<&str> {
    if rel == "lib.rs" || rel == "layout.rs" {
        return None;
    }
    let first = rel.split('/').next()?;
    Some(first.strip_suffix(".rs").unwrap_or(first))
}

/// The module graph: module → module it names → the files that name it.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The graph of the crate's top-level modules, from every `crate::` name in
/// `files` (test code included: a test that needs a module above its own
/// is a cycle too), without the `pending` edges.
fn module_graph(files: &[(String, String)], pending: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (rel, text) in files {
        let Some(from) = top_module(rel) else {
            continue;
        };
        let node = graph.entry(from.to_string()).or_default();
        for name in named_modules(&strip_comments(text)) {
            if name == from || pending.contains(&(rel.as_str(), name.as_str())) {
                continue;
            }
            node.entry(name).or_default().insert(format!("src/{rel}"));
        }
    }
    graph
}

/// The strongly connected components of `graph` with more than one module
/// (each holds a cycle), by Tarjan's algorithm.
fn cyclic_components(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            let graph = self.graph;
            for w in graph.get(v).into_iter().flat_map(|m| m.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.out
}

/// One cycle through `component` (its first module back to itself, by a
/// shortest path), each edge with the files that make it:
/// `core → logical (src/logical/a.rs) → core (src/core/b.rs)`.
fn describe_cycle(graph: &Graph, component: &[String]) -> String {
    let start = component[0].as_str();
    let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    // Breadth-first from `start` inside the component, back to `start`.
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut closing = None;
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flat_map(|m| m.keys()) {
            let w = w.as_str();
            if w == start {
                closing = Some(v);
                break;
            }
            if inside.contains(w) && !parent.contains_key(w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
        if closing.is_some() {
            break;
        }
    }
    let mut path = vec![start];
    let mut v = closing.unwrap_or(start);
    while v != start {
        path.push(v);
        v = parent[v];
    }
    path.push(start);
    let n = path.len();
    path[1..n - 1].reverse();
    let mut out = start.to_string();
    for pair in path.windows(2) {
        let files = &graph[pair[0]][pair[1]];
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        out.push_str(&format!(" → {} ({})", pair[1], files.join(", ")));
    }
    out
}

#[test]
fn no_cycle_among_the_top_level_modules() {
    let files = source_files();
    let graph = module_graph(&files, PENDING);
    // The graph must hold the edges the layout is about, or it proves
    // nothing.
    for (from, to) in [
        ("core", "logical"),
        ("core", "auth"),
        ("core", "audit"),
        ("core", "router"),
        ("router", "logical"),
        ("auth", "logical"),
        ("http", "core"),
        ("server", "core"),
    ] {
        assert!(
            graph.get(from).is_some_and(|m| m.contains_key(to)),
            "the module graph misses {from} → {to}"
        );
    }
    let cycles: Vec<String> = cyclic_components(&graph)
        .iter()
        .map(|c| format!("{{{}}}: {}", c.join(", "), describe_cycle(&graph, c)))
        .collect();
    assert!(
        cycles.is_empty(),
        "module cycles (each: the modules caught in it, then one cycle \
         with the files that make each edge):\n{}",
        cycles.join("\n")
    );
    // A pending edge that is gone must leave the list with it.
    for (rel, name) in PENDING {
        let names = files
            .iter()
            .find(|(r, _)| r == rel)
            .map(|(_, t)| named_modules(&strip_comments(t)))
            .unwrap_or_default();
        assert!(
            names.iter().any(|n| n == name),
            "PENDING lists src/{rel} → {name}, which is gone: remove the entry"
        );
    }
}

#[test]
fn the_cycle_check_finds_cycles_and_only_them() {
    let files = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .collect()
    };
    // A chain is fine.
    let chain = files(&[
        ("core/mod.rs", "use crate::logical::X;"),
        ("logical/kv/a.rs", "use crate::{sdk::Y, barrier};"),
        ("sdk/mod.rs", "use crate::crypto::Z;"),
        ("barrier/mod.rs", "use crate::crypto::Z;"),
        ("lib.rs", "use crate::core::Core;"),
        ("layout.rs", "\"use crate::core::X;\""),
    ]);
    let g = module_graph(&chain, &[]);
    assert!(cyclic_components(&g).is_empty(), "{g:?}");
    assert!(!g.contains_key("lib") && !g.contains_key("layout"));
    // Two modules naming each other, in code or in a test.
    let two = files(&[
        ("core/pipeline.rs", "use crate::logical::X;"),
        (
            "logical/kv/v1.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::core::Core;\n}\n",
        ),
    ]);
    let g = module_graph(&two, &[]);
    let found = cyclic_components(&g);
    assert_eq!(found, vec![vec!["core".to_string(), "logical".to_string()]]);
    assert_eq!(
        describe_cycle(&g, &found[0]),
        "core → logical (src/core/pipeline.rs) → core (src/logical/kv/v1.rs)"
    );
    // A pending edge is left out.
    let g = module_graph(&two, &[("logical/kv/v1.rs", "core")]);
    assert!(cyclic_components(&g).is_empty());
    // A longer cycle, beside a module outside it; the cycle printed runs
    // through every edge it names.
    let three = files(&[
        ("audit/mod.rs", "use crate::auth::X;"),
        ("auth/mod.rs", "fn f() { crate::core::g(); }"),
        ("core/mod.rs", "use crate::{audit, sdk::Request};"),
        ("sdk/mod.rs", "use crate::crypto::X;"),
        ("server.rs", "use crate::core::Core;"),
        ("server/tls.rs", "use crate::server::X;"),
    ]);
    let g = module_graph(&three, &[]);
    let found = cyclic_components(&g);
    assert_eq!(
        found,
        vec![vec![
            "audit".to_string(),
            "auth".to_string(),
            "core".to_string()
        ]]
    );
    assert_eq!(
        describe_cycle(&g, &found[0]),
        "audit → auth (src/audit/mod.rs) → core (src/auth/mod.rs) → audit (src/core/mod.rs)"
    );
    // `server/tls.rs` is part of `server`: no self-edge, no cycle.
    assert!(!g["server"].contains_key("server"));
}

/// Process-wide mutable state (`static` items holding a lock, a cell, an
/// atomic or a lazily built value; `static mut`; `thread_local!`;
/// `lazy_static!`) allowed in `src/`, as (file relative to `src/`, item
/// name). Everything else that holds state per mount lives in the mount's
/// backend instance or in the unsealed state (`core::Active`).
const GLOBAL_STATE_ALLOWED: &[(&str, &str)] = &[
    // Test fixture: one unsealed core shared by the property test's cases.
    ("core/path_props.rs", "FIXTURE"),
];

/// Type names that make a `static` mutable state.
const STATEFUL_TYPES: &[&str] = &[
    "Mutex",
    "RwLock",
    "OnceLock",
    "OnceCell",
    "LazyLock",
    "LazyCell",
    "Lazy",
    "Cell",
    "RefCell",
    "UnsafeCell",
    "Atomic",
];

/// The mutable `static` items of a file's code (comments stripped), by name.
fn global_state_items(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for macro_name in ["thread_local!", "lazy_static!"] {
        if code.contains(macro_name) {
            out.push(macro_name.to_string());
        }
    }
    let mut rest = code;
    while let Some(i) = rest.find("static") {
        let before = rest[..i].chars().next_back();
        let after_kw = &rest[i + "static".len()..];
        rest = after_kw;
        // `'static`, `my_static`, `statics` are not the keyword.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '\'')
            || !after_kw.starts_with(char::is_whitespace)
        {
            continue;
        }
        let mut decl = after_kw.trim_start();
        let is_mut = decl.starts_with("mut ");
        if is_mut {
            decl = decl["mut ".len()..].trim_start();
        }
        let name = first_ident(decl);
        let Some(ty) = decl[name.len()..].trim_start().strip_prefix(':') else {
            continue;
        };
        let ty = &ty[..ty.find(['=', ';']).unwrap_or(ty.len())];
        let stateful = STATEFUL_TYPES.iter().any(|t| {
            ty.match_indices(t).any(|(at, _)| {
                let prev = ty[..at].chars().next_back();
                !prev.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        });
        if !name.is_empty() && (is_mut || stateful) {
            out.push(name);
        }
    }
    out
}

/// Every mutable `static` in `files` that the allow-list does not name.
fn global_state_violations(files: &[(String, String)], allowed: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    // This file holds the check's own examples, in string literals.
    for (rel, text) in files.iter().filter(|(rel, _)| rel != "layout.rs") {
        for name in global_state_items(&strip_comments(text)) {
            if !allowed.contains(&(rel.as_str(), name.as_str())) {
                found.push(format!("src/{rel}: static {name}"));
            }
        }
    }
    found.sort();
    found
}

fn source_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    paths
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (rel, text)
        })
        .collect()
}

#[test]
fn no_process_global_state_outside_the_allow_list() {
    let files = source_files();
    let found = global_state_violations(&files, GLOBAL_STATE_ALLOWED);
    assert!(
        found.is_empty(),
        "mutable process-global state (move it into the mount's backend \
         instance or the unsealed state):\n{}",
        found.join("\n")
    );
    // A stale allow-list entry would let a new static of that name in.
    for (rel, name) in GLOBAL_STATE_ALLOWED {
        let present = files.iter().any(|(r, t)| {
            r == rel && global_state_items(&strip_comments(t)).contains(&name.to_string())
        });
        assert!(present, "allow-list names src/{rel}: {name}, which is gone");
    }
}

#[test]
fn the_global_state_check_sees_every_form() {
    let file = |text: &str| vec![("logical/kv/a.rs".to_string(), text.to_string())];
    let bad = [
        "static LOCK: Mutex<()> = Mutex::new(());",
        "pub static LOCK: std::sync::RwLock<()> = RwLock::new(());",
        "pub(crate) static N: AtomicU64 = AtomicU64::new(0);",
        "fn f() { static Q: OnceLock<Option<u8>> = OnceLock::new(); }",
        "static S: [RwLock<()>; 4] = [const { RwLock::new(()) }; 4];",
        "static mut N: u64 = 0;",
        "static M: LazyLock<HashMap<u8, u8>> = LazyLock::new(HashMap::new);",
        "thread_local! { static C: Cell<u8> = Cell::new(0); }",
        "static X: std::sync::atomic::AtomicBool = AtomicBool::new(false);",
    ];
    for text in bad {
        assert!(
            !global_state_violations(&file(text), &[]).is_empty(),
            "missed: {text}"
        );
    }
    let fine = [
        "const N: usize = 4;",
        "static NAMES: &[&str] = &[\"a\"];",
        "fn f() -> &'static str { \"x\" }",
        "fn f<T: 'static>(t: T) {}",
        "// static LOCK: Mutex<()> = Mutex::new(());",
        "static PATTERN: &str = \"MutexGuard\";",
    ];
    for text in fine {
        let v = global_state_violations(&file(text), &[]);
        assert!(v.is_empty(), "flagged {text}: {v:?}");
    }
    // The allow-list is by file and name.
    let allowed = [("logical/kv/a.rs", "LOCK")];
    assert!(
        global_state_violations(&file("static LOCK: Mutex<()> = Mutex::new(());"), &allowed)
            .is_empty()
    );
    assert!(!global_state_violations(
        &[(
            "logical/kv/b.rs".to_string(),
            "static LOCK: Mutex<()> = Mutex::new(());".to_string()
        )],
        &allowed
    )
    .is_empty());
}
