//! URL redaction for logs and errors.

/// `url` with the password and every query value replaced by `<redacted>`
/// (`?key=SECRET` becomes `?key=<redacted>`). Unparsable input is replaced
/// entirely, since it could be anything.
///
/// ```
/// use onelive_webhook::redact_url;
/// assert_eq!(
///     redact_url("https://user:pw@hooks.example/in?key=s3cret&x"),
///     "https://user:<redacted>@hooks.example/in?key=<redacted>&x"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparsable URL>".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("<redacted>"));
    }
    let mut out = parsed.to_string();
    if let Some(q) = parsed.query() {
        let redacted: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}=<redacted>"),
                None => pair.to_owned(),
            })
            .collect();
        let start = out.find('?').unwrap_or(out.len());
        let end = out.find('#').unwrap_or(out.len());
        out.replace_range(start..end, &format!("?{}", redacted.join("&")));
    }
    // The password placeholder is percent-encoded by the URL serializer.
    out.replace("%3Credacted%3E", "<redacted>")
}
