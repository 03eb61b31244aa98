//! The `notify` action: a message to a phone or chat, in the request shape
//! each service expects, from a MiniJinja template.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use onelive_events::{Event, EventData};
use serde::Deserialize;
use sha2::Sha256;

use crate::Error;
use crate::actions::redact_url;
use crate::config::{Language, NotifyConfig};

/// The services `notify` speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Service {
    /// Telegram bot API `sendMessage` (`token`, `chat_id`).
    Telegram,
    /// A Discord channel webhook (`url`).
    Discord,
    /// ntfy, JSON publishing (`topic`; `url` for a self-hosted server; `token` optional).
    Ntfy,
    /// Bark (`token` is the device key; `url` for a self-hosted server).
    Bark,
    /// ServerChan Turbo (`token` is the SendKey).
    Serverchan,
    /// PushPlus (`token`).
    Pushplus,
    /// A WeCom (企业微信) group bot (`token` is the webhook key).
    Wecom,
    /// A DingTalk group bot (`token` is the access token; `secret` signs).
    Dingtalk,
    /// Gotify (`url` of the server, `token` of the application).
    Gotify,
}

impl Service {
    /// The name used in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Service::Telegram => "telegram",
            Service::Discord => "discord",
            Service::Ntfy => "ntfy",
            Service::Bark => "bark",
            Service::Serverchan => "serverchan",
            Service::Pushplus => "pushplus",
            Service::Wecom => "wecom",
            Service::Dingtalk => "dingtalk",
            Service::Gotify => "gotify",
        }
    }

    fn default_base(self) -> Option<&'static str> {
        match self {
            Service::Telegram => Some("https://api.telegram.org"),
            Service::Ntfy => Some("https://ntfy.sh"),
            Service::Bark => Some("https://api.day.app"),
            Service::Serverchan => Some("https://sctapi.ftqq.com"),
            Service::Pushplus => Some("https://www.pushplus.plus"),
            Service::Wecom => Some("https://qyapi.weixin.qq.com"),
            Service::Dingtalk => Some("https://oapi.dingtalk.com"),
            Service::Discord | Service::Gotify => None,
        }
    }
}

/// Checks what a service needs, at config load.
pub(crate) fn check(at: &str, c: &NotifyConfig) -> Result<(), String> {
    let need = |what: &str, ok: bool| {
        if ok { Ok(()) } else { Err(format!("{at}: {} needs `{what}`", c.service.name())) }
    };
    let token = c.token.as_ref().is_some_and(|t| !t.expose().trim().is_empty());
    match c.service {
        Service::Telegram => {
            need("token", token)?;
            need("chat_id", c.chat_id.as_ref().is_some_and(|s| !s.is_empty()))?;
        }
        Service::Discord | Service::Gotify => need("url", c.url.is_some())?,
        Service::Ntfy => need("topic", c.topic.as_ref().is_some_and(|s| !s.is_empty()))?,
        Service::Bark | Service::Serverchan | Service::Pushplus | Service::Wecom => {
            need("token", token)?;
        }
        Service::Dingtalk => need("token", token)?,
    }
    if c.service == Service::Gotify {
        need("token", token)?;
    }
    if let Some(u) = &c.url
        && reqwest::Url::parse(u.expose()).is_err()
    {
        return Err(format!("{at}: url is not a valid URL"));
    }
    for (name, t) in [("title", &c.title), ("message", &c.message)] {
        if let Some(t) = t {
            let env = minijinja::Environment::new();
            env.template_from_str(t).map_err(|e| format!("{at}: {name} template: {e}"))?;
        }
    }
    Ok(())
}

