//! The floors of the code map (`src/lib.rs`), held: data flows one way, so no module names
//! one above it. Each module may use only the modules listed for it here; a new dependency
//! upward fails this test rather than creeping in.

use std::collections::BTreeSet;
use std::path::Path;

/// (module, the modules it may use). Pure floors first, interfaces and start-up last.
const FLOORS: &[(&str, &[&str])] = &[
    ("pdu", &[]),
    ("at", &["pdu"]),
    ("phone", &[]),
    ("time", &[]),
    ("sheet", &[]),
    ("modem", &["at", "pdu"]),
    ("sim", &["at", "pdu"]),
    ("store", &["pdu"]),
    // The domain core: never an interface (api, cli) or the start-up above it.
    (
        "daemon",
        &["at", "modem", "pdu", "phone", "sheet", "store", "time"],
    ),
    (
        "api",
        &["at", "daemon", "modem", "pdu", "phone", "store", "time"],
    ),
    // The HTTP interfaces: beside the socket, never below the core.
    (
        "http",
        &["at", "daemon", "pdu", "phone", "sheet", "store", "time"],
    ),
    ("cli", &["api", "pdu", "phone", "sheet", "time"]),
    (
        "smsqd",
        &[
            "api", "at", "daemon", "http", "modem", "pdu", "phone", "sim", "store", "time",
        ],
    ),
];

fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            sources(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The top-level modules `text` names through `crate::`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: every path in the group.
            let group = &group[..group.find('}').unwrap_or(group.len())];
            group.split(',').collect()
        } else {
            vec![rest]
        };
        for name in names {
            let name: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

#[test]
fn no_module_uses_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, allowed) in FLOORS {
        let dir = root.join(module);
        let mut files = Vec::new();
        sources(&dir, &mut files);
        sources(&root.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in used_modules(&text) {
                if used != *module && !allowed.contains(&used.as_str()) {
                    broken.push(format!(
                        "{} uses crate::{used}",
                        file.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "upward dependencies:\n{}",
        broken.join("\n")
    );
}

/// Only the store holds SQLite: no other module names rusqlite, so no SQLite error or type
/// leaks upward.
#[test]
fn only_the_store_speaks_sqlite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let store = root.join("store");
    let leaks: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&store))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("rusqlite"))
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(leaks.is_empty(), "rusqlite outside the store: {leaks:?}");
}

#[test]
fn the_check_sees_what_it_checks() {
    let found = used_modules("use crate::daemon::Daemon;\nuse crate::{api::X, store};");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec!["api", "daemon", "store"]
    );
}
