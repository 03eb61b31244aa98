//! Leases, fencing, sessions and balance against a real PostgreSQL (see
//! `support`): one server for this binary, one database per test.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_cluster::{ClusterError, ClusterNode, FenceReason, Lease, SessionState};
use onelive_events::LiveInfo;
use serde_json::json;
use support::{database, node, until};
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(60);

async fn add_channels(n: &ClusterNode, count: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..count {
        let key = format!("ch{i:03}");
        n.upsert_channel(&key, &json!({ "url": format!("http://127.0.0.1:9/{i}") })).await.unwrap();
        keys.push(key);
    }
    keys
}

fn keys(leases: &[Lease]) -> Vec<String> {
    leases.iter().map(|l| l.key().to_owned()).collect()
}

async fn owners(n: &ClusterNode) -> BTreeMap<String, Option<String>> {
    n.status().await.unwrap().channels.into_iter().map(|c| (c.key, c.owner)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nodes_never_own_a_channel_twice() {
    let url = database("never_twice").await;
    const NODES: usize = 4;
    const CHANNELS: usize = 24;
    const ROUNDS: usize = 40;
    let mut nodes = Vec::new();
    for i in 0..NODES {
        nodes.push(Arc::new(node(&url, &format!("n{i}"), LONG, CHANNELS).await));
    }
    add_channels(&nodes[0], CHANNELS).await;

    // Who holds each channel by the claims returned so far, and every
    // epoch each channel was claimed at.
    let holder: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let epochs: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
    let mut tasks = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let (n, holder, epochs) = (n.clone(), holder.clone(), epochs.clone());
        tasks.push(tokio::spawn(async move {
            let mut claims = 0;
            for round in 0..ROUNDS {
                let claimed = n.claim().await.unwrap();
                claims += claimed.len();
                {
                    let mut h = holder.lock().unwrap();
                    let mut e = epochs.lock().unwrap();
                    for l in &claimed {
                        if let Some(other) = h.insert(l.key().to_owned(), n.node_id().to_owned()) {
                            panic!("{} claimed {} while {other} holds it", n.node_id(), l.key());
                        }
                        e.entry(l.key().to_owned()).or_default().push(l.epoch());
                    }
                }
                // Give back every other lease (rotating with the round), so
                // the channels keep changing hands.
                let held = n.leases();
                for (j, l) in held.iter().enumerate() {
                    if (j + round + i) % 2 == 0 {
                        holder.lock().unwrap().remove(l.key());
                        n.release(l).await.unwrap();
                    }
                }
                tokio::task::yield_now().await;
            }
            claims
        }));
    }
    let mut claims = 0;
    for t in tasks {
        claims += t.await.unwrap();
    }
    // Plenty of handovers happened.
    assert!(claims > CHANNELS * 4, "only {claims} claims");

    // Every channel's claims got strictly increasing, unique epochs.
    let epochs = epochs.lock().unwrap().clone();
    for (key, list) in epochs.iter() {
        let mut sorted = list.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), list.len(), "{key}: an epoch was handed out twice: {list:?}");
    }
    // The database agrees with what the claims said, and the status counts
    // match the nodes' own lease lists.
    let status = nodes[0].status().await.unwrap();
    let holder = holder.lock().unwrap().clone();
    for c in &status.channels {
        assert_eq!(c.owner.as_ref(), holder.get(&c.key), "{}", c.key);
        // A channel never claimed is still at epoch 0.
        let last = epochs.get(&c.key).and_then(|l| l.iter().max()).copied().unwrap_or(0);
        assert_eq!(c.epoch, last, "{}", c.key);
    }
    for (i, n) in nodes.iter().enumerate() {
        let s = status.nodes.iter().find(|s| s.node_id == format!("n{i}")).unwrap();
        assert_eq!(s.leases, n.leases().len());
    }
}

