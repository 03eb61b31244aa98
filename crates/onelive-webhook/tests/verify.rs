//! Receiver side: Standard Webhooks test vectors, negative cases, and
//! cross-checks against the `standardwebhooks` crate in both directions.

use std::time::Duration;

use onelive_webhook::verify::{
    SignatureHeaders, Verifier, VerifyError, WebhookSecret, key_matches, sign, sign_all,
};
use proptest::prelude::*;

const A_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const A_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const A_TS: i64 = 1614265330;
const A_BODY: &[u8] = br#"{"test": 2432232314}"#;
const A_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret(s: &str) -> WebhookSecret {
    s.parse().unwrap()
}

fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
    SignatureHeaders { id: Some(id), timestamp: Some(ts), signature: Some(sig) }
}

#[test]
fn vector_a_signs_and_verifies() {
    let s = secret(A_SECRET);
    assert_eq!(s.as_bytes().len(), 24);
    assert_eq!(sign(&s, A_ID, A_TS, A_BODY), A_SIG);
    let v = Verifier::new(vec![s]);
    v.verify_at(&headers(A_ID, "1614265330", A_SIG), A_BODY, A_TS).unwrap();
}

#[test]
fn vector_b_signs_and_verifies() {
    let s = secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let sig = sign(&s, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body);
    assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    Verifier::new(vec![s])
        .verify_at(
            &headers("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553", &sig),
            body,
            1649367553,
        )
        .unwrap();
}

#[test]
fn vector_d_onelive_envelope() {
    let body = br#"{"id":"0b9f6d5e-3c1a-4b7e-9f2d-8a6c4e2b1d03","ts":"2026-01-01T00:00:00Z","type":"test.event","data":{"n":1}}"#;
    let sig = sign(&secret(A_SECRET), "0b9f6d5e-3c1a-4b7e-9f2d-8a6c4e2b1d03", 1767225600, body);
    assert_eq!(sig, "v1,RugTcj7ckFr6PEdD+unp/ygVfGZx2BZ1OqkolJQ0PXs=");
}

