//! The loopback HTTP server: playlist, segments and HTTP-FLV.

use std::process::Stdio;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use crate::origin::{OriginState, PLAYLIST, Shared};

/// Serves `shared` on `listener` until the token is cancelled.
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> (CancellationToken, JoinHandle<()>) {
    let token = CancellationToken::new();
    let app = Router::new().route("/live/{file}", get(serve_file)).with_state(shared);
    let shutdown = token.clone();
    let task = tokio::spawn(async move {
        if let Err(e) =
            axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
        {
            tracing::warn!(error = %e, "synthetic origin server stopped with an error");
        }
    });
    (token, task)
}

/// Waits while the origin is frozen; fails once it is stopped.
async fn wait_serving(shared: &Shared) -> Result<(), StatusCode> {
    let mut rx = shared.state.subscribe();
    loop {
        match *rx.borrow_and_update() {
            OriginState::Serving => return Ok(()),
            OriginState::Stopped => return Err(StatusCode::SERVICE_UNAVAILABLE),
            OriginState::Frozen => {}
        }
        if rx.changed().await.is_err() {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
}

async fn serve_file(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    if let Err(status) = wait_serving(&shared).await {
        return status.into_response();
    }
    if file == "stream.flv" {
        return serve_flv(shared);
    }
    let content_type = if file == PLAYLIST {
        "application/vnd.apple.mpegurl"
    } else if file.starts_with("seg_")
        && file.ends_with(".ts")
        && file.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        "video/mp2t"
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(shared.dir.join(&file)).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes)
                .into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// One live FLV encoder per client; killed when the response is dropped.
struct FlvBody {
    _child: Child,
    reader: ReaderStream<ChildStdout>,
    state: watch::Receiver<OriginState>,
}

fn serve_flv(shared: Arc<Shared>) -> Response {
    let o = &shared.options;
    let mut args = o.encode_args();
    args.extend(["-f".to_owned(), "flv".to_owned(), "pipe:1".to_owned()]);
    let spawned = Command::new(&o.ffmpeg)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(error = %e, "synthetic origin cannot start the FLV encoder");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(stdout) = child.stdout.take() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = FlvBody {
        _child: child,
        reader: ReaderStream::new(stdout),
        state: shared.state.subscribe(),
    };
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        loop {
            let state = *body.state.borrow_and_update();
            match state {
                OriginState::Stopped => return None,
                OriginState::Frozen => {
                    if body.state.changed().await.is_err() {
                        return None;
                    }
                    continue;
                }
                OriginState::Serving => {}
            }
            tokio::select! {
                chunk = body.reader.next() => {
                    return match chunk {
                        Some(Ok(bytes)) => Some((Ok::<Bytes, std::io::Error>(bytes), body)),
                        _ => None,
                    };
                }
                changed = body.state.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "video/x-flv"), (header::CACHE_CONTROL, "no-cache")],
        Body::from_stream(stream),
    )
        .into_response()
}
