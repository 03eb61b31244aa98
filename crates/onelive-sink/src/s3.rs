//! The `s3` action: upload a file to S3-compatible object storage.
//!
//! Requests are signed by `rusty-s3` (sans-IO, presigned URLs) and sent with
//! the sink's own `reqwest` client; the AWS SDK would do the same at many
//! times the build cost. A file up to `part_size_mib` is one `PUT`; a larger
//! one is a multipart upload whose parts are streamed from the file one at
//! a time, so memory stays at a few read buffers whatever the file's size.
//! The upload is verified with a `HEAD` (the stored size must equal the
//! file's) before the object URL is the job's output.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::Error;
use crate::config::S3Config;
use crate::progress::{ProgressHandle, ProgressReporter};

/// How long a signed request stays valid (it only has to start in time).
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// The S3 limits on parts.
const MIN_PART_MIB: u64 = 5;
const MAX_PART_MIB: u64 = 5 * 1024;
const MAX_PARTS: u64 = 10_000;

/// A failed attempt and whether another one could help.
type Failure = (Error, bool);

fn s3_err(what: impl std::fmt::Display) -> Error {
    Error::Action(format!("s3: {what}"))
}

fn bucket(config: &S3Config) -> Result<Bucket, String> {
    let endpoint = url::Url::parse(&config.endpoint)
        .map_err(|e| format!("endpoint {:?} is not a URL: {e}", config.endpoint))?;
    if !endpoint.username().is_empty() || endpoint.password().is_some() {
        return Err("endpoint must not carry a user or password; use access_key_id and \
             secret_access_key"
            .into());
    }
    if endpoint.query().is_some() {
        return Err(format!("endpoint {:?} must not have a query", config.endpoint));
    }
    let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
    Bucket::new(endpoint, style, config.bucket.clone(), config.region.clone()).map_err(|e| {
        let hint = if config.path_style { "" } else { " (an IP endpoint needs path_style = true)" };
        format!("bucket {:?} at {:?}: {e}{hint}", config.bucket, config.endpoint)
    })
}

/// Checks an `s3` action at config load.
pub(crate) fn check(config: &S3Config) -> Result<(), String> {
    if config.bucket.trim().is_empty() {
        return Err("bucket is empty".into());
    }
    if config.region.trim().is_empty() {
        return Err("region is empty (AWS: e.g. \"us-east-1\"; R2: \"auto\")".into());
    }
    bucket(config)?;
    if config.access_key_id.expose().trim().is_empty()
        || config.secret_access_key.expose().trim().is_empty()
    {
        return Err("access_key_id and secret_access_key must not be empty".into());
    }
    if !(MIN_PART_MIB..=MAX_PART_MIB).contains(&config.part_size_mib) {
        return Err(format!(
            "part_size_mib must be between {MIN_PART_MIB} and {MAX_PART_MIB}, got {}",
            config.part_size_mib
        ));
    }
    minijinja::Environment::new()
        .template_from_str(&config.key)
        .map_err(|e| format!("key template: {e}"))?;
    if let Some(p) = &config.public_url {
        let u = url::Url::parse(p).map_err(|e| format!("public_url {p:?} is not a URL: {e}"))?;
        if u.cannot_be_a_base() {
            return Err(format!("public_url {p:?} cannot be a base URL"));
        }
    }
    Ok(())
}

/// Renders the object key and checks it: no empty, `.` or `..` segment, no
/// control character, at most 1024 bytes (the S3 limit).
pub(crate) fn object_key(template: &str, ctx: &serde_json::Value) -> Result<String, Error> {
    let key = minijinja::Environment::new()
        .render_str(template, ctx)
        .map_err(|e| s3_err(format!("key template: {e}")))?;
    let key = key.trim();
    let bad = |why: &str| Err(s3_err(format!("object key {key:?} {why}")));
    if key.is_empty() {
        return bad("is empty");
    }
    if key.len() > 1024 {
        return bad("is longer than 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        return bad("has a control character");
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("has an empty, `.` or `..` segment");
    }
    Ok(key.to_owned())
}

/// The text of the first `<name>` element of an S3 XML answer, hand-read:
/// error documents are not parsed by `rusty-s3`, and two fields are not
/// worth a second XML parser.
fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].trim().to_owned())
}

