//! How fast the UI router answers, and how big the embedded UI is.
//!
//! `cargo bench -p onelive-webui --bench serve` prints the figures.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use tower::ServiceExt;

async fn measure(app: &Router, path: &str, etag: Option<&str>, rounds: u32) -> (Duration, usize) {
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut req = Request::builder().uri(path);
        if let Some(tag) = etag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        let response = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        bytes = to_bytes(response.into_body(), 1 << 22).await.unwrap().len();
    }
    (started.elapsed() / rounds, bytes)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let total: usize = onelive_webui::ASSETS.iter().map(|a| a.bytes.len()).sum();
    println!("embedded UI: {} files, {} bytes", onelive_webui::ASSETS.len(), total);
    for a in onelive_webui::ASSETS {
        println!("  {:<12} {:>7} bytes", a.path, a.bytes.len());
    }
    let started = Instant::now();
    let app: Router = onelive_webui::router();
    println!("router() built in {:?}", started.elapsed());

    let rounds = 20_000;
    let v = onelive_webui::assets_version();
    for (label, path, etag) in [
        ("GET /", "/".to_owned(), None),
        ("GET /ui/app.js?v=", format!("/ui/app.js?v={v}"), None),
        ("GET /ui/app.css (304)", "/ui/app.css".to_owned(), Some("*")),
        ("GET /ui/missing (404)", "/ui/missing".to_owned(), None),
    ] {
        let (per, bytes) = measure(&app, &path, etag, rounds).await;
        let per_s = 1.0 / per.as_secs_f64();
        println!("{label:<24} {per:>10.2?} per request ({per_s:>9.0}/s, {bytes} body bytes)");
    }
}
