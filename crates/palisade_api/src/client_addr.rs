//! The client's address, as the rate limits ([`crate::throttle`]) key it.
//!
//! Without trusted proxies it is the TCP peer's address, and forwarding headers are ignored:
//! anybody can send `X-Forwarded-For`. With trusted proxies (`PALISADE_TRUSTED_PROXIES`, a
//! comma list of addresses and CIDR networks) and a peer that is one of them, the forwarding
//! header is read right to left, skipping trusted hops; the first hop that is not a trusted
//! proxy is the client. Hops to its left were written by the client itself and are never
//! believed. Only ONE header is read, the one the proxies are configured to write
//! (`X-Forwarded-For` by default, or `Forwarded`): a proxy that appends to one of them passes
//! the other through as the client sent it, so reading both would let a client choose its
//! own address.

use std::future::{Ready, ready};
use std::net::{IpAddr, Ipv6Addr};

use actix_web::dev::Payload;
use actix_web::http::header::HeaderMap;
use actix_web::{FromRequest, HttpRequest, web};

use crate::{ApiError, AppState};

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = addr.trim().parse::<IpAddr>().ok()?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
        };
        Some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Which forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    /// `x-forwarded-for` or `forwarded` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }
}

/// The proxies whose forwarding header is believed; empty (the default): none, the TCP peer is
/// the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No trusted proxy: the TCP peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a comma list of addresses and CIDR networks (`10.0.0.0/8,127.0.0.1,fd00::/8`);
    /// the error names the entry (by position) that is not one.
    pub fn parse(list: &str, header: ForwardedHeader) -> Result<Self, String> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                Cidr::parse(s).ok_or_else(|| {
                    format!(
                        "entry {} is not an IP address or CIDR network (e.g. 10.0.0.0/8)",
                        i + 1
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets, header })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// right-most hop of the forwarding header that is not trusted. A hop that is not an
    /// address (`unknown`, an obfuscated name, garbage) stops the walk at the trusted proxy
    /// that wrote it, which then stands for the client (throttled together: the safe side).
    /// When every hop is trusted, the left-most one. `None` without a peer address.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut current = peer;
        for hop in self.hops(headers).into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => current = ip,
                Some(ip) => return Some(ip),
                None => return Some(current),
            }
        }
        Some(current)
    }

    /// The hops of the configured header, left to right (repeated header lines concatenated in
    /// order, as RFC 9110 combines them); `None` for a hop that is not an address. A line is
    /// split on its commas as bytes: a hop a client wrote with a byte that is not visible ASCII
    /// is that hop's `None`, and leaves the hops that proxies appended after it readable (a
    /// line refused whole made the trusted proxy stand for every such client).
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let mut hops = Vec::new();
        for value in headers.get_all(name) {
            for element in value.as_bytes().split(|b| *b == b',') {
                let Ok(element) = std::str::from_utf8(element) else {
                    hops.push(None);
                    continue;
                };
                if !element
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
                {
                    hops.push(None);
                    continue;
                }
                hops.push(match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(element),
                    ForwardedHeader::Forwarded => element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_node(v)),
                });
            }
        }
        hops
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`,
/// optionally quoted.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| IpAddr::V6(a).to_canonical());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (v4, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The request's client address (see the module doc). Extract it in a handler that throttles:
/// `client: ClientAddr`. Never fails; `None` inside when the peer is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The key the per-address limits use: IPv4 as is; IPv6 by its /64 (one subscriber's
    /// network, which a single host can rotate through freely); an unknown peer is one key.
    pub fn limit_key(&self) -> IpAddr {
        match self.0 {
            Some(IpAddr::V6(v6)) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
            Some(v4) => v4,
            None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.app_data::<web::Data<AppState>>() {
            Some(state) => Ok(ClientAddr(
                state
                    .trusted_proxies
                    .client_address(req.peer_addr().map(|a| a.ip()), req.headers()),
            )),
            None => Err(ApiError::internal("AppState is not configured")),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        h
    }

    fn xff(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list, ForwardedHeader::XForwardedFor).unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let t = xff("10.0.0.0/8, 127.0.0.1 ,fd00::/8");
        assert!(t.trusts(ip("10.200.3.4")));
        assert!(!t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(t.trusts(ip("fd12::1")));
        assert!(
            t.trusts(ip("::ffff:10.1.1.1")),
            "IPv4-mapped IPv6 is the IPv4 address"
        );
        assert!(xff("0.0.0.0/0").trusts(ip("8.8.8.8")));
        assert!(xff("").is_empty());
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            let err = TrustedProxies::parse(bad, ForwardedHeader::XForwardedFor).unwrap_err();
            assert!(err.contains("entry 1"), "{err}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            TrustedProxies::none().client_address(Some(ip("127.0.0.1")), &h),
            Some(ip("127.0.0.1"))
        );
        // An untrusted peer's header is ignored too.
        assert_eq!(
            xff("10.0.0.0/8").client_address(Some(ip("192.0.2.9")), &h),
            Some(ip("192.0.2.9"))
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = xff("10.0.0.0/8");
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &h),
            Some(ip("203.0.113.7")),
            "the spoofed left-most hop is not believed"
        );
        // Repeated header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7:5555, 10.0.0.2"),
        ]);
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &h),
            Some(ip("203.0.113.7"))
        );
        // All trusted: the left-most; no header: the peer; garbage: the proxy that wrote it.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &h),
            Some(ip("10.9.9.9"))
        );
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &HeaderMap::new()),
            Some(ip("10.0.0.1"))
        );
        let h = headers(&[("x-forwarded-for", "1.2.3.4, unknown, 10.0.0.2")]);
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.2"))
        );
        // A client's hop of bytes that are not visible ASCII, in the line a proxy appended the
        // client's real address to: that address is still read.
        let mut h = HeaderMap::new();
        h.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_bytes(b"\x80\xff, 203.0.113.7").unwrap(),
        );
        assert_eq!(
            t.client_address(Some(ip("10.0.0.1")), &h),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn forwarded_is_read_only_when_configured() {
        let t = TrustedProxies::parse("127.0.0.1", ForwardedHeader::Forwarded).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\";by=127.0.0.1",
            ),
        ]);
        assert_eq!(
            t.client_address(Some(ip("127.0.0.1")), &h),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            xff("127.0.0.1").client_address(Some(ip("127.0.0.1")), &h),
            Some(ip("6.6.6.6"))
        );
        assert_eq!(
            ForwardedHeader::parse("Forwarded"),
            Some(ForwardedHeader::Forwarded)
        );
        assert_eq!(ForwardedHeader::parse("x-real-ip"), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = ClientAddr(Some(ip("2001:db8:1:2:aaaa::1")));
        let b = ClientAddr(Some(ip("2001:db8:1:2:bbbb::9")));
        let c = ClientAddr(Some(ip("2001:db8:1:3::1")));
        assert_eq!(a.limit_key(), b.limit_key());
        assert_ne!(a.limit_key(), c.limit_key());
        assert_eq!(
            ClientAddr(Some(ip("192.0.2.1"))).limit_key(),
            ip("192.0.2.1")
        );
    }
}
