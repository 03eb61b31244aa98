//! Chat files: content, times relative to the part's start, escaping of
//! hostile text, validity after a crash, repair, JSON Lines, ChatRecorder.

use crate::common::{WsServer, parse_chat_xml, wait_for};
use onelive_danmaku::*;
use std::time::{Duration, Instant};

fn sender(id: &str, name: &str) -> Sender {
    Sender { id: id.into(), name: name.into() }
}

fn comment(text: &str) -> ChatEvent {
    ChatEvent::Comment(Comment {
        sender: sender("42", "观众"),
        text: text.into(),
        mode: 1,
        size: 25,
        color: 0xFFFFFF,
        sent_at_ms: Some(1700000000123),
        bits: None,
    })
}

fn at(start: Instant, ms: u64, event: ChatEvent) -> Received {
    Received { at: start + Duration::from_millis(ms), event }
}

fn info() -> PartInfo {
    PartInfo {
        platform: Some(Platform::Bilibili),
        room_id: "21452505".into(),
        name: "主播 & <co>".into(),
        title: "标题 \"quoted\"".into(),
        start_time: "2026-12-02T20:00:00+00:00".into(),
    }
}

#[test]
fn every_record_kind_with_times_from_the_part_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part1.xml");
    // The part's first frame came 5 s after this instant.
    let base = Instant::now();
    let start = base + Duration::from_secs(5);
    let mut w = XmlChatWriter::create(
        &path,
        start,
        &info(),
        XmlOptions { jsonl: true, ..XmlOptions::default() },
    )
    .unwrap();
    w.write(&at(base, 4_000, comment("before the first frame"))).unwrap();
    w.write(&at(start, 1_500, comment("hello"))).unwrap();
    w.write(&at(
        start,
        2_250,
        ChatEvent::SuperChat(SuperChat {
            sender: sender("7", "sc"),
            text: "thanks".into(),
            price: 30.0,
            keep_seconds: 60,
        }),
    ))
    .unwrap();
    w.write(&at(
        start,
        3_000,
        ChatEvent::Gift(Gift { sender: sender("8", "g"), name: "辣条".into(), count: 3 }),
    ))
    .unwrap();
    w.write(&at(
        start,
        61_001,
        ChatEvent::Guard(Guard { sender: sender("9", "cap"), level: 3, count: 1 }),
    ))
    .unwrap();
    w.write(&at(start, 62_000, ChatEvent::Signal { signal: LiveSignal::Offline })).unwrap();
    let summary = w.finish().unwrap();
    assert_eq!(
        (
            summary.comments,
            summary.super_chats,
            summary.gifts,
            summary.guards,
            summary.before_start
        ),
        (1, 1, 1, 1, 1)
    );

    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<i>\n"));
    let records = parse_chat_xml(&xml);
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "chatserver",
            "chatid",
            "mission",
            "maxlimit",
            "state",
            "real_name",
            "source",
            "OneliveRecordInfo",
            "d",
            "sc",
            "gift",
            "guard"
        ]
    );
    let header = &records[7];
    assert_eq!(header.attrs["name"], "主播 & <co>");
    assert_eq!(header.attrs["title"], "标题 \"quoted\"");
    assert_eq!(header.attrs["platform"], "bilibili");
    let d = &records[8];
    assert_eq!(d.attrs["p"], "1.500,1,25,16777215,1700000000123,0,42,0");
    assert_eq!(d.attrs["user"], "观众");
    assert_eq!(d.text, "hello");
    let sc = &records[9];
    assert_eq!(
        (
            sc.attrs["ts"].as_str(),
            sc.attrs["price"].as_str(),
            sc.attrs["time"].as_str(),
            sc.text.as_str()
        ),
        ("2.250", "30", "60", "thanks")
    );
    let gift = &records[10];
    assert_eq!(
        (
            gift.attrs["giftname"].as_str(),
            gift.attrs["giftcount"].as_str(),
            gift.attrs["ts"].as_str()
        ),
        ("辣条", "3", "3.000")
    );
    let guard = &records[11];
    assert_eq!(
        (guard.attrs["level"].as_str(), guard.attrs["count"].as_str(), guard.attrs["ts"].as_str()),
        ("3", "1", "61.001")
    );

    // JSON Lines: every event after the start, signals included.
    let jsonl = std::fs::read_to_string(summary.jsonl_path.unwrap()).unwrap();
    let lines: Vec<serde_json::Value> =
        jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["t"], 1.5);
    assert_eq!(lines[0]["event"]["kind"], "comment");
    assert_eq!(lines[0]["event"]["text"], "hello");
    assert_eq!(lines[4]["event"], serde_json::json!({"kind": "signal", "signal": "offline"}));
}

