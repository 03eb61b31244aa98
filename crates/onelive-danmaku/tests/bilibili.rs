//! Bilibili: getDanmuInfo over loopback HTTP, the auth packet, heartbeats,
//! plain/zlib/brotli packets, reconnects, malformed frames, drop-oldest.

use crate::common::{Conn, WsServer, wait_for};
use axum::extract::Query;
use onelive_danmaku::bilibili::packet::{self, Packet};
use onelive_danmaku::*;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROOM: u64 = 21452505;

fn commands() -> Vec<String> {
    include_str!("fixtures/bilibili_commands.jsonl").lines().map(str::to_owned).collect()
}

/// A loopback `getDanmuInfo` answering from the fixture with the WebSocket
/// server's port; `codes` scripts the `code` of successive answers (0 once
/// the script runs out). Returns the API base and the ids asked for.
async fn api(ws_port: u16, codes: Vec<i64>) -> (String, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let codes = Arc::new(Mutex::new(codes));
    let log = asked.clone();
    let app = axum::Router::new().route(
        "/xlive/web-room/v1/index/getDanmuInfo",
        axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
            let log = log.clone();
            let codes = codes.clone();
            async move {
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(q.get("id").cloned().unwrap_or_default());
                    log.len()
                };
                let code = {
                    let mut c = codes.lock().unwrap();
                    if c.is_empty() { 0 } else { c.remove(0) }
                };
                if code != 0 {
                    return format!(r#"{{"code":{code},"message":"-352 风控校验失败","ttl":1}}"#);
                }
                include_str!("fixtures/getDanmuInfo.json")
                    .replace("HOST", "127.0.0.1")
                    .replace("PORT", &ws_port.to_string())
                    .replace("TOKEN_PLACEHOLDER", &format!("tok-{n}"))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, asked)
}

fn options(base: &str) -> BilibiliOptions {
    BilibiliOptions {
        api_base: base.to_owned(),
        tls: false,
        heartbeat_interval: Duration::from_millis(200),
        ..BilibiliOptions::default()
    }
}

fn fast() -> ClientOptions {
    ClientOptions {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}

fn decode(bytes: &[u8]) -> Vec<Packet> {
    let mut out = Vec::new();
    packet::decode(bytes, &mut out).unwrap();
    out
}

/// Reads the auth packet, checks it, and accepts it.
async fn accept_auth(conn: &mut Conn, token: &str) {
    let auth = decode(&conn.recv_binary().await);
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].operation, packet::OP_AUTH);
    let body: serde_json::Value = serde_json::from_slice(&auth[0].body).unwrap();
    assert_eq!(body["roomid"], ROOM);
    assert_eq!(body["uid"], 0);
    assert_eq!(body["protover"], 3);
    assert_eq!(body["platform"], "web");
    assert_eq!(body["type"], 2);
    assert_eq!(body["key"], token);
    conn.send_binary(packet::encode(packet::OP_AUTH_REPLY, packet::VER_PLAIN, br#"{"code":0}"#))
        .await;
}

fn message(json: &str) -> Vec<u8> {
    packet::encode(packet::OP_MESSAGE, packet::VER_JSON, json.as_bytes())
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
    w.write_all(bytes).unwrap();
    drop(w);
    out
}

async fn next(events: &mut ChatEvents) -> ChatEvent {
    tokio::time::timeout(crate::common::DEADLINE, events.recv())
        .await
        .expect("timed out waiting for an event")
        .expect("client stopped")
        .event
}

#[tokio::test]
async fn auth_heartbeat_and_every_command_in_plain_zlib_and_brotli_packets() {
    let mut ws = WsServer::start().await;
    let (base, asked) = api(ws.port, vec![]).await;
    let chat = BilibiliChat::new(ROOM, options(&base)).unwrap();
    let (client, mut events, mut signals) = ChatClient::spawn(chat, fast()).unwrap();
    let mut conn = ws.accept().await;
    accept_auth(&mut conn, "tok-1").await;
    assert_eq!(asked.lock().unwrap().as_slice(), [ROOM.to_string()]);

    // The heartbeat: op 2, version 1, the web client's body.
    let hb = decode(&conn.recv_binary().await);
    assert_eq!((hb[0].operation, hb[0].version), (packet::OP_HEARTBEAT, packet::VER_PLAIN));
    assert_eq!(hb[0].body, b"[object Object]");
    conn.send_binary(packet::encode(
        packet::OP_HEARTBEAT_REPLY,
        packet::VER_PLAIN,
        &1234u32.to_be_bytes(),
    ))
    .await;
    wait_for("a counted heartbeat", || client.stats().heartbeats >= 1).await;

    let cmds = commands();
    // Line 1 plain; lines 2-4 in one zlib packet; lines 5-8 in one brotli packet.
    conn.send_binary(message(&cmds[0])).await;
    let inner: Vec<u8> = cmds[1..4].iter().flat_map(|c| message(c)).collect();
    conn.send_binary(packet::encode(packet::OP_MESSAGE, packet::VER_ZLIB, &zlib(&inner))).await;
    let inner: Vec<u8> = cmds[4..].iter().flat_map(|c| message(c)).collect();
    conn.send_binary(packet::encode(packet::OP_MESSAGE, packet::VER_BROTLI, &brotli(&inner))).await;

    let ChatEvent::Comment(c) = next(&mut events).await else { panic!("expected a comment") };
    assert_eq!(c.text, "第一条弹幕 <b>&amp;");
    assert_eq!(c.sender, Sender { id: "3220953".into(), name: "紫渣带刃鲁比".into() });
    assert_eq!((c.mode, c.size, c.color, c.sent_at_ms), (1, 25, 16777215, Some(1579574673806)));

    let ChatEvent::Comment(c) = next(&mut events).await else { panic!("expected a comment") };
    // DANMU_MSG with a suffixed cmd; a lone surrogate escape becomes U+FFFD
    // instead of failing the packet.
    assert_eq!(c.text, "top ]]> \u{7} \u{FFFD} end");
    assert_eq!((c.mode, c.color), (5, 16738408));
    assert_eq!(c.sender.name, "user\"quote");

    let ChatEvent::SuperChat(sc) = next(&mut events).await else { panic!("expected a super chat") };
    assert_eq!((sc.text.as_str(), sc.price, sc.keep_seconds), ("谢谢主播", 30.0, 60));
    assert_eq!(sc.sender, Sender { id: "700001".into(), name: "SC用户".into() });

    let ChatEvent::Gift(g) = next(&mut events).await else { panic!("expected a gift") };
    assert_eq!((g.name.as_str(), g.count, g.sender.name.as_str()), ("辣条", 3, "小红"));

    let ChatEvent::Guard(g) = next(&mut events).await else { panic!("expected a guard") };
    assert_eq!((g.level, g.count, g.sender.id.as_str()), (3, 1, "123"));

    // INTERACT_WORD is not kept; LIVE and PREPARING are signals.
    assert_eq!(next(&mut events).await, ChatEvent::Signal { signal: LiveSignal::Live });
    assert_eq!(next(&mut events).await, ChatEvent::Signal { signal: LiveSignal::Offline });
    assert_eq!(signals.recv().await, Some(LiveSignal::Live));
    assert_eq!(signals.recv().await, Some(LiveSignal::Offline));

    let stats = client.stats();
    assert_eq!((stats.events, stats.dropped, stats.errors, stats.connections), (7, 0, 0, 1));
    client.stop().await;
    assert!(events.recv().await.is_none(), "stream ends after stop");
}

#[tokio::test]
async fn reconnects_after_a_drop_and_after_each_malformed_frame() {
    let mut ws = WsServer::start().await;
    // The first look-up fails with Bilibili's risk-control code.
    let (base, asked) = api(ws.port, vec![-352]).await;
    let chat = BilibiliChat::new(ROOM, options(&base)).unwrap();
    let (client, mut events, _signals) = ChatClient::spawn(chat, fast()).unwrap();

    let mut conn = ws.accept().await;
    // Attempt 1 got -352 (recorded), attempt 2 got token 2.
    accept_auth(&mut conn, "tok-2").await;
    let err = client.stats().last_error.unwrap();
    assert!(err.contains("API error -352"), "{err}");

    // A network drop: the client comes back with a fresh token.
    conn.drop_hard();
    let mut conn = ws.accept().await;
    accept_auth(&mut conn, "tok-3").await;

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0, 0, 0, 20, 0, 16], "truncated header at byte 0: 6 bytes left"),
        (
            {
                let mut p = message(r#"{"cmd":"LIVE"}"#);
                p[3] = 200;
                p
            },
            "claims 200 bytes",
        ),
        (
            {
                let mut p = message("{}");
                p[5] = 4;
                p
            },
            "bad lengths at byte 0: packet 18, header 4",
        ),
        (packet::encode(packet::OP_MESSAGE, packet::VER_ZLIB, b"not zlib"), "zlib body (8 bytes)"),
        (
            packet::encode(packet::OP_MESSAGE, packet::VER_BROTLI, &[0xff; 12]),
            "brotli body (12 bytes)",
        ),
        (message("{\"cmd\":"), "command body (7 bytes) is not JSON"),
        (
            packet::encode(
                packet::OP_MESSAGE,
                packet::VER_ZLIB,
                &zlib(&packet::encode(packet::OP_MESSAGE, packet::VER_ZLIB, &zlib(b"x"))),
            ),
            "compressed packet inside a compressed packet",
        ),
    ];
    let mut token = 4;
    for (frame, expected) in cases {
        let errors = client.stats().errors;
        conn.send_binary(frame).await;
        wait_for("the error to be recorded", || client.stats().errors > errors).await;
        let err = client.stats().last_error.unwrap();
        assert!(err.contains("malformed frame") && err.contains(expected), "{err} !~ {expected}");
        conn = ws.accept().await;
        accept_auth(&mut conn, &format!("tok-{token}")).await;
        token += 1;
    }
    // After all that, chat still flows.
    conn.send_binary(message(&commands()[0])).await;
    assert!(matches!(next(&mut events).await, ChatEvent::Comment(_)));
    assert_eq!(asked.lock().unwrap().len(), token - 1);
    client.stop().await;
}