fn default_message(event: &Event, language: Language, has_previous: bool) -> &'static str {
    use EventData as D;
    match (&event.data, language) {
        (_, Language::En) if has_previous => "{{ name }}: {{ file_name }} is done: {{ previous }}",
        (_, Language::Zh) if has_previous => "{{ name }}：{{ file_name }} 已完成：{{ previous }}",
        (D::LiveStart(_), Language::En) => {
            "{{ name }} is live on {{ platform }}: {{ title }}\n{{ url }}"
        }
        (D::LiveStart(_), Language::Zh) => {
            "{{ name }} 开播了（{{ platform }}）：{{ title }}\n{{ url }}"
        }
        (D::LiveEnd(_), Language::En) => "{{ name }}'s live on {{ platform }} ended: {{ title }}",
        (D::LiveEnd(_), Language::Zh) => "{{ name }} 下播了（{{ platform }}）：{{ title }}",
        (D::Error(_), Language::En) => "onelive error on {{ platform }}/{{ channel }}: {{ error }}",
        (D::Error(_), Language::Zh) => "onelive 出错（{{ platform }}/{{ channel }}）：{{ error }}",
        (_, Language::En) => "{{ type }}: {{ platform }}/{{ channel }} {{ file_name }}",
        (_, Language::Zh) => "{{ type }}：{{ platform }}/{{ channel }} {{ file_name }}",
    }
}

fn default_title(event: &Event, language: Language) -> &'static str {
    match (&event.data, language) {
        (EventData::LiveStart(_), Language::En) => "{{ name }} is live",
        (EventData::LiveStart(_), Language::Zh) => "{{ name }} 开播了",
        (EventData::Error(_), Language::En) => "onelive error",
        (EventData::Error(_), Language::Zh) => "onelive 出错",
        _ => "onelive",
    }
}

/// The values templates see.
pub(crate) fn context(
    event: &Event,
    file: Option<&str>,
    previous: Option<&str>,
    steps: &[String],
) -> serde_json::Value {
    let (platform, channel) = event.data.channel().unwrap_or(("", ""));
    let live = match &event.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => Some(&d.live_info),
        EventData::TitleChange(d) | EventData::CategoryChange(d) => Some(&d.new_live_info),
        EventData::VideoFileCreate(d) => d.live_info.as_ref(),
        EventData::VideoFileFinish(d) => d.live_info.as_ref(),
        EventData::VideoTransmuxFinish(d) => d.live_info.as_ref(),
        _ => None,
    };
    let title = live.map_or("", |l| l.title.as_str());
    let uname = live.map_or("", |l| l.uname.as_str());
    let url = match &event.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => d.url.as_str(),
        _ => "",
    };
    let error = match &event.data {
        EventData::Error(d) => d.error.as_str(),
        _ => "",
    };
    let file_name = file
        .and_then(|f| std::path::Path::new(f).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    serde_json::json!({
        "id": event.id.to_string(),
        "type": event.type_name(),
        "ts": event.ts_string(),
        "platform": platform,
        "channel": channel,
        "name": if uname.is_empty() { channel } else { uname },
        "uname": uname,
        "title": title,
        "url": url,
        "error": error,
        "file": file.unwrap_or(""),
        "file_name": file_name,
        "previous": previous.unwrap_or(""),
        "steps": steps,
    })
}

fn render(template: &str, ctx: &serde_json::Value) -> Result<String, Error> {
    let env = minijinja::Environment::new();
    env.render_str(template, ctx)
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::Action(format!("notify: template: {e}")))
}

/// DingTalk's signature: base64(HMAC-SHA256(secret, "{ms}\n{secret}")).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn join(base: &str, path: &str) -> Result<reqwest::Url, Error> {
    let text = format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'));
    reqwest::Url::parse(&text).map_err(|e| Error::Action(format!("notify: bad URL: {e}")))
}

