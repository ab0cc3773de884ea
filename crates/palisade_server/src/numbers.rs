//! `palisade numbers`: the operator's path to the platform's phone number inventory
//! (docs/phone-numbers.md). It connects as the owner role (`DATABASE_URL`, or the embedded
//! cluster's owner), never as the app role, and runs [`palisade_db::phone_inventory`].
//!
//! ```text
//! palisade numbers add NUMBER --capabilities sms,voice
//! palisade numbers import FILE
//! palisade numbers list
//! palisade numbers remove NUMBER
//! ```
//!
//! The import file: one number per line, the E.164 number then its capabilities (`sms`,
//! `voice` or `sms,voice`), separated by spaces or tabs; blank lines and everything after `#`
//! are ignored. For example `+15550001111 sms,voice`. The whole file is checked before anything
//! is written, and loaded in one transaction.

use std::fmt::Write as _;
use std::path::PathBuf;

use palisade_db::phone_inventory::{self, InventoryEntry, Removed, Standing};
use palisade_domain::{Capabilities, PhoneNumber};
use time::OffsetDateTime;

use crate::configuration::{DatabaseMode, NumbersSettings};
use crate::embedded::on_embedded_cluster;

/// One `palisade numbers` subcommand, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumbersCommand {
    /// Add one number (or set its capabilities again).
    Add(InventoryEntry),
    /// Load a file of numbers.
    Import(PathBuf),
    /// Print the inventory.
    List,
    /// Remove a number that no organization holds.
    Remove(PhoneNumber),
}

/// A number as the command line gives it (E.164).
pub fn parse_number(number: &str) -> Result<PhoneNumber, String> {
    PhoneNumber::parse(number)
        .map_err(|e| format!("{number:?} is not a phone number: it {}", e.reason()))
}

/// Capabilities as the command line gives them: `sms`, `voice` or `sms,voice`.
pub fn parse_capabilities(capabilities: &str) -> Result<Capabilities, String> {
    let items: Vec<String> = capabilities
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    Capabilities::parse(&items)
        .map_err(|e| format!("capabilities {capabilities:?}: {}", e.reason()))
}

fn entry(number: &str, capabilities: &str) -> Result<InventoryEntry, String> {
    Ok(InventoryEntry {
        number: parse_number(number)?,
        capabilities: parse_capabilities(capabilities)?,
    })
}

/// Runs `command` on the owner's database of `settings` (the embedded cluster, attached to or
/// started for the command, or `DATABASE_URL`); returns what to print.
pub fn execute(settings: &NumbersSettings, command: &NumbersCommand) -> Result<String, String> {
    let on = |owner_url: &str| {
        actix_web::rt::System::new().block_on(run(
            owner_url,
            command,
            settings.number_quarantine,
            OffsetDateTime::now_utc(),
        ))
    };
    match &settings.database {
        DatabaseMode::External(owner_url) => on(owner_url.expose()),
        DatabaseMode::Embedded(e) => on_embedded_cluster(e, |urls| on(urls.owner.expose())),
    }
}

/// Reads an import file (format in the module doc). Every line is checked; the error names
/// each bad line.
pub fn parse_import(text: &str) -> Result<Vec<InventoryEntry>, String> {
    let mut entries: Vec<InventoryEntry> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let parsed = match words.as_slice() {
            [number, caps] => entry(number, caps),
            _ => Err("expected: NUMBER CAPABILITIES, e.g. +15550001111 sms,voice".into()),
        };
        match parsed {
            Ok(e) if entries.iter().any(|x| x.number == e.number) => {
                errors.push(format!(
                    "line {}: {} is listed twice",
                    i + 1,
                    e.number.as_str()
                ));
            }
            Ok(e) => entries.push(e),
            Err(e) => errors.push(format!("line {}: {e}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors.join("\n"))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Runs `command` as the owner at `owner_url`, with the quarantine in force and the time now;
/// returns what to print.
pub async fn run(
    owner_url: &str,
    command: &NumbersCommand,
    quarantine: time::Duration,
    now: OffsetDateTime,
) -> Result<String, String> {
    let text = match command {
        NumbersCommand::Import(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        _ => None,
    };
    let mut client = palisade_db::schema::connect(owner_url)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        NumbersCommand::Add(e) => {
            let loaded = phone_inventory::load(&mut client, std::slice::from_ref(e))
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "{} {} ({})\n",
                if loaded.added == 1 {
                    "added"
                } else {
                    "updated"
                },
                e.number.as_str(),
                e.capabilities.as_strs().join(",")
            ))
        }
        NumbersCommand::Import(path) => {
            let entries = parse_import(text.as_deref().unwrap_or_default())
                .map_err(|e| format!("{}:\n{e}\nnothing was imported", path.display()))?;
            let loaded = phone_inventory::load(&mut client, &entries)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "imported {} numbers: {} added, {} updated\n",
                entries.len(),
                loaded.added,
                loaded.updated
            ))
        }
        NumbersCommand::List => {
            let rows = phone_inventory::list(&client, now, quarantine)
                .await
                .map_err(|e| e.to_string())?;
            let mut out = String::new();
            for r in &rows {
                let standing = match &r.standing {
                    Standing::Available => "available".to_owned(),
                    Standing::Assigned(org) => format!("assigned to organization {org}"),
                    Standing::Quarantined { released_by, until } => format!(
                        "quarantined until {} (released by organization {released_by})",
                        rfc3339(*until)
                    ),
                };
                let _ = writeln!(
                    out,
                    "{:<17} {:<10} {standing}",
                    r.number,
                    r.capabilities.join(",")
                );
            }
            let _ = writeln!(out, "{} numbers", rows.len());
            Ok(out)
        }
        NumbersCommand::Remove(number) => {
            match phone_inventory::remove(&client, number)
                .await
                .map_err(|e| e.to_string())?
            {
                Removed::Removed => Ok(format!("removed {}\n", number.as_str())),
                Removed::Unknown => Err(format!("{} is not in the inventory", number.as_str())),
                Removed::Assigned => Err(format!(
                    "{} is assigned to an organization: it must release it first",
                    number.as_str()
                )),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_capabilities_parse() {
        assert_eq!(
            parse_capabilities("voice, sms").unwrap(),
            parse_capabilities("sms,voice").unwrap()
        );
        assert_eq!(parse_capabilities("sms").unwrap().as_strs(), ["sms"]);
        assert!(parse_capabilities("fax").is_err());
        assert!(parse_capabilities("").is_err());
        assert_eq!(
            parse_number("+15550001111").unwrap().as_str(),
            "+15550001111"
        );
        let err = parse_number("555").unwrap_err();
        assert!(err.contains("not a phone number"), "{err}");
    }

    #[test]
    fn import_files_are_checked_whole() {
        let ok =
            parse_import("# carrier export\n+15550001111 sms,voice\n\n+15550002222\tsms # spare\n")
                .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].capabilities.as_strs(), ["sms"]);
        let err = parse_import("+15550001111 sms\nbad line here\n+15550001111 voice\n+1 fax\n")
            .unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("line 3") && err.contains("twice"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }
}
