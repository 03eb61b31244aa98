//! The web UI in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver (`fantoccini`) against a real
//! `oneliverec run` process that serves the UI on its API address, with a
//! bearer token, recording an ffmpeg-generated live HLS stream on loopback.
//!
//! It adds a channel by URL and watches it turn to "recording" with its file,
//! creates a webhook with two events ticked, presses "Send test" and sees the
//! loopback receiver's answer, stops the recording and sees the file finished
//! on the Recordings page and its delivery on the webhook, previews a file
//! name template, switches to Chinese, checks the phone layout and removes the
//! channel. Screenshots of each page go to `target/webui-screenshots/`.
//!
//! Nothing here reaches beyond 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use fantoccini::{Client, ClientBuilder, Locator};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};
use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "e2e-token-7f3a9c";
const RECEIVER_ANSWER: &str = "accepted by the e2e receiver";

/// The browser and its driver: present, or a failure that says how to get them.
fn browser_paths() -> (PathBuf, PathBuf) {
    let chromium =
        std::env::var_os("ONELIVE_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    let driver = std::env::var_os("ONELIVE_CHROMEDRIVER")
        .map_or_else(|| PathBuf::from(CHROMEDRIVER), PathBuf::from);
    for (what, path, package) in
        [("Chromium", &chromium, "chromium"), ("chromedriver", &driver, "chromium-driver")]
    {
        assert!(
            path.is_file(),
            "the web UI browser test needs {what} at {} but it is missing: run `make deps` \
             (or `apt-get install chromium chromium-driver` on Debian; package `{package}`), \
             or point ONELIVE_CHROMIUM / ONELIVE_CHROMEDRIVER at them",
            path.display()
        );
    }
    (chromium, driver)
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"), PathBuf::from);
    target.join("webui-screenshots")
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot bind a free port")?;
    Ok(l.local_addr()?.port())
}

/// A child process killed (after a polite SIGTERM) when dropped; its stderr is kept.
struct Proc {
    name: &'static str,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command) -> anyhow::Result<Proc> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        Ok(Proc { name, child, log })
    }

    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let start = log.len().saturating_sub(30);
        format!("--- last lines of {} ---\n{}", self.name, log[start..].join("\n"))
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the loopback webhook receiver got.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    r.requests.lock().unwrap().push((headers, body));
    (StatusCode::ACCEPTED, RECEIVER_ANSWER)
}

async fn start_receiver() -> anyhow::Result<(String, Receiver)> {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, receiver))
}

/// `oneliverec run` with the API (and so the UI) on a free loopback port.
fn start_oneliverec(dir: &Path) -> anyhow::Result<(Proc, SocketAddr)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let config = format!(
        r#"
[output]
folder = "{rec}"
filename_template = "{{platform}}/{{name}}/{{start_time:%Y-%m-%d_%H-%M-%S}}_part{{part}}"
# UTC+05:45 all year: the preview must follow it, whatever the test machine's zone.
time_zone = "Asia/Kathmandu"

[watch]
poll_interval = "1s"
jitter = 0.0
debounce = "3s"
stall_timeout = "8s"

[disk]
min_free_mb = 16

[api]
listen = "{addr}"
token = "{TOKEN}"

[state]
dir = "{state}"
"#,
        rec = dir.join("rec").display(),
        state = dir.join("state").display(),
    );
    let path = dir.join("oneliverec.toml");
    std::fs::write(&path, config)?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oneliverec"));
    cmd.arg("run").arg("--config").arg(&path).env("NO_COLOR", "1").env("RUST_LOG", "info");
    Ok((Proc::spawn("oneliverec", cmd)?, addr))
}

async fn wait_http_ok(
    http: &reqwest::Client,
    url: &str,
    proc: &mut Proc,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            bail!("{} exited ({status}) before {url} answered\n{}", proc.name, proc.tail());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within {timeout:?}\n{}", proc.tail());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn start_chromedriver(driver: &Path) -> anyhow::Result<(Proc, u16)> {
    let port = free_port()?;
    let mut cmd = Command::new(driver);
    cmd.arg(format!("--port={port}")).arg("--allowed-ips=127.0.0.1");
    Ok((Proc::spawn("chromedriver", cmd)?, port))
}

