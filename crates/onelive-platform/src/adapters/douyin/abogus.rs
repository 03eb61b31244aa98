//! The `a_bogus` query signature of Douyin's web APIs.
//!
//! Written from the algorithm as DouyinLiveRecorder (`src/ab_sign.py`,
//! commit add187f8) describes it: SM3 digests of the query and of the
//! RC4-encrypted User-Agent, the request times and a browser fingerprint,
//! packed into a fixed byte layout, RC4-encrypted and written in a custom
//! base64 alphabet. No JavaScript engine is needed. ByteDance changes the
//! scheme from time to time; the test vectors in this module were produced
//! by running that reference with fixed inputs.

use sm3::{Digest, Sm3};

/// The alphabet of the User-Agent digest input.
const UA_ALPHABET: &[u8; 64] = b"ckdp1h4ZKsUB80/Mfvw36XIgR25+WQAlEi7NLboqYTOPuzmFjJnryx9HVGDaStCe";
/// The alphabet of the signature itself.
const SIGN_ALPHABET: &[u8; 64] =
    b"Dkdpgh2ZmsQB80/MfvV36XI1R45-WUAlEixNLwoqYTOPuzKFjJnry79HbGcaStCe";
/// The salt appended to the signed query.
const SALT: &str = "cus";
/// The browser fingerprint (window and screen sizes, platform) the web player reports.
pub const FINGERPRINT: &str = "1920|1080|1920|1040|0|30|0|0|1872|92|1920|1040|1857|92|1|24|Win32";
/// The page id and app id the signature carries.
const PAGE_ID: u32 = 110_624;
const AID: u32 = 6383;
/// The three "arguments" of the signing call.
const ARGUMENTS: [u32; 3] = [0, 1, 14];
/// Positions of the layout, in the order they are written.
const ORDER: [usize; 44] = [
    18, 20, 52, 26, 30, 34, 58, 38, 40, 53, 42, 21, 27, 54, 55, 31, 35, 57, 39, 41, 43, 22, 28, 32,
    60, 36, 23, 29, 33, 37, 44, 45, 59, 46, 47, 48, 49, 50, 24, 25, 65, 66, 70, 71,
];
/// Positions folded into the check byte.
const CHECKED: [usize; 43] = [
    18, 20, 26, 30, 38, 40, 42, 21, 27, 31, 35, 39, 41, 43, 22, 28, 32, 36, 23, 29, 33, 37, 44, 45,
    46, 47, 48, 49, 50, 24, 25, 52, 53, 54, 55, 57, 58, 59, 60, 65, 66, 70, 71,
];

/// What one signature depends on besides the query: the User-Agent it
/// will be sent with, the time, and three random numbers (0..10000).
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// The User-Agent header the request carries (the signature binds it).
    pub user_agent: &'a str,
    /// Unix time in milliseconds when signing starts.
    pub now_ms: u64,
    /// Three random numbers below 10000.
    pub random: [u32; 3],
}

/// The `a_bogus` value for the encoded query string `query` (without `?`
/// and without `a_bogus` itself).
///
/// ```
/// use onelive_platform::adapters::douyin::abogus::{a_bogus, SignInput};
///
/// // A vector computed by DouyinLiveRecorder's src/ab_sign.py (add187f8)
/// // with time.time() fixed at 1761045455.123 and its own random constants.
/// let input = SignInput { user_agent: "x", now_ms: 1_761_045_455_123, random: [1234, 9876, 5555] };
/// assert_eq!(
///     a_bogus("a=1", &input),
///     "E7mhBmg6mEVNgf6X5RQLfY3q6fB3Y6E/0HViMD2fYdVz7y39HMY39exoLV4vZefjiT/QIeYjy4hbO3xprQAjM36UHWwEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/95D="
/// );
/// ```
pub fn a_bogus(query: &str, input: &SignInput<'_>) -> String {
    let query_digest = sm3(&sm3(format!("{query}{SALT}").as_bytes()));
    let salt_digest = sm3(&sm3(SALT.as_bytes()));
    let ua_cipher = rc4(&[0, 1, 14], input.user_agent.as_bytes());
    let ua_digest = sm3(encode(&ua_cipher, UA_ALPHABET).as_bytes());

    let start = input.now_ms;
    let end = start + 100;
    let mut b = [0u8; 73];
    b[8] = 3;
    b[18] = 44;
    b[20..24].copy_from_slice(&(start as u32).to_be_bytes());
    b[24] = (start >> 32) as u8;
    b[25] = (start >> 40) as u8;
    b[26..30].copy_from_slice(&ARGUMENTS[0].to_be_bytes());
    b[30] = (ARGUMENTS[1] >> 8) as u8;
    b[31] = ARGUMENTS[1] as u8;
    b[32] = (ARGUMENTS[1] >> 24) as u8;
    b[33] = (ARGUMENTS[1] >> 16) as u8;
    b[34..38].copy_from_slice(&ARGUMENTS[2].to_be_bytes());
    b[38] = query_digest[21];
    b[39] = query_digest[22];
    b[40] = salt_digest[21];
    b[41] = salt_digest[22];
    b[42] = ua_digest[23];
    b[43] = ua_digest[24];
    b[44..48].copy_from_slice(&(end as u32).to_be_bytes());
    b[48] = b[8];
    b[49] = (end >> 32) as u8;
    b[50] = (end >> 40) as u8;
    b[52..56].copy_from_slice(&PAGE_ID.to_be_bytes());
    b[57..61].copy_from_slice(&AID.to_le_bytes());
    let fingerprint_len = FINGERPRINT.len() as u16;
    b[65] = fingerprint_len as u8;
    b[66] = (fingerprint_len >> 8) as u8;
    let check = CHECKED.iter().fold(0u8, |acc, &i| acc ^ b[i]);

    let mut layout: Vec<u8> = ORDER.iter().map(|&i| b[i]).collect();
    layout.extend_from_slice(FINGERPRINT.as_bytes());
    layout.push(check);

    let mut out = random_prefix(input.random);
    out.extend(rc4(&[121], &layout));
    let mut signature = encode(&out, SIGN_ALPHABET);
    signature.push('=');
    signature
}

