//! `notify`: each service's request shape, checked by a loopback stand-in.

use std::collections::HashMap;
use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

fn live_start() -> String {
    serde_json::json!({
        "id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "live_start",
        "data": {"platform": "bilibili", "channel": "21452505", "url": "https://live.bilibili.com/21452505",
                 "live_info": {"title": "测试直播 \"#1\"", "uname": "主播"}}
    })
    .to_string()
}

#[tokio::test]
async fn every_service_gets_the_request_it_expects() {
    let rx = Receiver::start().await;
    let base = rx.url("");
    let action = |service: &str, extra: &str| {
        format!(
            "[[rules.actions]]\nkind = \"notify\"\nservice = \"{service}\"\nurl = \"{base}/{service}\"\n{extra}\n"
        )
    };
    let rules = format!(
        "[[rules]]\nname = \"tell\"\nevents = [\"live_start\"]\n{}{}{}{}{}{}{}{}{}",
        action("telegram", "token = \"123:ABC\"\nchat_id = \"-1001\""),
        action("discord", ""),
        action("ntfy", "topic = \"rec\"\ntoken = \"tk_ntfy\"\nlanguage = \"zh\""),
        action("bark", "token = \"DEVICEKEY\""),
        action("serverchan", "token = \"SCT123\""),
        action("pushplus", "token = \"pp-token\""),
        action("wecom", "token = \"wecom-key\""),
        action("dingtalk", "token = \"ding-token\"\nsecret = \"SECabc\""),
        action("gotify", "token = \"AppTok\"\nmessage = \"{{ name }} / {{ title }} / {{ url }}\""),
    );
    let sink = TestSink::start(&config_with(&rules)).await;
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &live_start()).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(60)).await;
    assert_eq!(jobs.len(), 9);
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:#?}");
    // Results never carry tokens.
    for j in &jobs {
        let r = j.result.clone().unwrap();
        for secret in ["123:ABC", "wecom-key", "ding-token", "SCT123", "AppTok"] {
            assert!(!r.contains(secret), "{r}");
        }
    }

    let mut seen: HashMap<String, (String, serde_json::Value, axum::http::HeaderMap)> =
        HashMap::new();
    for ((target, body), headers) in rx.bodies().into_iter().zip(rx.headers()) {
        let service = target.trim_start_matches('/').split(['/', '?']).next().unwrap().to_owned();
        seen.insert(service, (target, serde_json::from_str(&body).unwrap(), headers));
    }
    let en = "主播 is live on bilibili: 测试直播 \"#1\"\nhttps://live.bilibili.com/21452505";
    let zh = "主播 开播了（bilibili）：测试直播 \"#1\"\nhttps://live.bilibili.com/21452505";

    let (path, body, _) = &seen["telegram"];
    assert_eq!(path, "/telegram/bot123:ABC/sendMessage");
    assert_eq!(body, &serde_json::json!({"chat_id": "-1001", "text": en}));
    let (path, body, _) = &seen["discord"];
    assert_eq!(path, "/discord/");
    assert_eq!(body, &serde_json::json!({"content": en}));
    let (path, body, headers) = &seen["ntfy"];
    assert_eq!(path, "/ntfy/");
    assert_eq!(body, &serde_json::json!({"topic": "rec", "title": "主播 开播了", "message": zh}));
    assert_eq!(headers["authorization"], "Bearer tk_ntfy");
    let (path, body, _) = &seen["bark"];
    assert_eq!(path, "/bark/push");
    assert_eq!(
        body,
        &serde_json::json!({"device_key": "DEVICEKEY", "title": "主播 is live", "body": en})
    );
    let (path, body, _) = &seen["serverchan"];
    assert_eq!(path, "/serverchan/SCT123.send");
    assert_eq!(body, &serde_json::json!({"title": "主播 is live", "desp": en}));
    let (path, body, _) = &seen["pushplus"];
    assert_eq!(path, "/pushplus/send");
    assert_eq!(
        body,
        &serde_json::json!({"token": "pp-token", "title": "主播 is live", "content": en, "template": "txt"})
    );
    let (path, body, _) = &seen["wecom"];
    assert_eq!(path, "/wecom/cgi-bin/webhook/send?key=wecom-key");
    assert_eq!(body, &serde_json::json!({"msgtype": "text", "text": {"content": en}}));
    let (path, body, _) = &seen["dingtalk"];
    assert_eq!(body, &serde_json::json!({"msgtype": "text", "text": {"content": en}}));
    // access_token, timestamp (ms) and sign = base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")).
    let url = reqwest::Url::parse(&format!("http://x{path}")).unwrap();
    assert_eq!(url.path(), "/dingtalk/robot/send");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["access_token"], "ding-token");
    let ts: i64 = q["timestamp"].parse().unwrap();
    assert_eq!(q["sign"], onelive_sink::notify::dingtalk_sign("SECabc", ts));
    let (path, body, headers) = &seen["gotify"];
    assert_eq!(path, "/gotify/message");
    assert_eq!(headers["x-gotify-key"], "AppTok");
    assert_eq!(
        body,
        &serde_json::json!({"title": "主播 is live", "message": "主播 / 测试直播 \"#1\" / https://live.bilibili.com/21452505", "priority": 5})
    );
}

#[tokio::test]
async fn a_service_refusal_in_a_200_answer_is_a_failure() {
    // WeCom and DingTalk answer 200 with {"errcode": ...}: a stand-in that does so.
    let app = axum::Router::new()
        .fallback(|| async { "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let rules = format!(
        "[[rules]]\nname = \"tell\"\nevents = [\"live_start\"]\n[[rules.actions]]\nkind = \"notify\"\n\
         service = \"wecom\"\ntoken = \"k\"\nurl = \"http://{addr}\"\nattempts = 1\n"
    );
    let sink = TestSink::start(&config_with(&rules)).await;
    post(&sink.url(&format!("?key={KEY}")), &live_start()).await;
    let jobs = sink.settled(Duration::from_secs(60)).await;
    assert_eq!(jobs[0].state, JobState::Failed);
    assert!(jobs[0].last_error.as_deref().unwrap().contains("93000"), "{jobs:#?}");
}

#[test]
fn missing_service_fields_and_bad_templates_are_config_errors() {
    use onelive_sink::config::SinkConfig;
    let rule = |extra: &str| {
        format!(
            "[[rules]]\nname = \"t\"\nevents = [\"live_start\"]\n[[rules.actions]]\nkind = \"notify\"\n{extra}\n"
        )
    };
    let e = SinkConfig::from_toml_str(&rule("service = \"telegram\"\ntoken = \"x\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("telegram needs `chat_id`"), "{e}");
    let e = SinkConfig::from_toml_str(&rule("service = \"discord\"")).unwrap_err().to_string();
    assert!(e.contains("discord needs `url`"), "{e}");
    let e = SinkConfig::from_toml_str(&rule(
        "service = \"bark\"\ntoken = \"k\"\nmessage = \"{{ oops\"",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("message template"), "{e}");
    let e = SinkConfig::from_toml_str(&rule("service = \"pager\"")).unwrap_err().to_string();
    assert!(e.contains("unknown variant"), "{e}");
}