/// The `<Code>` and `<Message>` of an S3 error document.
fn error_text(body: &str) -> String {
    let field = |name: &str| xml_field(body, name);
    match (field("Code"), field("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => {
            let t: String = body.trim().chars().take(300).collect();
            if t.is_empty() { "(empty answer)".into() } else { t }
        }
    }
}

/// Whether an S3 error answer could go away by itself.
fn transient(status: reqwest::StatusCode, text: &str) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || ["RequestTimeout", "SlowDown", "InternalError"].iter().any(|c| text.starts_with(c))
}

/// The most of an answer's body read: S3's XML answers are a few hundred
/// bytes, and a hostile endpoint must not fill the sink's memory.
const MAX_ANSWER: usize = 64 * 1024;

/// An answer's body as text, at most [`MAX_ANSWER`] bytes of it.
async fn answer_text(response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = MAX_ANSWER - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_ANSWER {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Turns a non-success answer into a failure naming what was asked.
async fn refused(what: &str, response: reqwest::Response) -> Failure {
    let status = response.status();
    let text = error_text(&answer_text(response).await.unwrap_or_default());
    let hint = match status.as_u16() {
        401 | 403 => " (check access_key_id, secret_access_key and the bucket's permissions)",
        404 => " (check bucket, endpoint and path_style)",
        _ => "",
    };
    (s3_err(format!("{what}: {status} {text}{hint}")), transient(status, &text))
}

/// A request that did not get an answer: always worth another attempt.
fn unreachable(what: &str, endpoint: &str, e: &reqwest::Error) -> Failure {
    let e = e.without_url_ref();
    (s3_err(format!("{what}: cannot reach {}: {e}", crate::redact_url(endpoint))), true)
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    /// The error's text without its URL (presigned URLs carry a signature).
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(u) = self.url() {
            text = text.replace(u.as_str(), "…");
        }
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// Shared progress of one upload, advanced by the part streams.
type Bar = Arc<Mutex<Box<dyn ProgressHandle>>>;

/// The `len` bytes of `path` from `offset`, streamed in chunks.
fn body_of(path: &Path, offset: u64, len: u64, bar: &Bar) -> Result<reqwest::Body, std::io::Error> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let bar = Arc::clone(bar);
    let stream = crate::actions::read_ahead(file.take(len)).inspect(move |chunk| {
        if let (Ok(chunk), Ok(mut bar)) = (chunk, bar.lock()) {
            bar.advance(chunk.len() as u64);
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Uploads `file` as `key`; returns the object URL (or the `public_url` one).
/// What every request of one upload needs.
struct Put<'a> {
    client: &'a reqwest::Client,
    config: &'a S3Config,
    bucket: &'a Bucket,
    credentials: &'a Credentials,
    file: &'a Path,
    key: &'a str,
    size: u64,
    bar: &'a Bar,
}

impl Put<'_> {
    /// `bucket/key`, as errors and logs name the object.
    fn target(&self) -> String {
        format!("{}/{}", self.config.bucket, self.key)
    }
}

pub(crate) async fn upload(
    client: &reqwest::Client,
    config: &S3Config,
    file: &Path,
    key: &str,
    progress: &dyn ProgressReporter,
) -> Result<String, Failure> {
    let bucket = bucket(config).map_err(|e| (s3_err(e), false))?;
    let credentials = match &config.session_token {
        Some(t) => Credentials::new_with_token(
            config.access_key_id.expose(),
            config.secret_access_key.expose(),
            t.expose(),
        ),
        None => Credentials::new(config.access_key_id.expose(), config.secret_access_key.expose()),
    };
    let size = std::fs::metadata(file)
        .map_err(|e| (s3_err(format!("cannot stat {}: {e}", file.display())), true))?
        .len();
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let part_size = config.part_size_mib * 1024 * 1024;
    let bar: Bar = Arc::new(Mutex::new(progress.start(&name, size)));
    let finish = |ok: bool| {
        if let Ok(mut b) = bar.lock() {
            b.finish(ok);
        }
    };
    let target = format!("{}/{key}", config.bucket);
    let put = Put {
        client,
        config,
        bucket: &bucket,
        credentials: &credentials,
        file,
        key,
        size,
        bar: &bar,
    };
    let sent = if size <= part_size {
        put_whole(&put).await
    } else {
        put_multipart(&put, part_size).await
    };
    if let Err(e) = sent {
        finish(false);
        return Err(e);
    }
    // The object must be there with the file's size.
    let head = bucket.head_object(Some(&credentials), key).sign(SIGNED_FOR);
    let answer = client
        .head(head)
        .send()
        .await
        .map_err(|e| unreachable(&format!("HEAD {target}"), &config.endpoint, &e));
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            finish(false);
            return Err(e);
        }
    };
    if !answer.status().is_success() {
        finish(false);
        return Err(refused(&format!("uploaded, but HEAD {target}"), answer).await);
    }
    // The header, not `content_length()`: that is the (empty) body's size.
    let stored: Option<u64> = answer
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if stored != Some(size) {
        finish(false);
        let stored = stored.map_or_else(|| "no".to_owned(), |s| s.to_string());
        return Err((
            s3_err(format!("uploaded {target}, but it holds {stored} bytes, not {size}")),
            true,
        ));
    }
    finish(true);
    let url = match &config.public_url {
        Some(base) => public_url(base, key),
        None => bucket.object_url(key).to_string(),
    };
    tracing::info!("s3: {name} -> {target} ({size} bytes)");
    Ok(url)
}

/// `{base}/{key}`, each segment of the key percent-encoded.
fn public_url(base: &str, key: &str) -> String {
    let Ok(mut url) = url::Url::parse(base) else { return format!("{base}/{key}") };
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(key.split('/'));
    }
    url.to_string()
}

async fn put_whole(put: &Put<'_>) -> Result<(), Failure> {
    let Put { client, config, bucket, credentials, file, key, size, bar } = *put;
    let what = format!("PUT {}", put.target());
    let body = body_of(file, 0, size, bar)
        .map_err(|e| (s3_err(format!("cannot read {}: {e}", file.display())), true))?;
    let url = bucket.put_object(Some(credentials), key).sign(SIGNED_FOR);
    let answer = client
        .put(url)
        .header(http::header::CONTENT_LENGTH, size)
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(&what, &config.endpoint, &e))?;
    if answer.status().is_success() { Ok(()) } else { Err(refused(&what, answer).await) }
}

