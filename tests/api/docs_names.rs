//! The documentation cites tests, constraints, functions, settings and files by name; a name that
//! no longer exists sends a reader (a reviewer looking for a pitfall's test, a DBA for a
//! constraint) to nothing. Every `snake_case` word of four parts or more inside an inline code
//! span of a current document (`a_test_name`, `palisade_private.a_function_name(...)`) must be a
//! word of the repository's code, SQL or scripts; every repository path such a span gives, and
//! every file a relative link points at, must exist; and docs/rls-pitfalls.md must list every file
//! that cites a pitfall by number. Fenced blocks are not read (a recipe may name its own columns),
//! and docs/changelog.md and docs/benchmarks.md are dated history: a name there was true on its
//! date.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// PostgreSQL's own names that the documents quote and no file here defines.
const POSTGRES_NAMES: &[&str] = &["log_min_duration_statement", "log_truncate_on_rotation"];

/// The documents read: the README, docs/ but its two histories, the vendored driver's notes.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![
        root.join("README.md"),
        root.join("vendor/tokio-postgres/PALISADE.md"),
    ];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".md") && name != "changelog.md" && name != "benchmarks.md" {
            docs.push(path);
        }
    }
    docs.sort();
    docs
}

/// Every file under `dir` (no `target/`, nothing hidden but `.ci`).
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if name == "target" || (name.starts_with('.') && name != ".ci") {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The files whose words a document may cite: code, SQL, scripts, the vendored driver's source
/// and its patch, never a document (which would vouch for itself) nor this file (whose examples
/// would).
fn sources(root: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for dir in [
        "crates", "tests", "policies", "sql", "scripts", ".ci", "vendor",
    ] {
        files(&root.join(dir), &mut all);
    }
    let this = root.join("tests/api/docs_names.rs");
    all.into_iter()
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            *p != this
                && (["rs", "sql", "sh", "toml", "py", "patch"].contains(&ext)
                    || p.starts_with(root.join(".ci")))
        })
        .collect()
}

/// `s` is `snake_case` of four parts or more (`a_single_column_key`), not a shorter word that
/// prose and SQL share (`organization_id`, `statement_timeout`).
fn is_long_snake_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('_').collect();
    parts.len() >= 4
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The words of `text` (runs of letters, digits and `_`).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
}

/// A paragraph of a document outside its fenced blocks: the line it starts on and its lines.
struct Paragraph<'a> {
    line: usize,
    lines: Vec<&'a str>,
}

impl<'a> Paragraph<'a> {
    /// Its backticks pair up: with an odd number, its spans could not be told from its prose.
    fn balanced(&self) -> bool {
        self.lines
            .iter()
            .map(|l| l.matches('`').count())
            .sum::<usize>()
            % 2
            == 0
    }

    /// The inline code spans of the paragraph, a span that wraps joined with a space. A span does
    /// not cross a paragraph (a blank line), so backticks are paired paragraph by paragraph.
    fn code_spans(&self) -> Vec<String> {
        let text = self.lines.join(" ");
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The targets of its Markdown links (`[text](target)`).
    fn link_targets(&self) -> Vec<&'a str> {
        let mut targets = Vec::new();
        for line in &self.lines {
            for (at, _) in line.match_indices("](") {
                let rest = &line[at + 2..];
                if let Some(end) = rest.find(')') {
                    targets.push(&rest[..end]);
                }
            }
        }
        targets
    }
}

/// `text`'s paragraphs, fenced blocks left out (a recipe may name its own columns).
fn paragraphs(text: &str) -> Vec<Paragraph<'_>> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut current = Paragraph {
        line: 0,
        lines: Vec::new(),
    };
    let lines = text.lines().map(Some).chain([None]); // None: the end, which ends a paragraph.
    for (n, line) in lines.enumerate() {
        let fence = line.is_some_and(|l| l.trim_start().starts_with("```"));
        if fenced {
            fenced = !fence;
            continue;
        }
        match line {
            Some(l) if !fence && !l.trim().is_empty() => {
                if current.lines.is_empty() {
                    current.line = n + 1;
                }
                current.lines.push(l);
                continue;
            }
            _ => {}
        }
        // A blank line, a fence or the end: the paragraph so far is whole.
        fenced = fence;
        if !current.lines.is_empty() {
            let line = current.line;
            out.push(std::mem::replace(
                &mut current,
                Paragraph {
                    line,
                    lines: Vec::new(),
                },
            ));
        }
    }
    out
}

/// The long snake names inside `text`'s inline code spans, each with the line its paragraph
/// starts on.
fn cited(text: &str) -> Vec<(usize, String)> {
    let mut names = Vec::new();
    for paragraph in paragraphs(text) {
        for span in paragraph.code_spans() {
            let long = words(&span).filter(|w| is_long_snake_name(w));
            names.extend(long.map(|w| (paragraph.line, w.to_owned())));
        }
    }
    names
}

