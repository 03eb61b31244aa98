//! A minimal third-party receiver of onelive (OneLiveRec) webhooks.
//!
//! It depends on `onelive-events` alone for the event types, parses every
//! incoming body into a typed [`Event`], and prints one line per event.
//!
//! ```text
//! cargo run -p onelive-example-webhook-receiver -- 127.0.0.1:5000
//! ```
//!
//! Point a webhook at `http://127.0.0.1:5000/webhook`. A real receiver should
//! also verify signatures (see `onelive-webhook`'s `verify` module).

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use onelive_events::{Event, EventData};

async fn webhook(body: Bytes) -> (StatusCode, String) {
    match Event::from_json(&body) {
        Ok(event) => {
            println!("{}", describe(&event));
            (StatusCode::OK, r#"{"status":"success"}"#.to_owned())
        }
        Err(e) => {
            eprintln!("rejected: {e}");
            let msg = e.to_string().replace('\\', "\\\\").replace('"', "\\\"");
            (StatusCode::BAD_REQUEST, format!(r#"{{"error":"{msg}"}}"#))
        }
    }
}

/// One line per event: type, id, and what matters for that type.
fn describe(event: &Event) -> String {
    let what = match &event.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => {
            format!(
                "{}/{} \"{}\" by {}",
                d.platform, d.channel, d.live_info.title, d.live_info.uname
            )
        }
        EventData::VideoFileCreate(d) => format!("{}/{} {}", d.platform, d.channel, d.path),
        EventData::VideoFileFinish(d) => format!(
            "{}/{} {} ({} bytes, {:.1} s)",
            d.platform, d.channel, d.path, d.filesize, d.duration
        ),
        EventData::VideoTransmuxFinish(d) => {
            format!("{}/{} {} -> {}", d.platform, d.channel, d.input, d.output)
        }
        EventData::TitleChange(d) => format!(
            "{}/{} \"{}\" -> \"{}\"",
            d.platform, d.channel, d.old_live_info.title, d.new_live_info.title
        ),
        EventData::CategoryChange(d) => format!(
            "{}/{} {:?} -> {:?}",
            d.platform, d.channel, d.old_live_info.categories, d.new_live_info.categories
        ),
        EventData::Error(d) => format!("{}/{} {}", d.platform, d.channel, d.error),
        EventData::Unknown { data, .. } => format!("(unknown type) {} keys", data.len()),
        _ => String::new(),
    };
    format!("{} {} {} {}", event.ts_string(), event.type_name(), event.id, what)
        .trim_end()
        .to_owned()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}/webhook", listener.local_addr()?);
    let app = Router::new().route("/webhook", post(webhook));
    axum::serve(listener, app).await
}
