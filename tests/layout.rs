//! The crate's architecture, checked: no two files under `src/` import each other, directly or
//! round a circle, and the layers only import downwards (`sync` → `api` → `paging` → `http` →
//! `rate`).
//!
//! Reads the library's sources (not `src/bin/`) with a small lexer: every `crate::`, `super::`,
//! `self::` path and every `use` of a child module is followed, through re-exports, to the file
//! that defines the item, so a facade's `pub use` is not mistaken for a dependency on the facade.
//! Run alone with `cargo test --test layout`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`["paging", "scan", "engine"]`).
type ModPath = Vec<String>;

/// One leaf of a `use` tree: its full path and the name it binds (`None` for a glob).
type UseLeaf = (Vec<String>, Option<String>);

/// What one file says: the names its top-level `use`s bring in, and every path it names.
#[derive(Debug, Default)]
struct FileRefs {
    /// A name brought in by a `use` at the file's top level → the absolute path it stands for.
    imports: BTreeMap<String, ModPath>,
    /// Every absolute path the file names (in `use`s and in code), tests included.
    paths: Vec<ModPath>,
}

/// The layers, top first: a file may import from its own layer and the ones after it.
const LAYERS: [&str; 5] = ["sync", "api", "paging", "http", "rate"];

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let crate_map = CrateMap::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let edges = crate_map.edges();
    let circles = strongly_connected(&edges)
        .into_iter()
        .filter(|component| component.len() > 1)
        .collect::<Vec<_>>();
    let mut report = String::new();
    for circle in &circles {
        report.push_str("a circle of imports between:\n");
        for file in circle {
            let into: Vec<_> = edges[file]
                .iter()
                .filter(|to| circle.contains(*to))
                .collect();
            report.push_str(&format!("  {file} imports {into:?}\n"));
        }
    }
    assert!(circles.is_empty(), "{report}");
}