#[test]
fn hostile_text_is_escaped_and_stays_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.xml");
    let start = Instant::now();
    let mut w =
        XmlChatWriter::create(&path, start, &PartInfo::default(), XmlOptions::default()).unwrap();
    let hostile = [
        ("]]> <![CDATA[ x ]]>", "]]> <![CDATA[ x ]]>"),
        ("</d></i><i>", "</d></i><i>"),
        (
            "a\u{0}b\u{1}c\u{8}d\u{b}e\u{c}f\u{1f}g\u{7f}h\u{85}i\u{feff}j\u{fffe}k\u{ffff}l",
            "abcdefghijkl",
        ),
        ("line1\nline2\r\ttab", "line1\nline2\r\ttab"),
        ("&amp; &#0; &lt; \"'", "&amp; &#0; &lt; \"'"),
        ("\u{FFFD} from a lone surrogate, 😀 kept", "\u{FFFD} from a lone surrogate, 😀 kept"),
    ];
    for (i, (text, _)) in hostile.iter().enumerate() {
        let mut ev = comment(text);
        if let ChatEvent::Comment(c) = &mut ev {
            c.sender.name = format!("\"><x a='{i}'>\u{2}");
        }
        w.write(&at(start, i as u64, ev)).unwrap();
    }
    w.finish().unwrap();
    let xml = std::fs::read_to_string(&path).unwrap();
    let records: Vec<_> = parse_chat_xml(&xml).into_iter().filter(|r| r.name == "d").collect();
    assert_eq!(records.len(), hostile.len());
    for (i, (r, (_, expected))) in records.iter().zip(hostile).enumerate() {
        assert_eq!(r.text, expected);
        assert_eq!(r.attrs["user"], format!("\"><x a='{i}'>"));
    }
    // One record per line: the repair step relies on it.
    assert_eq!(xml.lines().filter(|l| l.starts_with("  <d ")).count(), hostile.len());
}

#[test]
fn the_file_is_valid_xml_after_a_crash_between_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.xml");
    let start = Instant::now();
    let opts =
        XmlOptions { flush_interval: Duration::from_secs(3600), flush_records: 3, jsonl: false };
    let mut w = XmlChatWriter::create(&path, start, &PartInfo::default(), opts).unwrap();
    // Right after creation: header and closing tag, no records.
    assert!(parse_chat_xml(&std::fs::read_to_string(&path).unwrap()).iter().all(|r| r.name != "d"));
    for i in 0..7 {
        w.write(&at(start, i, comment(&format!("m{i}")))).unwrap();
    }
    // The process dies: no finish, no Drop-time flush.
    std::mem::forget(w);
    let xml = std::fs::read_to_string(&path).unwrap();
    let texts: Vec<String> =
        parse_chat_xml(&xml).into_iter().filter(|r| r.name == "d").map(|r| r.text).collect();
    // Two batches of three were written; the seventh was still buffered.
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Intact);
}

