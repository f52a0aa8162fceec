//! The module graph of the workspace's crates, read from their sources, and
//! its cycles. A module depends on another when it names it, in a `use` or
//! in place (`crate::…`, `super::…`, `self::…`), through any `pub use`
//! re-export on the way. Naming one's own ancestors is not a dependency (a
//! child module using its parent's items is how Rust nests); naming a
//! sibling, a cousin or one's own descendants is. `#[cfg(test)] mod tests`
//! blocks are left out.
//!
//! `cargo xtask modules` prints the cycles; a test keeps there being none.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A module, as the path of names from its crate's root (empty for the
/// root itself).
pub type Module = Vec<String>;

/// The crates whose graphs are checked, by the folder of their sources.
pub const CRATES: [&str; 5] = [
    "app/src",
    "server/src",
    "server/bench/src",
    "frontend/src",
    "xtask/src",
];

/// One crate's modules, what each names, and what each re-exports.
pub struct Graph {
    files: BTreeMap<Module, PathBuf>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    /// The graph of the crate whose sources are in `src`.
    pub fn of_crate(src: &Path) -> anyhow::Result<Self> {
        let mut files = BTreeMap::new();
        collect_files(src, src, &mut files)?;
        let mut sources = BTreeMap::new();
        for (module, file) in &files {
            let text = std::fs::read_to_string(file)?;
            sources.insert(module.clone(), without_tests_and_comments(&text));
        }
        let mut reexports: HashMap<(Module, String), Vec<String>> = HashMap::new();
        for (module, text) in &sources {
            for item in use_paths(text).into_iter().filter(|item| item.public) {
                if let Some(name) = item.alias.or_else(|| item.path.last().cloned()) {
                    reexports.insert((module.clone(), name), absolute(module, &item.path));
                }
            }
        }
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (module, text) in &sources {
            let named = use_paths(text)
                .into_iter()
                .map(|item| item.path)
                .chain(inline_paths(text));
            for path in named {
                let full = absolute(module, &path);
                let Some(target) = resolve(&files, &reexports, &full, 0) else {
                    continue;
                };
                if target != *module && !module.starts_with(&target) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        Ok(Self { files, edges })
    }

    /// Every set of modules that depend on each other in a circle, each
    /// with the edges that close it.
    pub fn cycles(&self) -> Vec<Vec<(Module, Module)>> {
        strongly_connected(&self.files.keys().cloned().collect::<Vec<_>>(), &self.edges)
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| {
                let members: BTreeSet<&Module> = component.iter().collect();
                component
                    .iter()
                    .flat_map(|from| {
                        self.edges
                            .get(from)
                            .into_iter()
                            .flatten()
                            .filter(|to| members.contains(to))
                            .map(move |to| (from.clone(), to.clone()))
                    })
                    .collect()
            })
            .collect()
    }
}

/// `a::b::c` for people.
pub fn display(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

fn collect_files(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<Module, PathBuf>,
) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root)?.with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            files.insert(module, path);
        }
    }
    Ok(())
}

/// The source without its test module (by convention the file's last
/// item) and without comments, whose prose names modules too.
fn without_tests_and_comments(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string ("http://…") ends nothing; a line with a
            // quote before its `//` is kept whole.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One path a `use` item names.
#[derive(Debug, PartialEq)]
struct UsePath {
    path: Vec<String>,
    /// `as` what, if renamed.
    alias: Option<String>,
    /// Re-exported (`pub use`, `pub(crate) use`…).
    public: bool,
}

/// The paths of every `use` item, flattened (`use a::{b, c::d}` names
/// `a::b` and `a::c::d`).
fn use_paths(text: &str) -> Vec<UsePath> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = find_keyword(rest, "use") {
        let before = rest[..at].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let after = &rest[at + 3..];
        let Some(end) = after.find(';') else { break };
        for (path, alias) in flatten_tree(&normalize(&after[..end])) {
            found.push(UsePath {
                path,
                alias,
                public,
            });
        }
        rest = &after[end..];
    }
    found
}

