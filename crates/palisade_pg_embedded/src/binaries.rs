//! Locating the PostgreSQL server binaries and checking their version.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{env, fs, iter};

use tracing::{debug, warn};

use crate::LaunchError;

/// Oldest supported server release, as (major, minor). 15.3 fixes CVE-2023-2455 (row security
/// policies disregarding user ID changes after inlining), and Palisade's tenant isolation is
/// row security.
pub const MIN_SERVER_VERSION: (u32, u32) = (15, 3);

/// The programs a bin directory must hold to count as a candidate.
const REQUIRED: [&str; 3] = ["initdb", "postgres", "pg_isready"];

/// Located PostgreSQL server binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    bindir: PathBuf,
    version: (u32, u32),
}

impl PgBinaries {
    /// Finds server binaries of PostgreSQL >= 15.3.
    ///
    /// Search order: the env var `PALISADE_PG_BIN` (a bin dir), then each `PATH` entry, then
    /// `pg_config --bindir` (`pg_config` from `PATH`), then `/usr/lib/postgresql/*/bin`, newest
    /// version first. A directory counts only if `initdb`, `postgres` and `pg_isready` exist in
    /// it; too-old candidates are skipped in favour of later ones. Returns
    /// [`LaunchError::NotFound`] if nothing counts, [`LaunchError::TooOld`] if everything
    /// that counts is older than [`MIN_SERVER_VERSION`].
    pub fn locate() -> Result<Self, LaunchError> {
        Search::from_env().locate_with(server_version)
    }

    /// Finds server binaries for the cluster in `data_dir`: those of its major release (its
    /// `PG_VERSION`) when it is initialised, searched in the order of [`PgBinaries::locate`];
    /// otherwise what [`PgBinaries::locate`] finds. A data directory whose major release no
    /// candidate has is [`LaunchError::VersionMismatch`], saying what to do.
    pub fn locate_for(data_dir: &Path) -> Result<Self, LaunchError> {
        match data_dir_major(data_dir)? {
            None => Self::locate(),
            Some(major) => Search::from_env().locate_major_with(data_dir, major, server_version),
        }
    }

