//! A real PostgreSQL for tests (feature `testing`): Debian's `postgresql`
//! binaries, one server per process (initdb in a temp dir, a free loopback
//! port, run as the `postgres` user when the process runs as root), and a
//! fresh database per test.
//!
//! The server stops and its folder is removed when the process exits: a
//! shell beside it waits for its standard input, whose other end the
//! process holds, to close.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! let url = onelive_cluster::testing::database("my_test").await?;
//! # Ok(()) }
//! ```

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The process's PostgreSQL server.
pub struct Server {
    /// Its loopback port.
    pub port: u16,
    dir: PathBuf,
    /// The shell that stops the server when our end of its stdin closes.
    _keeper: Mutex<Child>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("port", &self.port).field("dir", &self.dir).finish()
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The folder holding both `initdb` and `postgres`: on PATH, else the
/// newest /usr/lib/postgresql/*/bin.
fn pg_bin_dir() -> Result<PathBuf, String> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has_both(d)))
    {
        return Ok(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v: u32 = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    has_both(&bin).then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, d)| d).ok_or_else(|| {
        "PostgreSQL not found (no initdb and postgres on PATH or in /usr/lib/postgresql/*/bin); \
         run scripts/install-deps.sh (Debian package `postgresql`)"
            .to_owned()
    })
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A command, run as `postgres` when we are root (initdb and postgres
/// refuse to run as root).
fn as_pg_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn start() -> Result<Server, String> {
    let bin = pg_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("onelive-cluster-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    if running_as_root() {
        let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status();
        if !ok.map(|s| s.success()).unwrap_or(false) {
            return Err(format!("cannot chown {} to postgres", dir.display()));
        }
    }
    let data = dir.join("data");
    let out = as_pg_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = free_port()?;
    let script = r#"
"$1" -D "$2" -h 127.0.0.1 -p "$3" -k "$4" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB >"$4/server.log" 2>&1 &
pid=$!
read _ignored || true
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$4"
"#;
    let keeper = as_pg_user(Path::new("/bin/sh"))
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(bin.join("postgres"))
        .arg(&data)
        .arg(port.to_string())
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    Ok(Server { port, dir, _keeper: Mutex::new(keeper) })
}

/// The server, started at the first call.
pub fn server() -> Result<&'static Server, String> {
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

impl Server {
    /// The URL of database `db` on it.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// A fresh database named after `test` on the shared server (waits for the server to accept
/// connections first); returns its URL.
pub async fn database(test: &str) -> Result<String, String> {
    let server = server()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let admin = loop {
        match tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                break client;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("PostgreSQL did not start: {e}\n{}", server.log())),
        }
    };
    let name = format!("t{}_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst), test);
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .map_err(|e| format!("cannot create database {name}: {}", crate::error::pg_text(&e)))?;
    Ok(server.url(&name))
}
