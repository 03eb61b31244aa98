//! The container's entrypoint (`docker/entrypoint.sh`), run with bash against a
//! temporary folder standing in for the image's `/app` (`ONELIVE_ROOT`), with the
//! real `oneliverec` (and `onelive-sink`, when cargo built it) on `PATH`. It
//! starts with no config, feeds the sink signed events, fixes ownership
//! (when the test runs as root) and waits for a broken config instead of
//! exiting. Everything listens on 127.0.0.1. This is not a container test: no
//! image is built or run here.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::e2e_support::{BIN, signal, wait_exit};

/// The uid:gid the entrypoint is asked to drop to when the test runs as root
/// (numbers with no passwd entry, as in a container with PUID/PGID).
const TEST_UID: u32 = 4242;
const TEST_GID: u32 = 4243;

fn entrypoint() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker/entrypoint.sh")
}

/// This process's uid (the owner of `/proc/self`).
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn is_root() -> bool {
    my_uid() == 0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A stand-in for the image: `root` (mode 0755, so the dropped user can
/// enter it) and `bin/` with the programs, linked there so the dropped user
/// can run them wherever the checkout lives.
struct Image {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    api_port: u16,
    sink_port: u16,
}

impl Image {
    fn new() -> Image {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = tmp.path().join("app");
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        link(Path::new(BIN), &bin.join("oneliverec"));
        if let Some(sink) = sink_binary() {
            link(&sink, &bin.join("onelive-sink"));
        }
        Image { _tmp: tmp, root, bin, api_port: free_port(), sink_port: free_port() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(entrypoint()).args(args);
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path)
            .env("ONELIVE_ROOT", &self.root)
            .env("ONELIVEREC_API_LISTEN", format!("127.0.0.1:{}", self.api_port))
            .env("ONELIVE_SINK_LISTEN", format!("127.0.0.1:{}", self.sink_port))
            .env("ONELIVE_SINK_URL", format!("http://127.0.0.1:{}/webhook", self.sink_port))
            .env("ONELIVE_WAIT_INTERVAL", "1")
            .env("RUST_LOG", "info")
            .env_remove("ONELIVEREC_CONFIG")
            .env_remove("ONELIVE_SINK_CONFIG")
            .current_dir(self.root.parent().unwrap());
        if is_root() {
            cmd.env("PUID", TEST_UID.to_string()).env("PGID", TEST_GID.to_string());
        } else {
            cmd.env_remove("PUID").env_remove("PGID");
        }
        cmd
    }

    fn spawn(&self, args: &[&str], log: &str) -> Child {
        let log = std::fs::File::create(self.root.parent().unwrap().join(log)).unwrap();
        self.command(args).stdout(Stdio::null()).stderr(log).spawn().unwrap()
    }

    fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.root.parent().unwrap().join(log)).unwrap_or_default()
    }

    fn config(&self) -> PathBuf {
        self.root.join("config/oneliverec.toml")
    }

    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }
}

/// The sink binary cargo builds for `cargo test --workspace` (beside ours).
fn sink_binary() -> Option<PathBuf> {
    let path = Path::new(BIN).with_file_name("onelive-sink");
    path.is_file().then_some(path)
}