async fn open_browser(chromium: &Path, driver_port: u16, profile: &Path) -> anyhow::Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--lang=en-US",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .context("cannot open a Chromium session through chromedriver")
}

/// Polls a script until it returns something truthy; returns that value.
async fn wait_js(c: &Client, what: &str, script: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    let mut last: Value;
    loop {
        match c.execute(script, vec![]).await {
            Ok(v) => {
                let truthy = match &v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::String(s) => !s.is_empty(),
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    _ => true,
                };
                if truthy {
                    return Ok(v);
                }
                last = v;
            }
            Err(e) => last = json!(format!("script error: {e}")),
        }
        if Instant::now() > deadline {
            let body = c
                .execute("return document.body.innerText.slice(0, 2000)", vec![])
                .await
                .unwrap_or_default();
            bail!(
                "timed out after {timeout:?} waiting for {what} (last: {last})\npage text:\n{body}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(c.find(Locator::Css(css)).await.with_context(|| format!("no {css}"))?.text().await?)
}

async fn click(c: &Client, css: &str) -> anyhow::Result<()> {
    c.find(Locator::Css(css)).await.with_context(|| format!("no {css}"))?.click().await?;
    Ok(())
}

async fn type_into(c: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let el = c.find(Locator::Css(css)).await.with_context(|| format!("no {css}"))?;
    el.clear().await?;
    el.send_keys(text).await?;
    Ok(())
}

async fn screenshot(c: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let png = c.screenshot().await?;
    ensure!(png.starts_with(b"\x89PNG"), "the screenshot {name} is not a PNG");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}

async fn go(c: &Client, base: &str, hash: &str, page_marker: &str) -> anyhow::Result<()> {
    c.goto(&format!("{base}/{hash}")).await?;
    wait_js(
        c,
        &format!("page {page_marker}"),
        &format!(
            "return document.body.dataset.ready === 'true' && document.body.dataset.page === '{page_marker}'"
        ),
        Duration::from_secs(10),
    )
    .await?;
    Ok(())
}

async fn api_get(http: &reqwest::Client, base: &str, path: &str) -> anyhow::Result<Value> {
    let r = http.get(format!("{base}{path}")).bearer_auth(TOKEN).send().await?;
    ensure!(r.status().is_success(), "GET {path}: {}", r.status());
    Ok(r.json().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_drives_the_recorder_in_headless_chromium() {
    let (chromium, driver) = browser_paths();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let origin = SyntheticOrigin::start(SyntheticOptions {
        width: 320,
        height: 180,
        fps: 15,
        segment_seconds: 1,
        ..SyntheticOptions::default()
    })
    .await
    .expect("the synthetic origin starts (ffmpeg installed? run `make deps`)");
    let (receiver_url, receiver) = start_receiver().await.unwrap();
    let (mut rec, addr) = start_oneliverec(dir.path()).unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    wait_http_ok(&http, &format!("{base}/healthz"), &mut rec, Duration::from_secs(20))
        .await
        .unwrap();
    // The free port can be taken by another program between our probe and
    // chromedriver's bind (it then exits at once): try again on a new port.
    let mut attempt = 0;
    let (mut chromedriver, driver_port) = loop {
        attempt += 1;
        let (mut chromedriver, driver_port) = start_chromedriver(&driver).unwrap();
        match wait_http_ok(
            &http,
            &format!("http://127.0.0.1:{driver_port}/status"),
            &mut chromedriver,
            Duration::from_secs(15),
        )
        .await
        {
            Ok(()) => break (chromedriver, driver_port),
            Err(e) if attempt < 5 && chromedriver.exited().is_some() => {
                eprintln!("chromedriver did not start (attempt {attempt}), retrying: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    };
    let browser =
        open_browser(&chromium, driver_port, &dir.path().join("chrome-profile")).await.unwrap();

    let run = Scenario {
        c: &browser,
        http: &http,
        base: &base,
        hls_url: origin.hls_url(),
        receiver_url,
        receiver,
        rec_dir: dir.path().join("rec"),
    }
    .run()
    .await;
    let _ = browser.close().await;
    if let Err(e) = run {
        panic!("{e:#}\n{}\n{}", rec.tail(), chromedriver.tail());
    }
    rec.stop();
    chromedriver.stop();
    eprintln!("web UI e2e took {:.1}s", started.elapsed().as_secs_f64());
}

struct Scenario<'a> {
    c: &'a Client,
    http: &'a reqwest::Client,
    base: &'a str,
    hls_url: String,
    receiver_url: String,
    receiver: Receiver,
    rec_dir: PathBuf,
}

impl Scenario<'_> {
    async fn run(&self) -> anyhow::Result<()> {
        let c = self.c;
        let base = self.base;
        let t10 = Duration::from_secs(10);

        // Auth: the page asks for the token, refuses a wrong one, keeps the right one.
        c.goto(&format!("{base}/")).await?;
        wait_js(c, "the token dialog", "return document.querySelector('#token-dialog').open", t10)
            .await?;
        type_into(c, "#token-input", "wrong-token").await?;
        click(c, "#token-save").await?;
        let rejected = wait_js(
            c,
            "the rejected-token message",
            "const d = document.querySelector('#token-dialog'); const e = document.querySelector('#token-error'); \
             return d.open && !e.hidden && e.textContent",
            t10,
        )
        .await?;
        ensure!(rejected.as_str().unwrap_or("").contains("rejected"), "rejection: {rejected}");
        screenshot(c, "sign-in").await?;
        type_into(c, "#token-input", TOKEN).await?;
        click(c, "#token-save").await?;
        wait_js(
            c,
            "the channel list after sign-in",
            "return !document.querySelector('#token-dialog').open && !document.querySelector('#channels-empty').hidden",
            t10,
        )
        .await?;
        let stored = c.execute("return localStorage.getItem('onelive.token')", vec![]).await?;
        ensure!(stored == json!(TOKEN), "token not kept in localStorage: {stored}");
        c.refresh().await?;
        wait_js(
            c,
            "the channel list after a reload (no second prompt)",
            "return document.body.dataset.ready === 'true' && !document.querySelector('#token-dialog').open \
             && !document.querySelector('#channels-empty').hidden",
            t10,
        )
        .await?;

        // A URL no platform accepts: the registry's error, inline.
        type_into(c, "#channel-url", "not a url").await?;
        click(c, "#channel-add").await?;
        let inline = wait_js(
            c,
            "the inline add error",
            "const e = document.querySelector('#channel-add-error'); return !e.hidden && e.textContent",
            t10,
        )
        .await?;
        let inline = inline.as_str().unwrap_or_default().to_owned();
        let api = self
            .http
            .post(format!("{base}/api/channels"))
            .bearer_auth(TOKEN)
            .json(&json!({ "url": "not a url" }))
            .send()
            .await?;
        ensure!(api.status().is_client_error(), "the API accepted a bad URL: {}", api.status());
        let api_error = api.json::<Value>().await?["error"].as_str().unwrap_or_default().to_owned();
        ensure!(
            !api_error.is_empty() && inline == api_error,
            "inline {inline:?} vs API {api_error:?}"
        );
        ensure!(
            api_get(self.http, base, "/api/channels").await?["channels"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "a rejected URL was added"
        );

        // Add the live synthetic channel by URL: listed, then recording with its file.
        type_into(c, "#channel-url", &self.hls_url).await?;
        type_into(c, "#channel-name", "synthetic").await?;
        click(c, "#channel-add").await?;
        wait_js(
            c,
            "the new channel in the list",
            "const e = document.querySelector('#channel-add-error'); \
             return e.hidden && [...document.querySelectorAll('.channel .channel-name')].some(n => n.textContent === 'synthetic')",
            t10,
        )
        .await?;
        let url_shown = text_of(c, ".channel .channel-url").await?;
        ensure!(url_shown == self.hls_url, "listed URL {url_shown}");
        let file = wait_js(
            c,
            "the channel to record with a file and bytes",
            "const r = document.querySelector('.channel'); if (!r || r.dataset.state !== 'recording') return null; \
             const f = r.querySelector('.current-file').textContent; const b = r.querySelector('.bytes').textContent; \
             return f !== '–' && /[1-9]/.test(b) && r.querySelector('.bitrate').textContent !== '–' ? f : null",
            Duration::from_secs(60),
        )
        .await?;
        let file = PathBuf::from(file.as_str().unwrap_or_default());
        ensure!(
            file.starts_with(&self.rec_dir),
            "file {} outside {}",
            file.display(),
            self.rec_dir.display()
        );
        ensure!(file.is_file(), "the file shown, {}, is not on disk", file.display());
        let badge = text_of(c, ".channel .state").await?;
        ensure!(badge.eq_ignore_ascii_case("recording"), "badge {badge:?}");
        screenshot(c, "channels").await?;

        // Recordings: the file appears while being written.
        click(c, "#nav a[data-route=recordings]").await?;
        let file_js = serde_json::to_string(&file.display().to_string())?;
        wait_js(
            c,
            "the file on the Recordings page",
            &format!(
                "return [...document.querySelectorAll('.recording')].some(r => r.dataset.path === {file_js} && r.dataset.state === 'recording' && /[1-9]/.test(r.querySelector('.recording-size').textContent))"
            ),
            t10,
        )
        .await?;

        // Settings → Automation → Webhooks: create one with two events ticked.
        click(c, "#nav a[data-route=settings]").await?;
        wait_js(
            c,
            "the webhooks page",
            "return document.body.dataset.page === 'settings-webhooks'",
            t10,
        )
        .await?;
        let crumbs = text_of(c, "#settings-webhooks .crumbs").await?;
        ensure!(crumbs.contains("Automation") && crumbs.contains("Webhooks"), "crumbs {crumbs:?}");
        click(c, "#webhook-new").await?;
        let all_ticked = c
            .execute(
                "return [...document.querySelectorAll('#webhook-event-boxes input')].map(b => b.checked)",
                vec![],
            )
            .await?;
        ensure!(
            all_ticked
                .as_array()
                .is_some_and(|a| a.len() == 10 && a.iter().all(|b| b == &json!(true))),
            "not all 10 event types ticked by default: {all_ticked}"
        );
        let secret =
            c.find(Locator::Css("#webhook-secret")).await?.prop("value").await?.unwrap_or_default();
        ensure!(secret.starts_with("whsec_"), "generated secret {secret:?}");
        type_into(c, "#webhook-url", &self.receiver_url).await?;
        click(c, "#webhook-events-none").await?;
        click(c, "#webhook-event-boxes input[value=live_start]").await?;
        click(c, "#webhook-event-boxes input[value=video_file_finish]").await?;
        click(c, "#webhook-header-add").await?;
        type_into(c, "#webhook-headers .header-row .header-name", "X-E2E-Key").await?;
        type_into(c, "#webhook-headers .header-row .header-value", "header-value-42").await?;
        screenshot(c, "settings-webhook-form").await?;
        click(c, "#webhook-save").await?;
        wait_js(
            c,
            "the webhook card",
            "return document.querySelector('#webhook-form').hidden && document.querySelectorAll('.webhook').length === 1",
            t10,
        )
        .await?;
        let hooks = api_get(self.http, base, "/api/webhooks").await?;
        let hook = &hooks["webhooks"][0];
        ensure!(
            hook["events"] == json!(["live_start", "video_file_finish"])
                && hook["signed"] == json!(true)
                && hook["headers"].to_string().eq_ignore_ascii_case(r#"["x-e2e-key"]"#),
            "webhook as saved: {hook}"
        );
        let chips = text_of(c, ".webhook .chips").await?;
        ensure!(
            chips.contains("live_start") && chips.contains("video_file_finish"),
            "chips {chips:?}"
        );

        // Edit shows what was saved; the API keeps secrets to itself, and saving the form
        // without re-entering them keeps them (the test request below is checked for both).
        click(c, ".webhook .webhook-edit").await?;
        let form = c
            .execute(
                "return { url: document.querySelector('#webhook-url').value, \
                 events: [...document.querySelectorAll('#webhook-event-boxes input:checked')].map(b => b.value), \
                 secret: document.querySelector('#webhook-secret').value, \
                 secretSet: !document.querySelector('#webhook-secret-state').hidden, \
                 canRemove: !document.querySelector('#webhook-secret-remove-label').hidden, \
                 headers: [...document.querySelectorAll('#webhook-headers .header-row')].map(r => [r.querySelector('.header-name').value.toLowerCase(), r.querySelector('.header-value').value]), \
                 headersNote: !document.querySelector('#webhook-headers-note').hidden, \
                 title: document.querySelector('#webhook-form-title').textContent }",
                vec![],
            )
            .await?;
        ensure!(
            form == json!({ "url": self.receiver_url, "events": ["live_start", "video_file_finish"],
                            "secret": "", "secretSet": true, "canRemove": true, "title": "Edit webhook",
                            "headers": [["x-e2e-key", ""]], "headersNote": true }),
            "edit form: {form}"
        );
        click(c, "#webhook-save").await?;
        wait_js(c, "the edit saved", "return document.querySelector('#webhook-form').hidden", t10)
            .await?;
        let hooks = api_get(self.http, base, "/api/webhooks").await?;
        let hook = &hooks["webhooks"][0];
        ensure!(
            hook["signed"] == json!(true)
                && hook["headers"].to_string().eq_ignore_ascii_case(r#"["x-e2e-key"]"#),
            "webhook after an edit that left the secret and header value empty: {hook}"
        );

        // "Send test": the receiver's answer shows; the request was signed with the UI's secret.
        click(c, ".webhook .webhook-test").await?;
        let answer = wait_js(
            c,
            "the test result",
            "const r = document.querySelector('.webhook .webhook-test-result'); return r && !r.hidden && r.textContent",
            Duration::from_secs(15),
        )
        .await?;
        let answer = answer.as_str().unwrap_or_default().to_owned();
        ensure!(
            answer.contains("HTTP 202"),
            "the UI does not show the receiver's answer: {answer:?}"
        );
        {
            let requests = self.receiver.requests.lock().unwrap();
            let (headers, body) = requests.last().context("the receiver got nothing")?;
            let event: Value = serde_json::from_slice(body)?;
            ensure!(event["type"] == json!("test"), "the receiver got {event}");
            let extra = headers.get("x-e2e-key").and_then(|v| v.to_str().ok());
            ensure!(extra == Some("header-value-42"), "extra header: {extra:?}");
            let verifier = Verifier::new(vec![secret.parse::<WebhookSecret>()?]);
            let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok());
            verifier
                .verify(&SignatureHeaders::from_fn(get), body)
                .context("the test request is not signed with the secret the UI generated")?;
        }

        // Stop the recording from the Channels page: the file finishes.
        click(c, "#nav a[data-route=channels]").await?;
        wait_js(c, "the stop button", "const b = document.querySelector('.channel .toggle-record'); return b && b.classList.contains('danger-outline')", t10).await?;
        click(c, ".channel .toggle-record").await?;
        wait_js(
            c,
            "the channel to stop recording",
            "const r = document.querySelector('.channel'); return r && r.dataset.state !== 'recording' && \
             !r.querySelector('.toggle-record').classList.contains('danger-outline')",
            Duration::from_secs(25),
        )
        .await?;

        // Recordings: finished, with its size and duration.
        click(c, "#nav a[data-route=recordings]").await?;
        let size = wait_js(
            c,
            "the finished file with size and duration",
            &format!(
                "const r = [...document.querySelectorAll('.recording')].find(r => r.dataset.path === {file_js}); \
                 return r && r.dataset.state !== 'recording' && r.querySelector('.recording-duration').textContent !== '–' \
                 && r.querySelector('.recording-size').textContent"
            ),
            Duration::from_secs(20),
        )
        .await?;
        ensure!(size.as_str().unwrap_or_default().contains("B"), "size {size}");
        wait_js(
            c,
            "transmux state",
            "return [...document.querySelectorAll('.recording')].some(r => r.dataset.state === 'transmuxed')",
            Duration::from_secs(20),
        )
        .await?;
        c.execute(
            "document.querySelectorAll('details.events').forEach(d => d.open = true)",
            vec![],
        )
        .await?;
        screenshot(c, "recordings").await?;

        // The webhook's deliveries: the finished file was delivered.
        click(c, "#nav a[data-route=settings]").await?;
        wait_js(
            c,
            "a delivered video_file_finish on the webhook",
            "return [...document.querySelectorAll('.webhook .delivery')].some(d => d.dataset.status === 'delivered' && d.textContent.includes('video_file_finish'))",
            Duration::from_secs(20),
        )
        .await?;
        // Redeliver it: the receiver gets the finished-file event once more.
        let finished_events = || {
            self.receiver
                .requests
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, body)| {
                    serde_json::from_slice::<Value>(body)
                        .is_ok_and(|e| e["type"] == json!("video_file_finish"))
                })
                .count()
        };
        let before = finished_events();
        ensure!(before >= 1, "the receiver never got video_file_finish");
        c.execute(
            "[...document.querySelectorAll('.webhook .delivery')].find(d => d.textContent.includes('video_file_finish')).querySelector('.redeliver').click()",
            vec![],
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while finished_events() <= before {
            ensure!(Instant::now() < deadline, "Redeliver did not deliver the event again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Show the test answer in the screenshot too.
        click(c, ".webhook .webhook-test").await?;
        wait_js(
            c,
            "the second test result",
            "const b = document.querySelector('.webhook .webhook-test'); return b && !b.disabled",
            t10,
        )
        .await?;
        screenshot(c, "settings-webhooks").await?;

        // Settings → Recording: the template preview is computed as typed.
        click(c, "#settings-nav a[data-sub=recording]").await?;
        wait_js(
            c,
            "the recording settings",
            "return document.body.dataset.page === 'settings-recording'",
            t10,
        )
        .await?;
        type_into(c, "#tpl-input", "{platform}/{name}/{start_time:%Y%m%d}_{title}_part{part}")
            .await?;
        let preview = text_of(c, "#tpl-preview").await?;
        let (head, tail) = preview.split_at(preview.find("alice/").context("preview")? + 6);
        ensure!(head == "rec/bilibili/alice/", "preview {preview:?}");
        ensure!(
            tail.len() == "20260101_Evening stream： Q＆A _ chat_part1.ts".len()
                && tail[..8].bytes().all(|b| b.is_ascii_digit())
                && tail.ends_with("_Evening stream： Q＆A _ chat_part1.ts"),
            "preview {preview:?}"
        );
        // The preview names files in the recorder's `[output] time_zone`.
        wait_js(
            c,
            "the recorder's time zone",
            "return document.querySelector('#tpl-zone').textContent === 'Asia/Kathmandu (UTC+0545)'",
            t10,
        )
        .await?;
        type_into(c, "#tpl-input", "{start_time:%z}_{part}").await?;
        let preview = text_of(c, "#tpl-preview").await?;
        ensure!(preview == "rec/+0545_1.ts", "preview in Asia/Kathmandu: {preview:?}");
        type_into(c, "#tpl-input", "{session}_{start_time:%%}.{ext}").await?;
        let preview = text_of(c, "#tpl-preview").await?;
        ensure!(
            preview == "rec/0190e6a1_%_part1.ts",
            "without {{part}} the engine adds _part{{part}} before .{{ext}}: {preview:?}"
        );
        type_into(c, "#tpl-input", "{nope}/x").await?;
        let err = text_of(c, "#tpl-error").await?;
        ensure!(err.contains("{nope}"), "template error {err:?}");
        type_into(c, "#tpl-input", "{start_time:%Q}").await?;
        let err = text_of(c, "#tpl-error").await?;
        ensure!(err.contains("%Q"), "template error {err:?}");
        type_into(
            c,
            "#tpl-input",
            "{platform}/{name}/{start_time:%Y-%m-%d_%H-%M-%S}_{title}_part{part}",
        )
        .await?;
        screenshot(c, "settings-recording").await?;

        // Chinese, then back.
        go(c, base, "#/channels", "channels").await?;
        click(c, "#lang-toggle").await?;
        let nav = text_of(c, "#nav a[data-route=channels]").await?;
        ensure!(nav == "频道", "nav in Chinese: {nav:?}");
        let badge = text_of(c, ".channel .state").await?;
        ensure!(
            ["未开播", "直播中", "即将结束"].contains(&badge.as_str()),
            "badge in Chinese {badge:?}"
        );
        screenshot(c, "channels-zh").await?;
        click(c, "#lang-toggle").await?;
        ensure!(text_of(c, "#nav a[data-route=channels]").await? == "Channels", "back to English");

        // A phone screen: nothing wider than the viewport.
        c.set_window_size(390, 844).await?;
        wait_js(c, "the phone-sized window", "return window.innerWidth <= 400", t10).await?;
        let overflow = c
            .execute("return document.documentElement.scrollWidth - window.innerWidth", vec![])
            .await?;
        ensure!(
            overflow.as_i64().is_some_and(|o| o <= 0),
            "horizontal overflow on a phone: {overflow}"
        );
        screenshot(c, "channels-phone").await?;
        go(c, base, "#/settings/webhooks", "settings-webhooks").await?;
        let overflow = c
            .execute("return document.documentElement.scrollWidth - window.innerWidth", vec![])
            .await?;
        ensure!(
            overflow.as_i64().is_some_and(|o| o <= 0),
            "webhooks overflow on a phone: {overflow}"
        );
        screenshot(c, "settings-webhooks-phone").await?;
        c.set_window_size(1280, 900).await?;

        // Disable, then remove with confirmation.
        go(c, base, "#/channels", "channels").await?;
        click(c, ".channel .toggle-enabled").await?;
        wait_js(c, "the channel disabled", "const r = document.querySelector('.channel'); return r && r.dataset.state === 'disabled'", t10).await?;
        click(c, ".channel .remove").await?;
        wait_js(
            c,
            "the confirmation",
            "return document.querySelector('#confirm-dialog').open",
            t10,
        )
        .await?;
        click(c, "#confirm-no").await?;
        wait_js(
            c,
            "the dialog to close",
            "return !document.querySelector('#confirm-dialog').open",
            t10,
        )
        .await?;
        ensure!(
            c.find_all(Locator::Css(".channel")).await?.len() == 1,
            "cancel removed the channel"
        );
        click(c, ".channel .remove").await?;
        wait_js(
            c,
            "the confirmation",
            "return document.querySelector('#confirm-dialog').open",
            t10,
        )
        .await?;
        click(c, "#confirm-yes").await?;
        wait_js(
            c,
            "the channel gone",
            "return document.querySelectorAll('.channel').length === 0",
            t10,
        )
        .await?;
        ensure!(
            api_get(self.http, base, "/api/channels").await?["channels"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "the engine still has the channel"
        );
        ensure!(file.exists() || file.with_extension("mp4").exists(), "the recording vanished");
        Ok(())
    }
}
