//! A throwaway PostgreSQL server for the test suites and benchmarks: a cluster made by
//! `initdb` in a temporary directory, listening only on a Unix socket there, run as an
//! unprivileged user when the tests run as root (PostgreSQL refuses root; CI runs as root),
//! and gone when the test process ends, however it ends: the server is the child of a
//! thread that lives as long as the process, with the parent-death signal set, under a
//! shell that removes the directory after it.
//!
//! One server per process; each caller gets a database of its own ([`database`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The server's directory (socket and data), once it answers.
static SERVER: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);

/// The user the server runs as when the tests run as root: `nobody`.
const UNPRIVILEGED: u32 = 65_534;

/// The directory holding PostgreSQL's server programs, if the machine has them: on `PATH`,
/// else Debian's newest `/usr/lib/postgresql/N/bin`.
pub fn server_programs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| {
                let e = e.ok()?;
                let version = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// How `.ci/run` installs the server (Debian's package).
pub const INSTALL: &str = "apt-get install postgresql";

fn as_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// Runs `command` as [`UNPRIVILEGED`] when the process is root; with `orphan_signal`, the
/// command gets that signal when the thread that started it ends.
fn unprivileged(command: &mut Command, orphan_signal: Option<i32>) {
    use std::os::unix::process::CommandExt;
    let drop_root = as_root();
    // SAFETY: only async-signal-safe calls (setgroups, setgid, setuid, prctl) between fork
    // and exec.
    unsafe {
        command.pre_exec(move || {
            if drop_root
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(UNPRIVILEGED) != 0
                    || libc::setuid(UNPRIVILEGED) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // After the change of user, which clears it.
            if let Some(signal) = orphan_signal
                && libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A server's certificate and key (PEM), to serve TLS on a loopback TCP port as well.
pub struct Tls<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    pub port: u16,
}

fn start(bin: &Path, name: &str, tls: Option<Tls<'_>>) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("smsq-pg{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if as_root() {
        std::os::unix::fs::chown(&dir, Some(UNPRIVILEGED), Some(UNPRIVILEGED))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .args([
            "--auth=trust",
            "--username=smsq",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .arg("-D")
        .arg(&data)
        .current_dir(&dir)
        .stdout(Stdio::null());
    unprivileged(&mut initdb, None);
    let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (network, port) = match &tls {
        None => (" -c listen_addresses=".to_owned(), 5432),
        Some(tls) => {
            // PostgreSQL reads its key only if no one else may: the server's user, 0600.
            for (file, pem) in [("server.crt", tls.cert_pem), ("server.key", tls.key_pem)] {
                let path = data.join(file);
                std::fs::write(&path, pem).map_err(|e| format!("{file}: {e}"))?;
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .map_err(|e| format!("{file}: {e}"))?;
                if as_root() {
                    std::os::unix::fs::chown(&path, Some(UNPRIVILEGED), Some(UNPRIVILEGED))
                        .map_err(|e| format!("chown {file}: {e}"))?;
                }
            }
            (
                format!(
                    " -c listen_addresses=127.0.0.1 -c port={} -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
                    tls.port
                ),
                tls.port,
            )
        }
    };
    // The shell outlives the server by the moment it takes to remove the directory; the
    // server gets the shell's signal through the trap.
    let script = format!(
        "trap 'kill -INT $pid 2>/dev/null; wait $pid; rm -rf {dir}' TERM INT HUP
         {postgres} -D {data} -k {dir}{network} -c fsync=off \
           -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
           >{dir}/server.log 2>&1 &
         pid=$!
         wait $pid",
        dir = shell_quote(&dir),
        data = shell_quote(&data),
        postgres = shell_quote(&bin.join("postgres")),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("throwaway-postgres".into())
        .spawn(move || {
            let mut shell = Command::new("sh");
            shell.arg("-c").arg(script).stdin(Stdio::null());
            unprivileged(&mut shell, Some(libc::SIGTERM));
            let started = shell.spawn().map(|_| ());
            let _ = tx.send(started.map_err(|e| format!("sh: {e}")));
            // The server lives as long as this thread: as long as the process.
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())??;
    // The socket appears a moment before the server takes connections: ready once one is.
    let admin = format!(
        "host={} port={port} user=smsq dbname=postgres",
        dir.display()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while postgres::Client::connect(&admin, postgres::NoTls).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("the server did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(dir)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The connection string of the process's throwaway server's `postgres` database, started
/// at the first call; `Err` says why there is none (no server programs, a failed start).
pub fn server() -> Result<String, String> {
    let mut server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = server.get_or_insert_with(|| {
        let bin = server_programs()
            .ok_or_else(|| format!("PostgreSQL's server programs are missing ({INSTALL})"))?;
        start(&bin, "", None)
    });
    dir.clone()
        .map(|dir| format!("host={} user=smsq dbname=postgres", dir.display()))
}

/// A second throwaway server that also takes TLS connections on `tls.port` of 127.0.0.1
/// (the first serves only its Unix socket), for tests of connections between hosts.
pub fn tls_server(tls: Tls<'_>) -> Result<(), String> {
    let bin = server_programs()
        .ok_or_else(|| format!("PostgreSQL's server programs are missing ({INSTALL})"))?;
    start(&bin, "-tls", Some(tls)).map(|_| ())
}

/// A new, empty database on the throwaway server, for one test: its connection string.
pub fn database() -> Result<String, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // PostgreSQL refuses to copy its template for two new databases at once.
    static CREATING: Mutex<()> = Mutex::new(());
    let admin = server()?;
    let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let words = |e: postgres::Error| match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    };
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).map_err(words)?;
    // The template is briefly busy while autovacuum visits it: try again a few times.
    let mut tries = 0;
    loop {
        match client.batch_execute(&format!("CREATE DATABASE {name}")) {
            Ok(()) => break,
            Err(e) if tries < 50 && e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(words(e)),
        }
    }
    Ok(admin.replace("dbname=postgres", &format!("dbname={name}")))
}

/// Like [`database`], for a test that cannot go on without one: `None` (the test says it
/// is skipped) on a developer's machine without PostgreSQL; a panic in CI (`CI` set), where
/// `.ci/run` installs it, or when the server is there but fails.
pub fn database_or_skip() -> Option<String> {
    if server_programs().is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL is missing, and CI must run this test: {INSTALL}");
        }
        eprintln!("SKIPPED: PostgreSQL is missing ({INSTALL}); CI runs this test");
        return None;
    }
    Some(database().unwrap_or_else(|e| panic!("throwaway PostgreSQL: {e}")))
}