    /// The directory holding the binaries.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The server version as (major, minor), from `postgres --version`, e.g. (15, 18).
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// Path of one program in the bin directory.
    pub(crate) fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// The major release of the cluster in `data_dir`, from its `PG_VERSION` file; `None` when the
/// directory is not initialised.
pub(crate) fn data_dir_major(data_dir: &Path) -> Result<Option<u32>, LaunchError> {
    let file = data_dir.join("PG_VERSION");
    match fs::read_to_string(&file) {
        Ok(text) => parse_version(text.trim())
            .map(|(major, _)| Some(major))
            .ok_or_else(|| LaunchError::Io {
                context: format!("reading {}", file.display()),
                source: std::io::Error::other("not a PostgreSQL version"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LaunchError::Io {
            context: format!("reading {}", file.display()),
            source: e,
        }),
    }
}

/// The search's inputs, explicit so tests need not mutate the process environment.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    /// Value of `PALISADE_PG_BIN`.
    pub(crate) pg_bin: Option<OsString>,
    /// Value of `PATH`.
    pub(crate) path: Option<OsString>,
    /// Directory holding one `<version>/bin` per installed release (Debian layout).
    pub(crate) versioned_root: PathBuf,
}

impl Search {
    fn from_env() -> Self {
        Self {
            pg_bin: env::var_os("PALISADE_PG_BIN"),
            path: env::var_os("PATH"),
            versioned_root: PathBuf::from("/usr/lib/postgresql"),
        }
    }

    /// Runs the search for the binaries of major release `major` (the data directory's): the
    /// first usable candidate of that major, or [`LaunchError::VersionMismatch`] naming the
    /// first usable one of another.
    pub(crate) fn locate_major_with(
        &self,
        data_dir: &Path,
        major: u32,
        version_of: impl Fn(&Path) -> Result<(u32, u32), String>,
    ) -> Result<PgBinaries, LaunchError> {
        let mut other = None;
        let found = self.locate_matching(&version_of, |bins| {
            let same = bins.version.0 == major;
            if !same {
                other.get_or_insert_with(|| bins.clone());
            }
            same
        });
        match (found, other) {
            (Err(LaunchError::NotFound), Some(bins)) => Err(LaunchError::VersionMismatch {
                data_dir: data_dir.to_path_buf(),
                data_major: major,
                bindir: bins.bindir,
                found: bins.version,
            }),
            (found, _) => found,
        }
    }

    /// Runs the search; `version_of` reports a candidate's server version.
    pub(crate) fn locate_with(
        &self,
        version_of: impl Fn(&Path) -> Result<(u32, u32), String>,
    ) -> Result<PgBinaries, LaunchError> {
        self.locate_matching(&version_of, |_| true)
    }

    /// The first usable candidate (complete, recent enough) that `accept` takes.
    fn locate_matching(
        &self,
        version_of: &impl Fn(&Path) -> Result<(u32, u32), String>,
        mut accept: impl FnMut(&PgBinaries) -> bool,
    ) -> Result<PgBinaries, LaunchError> {
        let path_dirs: Vec<PathBuf> = self
            .path
            .as_deref()
            .map_or_else(Vec::new, |p| env::split_paths(p).collect());
        // Lazy, so `pg_config` only runs (and the versioned root is only listed) when needed.
        let from_env = self
            .pg_bin
            .iter()
            .filter(|dir| !dir.is_empty())
            .map(|dir| ("PALISADE_PG_BIN", PathBuf::from(dir)));
        let from_path = path_dirs.iter().map(|dir| ("PATH", dir.clone()));
        let from_pg_config = iter::once_with(|| pg_config_bindir(&path_dirs))
            .flatten()
            .map(|dir| ("pg_config --bindir", dir));
        let from_versioned = iter::once_with(|| versioned_bindirs(&self.versioned_root))
            .flatten()
            .map(|dir| ("versioned install", dir));

        let mut too_old = None;
        for (source, dir) in from_env
            .chain(from_path)
            .chain(from_pg_config)
            .chain(from_versioned)
        {
            if !is_complete(&dir) {
                if source == "PALISADE_PG_BIN" {
                    // Set explicitly but unusable: say so, as silently using another
                    // installation would surprise.
                    warn!(dir = %dir.display(), "PALISADE_PG_BIN lacks initdb, postgres or pg_isready; ignoring it");
                }
                continue;
            }
            match version_of(&dir) {
                Ok(version) if version >= MIN_SERVER_VERSION => {
                    let bins = PgBinaries {
                        bindir: dir,
                        version,
                    };
                    if accept(&bins) {
                        debug!(source, dir = %bins.bindir.display(), ?version, "found PostgreSQL server binaries");
                        return Ok(bins);
                    }
                    debug!(source, dir = %bins.bindir.display(), ?version, "skipping PostgreSQL of another major release");
                }
                Ok(version) => {
                    debug!(source, dir = %dir.display(), ?version, "skipping too-old PostgreSQL");
                    too_old.get_or_insert((dir, version));
                }
                Err(reason) => {
                    warn!(source, dir = %dir.display(), %reason, "skipping unusable PostgreSQL")
                }
            }
        }
        Err(match too_old {
            Some((bindir, found)) => LaunchError::TooOld { bindir, found },
            None => LaunchError::NotFound,
        })
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_complete(dir: &Path) -> bool {
    REQUIRED
        .iter()
        .all(|program| is_executable(&dir.join(program)))
}

fn pg_config_bindir(path_dirs: &[PathBuf]) -> Option<PathBuf> {
    let pg_config = path_dirs
        .iter()
        .map(|dir| dir.join("pg_config"))
        .find(|p| is_executable(p))?;
    let out = Command::new(&pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for each version-named entry of `root`, newest first.
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<((u32, u32), PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = parse_version(e.file_name().to_str()?)?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    // Numeric, so 16 sorts above 9.6.
    found.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// Runs `postgres --version` (allowed as root, unlike actually running the server).
fn server_version(bindir: &Path) -> Result<(u32, u32), String> {
    let out = Command::new(bindir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run postgres --version: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(parse_version)
        .filter(|_| out.status.success())
        .ok_or_else(|| format!("unrecognised `postgres --version` output {:?}", text.trim()))
}

/// Parses the leading `major[.minor]` of a token such as `15.18`, `17devel` or `9.6.24`
/// (a missing minor, as in development snapshots, counts as 0).
fn parse_version(token: &str) -> Option<(u32, u32)> {
    fn leading_number(s: &str) -> Option<(u32, &str)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        Some((s[..end].parse().ok()?, &s[end..]))
    }
    let (major, rest) = leading_number(token)?;
    let minor = match rest.strip_prefix('.') {
        Some(rest) => leading_number(rest)?.0,
        None => 0,
    };
    Some((major, minor))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                env::temp_dir().join(format!("palisade-bin-test-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        /// Creates `rel/<program>` as (never executed) executable files.
        fn fake_bindir(&self, rel: &str, programs: &[&str]) -> PathBuf {
            let dir = self.0.join(rel);
            fs::create_dir_all(&dir).unwrap();
            for program in programs {
                let p = dir.join(program);
                fs::write(&p, "").unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            }
            dir
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A fake version probe: the version is the bin dir's parent's name ("15.2/bin" -> 15.2).
    fn version_from_name(dir: &Path) -> Result<(u32, u32), String> {
        let name = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str());
        name.and_then(parse_version)
            .ok_or_else(|| "no version".into())
    }

    #[test]
    fn parses_version_output() {
        let v = |s: &str| s.split_whitespace().find_map(parse_version);
        assert_eq!(
            v("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some((15, 18))
        );
        assert_eq!(v("postgres (PostgreSQL) 17devel"), Some((17, 0)));
        assert_eq!(v("postgres (PostgreSQL) 9.6.24"), Some((9, 6)));
        assert_eq!(v("postgres (PostgreSQL)"), None);
    }

    #[test]
    fn finds_the_installed_server() {
        // Real probe against the machine's installation; a bogus PALISADE_PG_BIN is skipped.
        let search = Search {
            pg_bin: Some("/nonexistent/palisade/bin".into()),
            path: None,
            versioned_root: "/usr/lib/postgresql".into(),
        };
        let bins = search.locate_with(server_version).unwrap();
        assert!(bins.version() >= MIN_SERVER_VERSION, "{bins:?}");
        assert!(bins.bindir().starts_with("/usr/lib/postgresql"), "{bins:?}");
    }

    #[test]
    fn finds_the_server_through_pg_config() {
        if !is_executable(Path::new("/usr/bin/pg_config")) {
            return; // Machine without Debian's pg_config: nothing to test.
        }
        let empty = Scratch::new("pg-config");
        let search = Search {
            pg_bin: None,
            path: Some("/nonexistent:/usr/bin".into()),
            versioned_root: empty.0.clone(),
        };
        let bins = search.locate_with(server_version).unwrap();
        assert!(bins.version() >= MIN_SERVER_VERSION, "{bins:?}");
    }

    #[test]
    fn a_data_directory_gets_binaries_of_its_own_major_release_or_says_what_to_do() {
        let s = Scratch::new("major");
        let all = ["initdb", "postgres", "pg_isready"];
        let root = s.0.join("versioned");
        let v15 = s.fake_bindir("versioned/15.8/bin", &all);
        let v16 = s.fake_bindir("versioned/16.4/bin", &all);
        let search = Search {
            pg_bin: None,
            path: None,
            versioned_root: root.clone(),
        };
        let data = s.0.join("pgdata");
        fs::create_dir_all(&data).unwrap();
        assert_eq!(data_dir_major(&data).unwrap(), None, "not initialised");
        fs::write(data.join("PG_VERSION"), "15\n").unwrap();
        assert_eq!(data_dir_major(&data).unwrap(), Some(15));
        // The newest is 16, but the directory is 15's: 15 is taken.
        let bins = search
            .locate_major_with(&data, 15, version_from_name)
            .unwrap();
        assert_eq!(bins.bindir, v15);
        // A directory of a release that is not installed: refused, saying what to do.
        let err = search
            .locate_major_with(&data, 14, version_from_name)
            .unwrap_err();
        assert!(
            matches!(&err, LaunchError::VersionMismatch { data_major: 14, bindir, found: (16, 4), .. } if *bindir == v16),
            "{err:?}"
        );
        let msg = err.to_string();
        for needle in [
            "PostgreSQL 14",
            "postgresql-14",
            "PALISADE_PG_BIN",
            "pg_upgrade",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        fs::write(data.join("PG_VERSION"), "garbage").unwrap();
        assert!(data_dir_major(&data).is_err());
    }

    #[test]
    fn search_order_completeness_and_version_floor() {
        let s = Scratch::new("order");
        let all = ["initdb", "postgres", "pg_isready"];
        let root = s.0.join("versioned");
        s.fake_bindir("versioned/9.6/bin", &all);
        s.fake_bindir("versioned/15.2/bin", &all);
        let newest = s.fake_bindir("versioned/16/bin", &all);
        s.fake_bindir("versioned/junk/bin", &all);
        let incomplete = s.fake_bindir("15.9/bin", &["initdb", "postgres"]);
        let explicit = s.fake_bindir("15.4/bin", &all);
        let old = s.fake_bindir("15.1/bin", &all);

        let search = |pg_bin: Option<&Path>, path: Option<&Path>, root: &Path| Search {
            pg_bin: pg_bin.map(Into::into),
            path: path.map(Into::into),
            versioned_root: root.to_path_buf(),
        };
        let found = |s: Search| s.locate_with(version_from_name).map(|b| b.bindir);

        // PALISADE_PG_BIN wins; a bogus or incomplete one falls through.
        assert_eq!(
            found(search(Some(&explicit), None, &root)).unwrap(),
            explicit
        );
        assert_eq!(
            found(search(Some(Path::new("/nope")), None, &root)).unwrap(),
            newest
        );
        assert_eq!(
            found(search(Some(&incomplete), None, &root)).unwrap(),
            newest
        );
        // PATH beats the versioned root; numeric sort picks 16 over 9.6 and 15.2.
        assert_eq!(
            found(search(None, Some(&explicit), &root)).unwrap(),
            explicit
        );
        assert_eq!(found(search(None, None, &root)).unwrap(), newest);
        // Too old everywhere -> TooOld naming the first one; nothing complete -> NotFound.
        let nowhere = s.0.join("nowhere");
        match found(search(Some(&old), None, &nowhere)) {
            Err(LaunchError::TooOld { bindir, found }) => {
                assert_eq!((bindir, found), (old.clone(), (15, 1)));
            }
            other => panic!("expected TooOld, got {other:?}"),
        }
        assert!(matches!(
            found(search(Some(&incomplete), Some(&incomplete), &nowhere)),
            Err(LaunchError::NotFound)
        ));
    }
}