#[test]
fn layers_import_only_downwards() {
    let crate_map = CrateMap::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut upward = Vec::new();
    for (from, targets) in crate_map.edges() {
        let Some(from_layer) = layer_of(&from) else {
            continue;
        };
        for to in targets {
            if let Some(to_layer) = layer_of(&to) {
                if to_layer < from_layer {
                    upward.push(format!(
                        "{from} ({}) imports {to} ({})",
                        LAYERS[from_layer], LAYERS[to_layer]
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers' direction:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_a_circle_through_a_re_export() {
    let dir = std::env::temp_dir().join(format!("layout-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("paging")).unwrap();
    fs::write(dir.join("lib.rs"), "mod paging;\npub use paging::Scan;\n").unwrap();
    fs::write(
        dir.join("paging/mod.rs"),
        "mod engine;\nmod heal;\npub use engine::Scan;\n",
    )
    .unwrap();
    fs::write(
        dir.join("paging/engine.rs"),
        "// crate::paging::heal::nothing in a comment\nconst S: &str = r#\"crate::x\"#;\npub struct Scan;\nfn f() { super::heal::heal(); }\n",
    )
    .unwrap();
    fs::write(
        dir.join("paging/heal.rs"),
        "use crate::{paging::Scan as S, paging::engine};\n#[cfg(test)]\nmod tests { use super::*; }\npub fn heal(_: S) {}\n",
    )
    .unwrap();
    let edges = CrateMap::read(&dir).edges();
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        edges["paging/engine.rs"],
        BTreeSet::from(["paging/heal.rs".to_owned()])
    );
    assert_eq!(
        edges["paging/heal.rs"],
        BTreeSet::from(["paging/engine.rs".to_owned()])
    );
    assert_eq!(
        edges["paging/mod.rs"],
        BTreeSet::from(["paging/engine.rs".to_owned()])
    );
    let circles: Vec<_> = strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert_eq!(circles.len(), 1);
}

fn layer_of(file: &str) -> Option<usize> {
    let top = file.split('/').next()?;
    LAYERS.iter().position(|layer| *layer == top)
}

/// Every file of the library, by its path under `src/`.
struct CrateMap {
    files: BTreeMap<String, FileRefs>,
    /// Module path → the file that holds it.
    modules: BTreeMap<ModPath, String>,
}

impl CrateMap {
    fn read(src: &Path) -> CrateMap {
        let mut found = Vec::new();
        collect_rs(src, src, &mut found);
        let modules: BTreeMap<ModPath, String> = found
            .iter()
            .map(|relative| (module_path(relative), relative.clone()))
            .collect();
        let files = found
            .iter()
            .map(|relative| {
                let text = fs::read_to_string(src.join(relative)).expect("a source file");
                let refs = scan_file(&strip(&text), &module_path(relative), &modules);
                (relative.clone(), refs)
            })
            .collect();
        CrateMap { files, modules }
    }

    /// File → the files whose items it uses (itself left out).
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.files
            .iter()
            .map(|(file, refs)| {
                let targets = refs
                    .paths
                    .iter()
                    .filter_map(|path| self.defining_file(path, 0))
                    .filter(|target| target != file)
                    .collect();
                (file.clone(), targets)
            })
            .collect()
    }

    /// The file that defines the item `path` names, following re-exports.
    fn defining_file(&self, path: &[String], depth: usize) -> Option<String> {
        if depth > 16 {
            return None;
        }
        let mut module: ModPath = Vec::new();
        for (at, segment) in path.iter().enumerate() {
            let mut child = module.clone();
            child.push(segment.clone());
            if self.modules.contains_key(&child) {
                module = child;
                continue;
            }
            let file = self.modules.get(&module)?;
            if let Some(target) = self.files[file].imports.get(segment) {
                let mut through = target.clone();
                through.extend(path[at + 1..].iter().cloned());
                if through != path {
                    return self.defining_file(&through, depth + 1);
                }
            }
            return Some(file.clone());
        }
        self.modules.get(&module).cloned()
    }
}

fn collect_rs(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("src/")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if path.is_dir() {
            if relative != "bin" {
                collect_rs(root, &path, found);
            }
        } else if relative.ends_with(".rs") {
            found.push(relative);
        }
    }
}

fn module_path(relative: &str) -> ModPath {
    let stem = relative.trim_end_matches(".rs");
    let mut parts: ModPath = stem.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text with comments, string and character literals blanked out (lines kept).
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || c == 'b')
            && raw_string_start(&chars, i).is_some()
            && !ident_before(&chars, i)
        {
            let (hashes, body) = raw_string_start(&chars, i).unwrap();
            for _ in i..body {
                out.push(' ');
            }
            i = body;
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < chars.len() && !chars[i..].starts_with(&closing) {
                out.push(blank(chars[i]));
                i += 1;
            }
            for _ in 0..closing.len().min(chars.len().saturating_sub(i)) {
                out.push(' ');
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && char_literal_end(&chars, i).is_some() {
            let end = char_literal_end(&chars, i).unwrap();
            for _ in i..end {
                out.push(' ');
            }
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `r"`, `r#"`, `br"`…: the number of `#`s and where the body starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

/// At `'`: the end of a character literal, or `None` for a lifetime.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        let close = (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')?;
        return Some(close + 1);
    }
    (chars.get(i + 2) == Some(&'\'')).then_some(i + 3)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Punct(char),
    PathSep,
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::PathSep);
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The paths one file names, resolved to absolute module paths.
fn scan_file(text: &str, file_module: &[String], modules: &BTreeMap<ModPath, String>) -> FileRefs {
    let tokens = tokens(text);
    let mut refs = FileRefs::default();
    // Inline modules (`mod tests { .. }`) open a scope in which `super` means the file's module.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            _ => {}
        }
        let scope: ModPath = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        let is_use = matches!(&tokens[i], Token::Ident(word) if word == "use");
        let starts_path = match (&tokens[i], tokens.get(i + 1)) {
            (Token::Ident(word), Some(Token::PathSep)) => {
                let before_is_sep = i > 0 && tokens[i - 1] == Token::PathSep;
                !before_is_sep && matches!(word.as_str(), "crate" | "super" | "self")
            }
            _ => false,
        };
        if is_use {
            let (leaves, end) = use_tree(&tokens, i + 1);
            for (path, alias) in leaves {
                let Some(absolute) = absolute(&path, &scope, modules) else {
                    continue;
                };
                if inline.is_empty() {
                    if let Some(alias) = alias {
                        refs.imports.insert(alias, absolute.clone());
                    }
                }
                refs.paths.push(absolute);
            }
            i = end;
            continue;
        }
        if starts_path {
            let (path, end) = plain_path(&tokens, i);
            if let Some(absolute) = absolute(&path, &scope, modules) {
                refs.paths.push(absolute);
            }
            i = end;
            continue;
        }
        i += 1;
    }
    refs
}

/// A path in code (`crate::a::B::new`): its segments, up to the first that is not an identifier.
fn plain_path(tokens: &[Token], mut i: usize) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    while let Some(Token::Ident(name)) = tokens.get(i) {
        path.push(name.clone());
        i += 1;
        if tokens.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            break;
        }
    }
    (path, i)
}

/// The leaves of a `use` tree starting at `i`: each full path and the name it binds (`None` for
/// a glob). Returns where the tree ends.
fn use_tree(tokens: &[Token], i: usize) -> (Vec<UseLeaf>, usize) {
    let mut leaves = Vec::new();
    let end = use_subtree(tokens, i, &mut Vec::new(), &mut leaves);
    (leaves, end)
}

fn use_subtree(
    tokens: &[Token],
    mut i: usize,
    prefix: &mut Vec<String>,
    leaves: &mut Vec<UseLeaf>,
) -> usize {
    let depth_at_start = prefix.len();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(name)) if name == "as" => {
                if let Some(Token::Ident(alias)) = tokens.get(i + 1) {
                    if let Some(last) = leaves.last_mut() {
                        last.1 = (alias != "_").then(|| alias.clone());
                    }
                }
                i += 2;
            }
            Some(Token::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                if tokens.get(i) == Some(&Token::PathSep) {
                    i += 1;
                    continue;
                }
                let bound = if name == "self" {
                    prefix.pop();
                    prefix.last().cloned()
                } else {
                    Some(name.clone())
                };
                leaves.push((prefix.clone(), bound));
                prefix.truncate(depth_at_start);
            }
            Some(Token::Punct('*')) => {
                leaves.push((prefix.clone(), None));
                prefix.truncate(depth_at_start);
                i += 1;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    let mut inner = prefix.clone();
                    i = use_subtree(tokens, i, &mut inner, leaves);
                    match tokens.get(i) {
                        Some(Token::Punct(',')) => i += 1,
                        Some(Token::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        _ => return i,
                    }
                    if tokens.get(i) == Some(&Token::Punct('}')) {
                        i += 1;
                        break;
                    }
                }
                prefix.truncate(depth_at_start);
            }
            _ => return i,
        }
    }
}