/// Sends one notification; returns a summary (no secrets).
pub(crate) async fn send(
    client: &reqwest::Client,
    config: &NotifyConfig,
    ctx: &serde_json::Value,
    event: &Event,
) -> Result<String, Error> {
    let has_previous = ctx["previous"].as_str().is_some_and(|p| !p.is_empty());
    let message = render(
        config.message.as_deref().unwrap_or(default_message(event, config.language, has_previous)),
        ctx,
    )?;
    let title =
        render(config.title.as_deref().unwrap_or(default_title(event, config.language)), ctx)?;
    let token = config.token.as_ref().map_or("", |t| t.expose());
    let base = config
        .url
        .as_ref()
        .map(|u| u.expose().to_owned())
        .or_else(|| config.service.default_base().map(str::to_owned))
        .unwrap_or_default();
    let service = config.service;
    let (url, body, mut headers): (reqwest::Url, serde_json::Value, Vec<(&str, String)>) =
        match service {
            Service::Telegram => (
                join(&base, &format!("bot{token}/sendMessage"))?,
                serde_json::json!({"chat_id": config.chat_id, "text": message}),
                vec![],
            ),
            Service::Discord => (join(&base, "")?, serde_json::json!({"content": message}), vec![]),
            Service::Ntfy => (
                join(&base, "")?,
                serde_json::json!({"topic": config.topic, "title": title, "message": message}),
                vec![],
            ),
            Service::Bark => (
                join(&base, "push")?,
                serde_json::json!({"device_key": token, "title": title, "body": message}),
                vec![],
            ),
            Service::Serverchan => (
                join(&base, &format!("{token}.send"))?,
                serde_json::json!({"title": title, "desp": message}),
                vec![],
            ),
            Service::Pushplus => (
                join(&base, "send")?,
                serde_json::json!({"token": token, "title": title, "content": message, "template": "txt"}),
                vec![],
            ),
            Service::Wecom => {
                let mut url = join(&base, "cgi-bin/webhook/send")?;
                url.query_pairs_mut().append_pair("key", token);
                (url, serde_json::json!({"msgtype": "text", "text": {"content": message}}), vec![])
            }
            Service::Dingtalk => {
                let mut url = join(&base, "robot/send")?;
                url.query_pairs_mut().append_pair("access_token", token);
                if let Some(secret) = &config.secret {
                    let ms = crate::store::now_ms();
                    url.query_pairs_mut()
                        .append_pair("timestamp", &ms.to_string())
                        .append_pair("sign", &dingtalk_sign(secret.expose(), ms));
                }
                (url, serde_json::json!({"msgtype": "text", "text": {"content": message}}), vec![])
            }
            Service::Gotify => (
                join(&base, "message")?,
                serde_json::json!({"title": title, "message": message, "priority": 5}),
                vec![("x-gotify-key", token.to_owned())],
            ),
        };
    if service == Service::Ntfy && !token.is_empty() {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let shown = redact_url(url.as_str());
    let timeout =
        Duration::try_from_secs_f64(config.timeout_secs).unwrap_or(Duration::from_secs(30));
    let mut request = client.post(url).timeout(timeout).json(&body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| {
        Error::Action(format!("notify {} via {shown} failed: {}", service.name(), e.without_url()))
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    // Several services answer 200 with an error code in the body.
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let refused = !status.is_success()
        || answer.get("ok").is_some_and(|v| v == false)
        || answer.get("errcode").is_some_and(|v| v != 0)
        || (service == Service::Serverchan && answer.get("code").is_some_and(|v| v != 0))
        || (service == Service::Pushplus && answer.get("code").is_some_and(|v| v != 200));
    if refused {
        let mut t = text.trim().to_owned();
        t.truncate(300);
        return Err(Error::Action(format!(
            "notify {} via {shown}: answered {status}: {t}",
            service.name()
        )));
    }
    Ok(format!("notified {} via {shown}", service.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dingtalk_signature_matches_the_documented_algorithm() {
        // Computed independently: printf '1700000000000\nSECabc' | openssl dgst -sha256 -hmac SECabc -binary | base64
        assert_eq!(
            dingtalk_sign("SECabc", 1_700_000_000_000),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
    }
}
