//! Douyu: STT login, join group, keepalive, chat and gifts, live signals,
//! malformed packets. Frames follow Douyu's published STT protocol document
//! ("斗鱼弹幕服务器第三方接入协议" v1.6.2: packet layout, `loginreq`,
//! `joingroup`, `mrkl`, `chatmsg`, `dgb`, `rss`); written by us.

use crate::common::{Conn, WsServer, wait_for};
use onelive_danmaku::douyu::{TYPE_CLIENT, TYPE_SERVER, decode_packets, encode_packet, stt_decode};
use onelive_danmaku::*;
use std::time::Duration;

fn options(ws: &WsServer) -> DouyuOptions {
    DouyuOptions { url: ws.url(), heartbeat_interval: Duration::from_millis(200) }
}

fn fast() -> ClientOptions {
    ClientOptions {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let bodies = decode_packets(bytes).unwrap();
    assert_eq!(bodies.len(), 1);
    stt_decode(&bodies[0])
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.into(), v.into())
}

async fn login(conn: &mut Conn) {
    let login = conn.recv_binary().await;
    assert_eq!(u16::from_le_bytes([login[8], login[9]]), TYPE_CLIENT);
    assert_eq!(pairs(&login), [p("type", "loginreq"), p("roomid", "9999")]);
    let join = conn.recv_binary().await;
    assert_eq!(pairs(&join), [p("type", "joingroup"), p("rid", "9999"), p("gid", "-9999")]);
    conn.send_binary(encode_packet(TYPE_SERVER, "type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/username@=/nickname@=/live_stat@=0/is_illegal@=0/ill_ct@=/ill_ts@=0/now@=0/ps@=0/es@=0/it@=0/its@=0/npv@=0/best_dlev@=0/cur_lev@=0/")).await;
}

async fn next(events: &mut ChatEvents) -> ChatEvent {
    tokio::time::timeout(crate::common::DEADLINE, events.recv())
        .await
        .expect("timed out")
        .expect("stopped")
        .event
}

#[tokio::test]
async fn login_keepalive_chat_gifts_and_live_signals() {
    let mut ws = WsServer::start().await;
    let (client, mut events, mut signals) =
        ChatClient::spawn(DouyuChat::new(9999, options(&ws)).unwrap(), fast()).unwrap();
    let mut conn = ws.accept().await;
    login(&mut conn).await;
    assert_eq!(pairs(&conn.recv_binary().await), [p("type", "mrkl")]);

    // Two packets in one WebSocket message; values with STT escapes.
    let mut frame = encode_packet(
        TYPE_SERVER,
        "type@=chatmsg/rid@=9999/gid@=-9999/uid@=123456/nn@=a@Sb@Ac/txt@=666 a@Sb/cid@=1111/level@=1/col@=1/cst@=1700000000000/",
    );
    frame.extend(encode_packet(TYPE_SERVER, "type@=dgb/rid@=9999/gid@=-9999/gfid@=824/gs@=0/uid@=77/nn@=送礼者/str@=0/level@=3/dw@=0/gfcnt@=5/hits@=5/"));
    conn.send_binary(frame).await;
    let ChatEvent::Comment(c) = next(&mut events).await else { panic!("expected a comment") };
    assert_eq!(
        (c.text.as_str(), c.sender.name.as_str(), c.sender.id.as_str()),
        ("666 a/b", "a/b@c", "123456")
    );
    assert_eq!((c.color, c.sent_at_ms), (0xFF0000, Some(1700000000000)));
    let ChatEvent::Gift(g) = next(&mut events).await else { panic!("expected a gift") };
    assert_eq!((g.name.as_str(), g.count, g.sender.name.as_str()), ("gift 824", 5, "送礼者"));

    conn.send_binary(encode_packet(
        TYPE_SERVER,
        "type@=rss/rid@=9999/ss@=1/code@=0/rt@=0/notify@=0/endtime@=0/",
    ))
    .await;
    conn.send_binary(encode_packet(
        TYPE_SERVER,
        "type@=rss/rid@=9999/ss@=0/code@=0/rt@=0/notify@=0/endtime@=0/",
    ))
    .await;
    assert_eq!(signals.recv().await, Some(LiveSignal::Live));
    assert_eq!(signals.recv().await, Some(LiveSignal::Offline));
    // A chatmsg without uid is skipped, counted, and the connection stays.
    conn.send_binary(encode_packet(TYPE_SERVER, "type@=chatmsg/txt@=x/")).await;
    wait_for("the skipped message", || client.stats().skipped == 1).await;
    assert_eq!((client.stats().errors, client.stats().connections), (0, 1));
    client.stop().await;
}

#[tokio::test]
async fn malformed_packets_are_precise_errors_and_the_client_reconnects() {
    let mut ws = WsServer::start().await;
    let (client, mut events, _signals) =
        ChatClient::spawn(DouyuChat::new(9999, options(&ws)).unwrap(), fast()).unwrap();
    let mut conn = ws.accept().await;
    login(&mut conn).await;
    let ok = encode_packet(TYPE_SERVER, "type@=chatmsg/uid@=1/nn@=n/txt@=still here/");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            {
                let mut b = ok.clone();
                b[4] = 99;
                b
            },
            "length fields differ at byte 0",
        ),
        (ok[..10].to_vec(), "truncated header at byte 0: 10 bytes left, need 12"),
        (
            {
                let mut b = ok.clone();
                b[8] = 1;
                b[9] = 0;
                b
            },
            "unknown message type 1 at byte 0",
        ),
        (
            {
                let mut b = ok.clone();
                b.truncate(ok.len() - 3);
                b
            },
            "claims",
        ),
        (
            {
                let mut b = vec![0u8; 12];
                b[0..4].copy_from_slice(&[0, 0, 0, 0x10]);
                b[4..8].copy_from_slice(&[0, 0, 0, 0x10]);
                b
            },
            "out of range",
        ),
        (
            encode_packet(TYPE_SERVER, "type@=error/code@=51/"),
            "authentication refused: error code 51",
        ),
    ];
    for (frame, expected) in cases {
        let errors = client.stats().errors;
        conn.send_binary(frame).await;
        wait_for("the error", || client.stats().errors > errors).await;
        let err = client.stats().last_error.unwrap();
        assert!(err.contains(expected), "{err} !~ {expected}");
        conn = ws.accept().await;
        login(&mut conn).await;
    }
    conn.send_text("text is not STT").await;
    wait_for("the text-frame error", || {
        client.stats().last_error.is_some_and(|e| e.contains("text frame"))
    })
    .await;
    conn = ws.accept().await;
    login(&mut conn).await;
    conn.send_binary(ok).await;
    let ChatEvent::Comment(c) = next(&mut events).await else { panic!() };
    assert_eq!(c.text, "still here");
    client.stop().await;
}