fn session(part: u32) -> SessionState {
    SessionState {
        session_id: Uuid::new_v4(),
        next_part: part,
        live_info: {
            let mut built = LiveInfo::default();
            built.title = "night stream".into();
            built.uname = "streamer".into();
            built
        },
        record: json!({ "started_at": "2026-12-03T06:00:00Z", "url": "http://127.0.0.1:9/0" }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_fences_the_paused_owner() {
    let url = database("takeover").await;
    // Short, but with room for a loaded machine (queries time out after a
    // third of it).
    let lease = Duration::from_secs(3);
    let a = node(&url, "a", lease, 10).await;
    a.upsert_channel("c1", &json!({})).await.unwrap();
    let report = a.tick().await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(keys(&report.claimed), ["c1"]);
    let old = report.claimed[0].clone();
    a.check(&old).await.unwrap();
    a.set_recording(&old, true).await.unwrap();
    let saved = session(3);
    a.save_session(&old, &saved).await.unwrap();

    // `a` pauses (no more ticks). `b` claims the channel once a's lease
    // has expired in the database, at a higher epoch.
    let b = node(&url, "b", lease, 10).await;
    let new = until(60, "b to take c1 over", || async {
        // A round may fail on a loaded machine (a query timing out); the
        // next one tries again.
        b.tick().await.claimed.into_iter().find(|l| l.key() == "c1")
    })
    .await;
    assert!(new.epoch() > old.epoch(), "{} <= {}", new.epoch(), old.epoch());
    // By the time another node could claim it, the paused owner's own
    // clock had already ended the lease (four fifths of a lease after its
    // last renewal went out, the database expiry one lease after).
    assert!(a.leases().is_empty(), "a still counts c1 as held after b claimed it");

    // The old owner's fencing check and renewal fail at once, and it can
    // no longer write the session or the recording flag.
    let err = a.check(&old).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { ref key, .. } if key == "c1"), "{err}");
    let err = a.save_session(&old, &session(9)).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { .. }), "{err}");
    let err = a.set_recording(&old, true).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { .. }), "{err}");
    let r = a.tick().await;
    assert!(!keys(&r.claimed).contains(&"c1".to_owned()), "a took c1 back");

    // The new owner continues the same session: same id, next part.
    let continued = b.session("c1").await.unwrap().expect("the session survives the takeover");
    assert_eq!(continued, saved);
    b.check(&new).await.unwrap();
    b.save_session(&new, &SessionState { next_part: 4, ..continued.clone() }).await.unwrap();
    assert_eq!(b.session("c1").await.unwrap().unwrap().next_part, 4);
    // The takeover cleared the old owner's recording flag.
    let st = b.status().await.unwrap();
    assert_eq!(st.channels[0].owner.as_deref(), Some("b"));
    assert!(!st.channels[0].recording);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_database_drops_its_leases_by_its_own_clock_and_resumes() {
    let url = database("cut_off").await;
    let server_port = support::server().port;
    let proxy = support::Proxy::start(server_port).await;
    // Short, but with room for a loaded machine (queries time out after a
    // third of it).
    let lease = Duration::from_secs(3);
    let a = node(&proxy.url(&url, server_port), "a", lease, 10).await;
    let admin = node(&url, "admin", lease, 1).await;
    admin.shutdown().await.unwrap(); // only used for status and channels
    add_channels(&admin, 2).await;
    let r = a.tick().await;
    assert_eq!(r.claimed.len(), 2, "{:?}", r.error);
    let held = r.claimed.clone();

    proxy.set_cut(true);
    // Renewals fail; the leases are reported lost once their local validity
    // is over, without the database.
    let errors = std::sync::atomic::AtomicUsize::new(0);
    let lost = until(60, "a to give up its leases", || async {
        let r = a.tick().await;
        if r.error.is_some() {
            errors.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        (!r.lost.is_empty()).then_some(r.lost)
    })
    .await;
    assert!(errors.into_inner() > 0, "no tick failed while the database was cut off");
    assert_eq!(keys(&lost), keys(&held));
    let err = a.check(&held[0]).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { reason: FenceReason::NotHeld, .. }), "{err}");

    // The database comes back: the node reconnects and claims the channels
    // again, at new epochs (its old leases expired there too).
    proxy.set_cut(false);
    let again = until(60, "a to claim its channels again", || async {
        let r = a.tick().await;
        (r.claimed.len() == 2).then_some(r.claimed)
    })
    .await;
    for (new, old) in again.iter().zip(&held) {
        assert_eq!(new.key(), old.key());
        assert!(new.epoch() > old.epoch());
        a.check(new).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_hands_channels_over_at_once() {
    let url = database("shutdown").await;
    let a = node(&url, "a", LONG, 10).await;
    let all = add_channels(&a, 6).await;
    let r = a.tick().await;
    assert_eq!(keys(&r.claimed), all, "{:?}", r.error);

    let b = node(&url, "b", LONG, 10).await;
    // Both alive: b would take a fair share only of unowned channels; a
    // records none, so it gives half away at its next round.
    assert_eq!(a.shutdown().await.unwrap(), 6);
    assert!(a.leases().is_empty());
    // One round of b, long before a's 60 s leases would have expired.
    let r = b.tick().await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(keys(&r.claimed), all);
    let st = b.status().await.unwrap();
    let sa = st.nodes.iter().find(|n| n.node_id == "a").unwrap();
    assert!(sa.left && !sa.alive && sa.leases == 0, "{sa:?}");
    let sb = st.nodes.iter().find(|n| n.node_id == "b").unwrap();
    assert!(sb.alive && sb.leases == 6, "{sb:?}");
    assert!(owners(&b).await.values().all(|o| o.as_deref() == Some("b")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_respect_capacity_and_fair_share_and_idle_channels_move() {
    let url = database("fair_share").await;
    let a = node(&url, "a", LONG, 3).await;
    add_channels(&a, 10).await;
    assert_eq!(a.tick().await.claimed.len(), 3);
    assert!(a.tick().await.claimed.is_empty(), "over capacity");

    let b = node(&url, "b", LONG, 100).await;
    let c = node(&url, "c", LONG, 100).await;
    // Water-filling: a keeps its 3, b and c split the other 7 (4 and 3).
    assert_eq!(b.tick().await.claimed.len(), 4);
    assert_eq!(c.tick().await.claimed.len(), 3);
    let o = owners(&a).await;
    assert!(o.values().all(Option::is_some), "{o:?}");

    // A fourth node: every share is now 3, so b has one too many. While all
    // of b's channels record, it keeps them; once one is idle, it goes.
    let d = node(&url, "d", LONG, 100).await;
    for l in b.leases() {
        b.set_recording(&l, true).await.unwrap();
    }
    let r = b.tick().await;
    assert!(r.released.is_empty() && r.error.is_none(), "{r:?}");
    assert!(d.tick().await.claimed.is_empty(), "nothing is free yet");
    let idle = b.leases()[0].clone();
    b.set_recording(&idle, false).await.unwrap();
    let r = b.tick().await;
    assert_eq!(r.released, std::slice::from_ref(&idle), "{:?}", r.error);
    assert_eq!(b.leases().len(), 3);
    let err = b.check(&idle).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { reason: FenceReason::NotHeld, .. }), "{err}");
    let r = d.tick().await;
    assert_eq!(keys(&r.claimed), [idle.key()]);
    assert!(r.claimed[0].epoch() > idle.epoch());

    let st = a.status().await.unwrap();
    let per_node: BTreeMap<&str, (usize, usize)> =
        st.nodes.iter().map(|n| (n.node_id.as_str(), (n.leases, n.recordings))).collect();
    assert_eq!(per_node["a"], (3, 0));
    assert_eq!(per_node["b"], (3, 3));
    assert_eq!(per_node["c"], (3, 0));
    assert_eq!(per_node["d"], (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_channel_goes_to_its_node_only() {
    let url = database("pinned").await;
    let a = node(&url, "a", LONG, 10).await;
    add_channels(&a, 2).await;
    assert_eq!(a.tick().await.claimed.len(), 2);
    a.pin("ch000", Some("b")).await.unwrap();
    // a gives up the channel pinned elsewhere (it is not recording) ...
    let r = a.tick().await;
    assert_eq!(keys(&r.released), ["ch000"], "{:?}", r.error);
    assert!(a.tick().await.claimed.is_empty(), "a claimed a channel pinned to b");
    // ... and b, when it joins, takes it.
    let b = node(&url, "b", LONG, 10).await;
    assert_eq!(keys(&b.tick().await.claimed), ["ch000"]);
    assert_eq!(owners(&a).await["ch000"].as_deref(), Some("b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_and_disabled_channels_fence_their_owner() {
    let url = database("removed").await;
    let a = node(&url, "a", LONG, 10).await;
    add_channels(&a, 2).await;
    let claimed = a.tick().await.claimed;
    assert_eq!(claimed.len(), 2);
    a.remove_channel("ch000").await.unwrap();
    let err = a.check(&claimed[0]).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { reason: FenceReason::Removed, .. }), "{err}");
    a.set_enabled("ch001", false).await.unwrap();
    assert_eq!(keys(&a.renew().await.unwrap()), ["ch001"]);
    assert!(a.leases().is_empty());
    assert!(a.tick().await.claimed.is_empty(), "a disabled channel was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_one_fresh_database() {
    let url = database("migrate").await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { node(&url, &format!("n{i}"), LONG, 5).await }));
    }
    let mut nodes = Vec::new();
    for t in tasks {
        nodes.push(t.await.unwrap());
    }
    let st = nodes[0].status().await.unwrap();
    assert_eq!(st.nodes.len(), 4);
    assert!(st.nodes.iter().all(|n| n.alive && !n.left));
    // Connecting again to a migrated database changes nothing.
    node(&url, "n0", LONG, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_precise_errors() {
    let url = database("bad_input").await;
    let a = node(&url, "a", LONG, 10).await;
    for err in [
        a.pin("nope", None).await.unwrap_err(),
        a.remove_channel("nope").await.unwrap_err(),
        a.set_enabled("nope", true).await.unwrap_err(),
        a.session("nope").await.unwrap_err(),
    ] {
        assert!(matches!(err, ClusterError::UnknownChannel(ref k) if k == "nope"), "{err}");
    }
    let err = a.upsert_channel("", &json!({})).await.unwrap_err();
    assert!(matches!(err, ClusterError::InvalidOption { option: "channel key", .. }), "{err}");
    // A lease another node holds is not held by this one.
    a.upsert_channel("other", &json!({})).await.unwrap();
    a.pin("other", Some("x")).await.unwrap();
    let x = node(&url, "x", LONG, 10).await;
    let theirs = x.claim().await.unwrap();
    assert_eq!(keys(&theirs), ["other"]);
    let err = a.check(&theirs[0]).await.unwrap_err();
    assert!(matches!(err, ClusterError::Fenced { reason: FenceReason::NotHeld, .. }), "{err}");

    // Nothing listens on this port: a connect error that shows no password.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts =
        onelive_cluster::ClusterOptions::new(format!("postgres://u:s3cr3t-pw@127.0.0.1:{port}/x"))
            .with_node_id("z");
    let err = ClusterNode::connect(opts).await.unwrap_err();
    assert!(matches!(err, ClusterError::Connect(_)), "{err}");
    assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
    // A database that does not exist is named by the server's message.
    let err = ClusterNode::connect(
        onelive_cluster::ClusterOptions::new(
            url.rsplit_once('/').unwrap().0.to_owned() + "/no_such_db",
        )
        .with_node_id("z"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::Connect(ref m) if m.contains("no_such_db")), "{err}");
}