/// A path as written in `scope` made absolute; `None` for another crate's.
fn absolute(
    path: &[String],
    scope: &[String],
    modules: &BTreeMap<ModPath, String>,
) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => scope.to_vec(),
        "super" => {
            let mut base = scope.to_vec();
            base.pop();
            let mut rest = rest;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        _ => {
            // A bare first segment is a child module of this scope (or another crate).
            let mut child = scope.to_vec();
            child.push(first.clone());
            if !modules.contains_key(&child) {
                return None;
            }
            child.pop();
            child.push(first.clone());
            child.extend(rest.iter().cloned());
            return Some(child);
        }
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Tarjan's strongly connected components of the file graph.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let at = walk.index.len();
        walk.index.insert(node, at);
        walk.low.insert(node, at);
        walk.stack.push(node);
        walk.on_stack.insert(node);
        if let Some(targets) = walk.edges.get(node) {
            for target in targets {
                let target = target.as_str();
                if !walk.edges.contains_key(target) {
                    continue;
                }
                if !walk.index.contains_key(target) {
                    visit(walk, target);
                    let low = walk.low[node].min(walk.low[target]);
                    walk.low.insert(node, low);
                } else if walk.on_stack.contains(target) {
                    let low = walk.low[node].min(walk.index[target]);
                    walk.low.insert(node, low);
                }
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                walk.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            component.sort();
            walk.components.push(component);
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.components
}
