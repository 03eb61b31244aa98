//! Helpers of the tests: the real PostgreSQL of `onelive_cluster::testing`
//! (one server per test binary, a database per test), nodes, polling, and a
//! proxy whose connections can be cut.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use onelive_cluster::testing::server as try_server;
use onelive_cluster::{ClusterNode, ClusterOptions};

/// The shared server (panics when it cannot start: a test failure).
pub fn server() -> &'static onelive_cluster::testing::Server {
    try_server().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh database for `test`.
pub async fn database(test: &str) -> String {
    onelive_cluster::testing::database(test).await.unwrap_or_else(|e| panic!("{e}"))
}
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

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
