//! Initialising, starting and stopping a cluster under a lifeline wrapper.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{self, Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, info, warn};

use crate::error::io_context;
use crate::os_user::{self, ServerUser};
use crate::{LaunchError, PgBinaries};

const HOST: &str = "127.0.0.1";
/// Server log, inside the data directory: writable by the server user, and removed together
/// with ephemeral clusters.
const LOG_FILE: &str = "palisade-postgres.log";
/// Marks a directory made by [`ephemeral_dir`], so it is removed together with its cluster.
const EPHEMERAL_MARKER: &str = ".palisade-ephemeral";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Extra start attempts, each on a new port, when a picked free port got taken meanwhile.
const PORT_RETRIES: u32 = 3;
/// How long `stop()` waits for a fast shutdown before asking for an immediate one.
const STOP_PATIENCE: Duration = Duration::from_secs(60);
/// How long `Drop` waits; the wrapper finishes the shutdown on its own anyway.
const DROP_PATIENCE: Duration = Duration::from_secs(5);
const TAIL_LINES: usize = 20;

/// Lifeline wrapper, run by `/bin/sh -c` as the server user. Inputs come from the environment
/// and `"$@"` (extra server arguments), never from text pasted into the script.
///
/// Stdin is a pipe whose write end only our process holds. A watcher waits for EOF on it,
/// which happens when we call `stop()`, drop the cluster, or die in any way (even `SIGKILL`),
/// and then requests a fast shutdown (`SIGINT`). Ephemeral data (`PALISADE_PG_REMOVE`) is
/// deleted only after such an EOF-triggered shutdown; if the server exits by itself (e.g. a
/// failed start) the watcher is killed instead, and the files stay for us to read the log and
/// decide (retrying on another port reuses the data directory). `wait ... 2>/dev/null` keeps
/// the shell's "Terminated" notice for the killed watcher out of the server log.
const WRAPPER: &str = r#"
exec 3<&0 >>"$PALISADE_PG_LOG" 2>&1
"$PALISADE_PG_POSTGRES" -D "$PGDATA" -p "$PALISADE_PG_PORT" "$@" </dev/null 3<&- &
pg=$!
(read -r _ignored <&3 || true; kill -INT "$pg" 2>/dev/null; exit 0) &
watcher=$!
exec 3<&-
wait "$pg"
status=$?
kill "$watcher" 2>/dev/null
if wait "$watcher" 2>/dev/null && [ -n "$PALISADE_PG_REMOVE" ]; then rm -rf -- "$PALISADE_PG_REMOVE"; fi
exit "$status"
"#;

/// How to set up and run a cluster.
#[derive(Clone)]
pub struct ClusterOptions {
    /// The cluster's data directory (PGDATA). Created (with parents) if missing; `initdb`
    /// runs if it holds no `PG_VERSION`.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; `None` picks a free one (and retries with another if it gets
    /// taken before the server binds it).
    pub port: Option<u16>,
    /// Bootstrap superuser name (`initdb -U`).
    pub superuser: String,
    /// Bootstrap superuser password (SCRAM-SHA-256 for TCP and local connections alike).
    pub superuser_password: String,
    /// For tests: `fsync`, `synchronous_commit` and `full_page_writes` off, and the data
    /// directory is removed when the cluster stops, including when the owning process dies.
    /// Requires a fresh (missing or empty) data directory, e.g. from [`ephemeral_dir`].
    pub ephemeral: bool,
    /// Extra `-c name=value` server settings (e.g. `max_connections=300`); they override the
    /// launcher's own.
    pub settings: Vec<(String, String)>,
}

impl fmt::Debug for ClusterOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterOptions")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("superuser", &self.superuser)
            .field("superuser_password", &"<redacted>")
            .field("ephemeral", &self.ephemeral)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Makes a unique, world-traversable (0755) new directory under [`std::env::temp_dir`] and