#[test]
fn wrong_or_partial_signatures_fail() {
    let v = Verifier::new(vec![secret(A_SECRET)]);
    for bad in [
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        "v1,",
        &A_SIG[..8],
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,not base64!",
    ] {
        assert_eq!(
            v.verify_at(&headers(A_ID, "1614265330", bad), A_BODY, A_TS),
            Err(VerifyError::NoMatchingSignature),
            "{bad:?} must not verify"
        );
    }
    // Body changed by one byte (e.g. re-serialized JSON).
    assert_eq!(
        v.verify_at(&headers(A_ID, "1614265330", A_SIG), br#"{"test":2432232314}"#, A_TS),
        Err(VerifyError::NoMatchingSignature)
    );
    // Other id, other timestamp.
    assert!(v.verify_at(&headers("msg_other", "1614265330", A_SIG), A_BODY, A_TS).is_err());
    assert!(v.verify_at(&headers(A_ID, "1614265331", A_SIG), A_BODY, A_TS).is_err());
}

#[test]
fn several_signatures_any_may_match() {
    let v = Verifier::new(vec![secret(A_SECRET)]);
    let decoy = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    let with = format!("{decoy} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {A_SIG} {decoy}");
    v.verify_at(&headers(A_ID, "1614265330", &with), A_BODY, A_TS).unwrap();
    let without = format!("{decoy} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {decoy}");
    assert_eq!(
        v.verify_at(&headers(A_ID, "1614265330", &without), A_BODY, A_TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn rotation_any_of_several_secrets() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let sig_old = sign(&old, "id1", 100, b"{}");
    let both = Verifier::new(vec![new.clone(), old.clone()]);
    both.verify_at(&headers("id1", "100", &sig_old), b"{}", 100).unwrap();
    let only_new = Verifier::new(vec![new.clone()]);
    assert!(only_new.verify_at(&headers("id1", "100", &sig_old), b"{}", 100).is_err());
    // A sender holding both secrets sends both signatures; a receiver holding
    // either one accepts.
    let dual = sign_all(&[old.clone(), new.clone()], "id1", 100, b"{}");
    assert_eq!(dual.split(' ').count(), 2);
    Verifier::new(vec![old]).verify_at(&headers("id1", "100", &dual), b"{}", 100).unwrap();
    only_new.verify_at(&headers("id1", "100", &dual), b"{}", 100).unwrap();
}

#[test]
fn timestamp_tolerance_both_directions() {
    let v = Verifier::new(vec![secret(A_SECRET)]);
    let h = headers(A_ID, "1614265330", A_SIG);
    v.verify_at(&h, A_BODY, A_TS + 300).unwrap();
    v.verify_at(&h, A_BODY, A_TS - 300).unwrap();
    let err = v.verify_at(&h, A_BODY, A_TS + 301).unwrap_err();
    assert!(matches!(err, VerifyError::StaleTimestamp { timestamp: A_TS, .. }), "{err:?}");
    assert!(err.to_string().contains("too old"), "{err}");
    let err = v.verify_at(&h, A_BODY, A_TS - 301).unwrap_err();
    assert!(err.to_string().contains("in the future"), "{err}");
    let strict = v.clone().with_tolerance(Duration::from_secs(5));
    assert!(strict.verify_at(&h, A_BODY, A_TS + 6).is_err());
    strict.verify_at(&h, A_BODY, A_TS + 5).unwrap();
    // The system clock is far from 2021: verify() refuses the old vector.
    assert!(matches!(v.verify(&h, A_BODY), Err(VerifyError::StaleTimestamp { .. })));
}

#[test]
fn missing_and_malformed_headers() {
    let v = Verifier::new(vec![secret(A_SECRET)]);
    let full = headers(A_ID, "1614265330", A_SIG);
    let cases = [
        (SignatureHeaders { id: None, ..full }, "webhook-id"),
        (SignatureHeaders { id: Some(""), ..full }, "webhook-id"),
        (SignatureHeaders { timestamp: None, ..full }, "webhook-timestamp"),
        (SignatureHeaders { signature: None, ..full }, "webhook-signature"),
        (SignatureHeaders { signature: Some("  "), ..full }, "webhook-signature"),
    ];
    for (h, name) in cases {
        let err = v.verify_at(&h, A_BODY, A_TS).unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader(name));
        assert!(err.to_string().contains(name));
    }
    for ts in ["abc", "1614265330.5", "-1614265330", "1e9"] {
        let err = v.verify_at(&headers(A_ID, ts, A_SIG), A_BODY, A_TS).unwrap_err();
        assert!(matches!(err, VerifyError::BadFormat(_)), "{ts}: {err:?}");
    }
}

#[test]
fn no_secret_is_an_error_not_an_accept() {
    let v = Verifier::new(vec![]);
    assert_eq!(
        v.verify_at(&headers(A_ID, "1614265330", A_SIG), A_BODY, A_TS),
        Err(VerifyError::NoSecret)
    );
}

#[test]
fn secret_parsing_and_redaction() {
    for bad in ["", "whsec_", "whsec_%%%%", "whsec_abc!"] {
        let err = bad.parse::<WebhookSecret>().unwrap_err();
        assert!(matches!(err, VerifyError::InvalidSecret(_)), "{bad:?}");
    }
    // The error names no secret material.
    let err = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!!!!".parse::<WebhookSecret>().unwrap_err();
    assert!(!err.to_string().contains("MfKQ9r8"), "{err}");
    // Without the prefix and without padding are accepted too.
    assert_eq!(secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), secret(A_SECRET));
    let padded = WebhookSecret::from_bytes(vec![7u8; 32]).unwrap();
    let text = padded.to_string();
    assert!(text.ends_with('='));
    assert_eq!(secret(text.trim_end_matches('=')), padded);
    assert!(WebhookSecret::from_bytes(Vec::new()).is_err());
    let s = secret(A_SECRET);
    assert_eq!(s.to_string(), A_SECRET);
    let dbg = format!("{s:?} {:?}", Verifier::new(vec![s.clone()]));
    assert!(!dbg.contains("MfKQ9r8"), "{dbg}");
    assert_ne!(WebhookSecret::generate(), WebhookSecret::generate());
}

#[test]
fn key_matches_is_exact() {
    assert!(key_matches("abc", "abc"));
    assert!(!key_matches("abc", "abd"));
    assert!(!key_matches("abc", "abcd"));
    assert!(!key_matches("abc", ""));
    assert!(key_matches("", ""));
}

fn their_headers(id: &str, ts: i64, sig: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("webhook-id", id.parse().unwrap());
    h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    h.insert("webhook-signature", sig.parse().unwrap());
    h
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// We sign, the reference crate verifies.
    #[test]
    fn ours_sign_theirs_verify(key in proptest::collection::vec(any::<u8>(), 24..=64),
                               id in "[a-zA-Z0-9_-]{1,40}", body in "\\PC{0,300}") {
        let ours = WebhookSecret::from_bytes(key).unwrap();
        let ts = now();
        let sig = sign(&ours, &id, ts, body.as_bytes());
        let theirs = standardwebhooks::Webhook::new(&ours.to_string()).unwrap();
        prop_assert!(theirs.verify(body.as_bytes(), &their_headers(&id, ts, &sig)).is_ok());
        prop_assert_eq!(theirs.sign(&id, ts, body.as_bytes()).unwrap(), sig);
    }

    /// The reference crate signs, we verify (and refuse a tampered body).
    #[test]
    fn theirs_sign_ours_verify(key in proptest::collection::vec(any::<u8>(), 24..=64),
                               id in "[a-zA-Z0-9_-]{1,40}", body in "\\PC{0,300}") {
        let ours = WebhookSecret::from_bytes(key).unwrap();
        let theirs = standardwebhooks::Webhook::new(&ours.to_string()).unwrap();
        let ts = now();
        let sig = theirs.sign(&id, ts, body.as_bytes()).unwrap();
        let ts_text = ts.to_string();
        let h = SignatureHeaders { id: Some(&id), timestamp: Some(&ts_text), signature: Some(&sig) };
        let v = Verifier::new(vec![WebhookSecret::generate(), ours]);
        prop_assert!(v.verify(&h, body.as_bytes()).is_ok());
        let mut tampered = body.clone().into_bytes();
        tampered.push(b' ');
        prop_assert_eq!(v.verify(&h, &tampered), Err(VerifyError::NoMatchingSignature));
    }
}
