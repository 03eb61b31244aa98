//! Twitch: the anonymous IRC handshake, PRIVMSG with tags and bits, PING /
//! PONG, RECONNECT, malformed lines. The PRIVMSG line is the `bits` example
//! of Twitch's IRC tags reference (dev.twitch.tv/docs/irc/tags, PRIVMSG tags).

use crate::common::{Conn, WsServer, wait_for};
use onelive_danmaku::twitch::parse_line;
use onelive_danmaku::*;
use std::time::Duration;

const CHEER: &str = "@badge-info=;badges=staff/1,bits/1000;bits=100;color=;display-name=ronni;emotes=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=12345678;subscriber=0;tmi-sent-ts=1507246572675;turbo=1;user-id=12345678;user-type=staff :ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :cheer100";

fn options(ws: &WsServer) -> TwitchOptions {
    TwitchOptions { url: ws.url(), heartbeat_interval: Duration::from_millis(200) }
}

fn fast() -> ClientOptions {
    ClientOptions {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}

async fn handshake(conn: &mut Conn) {
    assert_eq!(conn.recv_text().await, "CAP REQ :twitch.tv/tags twitch.tv/commands");
    assert_eq!(conn.recv_text().await, "PASS SCHMOOPIIE");
    let nick = conn.recv_text().await;
    let n = nick.strip_prefix("NICK justinfan").unwrap_or_else(|| panic!("{nick}"));
    assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()), "{nick}");
    assert_eq!(conn.recv_text().await, "JOIN #ronni");
    conn.send_text(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!\r\n:tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n").await;
}

#[tokio::test]
async fn anonymous_join_privmsg_with_bits_ping_pong_and_reconnect() {
    let mut ws = WsServer::start().await;
    let (client, mut events, _signals) =
        ChatClient::spawn(TwitchChat::new("#Ronni", options(&ws)).unwrap(), fast()).unwrap();
    let mut conn = ws.accept().await;
    handshake(&mut conn).await;
    assert_eq!(conn.recv_text().await, "PING :tmi.twitch.tv");

    conn.send_text(&format!("{CHEER}\r\n@color=#1E90FF;display-name=;user-id=42 :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #ronni :\u{1}ACTION waves\u{1}\r\n")).await;
    let ev =
        tokio::time::timeout(crate::common::DEADLINE, events.recv()).await.unwrap().unwrap().event;
    assert_eq!(
        ev,
        ChatEvent::Comment(Comment {
            sender: Sender { id: "12345678".into(), name: "ronni".into() },
            text: "cheer100".into(),
            mode: 1,
            size: 25,
            color: 0xFFFFFF,
            sent_at_ms: Some(1507246572675),
            bits: Some(100),
        })
    );
    let ChatEvent::Comment(c) = events.recv().await.unwrap().event else { panic!() };
    assert_eq!(
        (c.text.as_str(), c.sender.name.as_str(), c.color, c.bits),
        ("waves", "viewer", 0x1E90FF, None)
    );

    // Server PING: answered with the same token (skip our own heartbeats).
    conn.send_text("PING :tmi.twitch.tv-42\r\n").await;
    loop {
        let line = conn.recv_text().await;
        if line.starts_with("PONG") {
            assert_eq!(line, "PONG :tmi.twitch.tv-42");
            break;
        }
        assert_eq!(line, "PING :tmi.twitch.tv");
    }

    conn.send_text(":tmi.twitch.tv RECONNECT\r\n").await;
    let mut conn = ws.accept().await;
    handshake(&mut conn).await;
    assert!(client.stats().last_error.unwrap().contains("RECONNECT"));
    client.stop().await;
}

#[tokio::test]
async fn malformed_lines_and_binary_frames_reconnect() {
    let mut ws = WsServer::start().await;
    let (client, _events, _signals) =
        ChatClient::spawn(TwitchChat::new("ronni", options(&ws)).unwrap(), fast()).unwrap();
    let mut conn = ws.accept().await;
    handshake(&mut conn).await;
    conn.send_text("@bits=1\r\n").await;
    wait_for("the malformed-line error", || {
        client.stats().last_error.is_some_and(|e| e.contains("tags without a command"))
    })
    .await;
    let mut conn = ws.accept().await;
    handshake(&mut conn).await;
    conn.send_binary(vec![1, 2, 3]).await;
    wait_for("the binary-frame error", || {
        client.stats().last_error.is_some_and(|e| e.contains("binary frame"))
    })
    .await;
    let mut conn = ws.accept().await;
    handshake(&mut conn).await;
    assert_eq!(client.stats().connections, 3);
    client.stop().await;
}

#[test]
fn irc_lines_parse_and_bad_channels_are_refused() {
    let l = parse_line(CHEER).unwrap();
    assert_eq!(
        (l.command, l.params.as_slice(), l.trailing),
        ("PRIVMSG", &["#ronni"][..], Some("cheer100"))
    );
    assert_eq!(l.prefix, Some("ronni!ronni@ronni.tmi.twitch.tv"));
    let l = parse_line(r"@msg-id=x;system-msg=a\sb\:c\\d :tmi.twitch.tv USERNOTICE #c").unwrap();
    assert_eq!(l.tags[1], ("system-msg", "a b;c\\d".to_string()));
    assert!(parse_line(":prefix-only").is_err());
    assert!(parse_line("PRIV<MSG x").is_err());
    for bad in ["", "has space", "UPPER?", "a_very_long_channel_name_over_25"] {
        assert!(TwitchChat::new(bad, TwitchOptions::default()).is_err(), "{bad}");
    }
}