/// returns the not-yet-created path `<it>/pgdata` inside it, for an ephemeral cluster's
/// [`ClusterOptions::data_dir`]. An ephemeral cluster removes that parent directory too; if
/// no cluster is ever started there, removing it is up to the caller.
pub fn ephemeral_dir(prefix: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if prefix.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ephemeral_dir prefix must be a plain file name",
        ));
    }
    let base = std::env::temp_dir();
    for _ in 0..100 {
        // pid + counter are unique within this run; the clock guards against pid reuse.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let parent = base.join(format!("{prefix}-{}-{count}-{nanos:x}", process::id()));
        match DirBuilder::new().mode(0o755).create(&parent) {
            Ok(()) => {
                // Explicit chmod: the umask may have masked the traversal bits the server
                // user needs when we run as root.
                fs::set_permissions(&parent, fs::Permissions::from_mode(0o755))?;
                File::create(parent.join(EPHEMERAL_MARKER))?;
                return Ok(parent.join("pgdata"));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "could not create a unique temporary directory",
    ))
}

/// A started PostgreSQL server. Dropping it (without [`stop`](Self::stop)) also requests a
/// fast shutdown, waiting only briefly for it.
#[derive(Debug)]
pub struct RunningCluster {
    port: u16,
    data_dir: PathBuf,
    bins: PgBinaries,
    user: Option<ServerUser>,
    /// Removed after the server exits (ephemeral clusters only).
    remove: Option<PathBuf>,
    wrapper: Child,
    /// The lifeline: closing it makes the wrapper shut the server down.
    lifeline: Option<ChildStdin>,
    /// Set once there is nothing left to shut down.
    finished: bool,
}

impl RunningCluster {
    /// Runs `initdb` if needed, starts the server, and waits until it accepts connections
    /// (up to 60 s, failing early if the server exits).
    pub fn start(bins: &PgBinaries, opts: ClusterOptions) -> Result<Self, LaunchError> {
        validate(&opts)?;
        let user = os_user::server_user()?;
        let data_dir = prepare_data_dir(&opts.data_dir, user.as_ref(), opts.ephemeral)?;
        let remove = opts.ephemeral.then(|| removal_root(&data_dir));
        // From here on, an ephemeral cluster's files are ours to delete if anything fails.
        let mut cleanup = Cleanup(remove.clone());
        if let (Some(user), Some(root)) = (&user, &remove)
            && *root != data_dir
        {
            // The wrapper runs as the server user and must be able to delete the parent.
            for path in [root.clone(), root.join(EPHEMERAL_MARKER)] {
                chown(&path, Some(user.uid), Some(user.gid))
                    .map_err(io_context(format!("chown {}", path.display())))?;
            }
        }
        match crate::binaries::data_dir_major(&data_dir)? {
            None => initdb(bins, &data_dir, &opts, user.as_ref())?,
            // The server would refuse it too, in its log: say it here, with what to do.
            Some(major) if major != bins.version().0 => {
                return Err(LaunchError::VersionMismatch {
                    data_dir,
                    data_major: major,
                    bindir: bins.bindir().to_path_buf(),
                    found: bins.version(),
                });
            }
            Some(_) => {}
        }
        let launch = Launch {
            bins,
            data_dir: &data_dir,
            user: user.as_ref(),
            opts: &opts,
            remove: remove.as_deref(),
        };
        let mut retries = 0;
        loop {
            let port = match opts.port {
                Some(port) => port,
                None => free_port()?,
            };
            match launch.run(port) {
                Ok(cluster) => {
                    cleanup.0 = None; // The cluster owns the cleanup now.
                    return Ok(cluster);
                }
                Err(Failure::PortTaken(e)) if opts.port.is_none() && retries < PORT_RETRIES => {
                    retries += 1;
                    debug!(port, error = %e, "port was taken before the server bound it; retrying");
                }
                Err(Failure::PortTaken(e) | Failure::Other(e)) => return Err(e),
            }
        }
    }

    /// The host the server listens on: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (absolute, symlinks resolved).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `postgresql://USER:PASSWORD@127.0.0.1:PORT/DBNAME`, with user, password and database
    /// name percent-encoded ([`local_url`] on this cluster's port).
    pub fn url(&self, user: &str, password: &str, dbname: &str) -> String {
        local_url(self.port, user, password, dbname)
    }

