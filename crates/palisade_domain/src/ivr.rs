//! [`IvrMenuTree`]: an IVR menu as a caller walks it, parsed from JSON and stored as given.
//!
//! ```json
//! {"prompt": "Welcome to Acme. Press 1 for sales, 2 for opening hours.",
//!  "options": {
//!    "1": {"action": "transfer", "to": "+14155550123"},
//!    "2": {"action": "say", "text": "We are open 9 to 5."},
//!    "3": {"action": "submenu", "menu": {"prompt": "...", "options": {"#": {"action": "hangup"}}}},
//!    "0": {"action": "voicemail", "greeting": "Leave a message after the tone."}}}
//! ```
//! A node has a `prompt` (1 to 1000 characters, one line) and 1 to 12 `options` keyed by a key
//! of the keypad (`0`-`9`, `*`, `#`). An option's `action` is `say` (`text`), `transfer` (`to`,
//! an E.164 number), `submenu` (`menu`, a node), `voicemail` (optional `greeting`) or `hangup`.
//! No other fields. Menus nest at most [`IvrMenuTree::MAX_DEPTH`] deep, hold at most
//! [`IvrMenuTree::MAX_NODES`] nodes, and serialize to at most [`IvrMenuTree::MAX_BYTES`].

use serde_json::{Map, Value};

use crate::text::{Lines, parse_text};
use crate::{ParseError, PhoneNumber};

/// A validated IVR menu tree. Holds the JSON exactly as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct IvrMenuTree(Value);

const KEYPAD: &str = IvrMenuTree::KEYPAD;

fn only_keys(o: &Map<String, Value>, allowed: &[&str]) -> Result<(), ParseError> {
    if o.keys().all(|k| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err(ParseError::new(
            "has a field that is not part of an IVR menu",
        ))
    }
}

fn text(o: &Map<String, Value>, key: &str, required: bool) -> Result<(), ParseError> {
    match o.get(key) {
        None if !required => Ok(()),
        Some(Value::String(s))
            if parse_text(s, IvrMenuTree::TEXT_MAX_CHARS, Lines::One).is_ok() =>
        {
            Ok(())
        }
        _ => Err(ParseError::new(
            "prompts and texts are strings of 1 to 1000 characters on one line",
        )),
    }
}

impl IvrMenuTree {
    /// Deepest nesting of menus (the root is level 1).
    pub const MAX_DEPTH: usize = 5;
    /// Most menu nodes in one tree.
    pub const MAX_NODES: usize = 50;
    /// Largest serialized size, in bytes.
    pub const MAX_BYTES: usize = 16 * 1024;
    /// The keys of a menu's options: one of these characters each.
    pub const KEYPAD: &'static str = "0123456789*#";
    /// Longest prompt, text or greeting, in characters (one line, trimmed).
    pub const TEXT_MAX_CHARS: usize = 1000;

    /// Parses a tree (see the module docs for the shape).
    pub fn parse(v: &Value) -> Result<Self, ParseError> {
        if v.to_string().len() > Self::MAX_BYTES {
            return Err(ParseError::too_long("is too large"));
        }
        let mut nodes = 0;
        Self::node(v, 1, &mut nodes)?;
        Ok(Self(v.clone()))
    }