async fn put_multipart(put: &Put<'_>, part_size: u64) -> Result<(), Failure> {
    let Put { client, config, bucket, credentials, file, key, size, .. } = *put;
    let target = put.target();
    let parts = size.div_ceil(part_size);
    if parts > MAX_PARTS {
        return Err((
            s3_err(format!(
                "{} needs {parts} parts of {} MiB; S3 allows {MAX_PARTS}: raise part_size_mib",
                file.display(),
                config.part_size_mib
            )),
            false,
        ));
    }
    let what = format!("create multipart upload of {target}");
    let url = bucket.create_multipart_upload(Some(credentials), key).sign(SIGNED_FOR);
    let answer =
        client.post(url).send().await.map_err(|e| unreachable(&what, &config.endpoint, &e))?;
    if !answer.status().is_success() {
        return Err(refused(&what, answer).await);
    }
    let text = answer_text(answer).await.map_err(|e| unreachable(&what, &config.endpoint, &e))?;
    // Some S3-compatible servers leave out the XML namespace that
    // `rusty-s3`'s parser insists on: then the id is read by hand.
    let upload_id = match rusty_s3::actions::CreateMultipartUpload::parse_response(&text) {
        Ok(created) => created.upload_id().to_owned(),
        Err(e) => xml_field(&text, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| (s3_err(format!("{what}: unreadable answer: {e}")), true))?,
    };
    let result = send_parts(put, part_size, &upload_id).await;
    if result.is_err() {
        // Best effort: parts left behind would be billed until aborted.
        let url =
            bucket.abort_multipart_upload(Some(credentials), key, &upload_id).sign(SIGNED_FOR);
        if let Err(e) = client.delete(url).send().await {
            tracing::warn!(
                "s3: cannot abort the multipart upload of {target}: {}",
                e.without_url_ref()
            );
        }
    }
    result
}

