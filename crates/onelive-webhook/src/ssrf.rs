//! The SSRF guard: which addresses a webhook may be sent to.
//!
//! Always refused, whatever the configuration: link-local addresses
//! (`169.254.0.0/16`, `fe80::/10`, where cloud metadata services live), the
//! known cloud metadata addresses (`fd00:ec2::254`, `100.100.100.200`), the
//! unspecified addresses (`0.0.0.0/8`, `::`), multicast and broadcast. IPv4
//! written in any form (`2852039166`, `0xa9fea9fe`, `169.254.43518`, octal)
//! is normalised by the WHATWG URL parser before the check, and IPv6 forms
//! that lead to an IPv4 address (`::ffff:a.b.c.d`, `::ffff:0:a.b.c.d`,
//! `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`, Teredo
//! `2001::`) are checked as that IPv4 address; the local-use NAT64 prefix
//! `64:ff9b:1::/48` is refused as a whole.
//!
//! Loopback and private ranges (`10/8`, `172.16/12`, `192.168/16`,
//! `100.64/10`, `fc00::/7`) are allowed by default, because receivers usually
//! sit on the same machine or LAN; [`SsrfPolicy`] can refuse them.
//!
//! Host names are checked after resolution, in the resolver that the HTTP
//! client connects through, so the address checked is the address used.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// Which address ranges, beyond the always-refused ones, may be targeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsrfPolicy {
    /// Allow `127.0.0.0/8` and `::1` (default `true`).
    pub allow_loopback: bool,
    /// Allow private ranges: `10/8`, `172.16/12`, `192.168/16`, `100.64/10`,
    /// `fc00::/7` (default `true`).
    pub allow_private: bool,
}

impl Default for SsrfPolicy {
    fn default() -> Self {
        SsrfPolicy { allow_loopback: true, allow_private: true }
    }
}

impl SsrfPolicy {
    /// Refuses loopback and private ranges too (public addresses only).
    pub fn public_only() -> Self {
        SsrfPolicy { allow_loopback: false, allow_private: false }
    }

    /// `Ok` when `ip` may be targeted, else why not.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use onelive_webhook::SsrfPolicy;
    ///
    /// let policy = SsrfPolicy::default();
    /// let metadata: IpAddr = "169.254.169.254".parse().unwrap();
    /// assert!(policy.check(metadata).is_err());
    /// let mapped: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
    /// assert!(policy.check(mapped).is_err());
    /// assert!(policy.check("127.0.0.1".parse().unwrap()).is_ok());
    /// assert!(SsrfPolicy::public_only().check("127.0.0.1".parse().unwrap()).is_err());
    /// ```
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        match ip {
            IpAddr::V4(v4) => self.check_v4(v4),
            IpAddr::V6(v6) => {
                // Every IPv4 address a translation or tunnel mechanism would reach through this
                // IPv6 address is checked as that IPv4 address.
                for v4 in embedded_v4(v6) {
                    self.check_v4(v4)?;
                }
                if is_local_nat64(v6) {
                    return Err("local-use NAT64 prefix (64:ff9b:1::/48)");
                }
                self.check_v6(v6)
            }
        }
    }

    fn check_v4(&self, ip: Ipv4Addr) -> Result<(), &'static str> {
        let o = ip.octets();
        if o[0] == 169 && o[1] == 254 {
            return Err("link-local / cloud metadata address (169.254.0.0/16)");
        }
        if ip == Ipv4Addr::new(100, 100, 100, 200) {
            return Err("cloud metadata address (100.100.100.200)");
        }
        if o[0] == 0 {
            return Err("unspecified address (0.0.0.0/8)");
        }
        if ip.is_multicast() || ip.is_broadcast() || o[0] >= 240 {
            return Err("multicast, broadcast or reserved address");
        }
        if ip.is_loopback() && !self.allow_loopback {
            return Err("loopback address (refused by configuration)");
        }
        let cgnat = o[0] == 100 && (64..128).contains(&o[1]);
        if (ip.is_private() || cgnat) && !self.allow_private {
            return Err("private address (refused by configuration)");
        }
        Ok(())
    }

    fn check_v6(&self, ip: Ipv6Addr) -> Result<(), &'static str> {
        let s = ip.segments();
        if s[0] & 0xffc0 == 0xfe80 {
            return Err("link-local address (fe80::/10)");
        }
        if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
            return Err("cloud metadata address (fd00:ec2::254)");
        }
        if ip.is_unspecified() {
            return Err("unspecified address (::)");
        }
        if ip.is_multicast() {
            return Err("multicast address");
        }
        if ip.is_loopback() && !self.allow_loopback {
            return Err("loopback address (refused by configuration)");
        }
        // fc00::/7 unique local; fec0::/10 deprecated site-local.
        let private = s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0;
        if private && !self.allow_private {
            return Err("private address (refused by configuration)");
        }
        Ok(())
    }
}

