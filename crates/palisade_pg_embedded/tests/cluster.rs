//! Starts real clusters from the installed PostgreSQL. Runs as root (server as `postgres`)
//! or as an ordinary user; every test uses its own directory and port, so they run in
//! parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use palisade_pg_embedded::{
    ClusterOptions, LaunchError, MIN_SERVER_VERSION, PgBinaries, RunningCluster, ephemeral_dir,
};

const SUPERUSER: &str = "palisade_su";
/// The clusters' superuser password: characters a URL must encode, then 16 random bytes (hex)
/// made once per process. Never a fixed one: the clusters listen on 127.0.0.1, where any local
/// user can try it.
fn password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(|| {
        let mut random = [0u8; 16];
        std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut random)
            .unwrap();
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        format!("s3cret pw:@/{hex}")
    })
}
/// Set in the child process of `killed_owner_process_stops_server`.
const OWNER_ENV: &str = "PALISADE_PG_TEST_OWNER";
const OWNER_READY: &str = "PALISADE_OWNER_READY";

fn bins() -> PgBinaries {
    PgBinaries::locate().expect("PostgreSQL server binaries")
}

fn options(data_dir: PathBuf, ephemeral: bool) -> ClusterOptions {
    ClusterOptions {
        data_dir,
        port: None,
        superuser: SUPERUSER.into(),
        superuser_password: password().into(),
        ephemeral,
        settings: vec![("max_connections".into(), "20".into())],
    }
}