async fn send_parts(put: &Put<'_>, part_size: u64, upload_id: &str) -> Result<(), Failure> {
    let Put { client, config, bucket, credentials, file, key, size, bar } = *put;
    let target = put.target();
    let mut etags = Vec::new();
    let mut offset = 0u64;
    let mut number = 1u16;
    while offset < size {
        let len = part_size.min(size - offset);
        let what = format!("part {number} of {target}");
        let body = body_of(file, offset, len, bar)
            .map_err(|e| (s3_err(format!("cannot read {}: {e}", file.display())), true))?;
        let url = bucket.upload_part(Some(credentials), key, number, upload_id).sign(SIGNED_FOR);
        let answer = client
            .put(url)
            .header(http::header::CONTENT_LENGTH, len)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&what, &config.endpoint, &e))?;
        if !answer.status().is_success() {
            return Err(refused(&what, answer).await);
        }
        let etag = answer
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| (s3_err(format!("{what}: the answer has no ETag")), true))?
            .to_owned();
        etags.push(etag);
        offset += len;
        number = number.saturating_add(1);
    }
    let what = format!("complete multipart upload of {target}");
    let complete = bucket.complete_multipart_upload(
        Some(credentials),
        key,
        upload_id,
        etags.iter().map(String::as_str),
    );
    let url = complete.sign(SIGNED_FOR);
    let answer = client
        .post(url)
        .body(complete.body())
        .send()
        .await
        .map_err(|e| unreachable(&what, &config.endpoint, &e))?;
    let status = answer.status();
    let text = answer_text(answer).await.map_err(|e| unreachable(&what, &config.endpoint, &e))?;
    // S3 may answer 200 with an error document once the body has started.
    if !status.is_success() || text.contains("<Error>") {
        let text = error_text(&text);
        return Err((s3_err(format!("{what}: {status} {text}")), transient(status, &text)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_rendered_and_checked() {
        let ctx =
            serde_json::json!({"platform": "bilibili", "channel": "123", "file_name": "a.mp4"});
        assert_eq!(
            object_key("{{ platform }}/{{ channel }}/{{ file_name }}", &ctx).unwrap(),
            "bilibili/123/a.mp4"
        );
        let evil = serde_json::json!({"platform": "..", "channel": "", "file_name": "a\n"});
        for t in ["{{ platform }}/x", "a/{{ channel }}/b", "{{ file_name }}x", ""] {
            let e = object_key(t, &evil).unwrap_err().to_string();
            assert!(e.starts_with("s3: object key"), "{t}: {e}");
        }
    }

    #[test]
    fn error_documents_are_read() {
        let body = "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code>\
                    <Message>The AWS Access Key Id you provided does not exist.</Message></Error>";
        assert_eq!(
            error_text(body),
            "InvalidAccessKeyId: The AWS Access Key Id you provided does not exist."
        );
        assert_eq!(error_text(""), "(empty answer)");
        assert!(transient(reqwest::StatusCode::BAD_REQUEST, "RequestTimeout: x"));
        assert!(!transient(reqwest::StatusCode::FORBIDDEN, "SignatureDoesNotMatch: x"));
    }

    #[test]
    fn public_urls_encode_the_key() {
        assert_eq!(
            public_url("https://cdn.example/rec/", "a b/c.mp4"),
            "https://cdn.example/rec/a%20b/c.mp4"
        );
    }
}
