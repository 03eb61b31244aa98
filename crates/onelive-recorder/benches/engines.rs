//! Native engine vs ffmpeg engine vs streamlink, side by side in one run.
//!
//! `cargo bench -p onelive-recorder --bench engines` (env `ONELIVE_BENCH_N`,
//! default 50: concurrent HLS recordings per engine; `ONELIVE_BENCH_FLV_N`,
//! default 10: concurrent HTTP-FLV recordings per engine, native vs ffmpeg;
//! `ONELIVE_BENCH_SECS`,
//! default 10: the measuring window).
//!
//! One loopback origin (a 1280x720 30 fps, ~3 Mbit/s live channel: HLS from
//! the synthetic origin, HTTP-FLV paced from a file encoded once) runs
//! in a child process of this bench, so its CPU and memory are not counted.
//! For each engine, N recordings of it run at once; after all have written
//! bytes, the bench reads over the window:
//! - memory per recording: PSS and private memory (`/proc/PID/smaps_rollup`)
//!   of this process (native: the delta over the idle process) plus every
//!   process the engine started (ffmpeg children, streamlink), divided by N.
//!   The allocator keeps what an earlier phase freed, so only the first
//!   native phase of a run starts from a fresh process: `ONELIVE_BENCH_N=0`
//!   skips the HLS phases, for a fresh native HTTP-FLV figure;
//! - CPU per recording: user + system time (`/proc/PID/stat`) of the same
//!   processes over the window, as % of one core, divided by N.
//!
//! Then the time from the start of a recording to its first byte on disk,
//! HTTP-FLV and HLS, median of 3.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use onelive_recorder::{
    Engine, EventContext, Recording, RecordingConfig, StreamKind, StreamSource, record,
};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};

/// Linux `USER_HZ`.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    pss_kib: u64,
    private_kib: u64,
    cpu_ticks: u64,
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            pss_kib: self.pss_kib + o.pss_kib,
            private_kib: self.private_kib + o.private_kib,
            cpu_ticks: self.cpu_ticks + o.cpu_ticks,
        }
    }
}

fn usage(pid: u32) -> Usage {
    let mut u = Usage::default();
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        for line in s.lines() {
            let mut it = line.split_whitespace();
            let (Some(k), Some(v)) = (it.next(), it.next()) else { continue };
            let v: u64 = v.parse().unwrap_or(0);
            match k {
                "Pss:" => u.pss_kib = v,
                "Private_Clean:" | "Private_Dirty:" => u.private_kib += v,
                _ => {}
            }
        }
    }
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some(rest) = s.rsplit_once(')').map(|r| r.1)
    {
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 (utime, stime) are 12 and 13 after the comm.
        u.cpu_ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    u
}

/// Every descendant of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/stat"))
                && let Some(rest) = s.rsplit_once(')').map(|r| r.1)
                && let Some(ppid) =
                    rest.split_whitespace().nth(1).and_then(|v| v.parse::<u32>().ok())
            {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(q) = frontier.pop() {
        for (p, pp) in &parent_of {
            if *pp == q {
                out.push(*p);
                frontier.push(*p);
            }
        }
    }
    out
}

fn sum(pids: &[u32]) -> Usage {
    pids.iter().map(|p| usage(*p)).fold(Usage::default(), |a, b| a + b)
}

fn file_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                file_bytes(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

fn config(url: &str, kind: StreamKind, engine: Engine, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, kind), dir);
    cfg.engine = engine;
    cfg.min_free_bytes = 0;
    cfg
}

enum Running {
    Recorder(Vec<Recording>),
    Streamlink(Vec<tokio::process::Child>),
}

async fn start(what: &str, url: &str, kind: StreamKind, n: usize, root: &Path) -> Running {
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    match what {
        "streamlink" => {
            let mut children = Vec::new();
            for i in 0..n {
                let out = root.join(format!("{i}.ts"));
                let child = tokio::process::Command::new("streamlink")
                    .args(["--loglevel", "error", "-o"])
                    .arg(&out)
                    .arg(format!("hls://{url}"))
                    .arg("best")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("streamlink runs");
                children.push(child);
            }
            Running::Streamlink(children)
        }
        _ => {
            let engine = if what == "native" { Engine::Native } else { Engine::Ffmpeg };
            let mut recs = Vec::new();
            for i in 0..n {
                let cfg = config(url, kind, engine, &root.join(i.to_string()));
                recs.push(
                    record(cfg, EventContext::new("bench", format!("c{i}")), tx.clone())
                        .await
                        .expect("record"),
                );
            }
            Running::Recorder(recs)
        }
    }
}