fn link(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

/// Polls `f` until it returns `Some`; panics with `what` and `logs` after two minutes.
async fn wait_until<T, F, Fut>(what: &str, logs: impl Fn() -> String, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; logs:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn healthy(http: reqwest::Client, url: String) -> Option<()> {
    let answer = http.get(&url).send().await.ok()?;
    answer.status().is_success().then_some(())
}

fn toml_file(path: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn process_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_entrypoint_starts_with_no_config_writes_starters_and_feeds_the_sink() {
    let image = Image::new();
    // A recording left by an older image that ran as root: the entrypoint hands it over.
    std::fs::create_dir_all(image.root.join("rec/bilibili")).unwrap();
    std::fs::write(image.root.join("rec/bilibili/old.flv"), b"FLV").unwrap();

    // Both services at once on the shared config folder, as compose starts them.
    let mut recorder = image.spawn(&["run", "--shutdown-timeout", "5s"], "recorder.log");
    let mut sink = sink_binary().map(|_| {
        image.spawn(
            &[
                "onelive-sink",
                "--config",
                image.root.join("config/onelive-sink.toml").to_str().unwrap(),
                "serve",
                "--log-dir",
                image.root.join("sink/logs").to_str().unwrap(),
            ],
            "sink.log",
        )
    });
    let logs = || format!("{}\n--- sink:\n{}", image.log("recorder.log"), image.log("sink.log"));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    wait_until("the recorder's /healthz", logs, || healthy(http.clone(), image.api("/healthz")))
        .await;

    // One starter config each, written once, 0600, with the same generated secret.
    let recorder_cfg = toml_file(&image.config());
    let sink_cfg = toml_file(&image.root.join("config/onelive-sink.toml"));
    let recorder_log = image.log("recorder.log") + &image.log("sink.log");
    assert_eq!(
        recorder_log.matches("wrote a starter config").count(),
        2,
        "each starter written exactly once:\n{recorder_log}"
    );
    let token = recorder_cfg["api"]["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32, "a long generated token: {token}");
    let webhook = &recorder_cfg["webhooks"].as_array().unwrap()[0];
    let secret = webhook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(sink_cfg["auth"]["secrets"].as_array().unwrap()[0].as_str(), Some(secret));
    assert_eq!(
        webhook["url"].as_str().unwrap(),
        format!("http://127.0.0.1:{}/webhook", image.sink_port)
    );
    for file in ["oneliverec.toml", "onelive-sink.toml"] {
        let meta = std::fs::metadata(image.root.join("config").join(file)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600, "{file} is private");
    }
    // Secrets stay in the files: not in a log line.
    let all_logs = logs();
    assert!(!all_logs.contains(&token), "the token reached a log");
    assert!(!all_logs.contains(secret), "the webhook secret reached a log");

    // The API needs the generated token.
    let anonymous = http.get(image.api("/api/channels")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let authorized = http.get(image.api("/api/channels")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(authorized.status(), 200);

    // Ownership and the user the recorder runs as.
    let expected_uid = if is_root() { TEST_UID } else { my_uid() };
    assert_eq!(process_uid(recorder.id()), expected_uid, "the recorder runs as PUID");
    if is_root() {
        for path in
            ["rec", "rec/bilibili/old.flv", "data", "config", "sink", "config/oneliverec.toml"]
        {
            let meta = std::fs::metadata(image.root.join(path)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (TEST_UID, TEST_GID), "{path} owned by PUID:PGID");
        }
        let outbox = std::fs::metadata(image.root.join("data/outbox.sqlite")).unwrap();
        assert_eq!((outbox.uid(), outbox.gid()), (TEST_UID, TEST_GID), "state written as PUID");
    } else {
        eprintln!("not root: PUID/PGID ownership changes not exercised");
    }

    // The recorder's signed app_launch reaches the sink and is accepted.
    if let Some(sink) = &sink {
        let delivered = wait_until("app_launch delivered to the sink", logs, || async {
            let answer = http
                .get(image.api("/api/deliveries"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            answer["deliveries"]
                .as_array()?
                .iter()
                .find(|d| d["event_type"] == "app_launch" && d["status"] == "delivered")
                .cloned()
        })
        .await;
        assert_eq!(delivered["webhook_id"], "onelive-sink");
        assert_eq!(delivered["last_status"], 200);
        assert!(image.root.join("sink/onelive-sink.db").is_file());
        // It answered, so it has been exec'd as PUID by now.
        assert_eq!(process_uid(sink.id()), expected_uid, "the sink runs as PUID");
    } else {
        eprintln!("onelive-sink not built beside oneliverec: the sink half was not exercised");
    }

    signal(&recorder, nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut recorder, Duration::from_secs(60)).await;
    assert!(status.success(), "the recorder stops cleanly on SIGTERM: {status}\n{}", logs());
    if let Some(sink) = sink.as_mut() {
        signal(sink, nix::sys::signal::Signal::SIGTERM);
        wait_exit(sink, Duration::from_secs(60)).await;
    }

    // A second start keeps the configs as they are.
    let before = std::fs::read_to_string(image.config()).unwrap();
    let mut again = image.spawn(&["run", "--shutdown-timeout", "2s"], "recorder-2.log");
    wait_until(
        "/healthz after a restart",
        || image.log("recorder-2.log"),
        || healthy(http.clone(), image.api("/healthz")),
    )
    .await;
    assert_eq!(std::fs::read_to_string(image.config()).unwrap(), before);
    assert!(!image.log("recorder-2.log").contains("starter"));
    signal(&again, nix::sys::signal::Signal::SIGTERM);
    wait_exit(&mut again, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_entrypoint_waits_for_a_broken_config_instead_of_exiting() {
    let image = Image::new();
    std::fs::create_dir_all(image.root.join("config")).unwrap();
    let good = format!(
        "[output]\nfolder = \"{root}/rec\"\n[state]\ndir = \"{root}/data\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n",
        root = image.root.display(),
        port = image.api_port
    );
    let broken = good.replace("[state]", "[watch]\npoll_intervall = \"30s\"\n[state]");
    std::fs::write(image.config(), &broken).unwrap();

    let mut recorder = image.spawn(&["run", "--shutdown-timeout", "2s"], "recorder.log");
    let logs = || image.log("recorder.log");
    wait_until("the check-config message", logs, || async {
        logs().contains("does not pass check-config").then_some(())
    })
    .await;
    let log = logs();
    assert!(log.contains("poll_intervall"), "the message names the key:\n{log}");
    assert!(recorder.try_wait().unwrap().is_none(), "it waits instead of exiting:\n{log}");
    assert_eq!(std::fs::read_to_string(image.config()).unwrap(), broken, "the file is kept");
    assert!(!image.root.join("config/onelive-sink.toml").exists(), "no starter beside a config");

    // Fixed, it starts by itself.
    std::fs::write(image.config(), &good).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    wait_until("/healthz once the config is fixed", logs, || {
        healthy(http.clone(), image.api("/healthz"))
    })
    .await;
    assert!(logs().contains("loopback address"), "the loopback listen is pointed out");
    signal(&recorder, nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut recorder, Duration::from_secs(60)).await;
    assert!(status.success(), "{status}\n{}", logs());
}

#[test]
fn docker_entrypoint_runs_other_commands_without_a_config() {
    let image = Image::new();
    // `docker run IMAGE parse URL`: no config anywhere, no ENV pointing at one.
    let out = image.command(&["parse", "https://live.bilibili.com/21452505"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let channel: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(channel["platform"], "bilibili");
    assert_eq!(channel["channel"], "21452505");
    assert!(!image.root.join("config/oneliverec.toml").exists(), "parse writes no config");

    // Any program of the image, as PUID.
    let out = image.command(&["id", "-u"]).output().unwrap();
    let expected = if is_root() { TEST_UID } else { my_uid() };
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected.to_string());

    // A bad PUID is refused with a message, not a crash later.
    let out = image.command(&["id", "-u"]).env("PUID", "abc").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PUID and PGID must be numbers"));
}