    /// Stops the server cleanly (fast shutdown) and waits for it to exit; an ephemeral
    /// cluster's data directory is gone afterwards.
    pub fn stop(mut self) -> Result<(), LaunchError> {
        self.shutdown(STOP_PATIENCE, true)
    }

    fn shutdown(&mut self, patience: Duration, escalate: bool) -> Result<(), LaunchError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        drop(self.lifeline.take()); // EOF: the wrapper sends SIGINT (fast shutdown).
        let waited = wait_for(&mut self.wrapper, patience);
        let status = match waited {
            Ok(Some(status)) => status,
            Ok(None) if escalate => {
                warn!(data_dir = %self.data_dir.display(), "fast shutdown is slow; requesting an immediate one");
                self.immediate_shutdown();
                wait_for(&mut self.wrapper, Duration::from_secs(10))
                    .ok()
                    .flatten()
                    .ok_or_else(|| self.stop_failed("the server did not exit".into()))?
            }
            Ok(None) => {
                return Err(self.stop_failed(format!(
                    "still shutting down after {patience:?}; it will finish on its own"
                )));
            }
            Err(e) => return Err(self.stop_failed(format!("waiting for the server: {e}"))),
        };
        // Normally the wrapper already did this; it cannot if the server had died by itself.
        if let Some(root) = &self.remove {
            remove_all(root)?;
        }
        if !status.success() {
            return Err(self.stop_failed(format!("the server exited with {status}")));
        }
        info!(port = self.port, data_dir = %self.data_dir.display(), "PostgreSQL stopped");
        Ok(())
    }

    /// `pg_ctl stop -m immediate`, for a server that ignores the fast shutdown request.
    fn immediate_shutdown(&self) {
        let mut cmd = Command::new(self.bins.program("pg_ctl"));
        cmd.args(["stop", "-m", "immediate", "-W", "-D"])
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        os_user::server_side(&mut cmd, self.user.as_ref());
        if let Err(e) = cmd.status() {
            warn!(error = %e, "could not run pg_ctl for an immediate shutdown");
        }
    }

    fn stop_failed(&self, reason: String) -> LaunchError {
        LaunchError::StopFailed {
            data_dir: self.data_dir.clone(),
            reason,
        }
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(DROP_PATIENCE, false) {
            warn!(error = %e, "PostgreSQL shutdown on drop");
        }
    }
}

/// One start attempt's outcome when it fails.
enum Failure {
    /// The server could not bind its port (someone took it after we picked it).
    PortTaken(LaunchError),
    Other(LaunchError),
}

/// Deletes an ephemeral cluster's files on drop, unless disarmed (set to `None`).
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = &self.0
            && let Err(e) = remove_all(path)
        {
            warn!(error = %e, "removing ephemeral cluster files after a failed start");
        }
    }
}

/// Everything a start attempt needs besides the port.
struct Launch<'a> {
    bins: &'a PgBinaries,
    data_dir: &'a Path,
    user: Option<&'a ServerUser>,
    opts: &'a ClusterOptions,
    remove: Option<&'a Path>,
}