/// Runs one SQL command through psql over TCP as the superuser.
fn try_psql(bins: &PgBinaries, port: u16, password: &str, sql: &str) -> Output {
    let port = port.to_string();
    Command::new(bins.bindir().join("psql"))
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
        .env("PGPASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Like [`try_psql`] with the right password; returns the unaligned output.
fn psql(bins: &PgBinaries, port: u16, sql: &str) -> String {
    let out = try_psql(bins, port, password(), sql);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql {sql:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").unwrap().uid() == 0
}

fn accepting(bins: &PgBinaries, port: u16) -> bool {
    Command::new(bins.bindir().join("pg_isready"))
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Polls until `done` holds; the 30 s bound is a safety net, not a timing assertion.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn locates_a_supported_server() {
    let bins = bins();
    assert!(bins.version() >= MIN_SERVER_VERSION, "{bins:?}");
    assert!(bins.bindir().join("postgres").is_file());
}

#[test]
fn ephemeral_cluster_serves_and_is_removed_on_stop() {
    let bins = bins();
    let data_dir = ephemeral_dir("palisade-pg-test").unwrap();
    let parent = data_dir.parent().unwrap().to_path_buf();
    let cluster = RunningCluster::start(&bins, options(data_dir, true)).unwrap();
    let port = cluster.port();
    assert_eq!(cluster.host(), "127.0.0.1");
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    assert!(accepting(&bins, port));
    assert_eq!(psql(&bins, port, "select 1"), "1");
    let wrong = try_psql(&bins, port, "wrong password", "select 1");
    assert!(
        !wrong.status.success(),
        "password authentication is not enforced"
    );
    assert_eq!(psql(&bins, port, "show fsync"), "off");
    assert_eq!(psql(&bins, port, "show max_connections"), "20");
    assert_eq!(
        cluster.url(SUPERUSER, password(), "postgres"),
        format!(
            "postgresql://palisade_su:s3cret%20pw%3A%40%2F{}@127.0.0.1:{port}/postgres",
            &password()["s3cret pw:@/".len()..]
        )
    );

    cluster.stop().unwrap();
    assert!(!parent.exists(), "ephemeral directory survived stop()");
    assert!(!accepting(&bins, port));
}

#[test]
fn persistent_cluster_keeps_data_across_restarts() {
    let bins = bins();
    let data_dir = ephemeral_dir("palisade-pg-persistent").unwrap();
    let parent = data_dir.parent().unwrap().to_path_buf();

    let cluster = RunningCluster::start(&bins, options(data_dir.clone(), false)).unwrap();
    psql(
        &bins,
        cluster.port(),
        "create table kept (x int); insert into kept values (42)",
    );
    assert_eq!(psql(&bins, cluster.port(), "show fsync"), "on");
    cluster.stop().unwrap();
    assert!(data_dir.join("PG_VERSION").is_file());

    let cluster = RunningCluster::start(&bins, options(data_dir.clone(), false)).unwrap();
    assert_eq!(psql(&bins, cluster.port(), "select x from kept"), "42");

    // A second server on the same data directory dies at once; the error shows why.
    let err = RunningCluster::start(&bins, options(data_dir.clone(), false)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LaunchError::StartFailed { .. }), "{msg}");
    assert!(msg.contains("postmaster.pid"), "{msg}");
    assert!(!msg.contains(password()), "{msg}");
    // ... and did not disturb the first one.
    assert_eq!(
        psql(&bins, cluster.port(), "select count(*) from kept"),
        "1"
    );

    cluster.stop().unwrap();
    assert!(data_dir.join("PG_VERSION").is_file());
    fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn taken_fixed_port_fails_with_log_tail() {
    let bins = bins();
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let data_dir = ephemeral_dir("palisade-pg-port").unwrap();
    let parent = data_dir.parent().unwrap().to_path_buf();
    let mut opts = options(data_dir, true);
    opts.port = Some(port);

    let err = RunningCluster::start(&bins, opts).unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, LaunchError::StartFailed { .. }), "{msg}");
    assert!(msg.contains("Address already in use"), "{msg}");
    assert!(!parent.exists(), "failed ephemeral start left files behind");
}

#[test]
fn the_server_gets_none_of_the_launchers_environment_but_locale_time_zone_and_paths() {
    // As root the server runs as the postgres OS user, who may read its environment, and a
    // database superuser can run a program with it (as here): the launching process's secrets
    // must not be in it. This process's own variables stand for them (HOME, cargo's CARGO_*, a
    // developer's secrets). (`/proc/<backend>/environ` would not show it: PostgreSQL writes
    // its process title over that memory.)
    let bins = bins();
    let cluster = RunningCluster::start(
        &bins,
        options(ephemeral_dir("palisade-pg-env").unwrap(), true),
    )
    .unwrap();
    let names = psql(
        &bins,
        cluster.port(),
        "CREATE TEMPORARY TABLE e (name text); \
         COPY e FROM PROGRAM 'env | cut -d= -f1'; \
         SELECT string_agg(name, ',') FROM e",
    );
    cluster.stop().unwrap();
    let server: Vec<&str> = names.split(',').collect();
    assert!(server.contains(&"PGDATA"), "{server:?}");
    let kept = |n: &str| {
        n.starts_with("LC_")
            || ["PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TZDIR"].contains(&n)
            // What the watchdog shell sets itself.
            || ["PWD", "OLDPWD", "SHLVL", "_"].contains(&n)
    };
    let ours: Vec<String> = env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|n| !kept(n))
        .collect();
    assert!(!ours.is_empty(), "no variable of this process to look for");
    let leaked: Vec<&String> = ours
        .iter()
        .filter(|n| server.contains(&n.as_str()))
        .collect();
    assert!(leaked.is_empty(), "the server inherited {leaked:?}");
}

#[test]
fn ephemeral_cluster_refuses_a_non_empty_directory() {
    let data_dir = ephemeral_dir("palisade-pg-nonempty").unwrap();
    fs::create_dir(&data_dir).unwrap();
    fs::write(data_dir.join("precious"), "keep me").unwrap();
    let err = RunningCluster::start(&bins(), options(data_dir.clone(), true)).unwrap_err();
    assert!(matches!(err, LaunchError::InvalidOptions(_)), "{err}");
    assert!(data_dir.join("precious").is_file());
    fs::remove_dir_all(data_dir.parent().unwrap()).unwrap();
}

#[test]
fn root_refuses_a_data_dir_the_server_user_cannot_reach() {
    if !running_as_root() {
        return; // As an ordinary user the server runs as ourselves: nothing to check.
    }
    let scratch = ephemeral_dir("palisade-pg-unreachable").unwrap();
    let parent = scratch.parent().unwrap().to_path_buf();
    let locked = parent.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = locked.join("deeper").join("pgdata");

    let err = RunningCluster::start(&bins(), options(data_dir, false)).unwrap_err();
    match &err {
        LaunchError::DataDirUnreachable {
            blocked_at, user, ..
        } => {
            assert_eq!((blocked_at, user.as_str()), (&locked, "postgres"));
        }
        other => panic!("expected DataDirUnreachable, got {other:?}"),
    }
    assert!(err.to_string().contains("/var/tmp"), "{err}");
    assert!(
        !locked.join("deeper").exists(),
        "created directories before failing"
    );
    fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn dropping_without_stop_shuts_the_server_down() {
    let bins = bins();
    let data_dir = ephemeral_dir("palisade-pg-drop").unwrap();
    let parent = data_dir.parent().unwrap().to_path_buf();
    let cluster = RunningCluster::start(&bins, options(data_dir, true)).unwrap();
    let port = cluster.port();
    assert!(accepting(&bins, port));

    drop(cluster);
    eventually("server gone after drop", || !accepting(&bins, port));
    eventually("ephemeral dir removed after drop", || !parent.exists());
}

/// Kills the child process on drop, so a failing test leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn killed_owner_process_stops_server() {
    let bins = bins();
    // Re-run this test binary, selecting only the owner test below, which starts a cluster,
    // reports it, and sleeps until killed.
    let mut owner = KillOnDrop(
        Command::new(env::current_exe().unwrap())
            .args([
                "owner_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(OWNER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = owner.0.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        // libtest may print "test owner_process ... " on the same line first.
        .find_map(|l| Some(l.split_once(OWNER_READY)?.1.to_owned()))
        .expect("owner process reported no cluster");
    let mut fields = line.split_whitespace();
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let data_dir = PathBuf::from(fields.next().unwrap());
    assert!(accepting(&bins, port));

    // SIGKILL: no destructors, no atexit; only the closed pipe tells the wrapper.
    owner.0.kill().unwrap();
    owner.0.wait().unwrap();
    eventually("server gone after its owner was killed", || {
        !accepting(&bins, port)
    });
    let parent = data_dir.parent().unwrap();
    eventually("ephemeral dir removed after its owner was killed", || {
        !Path::new(parent).exists()
    });
}

/// The owner process of `killed_owner_process_stops_server`; a no-op in a normal run.
#[test]
fn owner_process() {
    if env::var_os(OWNER_ENV).is_none() {
        return;
    }
    let data_dir = ephemeral_dir("palisade-pg-owner").unwrap();
    let cluster = RunningCluster::start(&bins(), options(data_dir, true)).unwrap();
    println!(
        "{OWNER_READY} {} {}",
        cluster.port(),
        cluster.data_dir().display()
    );
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn a_data_directory_of_another_major_release_is_refused_saying_what_to_do() {
    let bins = bins();
    let (major, _) = bins.version();
    let other = major - 1; // e.g. a directory made by PostgreSQL 14 on a machine with 15 only
    let data_dir = ephemeral_dir("palisade-mismatch-test").unwrap();
    let parent = data_dir.parent().unwrap().to_path_buf();
    fs::create_dir_all(&data_dir).unwrap();
    fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(data_dir.join("PG_VERSION"), format!("{other}\n")).unwrap();
    let err = RunningCluster::start(&bins, options(data_dir.clone(), false)).unwrap_err();
    match &err {
        LaunchError::VersionMismatch {
            data_major, found, ..
        } => assert_eq!((*data_major, found.0), (other, major)),
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    for needle in [
        format!("PostgreSQL {other}"),
        format!("postgresql-{other}"),
        "PALISADE_PG_BIN".to_owned(),
        "pg_upgrade".to_owned(),
    ] {
        assert!(msg.contains(&needle), "{needle}: {msg}");
    }
    // Nothing was run on the directory: no initdb, no server.
    let left: Vec<_> = fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("PG_VERSION")]);
    // The embedded default's search says the same before it picks binaries.
    let err = PgBinaries::locate_for(&data_dir).unwrap_err();
    assert!(
        matches!(err, LaunchError::VersionMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        PgBinaries::locate_for(&parent.join("nowhere")).unwrap(),
        bins
    );
    fs::remove_dir_all(&parent).unwrap();
}