/// Where `keyword` starts as a whole word followed by whitespace.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = text[from..].find(keyword) {
        let at = from + offset;
        let before_ok = at == 0 || !is_ident_byte(bytes[at - 1]);
        let after = bytes.get(at + keyword.len());
        if before_ok && after.is_some_and(|b| b.is_ascii_whitespace()) {
            return Some(at);
        }
        from = at + keyword.len();
    }
    None
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A use tree with single spaces, and none around `::`, braces and commas:
/// only `x as y` keeps its spaces.
fn normalize(tree: &str) -> String {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        let glued = out.ends_with([':', '{', ',']) || word.starts_with([':', '{', '}', ',']);
        if !out.is_empty() && !glued {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`, `a::c::e` (as `f`).
fn flatten_tree(tree: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    flatten_into(tree, &[], &mut out);
    out
}

fn flatten_into(tree: &str, prefix: &[String], out: &mut Vec<(Vec<String>, Option<String>)>) {
    match tree.find('{') {
        Some(open) if tree.ends_with('}') => {
            let mut base = prefix.to_vec();
            base.extend(segments(tree[..open].trim_end_matches("::")));
            for part in split_top_level(&tree[open + 1..tree.len() - 1]) {
                if part == "self" {
                    out.push((base.clone(), None));
                } else if !part.is_empty() {
                    flatten_into(part, &base, out);
                }
            }
        }
        _ => {
            let (path, alias) = match tree.split_once(" as ") {
                Some((path, alias)) => (path, Some(alias.to_owned())),
                None => (tree, None),
            };
            let mut full = prefix.to_vec();
            full.extend(segments(path));
            if full.last().is_some_and(|last| last == "*") {
                full.pop();
            }
            if !full.is_empty() {
                out.push((full, alias.filter(|a| a != "_")));
            }
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The parts of a `{…}` list, split at its own commas only.
fn split_top_level(list: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts
}

/// Paths named in place: `crate::a::b`, `super::x`, `self::y`.
fn inline_paths(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for head in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(offset) = text[from..].find(head) {
            let at = from + offset;
            from = at + head.len();
            if at > 0 && is_ident_byte(text.as_bytes()[at - 1]) {
                continue;
            }
            let end = text[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(text.len(), |e| at + e);
            found.push(segments(&text[at..end]));
        }
    }
    found
}

/// A path as seen from `module`, from the crate's root.
fn absolute(module: &Module, path: &[String]) -> Vec<String> {
    let mut rest = path;
    let mut base: Vec<String> = match rest.first().map(String::as_str) {
        Some("crate") => {
            rest = &rest[1..];
            Vec::new()
        }
        Some("self") => {
            rest = &rest[1..];
            module.clone()
        }
        Some("super") => module.clone(),
        // A name in scope here: a child module (`pub use state::AppState`),
        // or an external crate, which `resolve` takes for this module
        // itself.
        _ => module.clone(),
    };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    base
}

/// The module a path lands in: its longest prefix that is a module, or,
/// when the next name is re-exported there, where that leads.
fn resolve(
    files: &BTreeMap<Module, PathBuf>,
    reexports: &HashMap<(Module, String), Vec<String>>,
    path: &[String],
    depth: usize,
) -> Option<Module> {
    (0..=path.len()).rev().find_map(|len| {
        let module: Module = path[..len].to_vec();
        if !files.contains_key(&module) {
            return None;
        }
        if let Some(next) = path.get(len) {
            if let Some(target) = reexports.get(&(module.clone(), next.clone())) {
                if depth < 8 {
                    let mut followed = target.clone();
                    followed.extend(path[len + 1..].iter().cloned());
                    if let Some(found) = resolve(files, reexports, &followed, depth + 1) {
                        return Some(found);
                    }
                }
            }
        }
        Some(module)
    })
}

/// Tarjan's strongly connected components, iteratively.
fn strongly_connected(
    nodes: &[Module],
    edges: &BTreeMap<Module, BTreeSet<Module>>,
) -> Vec<Vec<Module>> {
    let index_of: HashMap<&Module, usize> = nodes.iter().enumerate().map(|(i, m)| (m, i)).collect();
    let successors: Vec<Vec<usize>> = nodes
        .iter()
        .map(|m| {
            edges
                .get(m)
                .into_iter()
                .flatten()
                .filter_map(|t| index_of.get(t).copied())
                .collect()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
    let (mut on_stack, mut stack, mut components) = (vec![false; n], Vec::new(), Vec::new());
    let mut next = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = successors[v].get(*child) {
                *child += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(nodes[w].clone());
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// The cycles of every checked crate under `workspace`, as lines to print.
pub fn report(workspace: &Path) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for krate in CRATES {
        let graph = Graph::of_crate(&workspace.join(krate))?;
        for cycle in graph.cycles() {
            let edges: Vec<String> = cycle
                .iter()
                .map(|(from, to)| format!("{} -> {}", display(from), display(to)))
                .collect();
            lines.push(format!("{krate}: {}", edges.join(", ")));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(path: &str) -> Module {
        segments(path)
    }

    #[test]
    fn use_trees_are_flattened_with_their_re_exports_marked() {
        let paths = use_paths(
            "use std::fmt;\npub use super::{a::{B, c::D}, e as f, base};\nuse crate::x::*;\npub(crate) use self::g;",
        );
        let shown: Vec<(bool, String, Option<&str>)> = paths
            .iter()
            .map(|u| (u.public, u.path.join("::"), u.alias.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                (false, "std::fmt".to_owned(), None),
                (true, "super::a::B".to_owned(), None),
                (true, "super::a::c::D".to_owned(), None),
                (true, "super::e".to_owned(), Some("f")),
                (true, "super::base".to_owned(), None),
                (false, "crate::x".to_owned(), None),
                (true, "self::g".to_owned(), None),
            ]
        );
    }

    #[test]
    fn paths_are_made_absolute_from_the_module() {
        let m = module("backend::codes::list");
        assert_eq!(
            absolute(&m, &module("super::search::plan")),
            module("backend::codes::search::plan")
        );
        assert_eq!(
            absolute(&m, &module("super::super::state")),
            module("backend::state")
        );
        assert_eq!(
            absolute(&m, &module("crate::model::codes")),
            module("model::codes")
        );
        assert_eq!(
            absolute(&m, &module("self::inner")),
            module("backend::codes::list::inner")
        );
    }

    #[test]
    fn a_cycle_between_siblings_is_found_and_a_child_using_its_parent_is_not() {
        let dir = std::env::temp_dir().join(format!("modules-{}", std::process::id()));
        let write = |path: &str, text: &str| {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        };
        write(
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub use a::Thing;\n",
        );
        write(
            "a/mod.rs",
            "pub mod inner;\npub struct Thing;\nuse crate::b::other;\n",
        );
        write("a/inner.rs", "use super::Thing;\n");
        write(
            "b.rs",
            "pub fn other() {}\nfn f() { let _ = crate::Thing; }\n",
        );
        write("c.rs", "use crate::a::inner;\n// crate::b in a comment\n");

        let graph = Graph::of_crate(&dir).unwrap();
        let cycles = graph.cycles();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(cycles.len(), 1, "{cycles:?}");
        let mut pairs: Vec<String> = cycles[0]
            .iter()
            .map(|(f, t)| format!("{} -> {}", display(f), display(t)))
            .collect();
        pairs.sort();
        assert_eq!(pairs, ["a -> b", "b -> a"]);
    }

    #[test]
    fn the_workspace_has_no_module_cycles() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cycles = report(&workspace).unwrap();
        assert!(
            cycles.is_empty(),
            "modules that depend on each other (run `cargo xtask modules`):\n{}",
            cycles.join("\n")
        );
    }
}