/// The IPv4 addresses that an IPv6 address reaches through a translation or tunnel mechanism:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`, SIIT), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo
/// (`2001::/32`: the server address, and the client address stored inverted).
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    let tail = v4(s[6], s[7]);
    let mut out = Vec::new();
    if let Some(mapped) = ip.to_ipv4_mapped() {
        out.push(mapped);
    }
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        out.push(tail);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        out.push(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        out.push(tail);
    }
    if s[0] == 0x2002 {
        out.push(v4(s[1], s[2]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        out.push(v4(s[2], s[3]));
        out.push(v4(!s[6], !s[7]));
    }
    out
}

/// `64:ff9b:1::/48` (RFC 8215): a site's own NAT64 prefix, where the IPv4 address may sit at any
/// of the RFC 6052 positions, so no single check can tell where it leads.
fn is_local_nat64(ip: Ipv6Addr) -> bool {
    ip.segments()[..3] == [0x64, 0xff9b, 1]
}

/// The future a [`DnsResolver`] returns.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves host names to addresses. Injectable so tests (and embedders
/// with their own DNS) control resolution; the SSRF policy is applied to
/// whatever it returns.
pub trait DnsResolver: Send + Sync + 'static {
    /// All addresses of `host`.
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a>;
}

/// The operating system's resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl DnsResolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A host name resolved only to forbidden addresses; carried through the
/// HTTP client's error chain so the attempt is classified as refused.
#[derive(Debug)]
pub(crate) struct ForbiddenAddress {
    pub(crate) host: String,
    pub(crate) ip: IpAddr,
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to {}: {}", self.host, self.ip, self.reason)
    }
}

impl std::error::Error for ForbiddenAddress {}

/// The resolver the HTTP client uses: the injected resolver, filtered.
pub(crate) struct GuardedResolver {
    pub(crate) inner: Arc<dyn DnsResolver>,
    pub(crate) policy: SsrfPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let inner = Arc::clone(&self.inner);
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = inner.resolve(&host).await?;
            let mut allowed = Vec::new();
            let mut refused = None;
            for ip in ips {
                match policy.check(ip) {
                    Ok(()) => allowed.push(SocketAddr::new(ip, 0)),
                    Err(reason) => refused = Some((ip, reason)),
                }
            }
            // One forbidden address poisons the name: a rebinding attacker
            // could otherwise mix a public and a metadata address.
            if let Some((ip, reason)) = refused {
                let err: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(ForbiddenAddress { host, ip, reason });
                return Err(err);
            }
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = Box::new(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} has no address"),
                ));
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Checks a URL whose host is an IP literal (any spelling). Host names pass
/// here and are checked after resolution.
pub(crate) fn check_url_host(url: &url::Url, policy: SsrfPolicy) -> Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err("the URL has no host".into()),
    };
    policy.check(ip).map_err(|reason| format!("refused address {ip}: {reason}"))
}
