//! Error kinds, retry advice, and redaction of secrets in Debug output.

use std::time::Duration;

use onelive_platform::adapters::soop::Soop;
use onelive_platform::{ErrorKind, PlatformAdapter, PlatformError, StreamKind, StreamVariant};

use crate::common::{Mock, Reply};

#[test]
fn retry_advice_per_kind() {
    let cases = [
        (PlatformError::not_found("p", "c"), false),
        (PlatformError::offline("p", "c"), true),
        (PlatformError::rate_limited("p", Some(Duration::from_secs(9))), true),
        (PlatformError::blocked("p", "risk"), true),
        (PlatformError::login_required("p", "adult"), false),
        (PlatformError::unexpected("p", "https://x/y?token=abc", "JSON", "html"), true),
        (PlatformError::UnsupportedUrl("u".into()), false),
        (PlatformError::Config("c".into()), false),
    ];
    for (error, retryable) in cases {
        assert_eq!(error.is_retryable(), retryable, "{error:?}");
    }
    let limited = PlatformError::rate_limited("twitch", Some(Duration::from_secs(9)));
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(9)));
    assert_eq!(limited.to_string(), "twitch: rate limited (retry after 9s)");
    assert_eq!(PlatformError::blocked("p", "x").retry_after(), None);
    let unexpected =
        PlatformError::unexpected("p", "https://x/y?token=abc", "JSON", "a".repeat(500));
    assert_eq!(unexpected.kind(), ErrorKind::UnexpectedResponse);
    let text = unexpected.to_string();
    assert!(!text.contains("token=abc"), "{text}");
    assert!(text.len() < 300, "long bodies are cut: {}", text.len());
}

#[test]
fn stream_variant_debug_hides_tokens_and_cookies() {
    let mut variant =
        StreamVariant::new("https://cdn.example/live.flv?token=s3cr3t", StreamKind::Flv, "source");
    variant.headers.insert("Cookie".into(), "SESSDATA=abc123".into());
    variant.headers.insert("Referer".into(), "https://live.example/".into());
    let debug = format!("{variant:?}");
    assert!(!debug.contains("s3cr3t") && !debug.contains("abc123"), "{debug}");
    assert!(debug.contains("https://cdn.example/live.flv?<redacted>"), "{debug}");
    assert!(debug.contains("https://live.example/"), "{debug}");
    // Serialization (what the recorder and `probe` get) keeps the real values.
    let json = serde_json::to_value(&variant).unwrap();
    assert_eq!(json["url"], "https://cdn.example/live.flv?token=s3cr3t");
    assert_eq!(json["kind"], "flv");
}

#[tokio::test]
async fn absurd_numbers_do_not_panic() {
    let mock = Mock::start().await;
    mock.on(
        "/chapi.sooplive.co.kr/api/pyh3646/station",
        Reply::fixture(200, "soop/station_live.json"),
    )
    .on(
        "/live.sooplive.com/afreeca/player_live_api.php",
        Reply::text(
            200,
            "{\"CHANNEL\":{\"RESULT\":1,\"BNO\":\"1\",\"BTIME\":9223372036854775807,\"TITLE\":7}}",
        ),
    );
    let ctx = mock.context(&["chapi.sooplive.co.kr", "live.sooplive.com"]);
    let info = Soop.live_info(&ctx, "pyh3646").await.unwrap();
    assert_eq!(info.start_time, None);
    assert_eq!(info.title, "7", "a number where a string was expected is kept as text");
}