#[test]
fn a_long_name_the_docs_quote_is_a_word_of_the_code() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sources = sources(&root);
    let mut known: HashSet<String> = HashSet::new();
    for path in &sources {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // Not text.
        };
        known.extend(
            words(&text)
                .filter(|w| is_long_snake_name(w))
                .map(str::to_owned),
        );
    }
    // A test of crates/palisade_server/tests/audit.rs: the crates were read.
    assert!(
        known.contains("each_way_of_breaking_the_database_is_reported"),
        "the sources were not read: {} files",
        sources.len()
    );

    let mut checked = 0;
    let mut unknown = Vec::new();
    for doc in documents(&root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, name) in cited(&text) {
            checked += 1;
            if !known.contains(&name) && !POSTGRES_NAMES.contains(&name.as_str()) {
                let doc = doc.strip_prefix(&root).unwrap().display();
                unknown.push(format!("{doc}, the paragraph at line {line}: `{name}`"));
            }
        }
    }
    assert!(checked > 100, "only {checked} names found in the documents");
    assert!(
        unknown.is_empty(),
        "names the documents quote that nothing in the code defines (renamed or removed?):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn a_cited_name_is_a_long_snake_word_inside_an_inline_code_span() {
    let text = "see `a_test_that_exists` and `organization_id`, not_a_quoted_name_here, and\n\
                `palisade_private.a_schema_function_name(x)`; `a span that wraps onto\n\
                the_next_line_of_it` and not_after_it\n\
                \n\
                ```sql\n\
                SELECT 1 AS an_alias_of_a_recipe;\n\
                ```\n\
                `one_more_long_name`";
    let expected = [
        (1, "a_test_that_exists"),
        (1, "a_schema_function_name"),
        (1, "the_next_line_of_it"),
        (8, "one_more_long_name"),
    ];
    assert_eq!(cited(text), expected.map(|(n, w)| (n, w.to_owned())));
    assert!(!is_long_snake_name("Upper_case_is_not_one"));
    assert!(!is_long_snake_name("a_double__underscore_name"));
    assert!(!is_long_snake_name("trailing_underscore_name_"));
    assert!(!is_long_snake_name("026_starts_with_digits"));
}

/// The pitfall numbers `text` cites: "pitfall 2", "RLS pitfall 14", "pitfall #2", "pitfalls 1",
/// any case, the number on the next line after a comment marker too ("pitfall\n-- 2"). One number
/// a mention: "pitfalls 1 and 2" counts 1 only, so a citation names each ("pitfall 1, pitfall 2").
fn pitfalls_cited(text: &str) -> Vec<u32> {
    let lower = text.to_ascii_lowercase();
    let mut numbers: Vec<u32> = lower
        .match_indices("pitfall")
        .filter_map(|(at, word)| {
            let rest = &lower[at + word.len()..];
            let rest = rest.strip_prefix('s').unwrap_or(rest);
            let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || "-/*#".contains(c));
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// docs/rls-pitfalls.md's table "Where the code cites a number today" is every file of `sql/`,
/// `policies/`, `tests/` and `crates/` that cites a pitfall by number, under each number it
/// cites: a reader of a migration's "pitfall 2" finds its explanation, and the page finds every
/// place that relies on it.
#[test]
fn the_pitfall_page_lists_every_file_that_cites_a_pitfall_by_number() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cited: Vec<(u32, String)> = Vec::new();
    for path in sources(&root) {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        if !["crates/", "tests/", "policies/", "sql/"]
            .iter()
            .any(|dir| name.starts_with(dir))
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        cited.extend(pitfalls_cited(&text).into_iter().map(|n| (n, name.clone())));
    }
    cited.sort();
    assert!(
        cited.len() >= 10,
        "too few citations found, the sources were not read: {cited:?}"
    );

    let page = std::fs::read_to_string(root.join("docs/rls-pitfalls.md")).unwrap();
    let table = page
        .split("| pitfall | cited in |")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("docs/rls-pitfalls.md has the table of citations");
    let mut listed: Vec<(u32, String)> = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let n: u32 = cells[0]
            .parse()
            .unwrap_or_else(|_| panic!("a pitfall number: {row}"));
        for file in cells[1].split('`').skip(1).step_by(2) {
            listed.push((n, file.to_owned()));
        }
    }
    listed.sort();
    assert_eq!(
        listed, cited,
        "docs/rls-pitfalls.md's table (left) against the files that cite each pitfall (right)"
    );
}

#[test]
fn a_pitfall_is_cited_by_its_number_in_any_case_and_form() {
    assert_eq!(
        pitfalls_cited(
            "RLS pitfall 2, (pitfall 14) and Pitfall 2 again; pitfall #9, pitfalls 7, RLS pitfall\n\
             -- 12; not rls-pitfalls.md, pitfall-free or a pitfall x"
        ),
        [2, 7, 9, 12, 14]
    );
}

