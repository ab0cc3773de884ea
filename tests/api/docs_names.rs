//! The documentation cites tests, constraints, functions and settings by name; a name that no
//! longer exists sends a reader (a reviewer looking for a pitfall's test, a DBA for a constraint)
//! to nothing. Every `snake_case` name of four parts or more that a current document quotes in
//! backticks must be a word of the repository's code, SQL or scripts. docs/changelog.md and
//! docs/benchmarks.md are dated history: a name there was true on its date, so they are not read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// PostgreSQL's own names that the documents quote and no file here defines.
const POSTGRES_NAMES: &[&str] = &["log_min_duration_statement"];

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

/// The long snake names `text` quotes alone in backticks (`` `name` ``), with their line numbers.
/// Every stretch between two backticks of a line is looked at, inside a quote or not (a quote may
/// open on the line before): text between two quotes has spaces or punctuation, so only a quoted
/// name passes.
fn cited(text: &str) -> Vec<(usize, &str)> {
    let mut names = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let stretches: Vec<&str> = line.split('`').collect();
        // The first and the last stretch have a backtick on one side only.
        for stretch in stretches
            .iter()
            .skip(1)
            .take(stretches.len().saturating_sub(2))
        {
            if is_long_snake_name(stretch) {
                names.push((n + 1, *stretch));
            }
        }
    }
    names
}

#[test]
fn a_long_name_the_docs_quote_is_a_word_of_the_code() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for dir in [
        "crates", "tests", "policies", "sql", "scripts", ".ci", "vendor",
    ] {
        files(&root.join(dir), &mut sources);
    }
    let mut words: HashSet<String> = HashSet::new();
    for path in &sources {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // Not text.
        };
        words.extend(
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| is_long_snake_name(w))
                .map(str::to_owned),
        );
    }
    assert!(
        words.contains("each_way_of_breaking_the_database_is_reported"),
        "the sources were not read: {} files",
        sources.len()
    );

    let mut checked = 0;
    let mut unknown = Vec::new();
    for doc in documents(&root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, name) in cited(&text) {
            checked += 1;
            if !words.contains(name) && !POSTGRES_NAMES.contains(&name) {
                let doc = doc.strip_prefix(&root).unwrap().display();
                unknown.push(format!("{doc}:{line}: `{name}`"));
            }
        }
    }
    assert!(checked > 50, "only {checked} names found in the documents");
    assert!(
        unknown.is_empty(),
        "names the documents quote that nothing in the code defines (renamed or removed?):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn a_cited_name_is_one_alone_in_backticks_of_four_parts_or_more() {
    let text = "see `a_test_that_exists` and `organization_id`, `not a_name_at_all_here` and\n\
                `another_long_name_here`(); `unclosed_name_on_this_line\n\
                closed_on_the_line_before` then `one_more_long_name`";
    assert_eq!(
        cited(text),
        [
            (1, "a_test_that_exists"),
            (2, "another_long_name_here"),
            (3, "one_more_long_name")
        ]
    );
    assert!(!is_long_snake_name("Upper_case_is_not_one"));
    assert!(!is_long_snake_name("a_double__underscore_name"));
    assert!(!is_long_snake_name("trailing_underscore_name_"));
}

/// The pitfall numbers `text` cites ("pitfall 2", "RLS pitfall 14", any case).
fn pitfalls_cited(text: &str) -> Vec<u32> {
    let lower = text.to_ascii_lowercase();
    let mut numbers: Vec<u32> = lower
        .match_indices("pitfall ")
        .filter_map(|(at, word)| {
            let rest = &lower[at + word.len()..];
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
    let mut sources = Vec::new();
    for dir in ["crates", "tests", "policies", "sql"] {
        files(&root.join(dir), &mut sources);
    }
    let mut cited: Vec<(u32, String)> = Vec::new();
    for path in &sources {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        if name == "tests/api/docs_names.rs" {
            continue; // This file, whose examples are not citations.
        }
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
    for row in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|--"))
    {
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
fn a_pitfall_is_cited_by_its_number_in_any_case() {
    assert_eq!(
        pitfalls_cited("RLS pitfall 2, (pitfall 14) and Pitfall 2 again; pitfalls.md, pitfall x"),
        [2, 14]
    );
}