async fn stop(r: Running) {
    match r {
        Running::Recorder(recs) => {
            // All at once: a graceful ffmpeg stop takes a while each.
            futures_util::future::join_all(recs.into_iter().map(|r| r.stop())).await;
        }
        Running::Streamlink(children) => {
            for mut c in children {
                let _ = c.start_kill();
                let _ = c.wait().await;
            }
        }
    }
}

/// Waits until every recording wrote bytes (at most 240 s: 50 streamlink
/// interpreters starting at once take minutes on 2 cores).
async fn wait_all_writing(root: &Path, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let writing = (0..n)
            .filter(|i| {
                let d = root.join(i.to_string());
                file_bytes(&d) > 0
                    || std::fs::metadata(root.join(format!("{i}.ts")))
                        .map(|m| m.len() > 0)
                        .unwrap_or(false)
            })
            .count();
        if writing == n || Instant::now() > deadline {
            return writing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scale(
    what: &str,
    url: &str,
    kind: StreamKind,
    n: usize,
    window: Duration,
    origin_pid: u32,
) {
    let me = std::process::id();
    let root = tempfile::tempdir().expect("tempdir");
    let others = |pids: Vec<u32>| -> Vec<u32> {
        let origin_tree: Vec<u32> =
            std::iter::once(origin_pid).chain(descendants(origin_pid)).collect();
        pids.into_iter().filter(|p| !origin_tree.contains(p)).collect()
    };
    let idle = usage(me);
    let running = start(what, url, kind, n, root.path()).await;
    let writing = wait_all_writing(root.path(), n).await;
    // Let buffers reach their steady size.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kids = others(descendants(me));
    let (self0, kids0) = (usage(me), sum(&kids));
    let bytes0 = file_bytes(root.path());
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let secs = t0.elapsed().as_secs_f64();
    let (self1, kids1) = (usage(me), sum(&kids));
    // Processes still running at the end of the window (an exited one has
    // no memory map left to read).
    let alive = kids.iter().filter(|p| usage(**p).pss_kib > 0).count();
    let bytes1 = file_bytes(root.path());
    stop(running).await;
    let nf = n as f64;
    let pss = (self1.pss_kib.saturating_sub(idle.pss_kib) + kids1.pss_kib) as f64 / nf / 1024.0;
    let private = (self1.private_kib.saturating_sub(idle.private_kib) + kids1.private_kib) as f64
        / nf
        / 1024.0;
    let cpu_ticks =
        (self1.cpu_ticks - self0.cpu_ticks) + kids1.cpu_ticks.saturating_sub(kids0.cpu_ticks);
    let cpu = cpu_ticks as f64 / TICKS_PER_SEC / secs / nf * 100.0;
    let mbit = (bytes1 - bytes0) as f64 * 8.0 / secs / 1e6 / nf;
    println!(
        "{kind:?} {what:<10} {n:>3} recordings ({writing} writing, {} processes, {alive} alive at the end): PSS {pss:6.2} MiB, private {private:6.2} MiB, CPU {cpu:6.3} % of a core per recording; {mbit:.2} Mbit/s each on disk",
        kids.len()
    );
}

async fn first_byte(what: &str, url: &str, kind: StreamKind) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let running = match what {
        "streamlink" => start_one_streamlink(url, dir.path()),
        _ => {
            let engine = if what == "native" { Engine::Native } else { Engine::Ffmpeg };
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            Running::Recorder(vec![
                record(config(url, kind, engine, dir.path()), EventContext::new("bench", "c"), tx)
                    .await
                    .expect("record"),
            ])
        }
    };
    let took = loop {
        if file_bytes(dir.path()) > 0 || start.elapsed() > Duration::from_secs(30) {
            break start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    stop(running).await;
    took
}

fn start_one_streamlink(url: &str, dir: &Path) -> Running {
    let child = tokio::process::Command::new("streamlink")
        .args(["--loglevel", "error", "-o"])
        .arg(dir.join("out.ts"))
        .arg(format!("hls://{url}"))
        .arg("best")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("streamlink runs");
    Running::Streamlink(vec![child])
}

fn has_streamlink() -> bool {
    std::process::Command::new("streamlink")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Seconds of the pre-encoded FLV stream (longer than any measuring window).
const FLV_SECONDS: u32 = 120;

/// An HTTP-FLV origin for many clients at once: the synthetic origin runs
/// one live encoder per FLV client, which 2 cores cannot do 20 times over,
/// so this one encodes the same 1280x720 30 fps ~3 Mbit/s picture once into
/// a file and sends it to each client paced by the tag timestamps (as a CDN
/// relays a live stream). Returns its URL.
async fn paced_flv_origin(dir: &Path) -> String {
    let file = dir.join("stream.flv");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=1280x720:rate=30:duration={FLV_SECONDS}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:sample_rate=44100:duration={FLV_SECONDS}"))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"])
        .args(["-pix_fmt", "yuv420p", "-g", "30", "-b:v", "3000k", "-maxrate", "3000k"])
        .args(["-bufsize", "3000k", "-c:a", "aac", "-b:a", "128k", "-f", "flv"])
        .arg(&file)
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg encoded the FLV");
    let bytes = std::sync::Arc::new(std::fs::read(&file).expect("FLV file"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let _ = serve_paced(sock, &bytes).await;
            });
        }
    });
    format!("http://{addr}/live/stream.flv")
}

