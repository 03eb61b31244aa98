//! The few AMF0 values an `onMetaData` needs (writing only).

/// An AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Amf {
    Number(f64),
    Bool(bool),
    /// A short string (at most 65535 bytes; longer input is cut).
    Str(String),
    Object(Vec<(&'static str, Amf)>),
    StrictArray(Vec<Amf>),
}

fn key(out: &mut Vec<u8>, k: &str) {
    let k = &k.as_bytes()[..k.len().min(0xffff)];
    out.extend_from_slice(&(k.len() as u16).to_be_bytes());
    out.extend_from_slice(k);
}

impl Amf {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Amf::Number(n) => {
                out.push(0x00);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Amf::Bool(b) => {
                out.push(0x01);
                out.push(u8::from(*b));
            }
            Amf::Str(s) => {
                out.push(0x02);
                key(out, s);
            }
            Amf::Object(entries) => {
                out.push(0x03);
                for (k, v) in entries {
                    key(out, k);
                    v.encode(out);
                }
                out.extend_from_slice(&[0, 0, 9]);
            }
            Amf::StrictArray(items) => {
                out.push(0x0a);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for v in items {
                    v.encode(out);
                }
            }
        }
    }
}

/// `"onMetaData"` followed by an ECMA array of `entries`.
pub(crate) fn on_metadata(entries: &[(&'static str, Amf)]) -> Vec<u8> {
    let mut out = Vec::new();
    Amf::Str("onMetaData".into()).encode(&mut out);
    out.push(0x08);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (k, v) in entries {
        key(&mut out, k);
        v.encode(&mut out);
    }
    out.extend_from_slice(&[0, 0, 9]);
    out
}