    fn node(v: &Value, level: usize, nodes: &mut usize) -> Result<(), ParseError> {
        if level > Self::MAX_DEPTH {
            return Err(ParseError::new("menus nest at most 5 deep"));
        }
        *nodes += 1;
        if *nodes > Self::MAX_NODES {
            return Err(ParseError::new("a tree holds at most 50 menus"));
        }
        let Value::Object(o) = v else {
            return Err(ParseError::new(
                "a menu is an object with prompt and options",
            ));
        };
        only_keys(o, &["prompt", "options"])?;
        text(o, "prompt", true)?;
        let Some(Value::Object(options)) = o.get("options") else {
            return Err(ParseError::new("a menu needs an options object"));
        };
        if options.is_empty() {
            return Err(ParseError::new("a menu needs at least one option"));
        }
        for (key, option) in options {
            let mut chars = key.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(ParseError::new("option keys are one of 0-9, * and #"));
            };
            if !KEYPAD.contains(c) {
                return Err(ParseError::new("option keys are one of 0-9, * and #"));
            }
            Self::option(option, level, nodes)?;
        }
        Ok(())
    }

    fn option(v: &Value, level: usize, nodes: &mut usize) -> Result<(), ParseError> {
        let Value::Object(o) = v else {
            return Err(ParseError::new("an option is an object with an action"));
        };
        match o.get("action").and_then(Value::as_str) {
            Some("say") => {
                only_keys(o, &["action", "text"])?;
                text(o, "text", true)
            }
            Some("transfer") => {
                only_keys(o, &["action", "to"])?;
                match o.get("to").and_then(Value::as_str).map(PhoneNumber::parse) {
                    Some(Ok(_)) => Ok(()),
                    _ => Err(ParseError::new("a transfer needs \"to\", an E.164 number")),
                }
            }
            Some("submenu") => {
                only_keys(o, &["action", "menu"])?;
                let menu = o
                    .get("menu")
                    .ok_or(ParseError::new("a submenu needs \"menu\""))?;
                Self::node(menu, level + 1, nodes)
            }
            Some("voicemail") => {
                only_keys(o, &["action", "greeting"])?;
                text(o, "greeting", false)
            }
            Some("hangup") => only_keys(o, &["action"]),
            _ => Err(ParseError::new(
                "action must be one of say, transfer, submenu, voicemail, hangup",
            )),
        }
    }

    /// The tree as the client sent it.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn leaf() -> Value {
        json!({"prompt": "Bye", "options": {"#": {"action": "hangup"}}})
    }

    #[test]
    fn a_full_tree_is_accepted_and_kept_as_given() {
        let v = json!({
            "prompt": "Welcome. Press 1 for sales.",
            "options": {
                "1": {"action": "transfer", "to": "+14155550123"},
                "2": {"action": "say", "text": "Open 9 to 5."},
                "3": {"action": "submenu", "menu": leaf()},
                "*": {"action": "voicemail", "greeting": "After the tone."},
                "0": {"action": "voicemail"},
                "#": {"action": "hangup"}
            }
        });
        assert_eq!(IvrMenuTree::parse(&v).map(|t| t.as_json().clone()), Ok(v));
    }

    #[test]
    fn malformed_trees_are_refused() {
        let bad = [
            json!([]),
            json!({"prompt": "x"}),
            json!({"prompt": "x", "options": {}}),
            json!({"prompt": "", "options": {"1": {"action": "hangup"}}}),
            json!({"prompt": "x", "options": {"10": {"action": "hangup"}}}),
            json!({"prompt": "x", "options": {"a": {"action": "hangup"}}}),
            json!({"prompt": "x", "options": {"1": {"action": "dance"}}}),
            json!({"prompt": "x", "options": {"1": {"action": "transfer", "to": "555"}}}),
            json!({"prompt": "x", "options": {"1": {"action": "say"}}}),
            json!({"prompt": "x", "options": {"1": {"action": "hangup", "extra": 1}}}),
            json!({"prompt": "x", "options": {"1": {"action": "submenu"}}}),
            json!({"prompt": "x", "extra": true, "options": {"1": {"action": "hangup"}}}),
        ];
        for v in bad {
            assert!(IvrMenuTree::parse(&v).is_err(), "{v}");
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let nest = |levels: usize| {
            let mut v = leaf();
            for _ in 1..levels {
                v = json!({"prompt": "x", "options": {"1": {"action": "submenu", "menu": v}}});
            }
            v
        };
        assert!(IvrMenuTree::parse(&nest(5)).is_ok());
        assert!(IvrMenuTree::parse(&nest(6)).is_err());
        // 12 options of 12 submenus each is more than 50 nodes, though only 2 deep.
        let wide: Map<String, Value> = KEYPAD
            .chars()
            .map(|c| {
                let sub: Map<String, Value> = KEYPAD
                    .chars()
                    .map(|d| (d.to_string(), json!({"action": "submenu", "menu": leaf()})))
                    .collect();
                (
                    c.to_string(),
                    json!({"action": "submenu", "menu": {"prompt": "x", "options": sub}}),
                )
            })
            .collect();
        assert!(IvrMenuTree::parse(&json!({"prompt": "x", "options": wide})).is_err());
    }
}