/// Reads the request head, then writes the FLV header and each tag once the
/// wall clock reaches its timestamp.
async fn serve_paced(mut sock: tokio::net::TcpStream, flv: &[u8]) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n")
        .await?;
    // FLV header (9) + PreviousTagSize0 (4), then tags of 11 + size + 4 bytes.
    sock.write_all(&flv[..13]).await?;
    let start = tokio::time::Instant::now();
    let mut i = 13;
    while i + 11 <= flv.len() {
        let size =
            usize::from(flv[i + 1]) << 16 | usize::from(flv[i + 2]) << 8 | usize::from(flv[i + 3]);
        let ts = u32::from(flv[i + 7]) << 24
            | u32::from(flv[i + 4]) << 16
            | u32::from(flv[i + 5]) << 8
            | u32::from(flv[i + 6]);
        let end = (i + 11 + size + 4).min(flv.len());
        tokio::time::sleep_until(start + Duration::from_millis(u64::from(ts))).await;
        sock.write_all(&flv[i..end]).await?;
        i = end;
    }
    Ok(())
}

/// The origin child: serves until its stdin closes.
async fn origin_main() {
    let opts = SyntheticOptions {
        width: 1280,
        height: 720,
        fps: 30,
        segment_seconds: 1,
        playlist_size: 6,
        video_bitrate_kbps: 3000,
        ..SyntheticOptions::default()
    };
    let origin = SyntheticOrigin::start(opts).await.expect("origin");
    let dir = tempfile::tempdir().expect("tempdir");
    let flv = paced_flv_origin(dir.path()).await;
    println!("{} {flv}", origin.hls_url());
    let mut line = String::new();
    let _ = tokio::io::AsyncBufReadExt::read_line(
        &mut tokio::io::BufReader::new(tokio::io::stdin()),
        &mut line,
    )
    .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--origin") {
        return origin_main().await;
    }
    let n: usize = std::env::var("ONELIVE_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let flv_n: usize =
        std::env::var("ONELIVE_BENCH_FLV_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let window = Duration::from_secs(
        std::env::var("ONELIVE_BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10),
    );
    let exe: PathBuf = std::env::current_exe().expect("current exe");
    let mut origin = tokio::process::Command::new(exe)
        .arg("--origin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("origin process");
    let mut out = tokio::io::BufReader::new(origin.stdout.take().expect("stdout"));
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line).await.expect("origin URL");
    let mut urls = line.split_whitespace();
    let (hls, flv) =
        (urls.next().expect("hls url").to_owned(), urls.next().expect("flv url").to_owned());
    let origin_pid = origin.id().expect("origin pid");
    // Let the rolling playlist fill up, as a live origin's is.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let streamlink = has_streamlink();

    println!(
        "== {n} concurrent recordings of one loopback HLS origin (1280x720 30 fps, ~3 Mbit/s), {} s window",
        window.as_secs()
    );
    let mut engines = vec!["native", "ffmpeg"];
    if streamlink {
        engines.push("streamlink");
    } else {
        println!("(streamlink is not installed: skipped)");
    }
    if n == 0 {
        println!("(ONELIVE_BENCH_N=0: no HLS recordings)");
    }
    for what in engines.iter().filter(|_| n > 0) {
        scale(what, &hls, StreamKind::Hls, n, window, origin_pid).await;
    }
    println!(
        "== {flv_n} concurrent recordings of the same origin's HTTP-FLV stream, {} s window",
        window.as_secs()
    );
    for what in ["native", "ffmpeg"] {
        scale(what, &flv, StreamKind::Flv, flv_n, window, origin_pid).await;
    }

    println!("== time from the start of a recording to its first byte on disk (median of 3)");
    for (kind, url) in [(StreamKind::Flv, &flv), (StreamKind::Hls, &hls)] {
        for what in &engines {
            if *what == "streamlink" && kind == StreamKind::Flv {
                continue;
            }
            let mut t = Vec::new();
            for _ in 0..3 {
                t.push(first_byte(what, url, kind).await);
            }
            t.sort();
            println!(
                "{kind:?} {what:<10}: {:.3} s (min {:.3}, max {:.3})",
                t[1].as_secs_f64(),
                t[0].as_secs_f64(),
                t[2].as_secs_f64()
            );
        }
    }
    drop(origin.stdin.take());
    let _ = origin.wait().await;
}
