//! Loopback WebSocket servers handing each accepted connection to the test,
//! an XML reader for chat files, and condition polling.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `cond` every 10 ms until it holds; panics after 60 s.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct WsServer {
    pub port: u16,
    conns: mpsc::UnboundedReceiver<Conn>,
}

pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

impl WsServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                        let _ = tx.send(Conn { ws });
                    }
                });
            }
        });
        Self { port, conns }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// The next accepted connection.
    pub async fn accept(&mut self) -> Conn {
        tokio::time::timeout(DEADLINE, self.conns.recv())
            .await
            .expect("timed out waiting for the client to connect")
            .expect("server stopped")
    }
}

impl Conn {
    /// The next text or binary message from the client.
    pub async fn recv(&mut self) -> Message {
        loop {
            let m = tokio::time::timeout(DEADLINE, self.ws.next())
                .await
                .expect("timed out waiting for a client frame")
                .expect("client closed")
                .expect("websocket error");
            if matches!(m, Message::Text(_) | Message::Binary(_)) {
                return m;
            }
        }
    }

    pub async fn recv_binary(&mut self) -> Vec<u8> {
        match self.recv().await {
            Message::Binary(b) => b.to_vec(),
            other => panic!("expected binary, got {other:?}"),
        }
    }

    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Message::Text(t) => t.as_str().to_owned(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        self.ws.send(Message::binary(b)).await.unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws.send(Message::text(t.to_owned())).await.unwrap();
    }

    /// Drops the TCP connection without a close frame (a network drop).
    pub fn drop_hard(self) {
        drop(self.ws);
    }
}

/// One record of a chat file: element name, attributes, text.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub text: String,
}

/// Parses a chat file with a real XML parser; panics if it is not
/// well-formed. Returns the children of `<i>`.
pub fn parse_chat_xml(xml: &str) -> Vec<Record> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current: Option<Record> = None;
    let mut saw_root_end = false;
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!("not well-formed XML at {}: {e}\n{xml}", reader.buffer_position())
        });
        match event {
            Event::Empty(e) if depth == 1 => out.push(record_of(&e, &reader)),
            Event::Start(e) if depth == 1 => {
                current = Some(record_of(&e, &reader));
                depth = 2;
            }
            Event::Start(e) => {
                assert_eq!(depth, 0, "unexpected nesting");
                assert_eq!(e.name().as_ref(), b"i", "root must be <i>");
                depth = 1;
            }
            Event::Text(t) if depth == 2 => {
                current.as_mut().unwrap().text.push_str(&t.decode().unwrap());
            }
            Event::GeneralRef(r) if depth == 2 => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match r.decode().unwrap().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                current.as_mut().unwrap().text.push(c);
            }
            Event::End(_) if depth == 2 => {
                out.push(current.take().unwrap());
                depth = 1;
            }
            Event::End(e) if depth == 1 => {
                assert_eq!(e.name().as_ref(), b"i");
                depth = 0;
                saw_root_end = true;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_root_end, "no closing </i>");
    out
}

fn record_of(e: &quick_xml::events::BytesStart<'_>, reader: &quick_xml::Reader<&[u8]>) -> Record {
    let mut attrs = BTreeMap::new();
    for a in e.attributes() {
        let a = a.unwrap();
        attrs.insert(
            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
            a.decode_and_unescape_value(reader.decoder()).unwrap().into_owned(),
        );
    }
    Record {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs,
        text: String::new(),
    }
}