/// Four bytes per random number, each mixed with fixed option bits.
fn random_prefix(random: [u32; 3]) -> Vec<u8> {
    let options = [[3u8, 45], [1, 0], [1, 5]];
    let mut out = Vec::with_capacity(12);
    for (r, option) in random.iter().zip(options) {
        let low = (r & 255) as u8;
        let high = ((r >> 8) & 255) as u8;
        out.extend([
            (low & 170) | (option[0] & 85),
            (low & 85) | (option[0] & 170),
            (high & 170) | (option[1] & 85),
            (high & 85) | (option[1] & 170),
        ]);
    }
    out
}

/// The SM3 digest of `data`.
fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// RC4 of `data` with `key` (RC4 is broken as a cipher; here it is only
/// the obfuscation the signature scheme prescribes).
fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
    let mut j = 0u8;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, j as usize);
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|byte| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[i as usize]);
            s.swap(i as usize, j as usize);
            byte ^ s[s[i as usize].wrapping_add(s[j as usize]) as usize]
        })
        .collect()
}

/// Base64 with a custom alphabet and no padding: `ceil(len * 4 / 3)`
/// characters, a short last group filled with zero bits.
fn encode(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        let chars = (chunk.len() * 8).div_ceil(6);
        for k in 0..chars {
            out.push(char::from(alphabet[((n >> (18 - 6 * k)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_the_standard_vector() {
        let hex: String = sm3(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    #[test]
    fn rc4_matches_a_known_vector() {
        // RFC 6229-style classic vector: key "Key", plaintext "Plaintext".
        assert_eq!(
            rc4(b"Key", b"Plaintext"),
            [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3]
        );
    }

    #[test]
    fn encode_writes_partial_groups_without_padding() {
        let standard: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        assert_eq!(encode(b"Man", standard), "TWFu");
        assert_eq!(encode(b"Ma", standard), "TWE");
        assert_eq!(encode(b"M", standard), "TQ");
    }

    /// Produced by DouyinLiveRecorder src/ab_sign.py (commit add187f8)
    /// for the web-enter query it sends itself, its own User-Agent, its
    /// random constants, and time.time() fixed at 1714564800.000.
    #[test]
    fn matches_douyinliverecorder_for_its_own_request() {
        let query = "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN\
                     &browser_language=zh-CN&browser_platform=Win32&browser_name=Chrome\
                     &browser_version=116.0.0.0&web_rid=335354047186&msToken=";
        let ua = "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) \
                  Chrome/116.0.5845.97 Safari/537.36 Core/1.116.567.400 QQBrowser/19.7.6764.400";
        let input =
            SignInput { user_agent: ua, now_ms: 1_714_564_800_000, random: [1234, 9876, 5555] };
        assert_eq!(
            a_bogus(query, &input),
            "E7mhBmg6mEVNgf6X5-dLfY3q61F3YIh70HViMD2fIdvw5g39HMYD9exoY77vY/WjLG/lIeYjy4hbO3xprQAjM36UHWwEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/9WD="
        );
    }
}