#[tokio::test]
async fn refused_auth_is_an_error_and_the_client_retries() {
    let mut ws = WsServer::start().await;
    let (base, _) = api(ws.port, vec![]).await;
    let (client, _events, _signals) =
        ChatClient::spawn(BilibiliChat::new(ROOM, options(&base)).unwrap(), fast()).unwrap();
    let mut conn = ws.accept().await;
    let _auth = conn.recv_binary().await;
    conn.send_binary(packet::encode(packet::OP_AUTH_REPLY, packet::VER_PLAIN, br#"{"code":-101}"#))
        .await;
    let mut again = ws.accept().await;
    let err = client.stats().last_error.unwrap();
    assert!(err.contains("authentication refused") && err.contains("-101"), "{err}");
    let auth = decode(&again.recv_binary().await);
    assert_eq!(auth[0].operation, packet::OP_AUTH);
    client.stop().await;
}

#[tokio::test]
async fn a_slow_consumer_loses_the_oldest_events_and_they_are_counted() {
    let mut ws = WsServer::start().await;
    let (base, _) = api(ws.port, vec![]).await;
    let opts = ClientOptions { buffer: 4, ..fast() };
    let (client, mut events, _signals) =
        ChatClient::spawn(BilibiliChat::new(ROOM, options(&base)).unwrap(), opts).unwrap();
    let mut conn = ws.accept().await;
    accept_auth(&mut conn, "tok-1").await;
    for i in 0..10 {
        let json = format!(r#"{{"cmd":"DANMU_MSG","info":[[0,1,25,16777215,0],"n{i}",[1,"u"]]}}"#);
        conn.send_binary(message(&json)).await;
    }
    wait_for("ten events", || client.stats().events == 10).await;
    assert_eq!(client.stats().dropped, 6);
    let mut texts = Vec::new();
    while let Some(r) = events.try_recv() {
        let ChatEvent::Comment(c) = r.event else { panic!() };
        texts.push(c.text);
    }
    assert_eq!(texts, ["n6", "n7", "n8", "n9"]);
    client.stop().await;
}

#[tokio::test]
async fn a_silent_server_is_left_and_the_client_reconnects() {
    let mut ws = WsServer::start().await;
    let (base, _) = api(ws.port, vec![]).await;
    let opts = ClientOptions { silence_timeout: Some(Duration::from_millis(300)), ..fast() };
    let (client, _events, _signals) =
        ChatClient::spawn(BilibiliChat::new(ROOM, options(&base)).unwrap(), opts).unwrap();
    // Accept the auth but never answer anything (not even heartbeats).
    let mut silent = ws.accept().await;
    let _auth = silent.recv_binary().await;
    let mut conn = ws.accept().await;
    let err = client.stats().last_error.unwrap();
    assert!(err.contains("no frame for 300 ms"), "{err}");
    accept_auth(&mut conn, "tok-2").await;
    drop(silent);
    client.stop().await;
}

#[test]
fn a_zlib_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; (packet::MAX_INFLATED + 1024) as usize];
    let bomb = packet::encode(packet::OP_MESSAGE, packet::VER_ZLIB, &zlib(&zeros));
    let err = packet::decode(&bomb, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("inflates past 16777216 bytes"), "{err}");
}

#[test]
fn packets_round_trip_and_several_share_one_message() {
    let mut two = message(r#"{"cmd":"LIVE"}"#);
    two.extend(packet::encode(packet::OP_HEARTBEAT_REPLY, packet::VER_PLAIN, &7u32.to_be_bytes()));
    let p = decode(&two);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].body, br#"{"cmd":"LIVE"}"#);
    assert_eq!(p[1].operation, packet::OP_HEARTBEAT_REPLY);
    assert!(packet::decode(&[], &mut Vec::new()).is_err());
}

#[test]
fn a_room_id_of_zero_is_refused() {
    assert!(matches!(
        BilibiliChat::new(0, BilibiliOptions::default()),
        Err(DanmakuError::Invalid { .. })
    ));
}