impl Launch<'_> {
    fn run(&self, port: u16) -> Result<RunningCluster, Failure> {
        let log_file = self.data_dir.join(LOG_FILE);
        // Report only what this attempt logs: older runs' lines may be unrelated (or hold
        // statements with secrets in them).
        let log_start = fs::metadata(&log_file).map_or(0, |m| m.len());
        let mut wrapper = self.command(port, &log_file).spawn().map_err(|e| {
            Failure::Other(io_context("starting /bin/sh for the PostgreSQL wrapper")(e))
        })?;
        debug!(port, pid = wrapper.id(), "spawned PostgreSQL wrapper");
        let lifeline = wrapper.stdin.take();
        let mut cluster = RunningCluster {
            port,
            data_dir: self.data_dir.to_path_buf(),
            bins: self.bins.clone(),
            user: self.user.cloned(),
            remove: self.remove.map(Path::to_path_buf),
            wrapper,
            lifeline,
            finished: false,
        };
        let failed = |reason: String| LaunchError::StartFailed {
            data_dir: self.data_dir.to_path_buf(),
            port,
            reason,
            log_tail: read_tail(&log_file, log_start, &self.opts.superuser_password),
            log_file: log_file.clone(),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match cluster.wrapper.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    // Nothing to shut down; the caller decides about the files.
                    cluster.finished = true;
                    let err = failed(format!("the server exited with {status}"));
                    return Err(match &err {
                        LaunchError::StartFailed { log_tail, .. }
                            if log_tail.contains("Address already in use") =>
                        {
                            Failure::PortTaken(err)
                        }
                        _ => Failure::Other(err),
                    });
                }
                Err(e) => return Err(Failure::Other(failed(format!("waiting for it: {e}")))),
            }
            // postmaster.pid proves that *our* server is up on `port`: a server that failed
            // to bind never gets there, while pg_isready alone could be answered by whoever
            // took the port.
            if postmaster_ready(self.data_dir, port) && pg_isready(self.bins, port) {
                info!(port, data_dir = %self.data_dir.display(), "PostgreSQL is accepting connections");
                return Ok(cluster);
            }
            if Instant::now() >= deadline {
                let err = failed(format!(
                    "not accepting connections after {}s",
                    READY_TIMEOUT.as_secs()
                ));
                drop(cluster); // Shut the laggard down.
                return Err(Failure::Other(err));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn command(&self, port: u16, log_file: &Path) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(WRAPPER).arg("palisade-postgres"); // "$0" in the script.
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_owned(),
            "unix_socket_directories=".to_owned(), // TCP only: no socket dir to manage.
        ];
        if self.opts.ephemeral {
            for s in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                settings.push(s.to_owned());
            }
        }
        // Last, so the caller's settings win.
        settings.extend(self.opts.settings.iter().map(|(k, v)| format!("{k}={v}")));
        for setting in settings {
            cmd.arg("-c").arg(setting);
        }
        os_user::server_side(&mut cmd, self.user);
        cmd.env("PALISADE_PG_POSTGRES", self.bins.program("postgres"))
            .env("PGDATA", self.data_dir)
            .env("PALISADE_PG_PORT", port.to_string())
            .env("PALISADE_PG_LOG", log_file)
            .env("PALISADE_PG_REMOVE", self.remove.unwrap_or(Path::new("")))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            // The script redirects its own output to the log first thing; only a failure
            // of that redirect would show here.
            .stderr(Stdio::inherit())
            // Own process group: a terminal Ctrl-C reaches only our process, which drains
            // its work first and then stops the server.
            .process_group(0);
        cmd
    }
}

fn validate(opts: &ClusterOptions) -> Result<(), LaunchError> {
    let invalid = |msg: &str| Err(LaunchError::InvalidOptions(msg.to_owned()));
    if opts.superuser.is_empty() || opts.superuser.contains('\0') {
        return invalid("superuser must be non-empty and contain no NUL");
    }
    // initdb reads the first line of the password file.
    if opts.superuser_password.is_empty() || opts.superuser_password.contains(['\n', '\r', '\0']) {
        return invalid("superuser_password must be non-empty and contain no line breaks or NUL");
    }
    if opts.port == Some(0) {
        return invalid("port 0 is not a port; use None to pick a free one");
    }
    for (name, value) in &opts.settings {
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !name_ok || value.contains('\0') {
            return Err(LaunchError::InvalidOptions(format!(
                "bad server setting {name:?} (names are letters, digits, '_' and '.'; values contain no NUL)"
            )));
        }
    }
    Ok(())
}

