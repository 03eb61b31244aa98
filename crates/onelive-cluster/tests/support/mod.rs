//! A real PostgreSQL for the tests: Debian's `postgresql` binaries, one
//! server per test binary (initdb in a temp dir, a free loopback port, run
//! as the `postgres` user when the tests run as root), one database per
//! test. The server stops and its folder is removed when the test binary
//! exits (a shell beside it waits for its standard input to close).
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use onelive_cluster::{ClusterNode, ClusterOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub struct Server {
    pub port: u16,
    dir: PathBuf,
    /// The shell that stops the server when our end of its stdin closes.
    _keeper: Mutex<Child>,
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    let port = free_port();
    let script = r#"
"$1" -D "$2" -h 127.0.0.1 -p "$3" -k "$4" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB >"$4/server.log" 2>&1 &
pid=$!
read _ignored || true
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$4"
"#;
    let mut keeper = as_pg_user(Path::new("/bin/sh"))
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
    // Keep our end of the pipe open for the life of the process.
    if let Some(stdin) = keeper.stdin.as_mut() {
        let _ = stdin.flush();
    }
    Ok(Server { port, dir, _keeper: Mutex::new(keeper) })
}

pub fn server() -> &'static Server {
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

impl Server {
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// A fresh database on the shared server (waits for the server to accept
/// connections first); returns its URL.
pub async fn database(test: &str) -> String {
    let server = server();
    let deadline = Instant::now() + Duration::from_secs(90);
    let admin = loop {
        match tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                break client;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("PostgreSQL did not start: {e}\n{}", server.log()),
        }
    };
    let name = format!("t{}_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst), test);
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    server.url(&name)
}

/// A node with a short lease for the tests.
pub async fn node(url: &str, id: &str, lease: Duration, cap: usize) -> ClusterNode {
    ClusterNode::connect(
        ClusterOptions::new(url).with_node_id(id).with_lease(lease).with_max_recordings(cap),
    )
    .await
    .unwrap_or_else(|e| panic!("node {id}: {e}"))
}

/// Polls `f` until it returns `Some`, at most `secs` seconds.
pub async fn until<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A TCP proxy on loopback in front of the server whose connections can be
/// cut (all of them closed, new ones refused) and restored.
pub struct Proxy {
    pub port: u16,
    cut: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Proxy {
    pub async fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut = Arc::new(cut);
        let cut2 = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if *cut2.borrow() {
                    let _ = inbound.shutdown().await;
                    continue;
                }
                let mut rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    pub fn url(&self, db_url: &str, server_port: u16) -> String {
        db_url.replace(&format!(":{server_port}/"), &format!(":{}/", self.port))
    }

    pub fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}