#[test]
fn repair_cuts_a_torn_record_and_closes_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.xml");
    let start = Instant::now();
    let mut w =
        XmlChatWriter::create(&path, start, &PartInfo::default(), XmlOptions::default()).unwrap();
    w.write(&at(start, 10, comment("whole"))).unwrap();
    w.finish().unwrap();
    let whole = std::fs::read_to_string(&path).unwrap();
    // A torn write: the closing tag gone, half a record and NUL padding.
    let torn = format!(
        "{}  <d p=\"1.000,1,25,16777215,0,0,1,0\" user=\"x\">half\0\0\0",
        whole.strip_suffix("</i>\n").unwrap()
    );
    std::fs::write(&path, &torn).unwrap();
    let removed = torn.len() - (whole.len() - "</i>\n".len());
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Repaired { removed: removed as u64 });
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
    // Only the closing tag missing.
    std::fs::write(&path, whole.strip_suffix("</i>\n").unwrap()).unwrap();
    assert_eq!(repair(&path).unwrap(), RepairOutcome::Repaired { removed: 0 });
    let texts: Vec<String> = parse_chat_xml(&std::fs::read_to_string(&path).unwrap())
        .into_iter()
        .filter(|r| r.name == "d")
        .map(|r| r.text)
        .collect();
    assert_eq!(texts, ["whole"]);
    // Not one of ours: refused, untouched.
    let other = dir.path().join("other.xml");
    std::fs::write(&other, "<html>").unwrap();
    let err = repair(&other).unwrap_err().to_string();
    assert!(err.contains("cannot repair") && err.contains("header"), "{err}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "<html>");
}

#[test]
fn xml_path_sits_beside_the_video() {
    assert_eq!(
        xml_path_for(std::path::Path::new("/rec/room-2026-12-02.flv")),
        std::path::Path::new("/rec/room-2026-12-02.xml")
    );
}

#[tokio::test]
async fn chat_recorder_writes_each_part_with_offsets_inside_the_part() {
    let mut ws = WsServer::start().await;
    // Douyu's protocol needs no HTTP look-up, which keeps this test about
    // the recorder.
    let chat =
        DouyuChat::new(9999, DouyuOptions { url: ws.url(), ..DouyuOptions::default() }).unwrap();
    let (client, events, _signals) = ChatClient::spawn(chat, ClientOptions::default()).unwrap();
    let recorder = ChatRecorder::spawn(
        events,
        XmlOptions { flush_interval: Duration::from_millis(50), ..XmlOptions::default() },
    )
    .unwrap();
    let mut conn = ws.accept().await;
    let _login = conn.recv_binary().await;
    let _join = conn.recv_binary().await;
    let send = |text: &str| {
        douyu::encode_packet(
            douyu::TYPE_SERVER,
            &douyu::stt_encode(&[("type", "chatmsg"), ("uid", "1"), ("nn", "n"), ("txt", text)]),
        )
    };

    // Before any part: counted, not written.
    conn.send_binary(send("no part")).await;
    wait_for("the unrecorded event", || recorder.unrecorded() == 1).await;

    let dir = tempfile::tempdir().unwrap();
    let p1 = dir.path().join("part1.xml");
    let start1 = Instant::now();
    recorder.start_part(&p1, start1, &PartInfo::default()).unwrap();
    conn.send_binary(send("in part 1")).await;
    wait_for("part 1's record on disk", || {
        std::fs::read_to_string(&p1).is_ok_and(|x| x.contains("in part 1"))
    })
    .await;
    let p2 = dir.path().join("part2.xml");
    let start2 = Instant::now();
    let s1 = recorder.start_part(&p2, start2, &PartInfo::default()).unwrap().unwrap();
    assert_eq!((s1.path.as_path(), s1.comments), (p1.as_path(), 1));
    conn.send_binary(send("in part 2")).await;
    wait_for("part 2's record on disk", || {
        std::fs::read_to_string(&p2).is_ok_and(|x| x.contains("in part 2"))
    })
    .await;
    let end2 = Instant::now();
    let s2 = recorder.finish_part().unwrap().unwrap();
    assert_eq!(s2.comments, 1);
    assert!(recorder.finish_part().unwrap().is_none());

    let r2 = parse_chat_xml(&std::fs::read_to_string(&p2).unwrap());
    let d = r2.iter().find(|r| r.name == "d").unwrap();
    let t: f64 = d.attrs["p"].split(',').next().unwrap().parse().unwrap();
    assert!(t >= 0.0 && t <= (end2 - start2).as_secs_f64() + 0.001, "offset {t} outside part 2");
    assert_eq!(d.text, "in part 2");
    assert!(!std::fs::read_to_string(&p1).unwrap().contains("in part 2"));
    client.stop().await;
}