/// Creates the data directory (and parents) and hands it to the server user; returns its
/// canonical path.
fn prepare_data_dir(
    requested: &Path,
    user: Option<&ServerUser>,
    ephemeral: bool,
) -> Result<PathBuf, LaunchError> {
    let abs = std::path::absolute(requested)
        .map_err(io_context(format!("resolving {}", requested.display())))?;
    let parent = abs.parent().ok_or_else(|| {
        LaunchError::InvalidOptions("data_dir must not be the root directory".into())
    })?;
    // Ephemeral clusters get deleted: never adopt a directory that already holds something.
    if ephemeral && !is_missing_or_empty(&abs)? {
        return Err(LaunchError::InvalidOptions(format!(
            "an ephemeral cluster needs a fresh data directory, but {} is not empty",
            abs.display()
        )));
    }
    let reachable = |dir: &Path, user: &ServerUser| match os_user::first_blocking_dir(dir, user) {
        Ok(None) => Ok(()),
        Ok(Some(blocked_at)) => Err(LaunchError::DataDirUnreachable {
            path: abs.clone(),
            user: user.name.clone(),
            blocked_at,
        }),
        Err(e) => Err(io_context(format!("inspecting {}", dir.display()))(e)),
    };
    if let Some(user) = user {
        // Fail before creating anything if an existing ancestor already blocks the user.
        if let Some(existing) = parent.ancestors().find(|a| a.exists()) {
            reachable(existing, user)?;
        }
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(parent)
        .map_err(io_context(format!("creating {}", parent.display())))?;
    match DirBuilder::new().mode(0o700).create(&abs) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(io_context(format!("creating {}", abs.display()))(e));
        }
        _ => {}
    }
    let dir = fs::canonicalize(&abs).map_err(io_context(format!("resolving {}", abs.display())))?;
    if let Some(user) = user {
        // Again, now that every ancestor exists (a restrictive umask, or symlinks).
        reachable(dir.parent().unwrap_or(&dir), user)?;
        // An initialised cluster keeps its owner (postgres checks it); a fresh one becomes
        // the server user's, private as initdb wants it.
        if !dir.join("PG_VERSION").exists() {
            chown(&dir, Some(user.uid), Some(user.gid))
                .map_err(io_context(format!("chown {}", dir.display())))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(io_context(format!("chmod {}", dir.display())))?;
        }
    }
    Ok(dir)
}

fn is_missing_or_empty(dir: &Path) -> Result<bool, LaunchError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_context(format!("reading {}", dir.display()))(e)),
    }
}

/// What an ephemeral cluster deletes: the directory [`ephemeral_dir`] made, if the data
/// directory is in one, else just the data directory.
fn removal_root(data_dir: &Path) -> PathBuf {
    match data_dir.parent() {
        Some(parent) if parent.join(EPHEMERAL_MARKER).is_file() => parent.to_path_buf(),
        _ => data_dir.to_path_buf(),
    }
}