/// The top-level directories a quoted repository path starts with.
const TOP_DIRS: &[&str] = &[
    "crates/",
    "tests/",
    "policies/",
    "sql/",
    "scripts/",
    "docs/",
    "vendor/",
    ".ci/",
];

/// The repository path an inline code span's token quotes (`crates/palisade_db/src/pool.rs:42`,
/// `docs/api.md#errors`, a sentence's full stop after it), without its line number or anchor;
/// `None` for a token outside the repository's top directories or a pattern (`policies/02N_*.sql`,
/// `policies/NNN_<table>.sql`, `sql/V0150_...sql`).
fn quoted_path(token: &str) -> Option<&str> {
    let pattern = token.contains(['*', '<', '>', '{', '}']) || token.contains("...");
    if pattern || !TOP_DIRS.iter().any(|d| token.starts_with(d)) {
        return None;
    }
    token
        .split(['#', ':'])
        .next()
        .map(|p| p.trim_end_matches('.'))
}

/// The file a relative Markdown link points at, without its anchor; `None` for a link to a web
/// address, an anchor of the same page, or another scheme (`mailto:`).
fn link_file(target: &str) -> Option<&str> {
    if target.starts_with('#') || target.contains(':') {
        return None;
    }
    target.split('#').next()
}

/// Every repository path a current document quotes in an inline code span exists, and so does
/// every file a relative Markdown link of it points at. A paragraph with an odd number of
/// backticks is refused first: its spans could not be told from its prose.
#[test]
fn every_path_and_link_the_docs_give_exists() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut missing = Vec::new();
    for doc in documents(&root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(&root).unwrap().display().to_string();
        for paragraph in paragraphs(&text) {
            let at = format!("{name}, the paragraph at line {}", paragraph.line);
            if !paragraph.balanced() {
                missing.push(format!("{at}: an odd number of backticks"));
                continue;
            }
            for span in paragraph.code_spans() {
                let tokens = span.split(|c: char| c.is_whitespace() || ",;()".contains(c));
                for (token, path) in tokens.filter_map(|t| Some((t, quoted_path(t)?))) {
                    checked += 1;
                    if !root.join(path).exists() {
                        missing.push(format!("{at}: `{token}`"));
                    }
                }
            }
            for target in paragraph.link_targets() {
                let Some(file) = link_file(target) else {
                    continue;
                };
                checked += 1;
                if !doc.parent().unwrap().join(file).exists() {
                    missing.push(format!("{at}: link ({target})"));
                }
            }
        }
    }
    assert!(
        checked > 200,
        "only {checked} paths and links found in the documents"
    );
    assert!(
        missing.is_empty(),
        "paths and links of the documents that lead nowhere:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_paragraph_gives_its_code_spans_and_link_targets() {
    let text = "`sql/V0001__a.sql` and [a page](docs/x.md#part), `a span\nthat wraps` [b](http://h)\n\nnext";
    let paragraphs = paragraphs(text);
    assert_eq!(paragraphs.len(), 2);
    assert_eq!(paragraphs[0].line, 1);
    assert_eq!(paragraphs[1].line, 4);
    assert_eq!(
        paragraphs[0].code_spans(),
        ["sql/V0001__a.sql", "a span that wraps"]
    );
    assert_eq!(paragraphs[0].link_targets(), ["docs/x.md#part", "http://h"]);
    assert!(paragraphs[0].balanced());
    assert!(!self::paragraphs("a `span\nand a stray ` backtick `")[0].balanced());
}

#[test]
fn a_quoted_path_loses_its_line_anchor_and_full_stop_and_a_pattern_is_none() {
    for (token, path) in [
        (
            "crates/palisade_db/src/pool.rs:42",
            Some("crates/palisade_db/src/pool.rs"),
        ),
        ("docs/api.md#errors", Some("docs/api.md")),
        ("sql/V0001__a.sql.", Some("sql/V0001__a.sql")),
        (".ci/run", Some(".ci/run")),
        ("policies/02N_*.sql", None),
        ("policies/NNN_<table>.sql", None),
        ("sql/V0150_...sql", None),
        ("src/lib.rs", None),
        ("palisade_private.enter_session", None),
    ] {
        assert_eq!(quoted_path(token), path, "{token}");
    }
    for (target, file) in [
        ("dba.md#roles", Some("dba.md")),
        (
            "../crates/palisade_db/src/customers.rs",
            Some("../crates/palisade_db/src/customers.rs"),
        ),
        ("#roles", None),
        ("https://example.com/x", None),
        ("mailto:someone@example.com", None),
    ] {
        assert_eq!(link_file(target), file, "{target}");
    }
}
