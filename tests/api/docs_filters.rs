//! docs/api.md names every list's own filters: each query parameter the OpenAPI document
//! (tests/api/openapi.snapshot.json, kept equal to the served one by
//! `openapi::the_document_matches_its_snapshot`) gives a `GET` route, but those every list
//! takes (`limit`, `cursor`, `created_after`, `created_before`: "Lists and pagination") and a
//! changes feed's `since` ("Incremental sync"), is named after a mention of that route, before
//! the next route and within the mention's bullet or paragraph: `?name=` or `&name=` in a query
//! string, or `` `name` `` in a list of filters (from the word "filter" or "filters" to the next
//! `)` or `;`). A filter the API takes and the page leaves out is one a client never learns of.

use std::path::PathBuf;

use serde_json::Value;

/// Taken by every list, or by every changes feed, and described once for all.
const COMMON: &[&str] = &[
    "limit",
    "cursor",
    "created_after",
    "created_before",
    "since",
];

/// The text after each mention of `path` in `doc` (its lines joined with single spaces): from
/// the path, written whole (followed by a backtick or a query string), to the next route or the
/// end of the mention's bullet or paragraph, whichever comes first.
fn after_mentions(doc: &str, path: &str) -> Vec<String> {
    doc.match_indices(path)
        .filter_map(|(at, _)| {
            let rest = &doc[at + path.len()..];
            if !rest.starts_with(['`', '?']) {
                return None;
            }
            let end = [rest.find("/v1/"), end_of_block(rest)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            Some(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

/// Where the bullet or paragraph `text` starts in ends: at a line that starts another bullet
/// (of any depth), a heading or a table, or at a blank line.
fn end_of_block(text: &str) -> Option<usize> {
    text.match_indices('\n').map(|(i, _)| i).find(|&i| {
        let next = text[i + 1..].trim_start_matches(' ');
        next.starts_with("- ")
            || next.starts_with('\n')
            || next.starts_with('#')
            || next.starts_with('|')
            || next.is_empty()
    })
}

/// `text` names the filter `name`: in a query string, or as a code span in a list of filters.
fn names_filter(text: &str, name: &str) -> bool {
    let in_query = [format!("?{name}="), format!("&{name}=")]
        .iter()
        .any(|form| text.contains(form.as_str()));
    let in_list = text.match_indices("filter").any(|(at, _)| {
        let list = &text[at..];
        let list = &list[..list.find([')', ';']).unwrap_or(list.len())];
        list.contains(&format!("`{name}`")) || list.contains(&format!("`{name}="))
    });
    in_query || in_list
}

#[test]
fn docs_api_md_names_every_filter_of_every_list() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/api/openapi.snapshot.json")).unwrap(),
    )
    .unwrap();
    let doc = std::fs::read_to_string(root.join("docs/api.md")).unwrap();

    let mut checked = 0;
    let mut missing = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        let Some(parameters) = operations["get"]["parameters"].as_array() else {
            continue;
        };
        let own: Vec<&str> = parameters
            .iter()
            .map(|p| match p.get("$ref").and_then(Value::as_str) {
                Some(r) => &document["components"]["parameters"][r.rsplit('/').next().unwrap()],
                None => p,
            })
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .filter(|name| !COMMON.contains(name))
            .collect();
        if own.is_empty() {
            continue;
        }
        checked += 1;
        let mentions = after_mentions(&doc, path);
        for name in own {
            if !mentions.iter().any(|m| names_filter(m, name)) {
                missing.push(format!("GET {path}: `{name}`"));
            }
        }
    }
    assert!(
        checked > 25,
        "only {checked} lists with filters in the document"
    );
    assert!(
        missing.is_empty(),
        "filters the API takes that docs/api.md does not name after the route:\n{}",
        missing.join("\n")
    );
}

#[test]
fn docs_filters_are_read_after_the_whole_path_up_to_the_next_route() {
    let doc = "- `GET /v1/things` (`?colour=&size=`), `GET /v1/things/{id}` (`shape`);\n  \
               `GET /v1/others?kind=` and `/v1/things` again (filters `weight`, `height=1`;\n  \
               the `length` is 422 on `depth`)\n\
               - `GET /v1/things` (422 on `width`)\n\
               - The filters `width` of every list.\n\n\
               `GET /v1/things` (the body's `mass`); its filter is named\n\
               \n\
               in the next paragraph (filter `mass`)";
    let mentions = after_mentions(doc, "/v1/things");
    assert_eq!(mentions.len(), 4, "{mentions:?}");
    assert!(names_filter(&mentions[0], "colour") && names_filter(&mentions[0], "size"));
    assert!(
        !names_filter(&mentions[0], "shape"),
        "another route's filter"
    );
    assert!(names_filter(&mentions[1], "weight") && names_filter(&mentions[1], "height"));
    assert!(!names_filter(&mentions[1], "eight"));
    assert!(
        !names_filter(&mentions[1], "length") && !names_filter(&mentions[1], "depth"),
        "a code span after the list of filters ended"
    );
    assert!(
        !names_filter(&mentions[2], "width"),
        "a code span outside a list of filters, or in the next bullet"
    );
    assert!(
        !names_filter(&mentions[3], "mass"),
        "a code span outside a list of filters, or in the next paragraph"
    );
    assert!(names_filter(&after_mentions(doc, "/v1/others")[0], "kind"));
}