fn remove_all(path: &Path) -> Result<(), LaunchError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_context(format!("removing {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

fn initdb(
    bins: &PgBinaries,
    data_dir: &Path,
    opts: &ClusterOptions,
    user: Option<&ServerUser>,
) -> Result<(), LaunchError> {
    info!(data_dir = %data_dir.display(), superuser = %opts.superuser, "running initdb");
    // As root, the file must be readable by the server user: next to the data directory,
    // whose parent we just checked it can reach. Otherwise our temp dir does.
    let pw_dir = match (user, data_dir.parent()) {
        (Some(_), Some(parent)) => parent.to_path_buf(),
        _ => std::env::temp_dir(),
    };
    let pwfile = SecretFile::create(&pw_dir, &opts.superuser_password, user)?;
    let run = |locale: &str| {
        let mut pwfile_arg = OsString::from("--pwfile=");
        pwfile_arg.push(&pwfile.0);
        let mut cmd = Command::new(bins.program("initdb"));
        cmd.arg("-D")
            .arg(data_dir)
            .arg("-U")
            .arg(&opts.superuser)
            .arg(pwfile_arg)
            .args([
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
            ])
            .arg(format!("--locale={locale}"))
            .stdin(Stdio::null());
        os_user::server_side(&mut cmd, user);
        // initdb's own messages in English, for the locale check below; the cluster's
        // locale comes from --locale, not from this.
        cmd.env("LC_ALL", "C");
        cmd.output().map_err(io_context(format!(
            "running {}",
            bins.program("initdb").display()
        )))
    };
    let combined = |out: &process::Output| {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text
    };
    let mut out = run("C.UTF-8")?;
    if !out.status.success() && combined(&out).contains("invalid locale name") {
        debug!("C.UTF-8 locale unavailable; falling back to C");
        out = run("C")?;
    }
    drop(pwfile); // Not a moment longer than needed.
    if !out.status.success() {
        return Err(LaunchError::InitdbFailed {
            data_dir: data_dir.to_path_buf(),
            status: out.status.to_string(),
            output_tail: tail(&combined(&out), &opts.superuser_password),
        });
    }
    debug!(data_dir = %data_dir.display(), "initdb done");
    Ok(())
}

/// A mode-0600 file holding a secret, owned by the server user, deleted on drop.
struct SecretFile(PathBuf);

impl SecretFile {
    /// Creates it in `dir` under a new random name. Not a predictable one: `dir` is the temp
    /// directory (or, as root, the data directory's parent), where other users may create files,
    /// and one who made `.palisade-pwfile-<pid>-0` and its like first made every initdb fail.
    fn create(dir: &Path, secret: &str, user: Option<&ServerUser>) -> Result<Self, LaunchError> {
        let mut attempts = 0;
        let (path, mut file) = loop {
            let path = dir.join(format!(".palisade-pwfile-{}", random_hex()?));
            // create_new: never follow or reuse something already there.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => {
                    return Err(io_context(format!(
                        "writing password file {}",
                        path.display()
                    ))(e));
                }
            }
        };
        let context = || format!("writing password file {}", path.display());
        let secret_file = Self(path.clone()); // From here on, deleted even on error.
        if let Some(user) = user {
            chown(&path, Some(user.uid), Some(user.gid)).map_err(io_context(context()))?;
        }
        writeln!(file, "{secret}").map_err(io_context(context()))?;
        Ok(secret_file)
    }
}

/// 16 random bytes from the kernel, hex.
fn random_hex() -> Result<String, LaunchError> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_context("reading /dev/urandom"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.0) {
            warn!(path = %self.0.display(), error = %e, "could not delete the initdb password file");
        }
    }
}

