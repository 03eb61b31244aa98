//! `http`: the one HTTP client every adapter shares, with timeouts,
//! per-platform cookies, user agent and proxy, and host overrides.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::config::{PlatformsConfig, redact_proxy};
use crate::error::{PlatformError, Result, excerpt, strip_query};

/// Bodies larger than this are cut (16 MiB): no platform API answers more.
const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// The shared HTTP client (cheap to clone).
///
/// It applies, to every request of an adapter: the platform's User-Agent,
/// its proxy (or the global one), the timeouts, and the host overrides of
/// [`PlatformsConfig::host_overrides`]. The platform's cookies are added only
/// when the adapter asks ([`HttpRequest::with_platform_cookies`]), so they
/// never leak to a CDN.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    default: reqwest::Client,
    per_platform: HashMap<String, reqwest::Client>,
    /// The same clients without redirect following ([`HttpRequest::no_redirects`]).
    default_no_redirect: reqwest::Client,
    per_platform_no_redirect: HashMap<String, reqwest::Client>,
    overrides: Vec<(String, String)>,
    config: PlatformsConfig,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").field("config", &self.inner.config).finish()
    }
}

fn build_client(config: &PlatformsConfig, proxy: Option<&str>) -> Result<reqwest::Client> {
    build_client_with(config, proxy, reqwest::redirect::Policy::limited(5))
}

fn build_client_with(
    config: &PlatformsConfig,
    proxy: Option<&str>,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.timeout_secs.max(1)))
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
        .redirect(redirect);
    if let Some(proxy) = proxy.filter(|p| !p.is_empty()) {
        let parsed = reqwest::Proxy::all(proxy).map_err(|_| {
            PlatformError::Config(format!("invalid proxy URL {}", redact_proxy(proxy)))
        })?;
        builder = builder.proxy(parsed);
    }
    builder.build().map_err(|e| PlatformError::Config(format!("cannot build the HTTP client: {e}")))
}

