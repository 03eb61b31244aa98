//! Runs the example receiver as a real process and posts events to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn post(addr: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[test]
fn receiver_parses_and_prints_events() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onelive-example-webhook-receiver"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _guard = Receiver(child);
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("listening on http://").unwrap();
    let addr = url.strip_suffix("/webhook").unwrap().to_owned();

    let finish = r#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266c","ts":"2026-03-11T05:22:38.393477700Z","type":"video_file_finish","data":{"platform":"twitch","channel":"somechannel","path":"rec/a.ts","filesize":1073741824,"duration":3600}}"#;
    let (status, body) = post(&addr, finish);
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"status":"success"}"#);
    let line = lines.next().unwrap().unwrap();
    assert_eq!(
        line,
        "2026-03-11T05:22:38.393477700Z video_file_finish 398ea849-7c4b-45c4-bd2f-093df217266c twitch/somechannel rec/a.ts (1073741824 bytes, 3600.0 s)"
    );

    // A malformed event is refused with the field named.
    let bad = finish.replace("1073741824", "\"big\"");
    let (status, body) = post(&addr, &bad);
    assert_eq!(status, 400);
    assert!(body.contains("data.filesize"), "{body}");

    // An event type from a newer producer is accepted and kept.
    let future = r#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266d","ts":"2026-03-11T05:22:38Z","type":"video_upload_finish","data":{"a":1}}"#;
    assert_eq!(post(&addr, future).0, 200);
    let line = lines.next().unwrap().unwrap();
    assert!(
        line.contains(
            "video_upload_finish 398ea849-7c4b-45c4-bd2f-093df217266d (unknown type) 1 keys"
        ),
        "{line}"
    );
}
