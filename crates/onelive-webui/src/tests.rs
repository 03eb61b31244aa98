//! Router and asset tests (the browser tests live in `bins/oneliverec/tests/e2e_webui.rs`).

use std::collections::BTreeSet;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::*;

async fn get(path: &str, if_none_match: Option<&str>) -> axum::response::Response {
    let app: Router = router();
    let mut req = Request::builder().uri(path);
    if let Some(tag) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

async fn body_text(r: axum::response::Response) -> String {
    String::from_utf8(to_bytes(r.into_body(), 1 << 22).await.unwrap().to_vec()).unwrap()
}

fn header_of(r: &axum::response::Response, name: header::HeaderName) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn index_is_html_uncached_and_links_versioned_assets() {
    let r = get("/", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
    assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(header_of(&r, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
    let html = body_text(r).await;
    let v = assets_version();
    assert!(html.contains(&format!("/ui/app.js?v={v}")), "app.js not versioned");
    assert!(html.contains(&format!("/ui/app.css?v={v}")), "app.css not versioned");
    assert!(!html.contains(VERSION_MARKER), "version marker left in the page");
}

#[tokio::test]
async fn every_asset_is_served_with_its_content_type() {
    for a in ASSETS {
        let r = get(&format!("/ui/{}", a.path), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", a.path);
        assert_eq!(header_of(&r, header::CONTENT_TYPE), a.content_type, "{}", a.path);
        assert!(!header_of(&r, header::ETAG).is_empty(), "{} has no ETag", a.path);
        let body = to_bytes(r.into_body(), 1 << 22).await.unwrap();
        if a.path != "index.html" {
            assert_eq!(&body[..], a.bytes, "{}", a.path);
        }
    }
    let js = get("/ui/app.js", None).await;
    assert_eq!(header_of(&js, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
    let css = get("/ui/app.css", None).await;
    assert_eq!(header_of(&css, header::CONTENT_TYPE), "text/css; charset=utf-8");
}

#[tokio::test]
async fn versioned_assets_are_immutable_and_unversioned_revalidate() {
    let v = assets_version();
    let r = get(&format!("/ui/app.js?v={v}"), None).await;
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    let stale = get("/ui/app.js?v=0000000000000000", None).await;
    assert_eq!(header_of(&stale, header::CACHE_CONTROL), "no-cache");
    let bare = get("/ui/app.js", None).await;
    assert_eq!(header_of(&bare, header::CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn a_matching_etag_gets_304_without_body() {
    let first = get("/ui/app.css", None).await;
    let tag = header_of(&first, header::ETAG);
    let again = get("/ui/app.css", Some(&tag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(body_text(again).await.is_empty());
    let other = get("/ui/app.css", Some("\"something-else\"")).await;
    assert_eq!(other.status(), StatusCode::OK);

    let index = get("/", None).await;
    let index_tag = header_of(&index, header::ETAG);
    assert_eq!(get("/", Some(&index_tag)).await.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn unknown_and_traversal_paths_are_404() {
    for path in ["/ui/nope.js", "/ui/../Cargo.toml", "/ui/%2e%2e/Cargo.toml", "/ui/assets/app.js"] {
        let r = get(path, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
}

#[tokio::test]
async fn bare_ui_redirects_to_the_page() {
    for path in ["/ui", "/ui/"] {
        let r = get(path, None).await;
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(header_of(&r, header::LOCATION), "/");
    }
}

#[tokio::test]
async fn merges_into_a_stateful_router_without_shadowing_it() {
    #[derive(Clone)]
    struct AppState(&'static str);
    let app: Router = Router::new()
        .route(
            "/healthz",
            axum::routing::get(
                |axum::extract::State(s): axum::extract::State<AppState>| async move { s.0 },
            ),
        )
        .merge(router())
        .with_state(AppState("ok"));
    let r = app
        .clone()
        .oneshot(Request::builder().uri("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(body_text(r).await, "ok");
    let r = app.oneshot(Request::builder().uri("/").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn the_version_changes_with_any_asset_byte() {
    let a = fnv1a(FNV_OFFSET, b"console.log(1)");
    let b = fnv1a(FNV_OFFSET, b"console.log(2)");
    assert_ne!(a, b);
}

fn text_assets() -> impl Iterator<Item = (&'static str, &'static str)> {
    ASSETS.iter().filter_map(|a| std::str::from_utf8(a.bytes).ok().map(|s| (a.path, s)))
}

#[test]
fn no_asset_loads_anything_from_outside() {
    for (path, text) in text_assets() {
        for needle in ["http://", "https://", "//cdn", "@import", "fonts.googleapis", "url(http"] {
            // The only absolute URLs allowed are examples shown to the user and the SVG namespace.
            for (i, _) in text.match_indices(needle) {
                let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let line = &text[line_start..line_end];
                let allowed = line.contains("xmlns=\"http://www.w3.org/2000/svg\"")
                    || line.contains("placeholder")
                    || line.contains("Placeholder\":");
                assert!(allowed, "{path} references an outside resource: {}", line.trim());
            }
        }
    }
    let html = std::str::from_utf8(asset("index.html").unwrap().bytes).unwrap();
    for src in html.split("src=\"").skip(1).chain(html.split("href=\"").skip(1)) {
        let target = src.split('"').next().unwrap();
        assert!(
            target.starts_with("/ui/") || target.starts_with('#'),
            "index.html links outside the UI: {target}"
        );
    }
}

fn dictionary() -> serde_json::Value {
    serde_json::from_slice(asset("i18n.json").unwrap().bytes).expect("i18n.json is valid JSON")
}

fn keys(lang: &str) -> BTreeSet<String> {
    dictionary()[lang].as_object().unwrap_or_else(|| panic!("no {lang}")).keys().cloned().collect()
}

#[test]
fn english_and_chinese_have_the_same_keys_and_no_empty_text() {
    let en = keys("en");
    let zh = keys("zh");
    assert!(en.len() > 100, "dictionary too small: {}", en.len());
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty() && only_zh.is_empty(), "en only: {only_en:?}; zh only: {only_zh:?}");
    let dict = dictionary();
    for lang in ["en", "zh"] {
        for (k, v) in dict[lang].as_object().unwrap() {
            assert!(v.as_str().is_some_and(|s| !s.trim().is_empty()), "{lang}.{k} is empty");
        }
    }
    // The Chinese texts are Chinese: most of them carry CJK characters.
    let cjk = dict["zh"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v.as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
        .count();
    assert!(cjk * 10 >= zh.len() * 8, "only {cjk} of {} Chinese texts have CJK", zh.len());
}

/// Quoted strings of a text that look like dictionary keys (`namespace.key`).
fn quoted_keys(text: &str, namespaces: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for quote in ['\'', '"'] {
        for (i, piece) in text.split(quote).enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let Some((ns, rest)) = piece.split_once('.') else { continue };
            let key_like = !rest.is_empty()
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && namespaces.contains(ns);
            if key_like {
                out.insert(piece.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_text_the_ui_uses_is_translated() {
    let en = keys("en");
    let namespaces: BTreeSet<String> =
        en.iter().filter_map(|k| k.split_once('.')).map(|(ns, _)| ns.to_owned()).collect();
    let js = std::str::from_utf8(asset("app.js").unwrap().bytes).unwrap();
    let html = std::str::from_utf8(asset("index.html").unwrap().bytes).unwrap();
    let mut used = quoted_keys(js, &namespaces);
    used.extend(quoted_keys(html, &namespaces));
    // Keys the script builds from API values.
    for s in ["recording", "live", "offline", "ending", "disabled"] {
        used.insert(format!("state.{s}"));
    }
    for s in ["recording", "finished", "transmuxed"] {
        used.insert(format!("recstate.{s}"));
    }
    for s in ["pending", "delivered", "failed"] {
        used.insert(format!("delivery.{s}"));
    }
    for e in [
        "app_launch",
        "app_exit",
        "live_start",
        "live_end",
        "video_file_create",
        "video_file_finish",
        "video_transmux_finish",
        "title_change",
        "category_change",
        "error",
    ] {
        assert!(js.contains(&format!("'{e}'")), "app.js does not offer event type {e}");
        used.insert(format!("event.{e}"));
    }
    assert!(used.len() > 80, "found only {} keys: the scanner is broken", used.len());
    let missing: Vec<_> = used.difference(&en).collect();
    assert!(missing.is_empty(), "texts used but not in i18n.json: {missing:?}");
}