impl HttpClient {
    /// A client for `config`. Fails on an invalid proxy URL or host override.
    pub fn new(config: &PlatformsConfig) -> Result<Self> {
        let default = build_client(config, config.proxy.as_deref())?;
        let none = reqwest::redirect::Policy::none;
        let default_no_redirect = build_client_with(config, config.proxy.as_deref(), none())?;
        let mut per_platform = HashMap::new();
        let mut per_platform_no_redirect = HashMap::new();
        for (name, site) in &config.sites {
            if let Some(proxy) = &site.proxy {
                per_platform.insert(name.clone(), build_client(config, Some(proxy))?);
                per_platform_no_redirect
                    .insert(name.clone(), build_client_with(config, Some(proxy), none())?);
            }
        }
        let mut overrides = Vec::new();
        for (host, base) in &config.host_overrides {
            let parsed = url::Url::parse(base).map_err(|e| {
                PlatformError::Config(format!(
                    "host override for {host}: invalid base URL {base}: {e}"
                ))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(PlatformError::Config(format!(
                    "host override for {host}: base URL must be http or https, got {base}"
                )));
            }
            overrides.push((host.to_ascii_lowercase(), base.trim_end_matches('/').to_owned()));
        }
        Ok(HttpClient {
            inner: Arc::new(Inner {
                default,
                per_platform,
                default_no_redirect,
                per_platform_no_redirect,
                overrides,
                config: config.clone(),
            }),
        })
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &PlatformsConfig {
        &self.inner.config
    }

    /// `url` after the host overrides: `https://HOST/p?q` becomes `BASE/p?q`
    /// when `HOST` has an override, else `url` unchanged.
    ///
    /// ```
    /// use onelive_platform::{HttpClient, PlatformsConfig};
    ///
    /// let mut config = PlatformsConfig::default();
    /// config.host_overrides.insert("gql.twitch.tv".into(), "http://127.0.0.1:9000/gql.twitch.tv".into());
    /// let client = HttpClient::new(&config).unwrap();
    /// assert_eq!(client.rewrite_url("https://gql.twitch.tv/gql?x=1"), "http://127.0.0.1:9000/gql.twitch.tv/gql?x=1");
    /// assert_eq!(client.rewrite_url("https://example.com/a"), "https://example.com/a");
    /// ```
    pub fn rewrite_url(&self, url: &str) -> String {
        let Ok(parsed) = url::Url::parse(url) else { return url.to_owned() };
        let Some(host) = parsed.host_str() else { return url.to_owned() };
        let host = host.to_ascii_lowercase();
        for (from, base) in &self.inner.overrides {
            if *from == host {
                let mut out = format!("{base}{}", parsed.path());
                if let Some(q) = parsed.query() {
                    out.push('?');
                    out.push_str(q);
                }
                return out;
            }
        }
        url.to_owned()
    }

    /// A GET request on behalf of `platform`.
    pub fn get(&self, platform: &str, url: &str) -> HttpRequest {
        HttpRequest::new(self.clone(), platform, Method::Get, url)
    }

    /// A POST request on behalf of `platform`.
    pub fn post(&self, platform: &str, url: &str) -> HttpRequest {
        HttpRequest::new(self.clone(), platform, Method::Post, url)
    }

    fn client_for(&self, platform: &str) -> &reqwest::Client {
        self.inner.per_platform.get(platform).unwrap_or(&self.inner.default)
    }

    fn client_no_redirect_for(&self, platform: &str) -> &reqwest::Client {
        self.inner.per_platform_no_redirect.get(platform).unwrap_or(&self.inner.default_no_redirect)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

#[derive(Debug, Clone)]
enum Body {
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
}

/// A request being built by an adapter; [`HttpRequest::send`] sends it.
#[derive(Clone)]
pub struct HttpRequest {
    client: HttpClient,
    platform: String,
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
    cookies: bool,
    max_body: usize,
    follow_redirects: bool,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("platform", &self.platform)
            .field("method", &self.method)
            .field("url", &strip_query(&self.url))
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

impl HttpRequest {
    fn new(client: HttpClient, platform: &str, method: Method, url: &str) -> Self {
        HttpRequest {
            client,
            platform: platform.to_owned(),
            method,
            url: url.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            cookies: false,
            max_body: DEFAULT_MAX_BODY,
            follow_redirects: true,
        }
    }

    /// Adds query parameters.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.query
            .extend(pairs.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends a form-urlencoded body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.body = Some(Body::Form(
            pairs.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect(),
        ));
        self
    }

    /// Sends a JSON body.
    pub fn json(mut self, value: serde_json::Value) -> Self {
        self.body = Some(Body::Json(value));
        self
    }

    /// Adds the platform's configured cookies (if any) as the `Cookie` header.
    pub fn with_platform_cookies(mut self) -> Self {
        self.cookies = true;
        self
    }

    /// Does not follow redirects: a 3xx answer is the response (read its
    /// `location` header), e.g. to resolve a short link with one request.
    pub fn no_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// Reads at most `bytes` of the body and stops (for probing endless streams).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sends the request. Any HTTP status is a response; only transport
    /// failures are errors ([`PlatformError::Network`]).
    pub async fn send(self) -> Result<HttpResponse> {
        let config = self.client.config();
        let target = self.client.rewrite_url(&self.url);
        let shown_url = strip_query(&self.url);
        let network = |message: String, timeout: bool| PlatformError::Network {
            platform: self.platform.clone(),
            url: shown_url.clone(),
            message,
            timeout,
        };
        let client = if self.follow_redirects {
            self.client.client_for(&self.platform)
        } else {
            self.client.client_no_redirect_for(&self.platform)
        };
        let mut request = match self.method {
            Method::Get => client.get(&target),
            Method::Post => client.post(&target),
        };
        if !self.query.is_empty() {
            request = request.query(&self.query);
        }
        let has = |name: &str| self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if !has("user-agent") {
            request = request.header("User-Agent", config.user_agent_for(&self.platform));
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if self.cookies
            && let Some(cookies) = config.site(&self.platform).cookies.filter(|c| !c.is_empty())
        {
            request = request.header("Cookie", cookies);
        }
        match &self.body {
            Some(Body::Form(pairs)) => request = request.form(pairs),
            Some(Body::Json(value)) => request = request.json(value),
            None => {}
        }
        let mut response =
            request.send().await.map_err(|e| network(describe(&e), e.is_timeout()))?;
        let status = response.status().as_u16();
        let mut headers = BTreeMap::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_ascii_lowercase(), v.to_owned());
            }
        }
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_body - body.len();
                    if chunk.len() >= room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(network(describe(&e), e.is_timeout())),
            }
        }
        Ok(HttpResponse {
            platform: self.platform.clone(),
            url: shown_url,
            status,
            headers,
            body,
            truncated,
        })
    }
}

/// The error text of a reqwest error and its sources, without the URL.
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    strip_urls(&text)
}

/// Removes query strings of any URLs in `text`.
fn strip_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| if word.contains("://") { strip_query(word) } else { word.to_owned() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A response: status, headers (names lower-case) and body.
#[derive(Clone)]
pub struct HttpResponse {
    platform: String,
    url: String,
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body (cut at the request's limit).
    pub body: Vec<u8>,
    /// True when the body was cut at the limit.
    pub truncated: bool,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// The requested URL, without query string.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Retry-After` header as a duration, when it is a number of seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")?.trim().parse::<u64>().ok().map(Duration::from_secs)
    }

    /// Maps the statuses every platform shares: 429 to
    /// [`PlatformError::RateLimited`] (with `Retry-After`), 5xx to
    /// [`PlatformError::UnexpectedResponse`]. Other statuses pass.
    pub fn check_common(self) -> Result<Self> {
        match self.status {
            429 => Err(PlatformError::rate_limited(&self.platform, self.retry_after())),
            500..=599 => Err(self.unexpected("a successful response")),
            _ => Ok(self),
        }
    }

    /// An [`PlatformError::UnexpectedResponse`] naming what was expected,
    /// the status and a short excerpt of the body.
    pub fn unexpected(&self, expected: &str) -> PlatformError {
        PlatformError::unexpected(
            &self.platform,
            &self.url,
            expected,
            format!("HTTP {} {}", self.status, excerpt(&self.text(), 120)),
        )
    }

    /// Parses the body as JSON into `T`; a body that is not valid JSON of
    /// that shape gives [`PlatformError::UnexpectedResponse`] naming `expected`.
    pub fn json<T: DeserializeOwned>(&self, expected: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            PlatformError::unexpected(
                &self.platform,
                &self.url,
                expected,
                format!("HTTP {}: {e}; body: {}", self.status, excerpt(&self.text(), 80)),
            )
        })
    }
}