fn free_port() -> Result<u16, LaunchError> {
    // The kernel picks a free port; we release it for the server to bind (a small race that
    // the retry on "Address already in use" covers).
    TcpListener::bind((HOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(io_context("finding a free TCP port on 127.0.0.1"))
}

/// Whether `postmaster.pid` says the server is up ("ready") on `port`.
fn postmaster_ready(data_dir: &Path, port: u16) -> bool {
    let Ok(pid_file) = fs::read_to_string(data_dir.join("postmaster.pid")) else {
        return false;
    };
    // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
    let lines: Vec<&str> = pid_file.lines().collect();
    lines.get(3).is_some_and(|p| p.trim() == port.to_string())
        && lines.get(7).is_some_and(|s| s.trim() == "ready")
}

fn pg_isready(bins: &PgBinaries, port: u16) -> bool {
    let mut cmd = Command::new(bins.program("pg_isready"));
    cmd.args(["-q", "-t", "2", "-h", HOST, "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    os_user::scrub_pg_env(&mut cmd);
    cmd.status().is_ok_and(|s| s.success())
}

fn wait_for(child: &mut Child, patience: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The last lines written to `path` from byte `start` on, redacted.
fn read_tail(path: &Path, start: u64, secret: &str) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        // A log shorter than `start` was replaced; then all of it is new.
        let start = if start > len { 0 } else { start };
        file.seek(SeekFrom::Start(start.max(len.saturating_sub(MAX_BYTES))))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => tail(&text, secret),
        Err(e) => format!("(server log unreadable: {e})"),
    }
}

/// The last [`TAIL_LINES`] lines of `text`, with `secret` blanked out wherever it appears.
fn tail(text: &str, secret: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if secret.is_empty() {
        tail
    } else {
        tail.replace(secret, "<redacted>")
    }
}

/// `postgresql://USER:PASSWORD@127.0.0.1:PORT/DBNAME` for a cluster on `port`, with user,
/// password and database name percent-encoded: a password may hold `@`, `%`, `/`, `?` or `#`
/// (a hand-edited one), which would otherwise end the user information or the URL early.
pub fn local_url(port: u16, user: &str, password: &str, dbname: &str) -> String {
    format!(
        "postgresql://{}:{}@{HOST}:{port}/{}",
        percent_encode(user),
        percent_encode(password),
        percent_encode(dbname)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn percent_encodes_userinfo_and_path() {
        assert_eq!(percent_encode("app_user-1.x~"), "app_user-1.x~");
        assert_eq!(
            percent_encode("p@ss:w/rd %é"),
            "p%40ss%3Aw%2Frd%20%25%C3%A9"
        );
    }

    #[test]
    fn tail_keeps_last_lines_and_redacts() {
        let text: String = (1..=30).map(|i| format!("line {i} hunter2\n")).collect();
        let t = tail(&text, "hunter2");
        assert!(t.starts_with("line 11 <redacted>"), "{t}");
        assert!(t.ends_with("line 30 <redacted>"), "{t}");
        assert!(!t.contains("hunter2"));
    }

    #[test]
    fn read_tail_reports_only_new_lines() {
        let dir = ephemeral_dir("palisade-tail-test").unwrap();
        let parent = dir.parent().unwrap().to_path_buf();
        let log = parent.join("log");
        fs::write(&log, "old run\n").unwrap();
        let start = fs::metadata(&log).unwrap().len();
        OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"FATAL: new run\n")
            .unwrap();
        assert_eq!(read_tail(&log, start, "x"), "FATAL: new run");
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn the_password_file_takes_a_name_no_one_could_have_taken_first() {
        // Another user of the temp directory creates the names the file used to get
        // (`.palisade-pwfile-<pid>-<count>`) before this process's first initdb.
        let dir = ephemeral_dir("palisade-pwfile-test").unwrap();
        let dir = dir.parent().unwrap();
        for count in 0..256 {
            fs::write(
                dir.join(format!(".palisade-pwfile-{}-{count}", process::id())),
                "squatted",
            )
            .unwrap();
        }
        let a = SecretFile::create(dir, "s3cret", None).unwrap();
        let b = SecretFile::create(dir, "s3cret", None).unwrap();
        assert_ne!(a.0, b.0);
        assert_eq!(fs::read_to_string(&a.0).unwrap(), "s3cret\n");
        assert_eq!(
            fs::metadata(&a.0).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let path = a.0.clone();
        drop(a);
        assert!(!path.exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ephemeral_dir_is_fresh_marked_and_traversable() {
        let a = ephemeral_dir("palisade-ephemeral-test").unwrap();
        let b = ephemeral_dir("palisade-ephemeral-test").unwrap();
        assert_ne!(a, b);
        let parent = a.parent().unwrap();
        assert!(!a.exists());
        assert_eq!(removal_root(&a), parent);
        let mode = fs::metadata(parent).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(ephemeral_dir("bad/prefix").is_err());
        for dir in [&a, &b] {
            fs::remove_dir_all(dir.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn rejects_bad_options_without_echoing_the_password() {
        let opts = |password: &str, settings: Vec<(String, String)>| ClusterOptions {
            data_dir: "/nonexistent".into(),
            port: None,
            superuser: "su".into(),
            superuser_password: password.into(),
            ephemeral: true,
            settings,
        };
        let err = validate(&opts("multi\nline-secret", vec![])).unwrap_err();
        assert!(!err.to_string().contains("line-secret"));
        let bad_setting = vec![("max_connections; x".into(), "1".into())];
        assert!(validate(&opts("ok", bad_setting)).is_err());
        assert!(validate(&opts("ok", vec![("work_mem".into(), "8MB".into())])).is_ok());
        assert!(!format!("{:?}", opts("sekrit", vec![])).contains("sekrit"));
    }
}
