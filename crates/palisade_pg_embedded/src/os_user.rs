//! Which OS user the server processes run as. PostgreSQL refuses to run as root, so as root
//! they run as the `postgres` user; otherwise as ourselves.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::LaunchError;
use crate::error::io_context;

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUser {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` when not root (the server simply runs as ourselves).
pub(crate) fn server_user() -> Result<Option<ServerUser>, LaunchError> {
    if effective_uid() != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").map_err(io_context("reading /etc/passwd"))?;
    parse_passwd(&passwd, "postgres")
        .map(Some)
        .ok_or(LaunchError::NoServerUser)
}

/// Makes `path` the server user's (when we are root; otherwise it is ours already, which is
/// the server's too). For files the server reads and insists on owning, such as the private key
/// of `ssl_key_file` (PostgreSQL refuses a key that another user owns unless root owns it).
pub fn give_to_server_user(path: &Path) -> Result<(), LaunchError> {
    if let Some(user) = server_user()? {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .map_err(io_context(format!("chown {}", path.display())))?;
    }
    Ok(())
}

/// Whether the server's OS user could reach `dir`: `Some((user, blocked_at))` when we run as
/// root and that user cannot search `blocked_at`, the first directory on the way to `dir` (or to
/// the nearest of its ancestors that exists) that it cannot search; `None` when it can, or when
/// we are not root (the server then runs as ourselves). Creates nothing.
pub fn blocked_for_server_user(dir: &Path) -> Result<Option<(String, PathBuf)>, LaunchError> {
    let Some(user) = server_user()? else {
        return Ok(None);
    };
    let abs =
        std::path::absolute(dir).map_err(io_context(format!("resolving {}", dir.display())))?;
    let Some(existing) = abs.ancestors().find(|a| a.exists()) else {
        return Ok(None);
    };
    let blocked = first_blocking_dir(existing, &user)
        .map_err(io_context(format!("inspecting {}", existing.display())))?;
    Ok(blocked.map(|at| (user.name, at)))
}

#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid() takes no arguments, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

fn parse_passwd(passwd: &str, name: &str) -> Option<ServerUser> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        Some(ServerUser {
            name: name.to_owned(),
            uid: fields.next()?.parse().ok()?,
            gid: fields.next()?.parse().ok()?,
        })
    })
}

/// The variables of ours that the server's programs get ([`server_side`]): where programs and
/// shared libraries are, the locale (`LC_*` too) and the time zone.
const KEPT_ENV: [&str; 6] = ["PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TZDIR"];

/// Whether [`server_side`] passes the variable `key` on.
fn kept_env(key: &std::ffi::OsStr) -> bool {
    let key = key.as_encoded_bytes();
    key.starts_with(b"LC_") || KEPT_ENV.iter().any(|k| k.as_bytes() == key)
}

/// Prepares a command that must run on the server's side: as `user` if given, from `/` (our
/// working directory may be unreadable to that user), and with none of our environment but
/// [`KEPT_ENV`] and `LC_*` (the caller adds what the program needs). As root the programs run as
/// the `postgres` OS user, who may read `/proc/<pid>/environ` of each, and so may any database
/// superuser (`pg_read_file`): the server's secrets (`PALISADE_SMTP_URL`, the providers' keys, a
/// cloud's credentials) must not be there; nor our `PG*` variables (`PGSSLMODE`, `PGOPTIONS`,
/// ...), which would change what the programs do.
pub(crate) fn server_side(cmd: &mut Command, user: Option<&ServerUser>) {
    cmd.current_dir("/");
    cmd.env_clear();
    cmd.envs(std::env::vars_os().filter(|(key, _)| kept_env(key)));
    if let Some(user) = user {
        // std also calls setgroups(0) when dropping from root, so only `gid` remains.
        cmd.uid(user.uid).gid(user.gid);
    }
}

/// Removes every inherited `PG*` variable from `cmd`'s environment.
pub(crate) fn scrub_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
}

/// Whether a directory with this owner and mode is searchable by `user`, with POSIX's
/// owner -> group -> other precedence. Only the primary group counts, as the server runs with
/// no supplementary groups (see [`server_side`]). ACLs are not considered.
fn can_traverse(mode: u32, owner: u32, group: u32, user: &ServerUser) -> bool {
    let bit = if owner == user.uid {
        0o100
    } else if group == user.gid {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

/// The first directory among the existing `dir` and its ancestors that `user` cannot search.
pub(crate) fn first_blocking_dir(dir: &Path, user: &ServerUser) -> io::Result<Option<PathBuf>> {
    let dir = fs::canonicalize(dir)?;
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor)?;
        if !can_traverse(meta.mode(), meta.uid(), meta.gid(), user) {
            return Ok(Some(ancestor.to_path_buf()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres-admin:x:7:7::/:/bin/sh\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        let user = parse_passwd(passwd, "postgres");
        assert_eq!(
            user,
            Some(ServerUser {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(
            parse_passwd("postgres:x:oops:1::/:/bin/sh", "postgres"),
            None
        );
        assert_eq!(parse_passwd("", "postgres"), None);
    }

    #[test]
    fn traversal_follows_owner_group_other_precedence() {
        let pg = ServerUser {
            name: "postgres".into(),
            uid: 101,
            gid: 104,
        };
        assert!(can_traverse(0o755, 0, 0, &pg));
        assert!(!can_traverse(0o700, 0, 0, &pg)); // e.g. /root
        assert!(can_traverse(0o700, 101, 0, &pg));
        assert!(can_traverse(0o710, 0, 104, &pg));
        // The owner class applies even when "other" would allow it.
        assert!(!can_traverse(0o601, 101, 0, &pg));
        assert!(!can_traverse(0o705, 0, 104, &pg));
    }
}
