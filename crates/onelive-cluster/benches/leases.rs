//! Lease load at the scale: 3 nodes sharing 3,000 channels on a real
//! PostgreSQL (onelive_cluster::testing). Prints, beside an anchor (a bare
//! `SELECT 1` round trip in the same run): the time to claim everything,
//! renewal and whole-round latency (p50/p99), statements per round, and
//! the takeover time after a node stops without releasing.
//!
//! `cargo bench -p onelive-cluster --bench leases`

use std::sync::Arc;
use std::time::{Duration, Instant};

use onelive_cluster::{ClusterNode, ClusterOptions, testing};

const NODES: usize = 3;
const CHANNELS: usize = 3000;
const ROUNDS: usize = 60;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn nodes(url: &str, lease: Duration) -> Vec<Arc<ClusterNode>> {
    let mut v = Vec::new();
    for i in 0..NODES {
        let opts = ClusterOptions::new(url)
            .with_node_id(format!("bench-{i}"))
            .with_lease(lease)
            .with_max_recordings(CHANNELS);
        v.push(Arc::new(ClusterNode::connect(opts).await.expect("connect")));
    }
    v
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = testing::database("bench").await.expect("postgres");
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);

    // Anchor: a bare round trip.
    let mut rt = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        admin.query_one("SELECT 1", &[]).await.unwrap();
        rt.push(t.elapsed());
    }
    println!(
        "anchor  SELECT 1 round trip        p50 {}  p99 {}",
        ms(pct(&mut rt, 0.5)),
        ms(pct(&mut rt, 0.99))
    );

    let lease = Duration::from_secs(15);
    let ns = nodes(&url, lease).await;
    let t = Instant::now();
    let rows: Vec<String> = (0..CHANNELS).map(|i| format!("bench-{i:05}")).collect();
    admin
        .execute("INSERT INTO onelive_channels (key) SELECT unnest($1::text[])", &[&rows])
        .await
        .unwrap();
    println!("insert  {CHANNELS} channels                 {}", ms(t.elapsed()));

    // Everyone claims at once until all channels are owned.
    let t = Instant::now();
    loop {
        let mut tasks = Vec::new();
        for n in &ns {
            let n = n.clone();
            tasks.push(tokio::spawn(async move { n.tick().await }));
        }
        for task in tasks {
            let r = task.await.unwrap();
            assert!(r.error.is_none(), "{:?}", r.error);
        }
        if ns.iter().map(|n| n.leases().len()).sum::<usize>() == CHANNELS {
            break;
        }
    }
    let per: Vec<usize> = ns.iter().map(|n| n.leases().len()).collect();
    println!(
        "claim   all {CHANNELS} by {NODES} nodes             {}  (per node {per:?})",
        ms(t.elapsed())
    );

    // Steady state, all nodes at once: renewals alone, then whole rounds.
    let mut renew = Vec::new();
    for _ in 0..ROUNDS {
        let mut tasks = Vec::new();
        for n in &ns {
            let n = n.clone();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                assert!(n.renew().await.expect("renew").is_empty());
                t.elapsed()
            }));
        }
        for task in tasks {
            renew.push(task.await.unwrap());
        }
    }
    let before: u64 = ns.iter().map(|n| n.statements_sent()).sum();
    let mut round = Vec::new();
    let t = Instant::now();
    for _ in 0..ROUNDS {
        let mut tasks = Vec::new();
        for n in &ns {
            let n = n.clone();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = n.tick().await;
                assert!(r.error.is_none() && r.lost.is_empty(), "{r:?}");
                t.elapsed()
            }));
        }
        for task in tasks {
            round.push(task.await.unwrap());
        }
    }
    let elapsed = t.elapsed();
    let after: u64 = ns.iter().map(|n| n.statements_sent()).sum();
    let per_round = (after - before) as f64 / (ROUNDS * NODES) as f64;
    println!(
        "renew   {} leases per node          p50 {}  p99 {}",
        CHANNELS / NODES,
        ms(pct(&mut renew, 0.5)),
        ms(pct(&mut renew, 0.99))
    );
    println!(
        "round   renew+heartbeat+balance+claim p50 {}  p99 {}",
        ms(pct(&mut round, 0.5)),
        ms(pct(&mut round, 0.99))
    );
    println!(
        "load    {per_round:.1} statements per round per node; at one round per {}s: {:.2} statements/s for {NODES} nodes ({} rounds in {})",
        (lease / 3).as_secs(),
        per_round * NODES as f64 / (lease / 3).as_secs_f64(),
        ROUNDS * NODES,
        ms(elapsed)
    );
    for n in &ns {
        n.shutdown().await.unwrap();
    }
    drop(ns);

    // Takeover: with a 2 s lease, node 0 stops renewing (as if killed);
    // the others tick every third of the lease until they own everything.
    let lease = Duration::from_secs(2);
    let url2 = testing::database("bench_takeover").await.expect("postgres");
    let (admin2, conn) = tokio_postgres::connect(&url2, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let ns = nodes(&url2, lease).await;
    admin2
        .execute("INSERT INTO onelive_channels (key) SELECT unnest($1::text[])", &[&rows])
        .await
        .unwrap();
    while ns.iter().map(|n| n.leases().len()).sum::<usize>() < CHANNELS {
        for n in &ns {
            n.tick().await;
        }
    }
    // Last renewal of node 0, then it goes silent.
    assert!(ns[0].renew().await.unwrap().is_empty());
    let killed = Instant::now();
    let orphaned = ns[0].leases().len();
    loop {
        tokio::time::sleep(lease / 3).await;
        for n in &ns[1..] {
            n.tick().await;
        }
        if ns[1..].iter().map(|n| n.leases().len()).sum::<usize>() == CHANNELS {
            break;
        }
    }
    println!(
        "takeover {orphaned} channels of a silent node, lease {}s: all owned again after {} (bound: lease + one round = {})",
        lease.as_secs(),
        ms(killed.elapsed()),
        ms(lease + lease / 3)
    );
}
