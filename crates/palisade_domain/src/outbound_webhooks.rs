//! Outbound webhooks: the endpoint URL (public https only) and the event types one can subscribe to.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::ParseError;

/// An outbound webhook endpoint: an `https` URL whose host is a public DNS name or a public IP
/// address, so that registering a webhook cannot make Palisade call into a private network
/// (server-side request forgery).
///
/// The URL is parsed with the WHATWG URL parser (the `url` crate, as HTTP clients do), so every
/// spelling of an IP address that a client would connect to is seen as that address: decimal
/// (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`), short (`127.1`), percent-encoded, and
/// bracketed IPv6 including IPv4-mapped (`[::ffff:127.0.0.1]`). Refused hosts: loopback,
/// private (RFC 1918), carrier-grade NAT, link-local, unique-local, site-local, multicast,
/// unspecified, broadcast, reserved, documentation and benchmarking ranges, IPv6 transition
/// forms that embed such an IPv4 address (mapped, compatible, NAT64, 6to4) or hide one (Teredo);
/// single-label names and the names `localhost`, `*.localhost`, `*.local`, `*.internal`,
/// `*.localdomain`, `*.home.arpa`, `*.invalid`. Also refused: credentials in the URL, fragments,
/// whitespace, backslashes, more than 2048 characters.
///
/// A public *name* may still resolve to a private address (or change what it resolves to): the
/// delivery path must check the addresses it actually connects to. This type is the first gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

/// Longest accepted URL, in bytes.
pub const WEBHOOK_URL_MAX_BYTES: usize = 2048;

/// Names that only ever resolve inside a network (RFC 6761, RFC 8375, common practice).
const INTERNAL_SUFFIXES: [&str; 6] = [
    "localhost",
    "local",
    "internal",
    "localdomain",
    "home.arpa",
    "invalid",
];

impl WebhookUrl {
    /// Parses and normalises (lower-case scheme and host, `/` for an empty path) a URL.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.len() > WEBHOOK_URL_MAX_BYTES {
            return Err(ParseError::too_long(
                "is too long (at most 2048 characters)",
            ));
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(ParseError::new(
                "must not contain spaces, control characters or backslashes",
            ));
        }
        let scheme_ok = s
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"));
        if !scheme_ok {
            return Err(ParseError::new("must be an https:// URL"));
        }
        let url = Url::parse(s).map_err(|_| ParseError::new("must be a valid URL"))?;
        if url.scheme() != "https" {
            return Err(ParseError::new("must be an https:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new("must not contain credentials"));
        }
        if url.fragment().is_some() {
            return Err(ParseError::new("must not contain a #fragment"));
        }
        match url.host() {
            None => return Err(ParseError::new("must have a host")),
            Some(Host::Ipv4(ip)) => {
                if !is_public_ipv4(ip) {
                    return Err(ParseError::new(
                        "must not point at a private or reserved address",
                    ));
                }
            }
            Some(Host::Ipv6(ip)) => {
                if !is_public_ipv6(ip) {
                    return Err(ParseError::new(
                        "must not point at a private or reserved address",
                    ));
                }
            }
            Some(Host::Domain(name)) => check_public_name(name)?,
        }
        if url.port() == Some(0) {
            return Err(ParseError::new("must not use port 0"));
        }
        let out = url.as_str();
        if out.len() > WEBHOOK_URL_MAX_BYTES {
            return Err(ParseError::too_long(
                "is too long (at most 2048 characters)",
            ));
        }
        Ok(Self(out.to_owned()))
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_public_name(name: &str) -> Result<(), ParseError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let internal = || ParseError::new("must not point at a local or internal host name");
    if name.is_empty() || name.contains('%') || !name.is_ascii() {
        return Err(ParseError::new("must have a valid host name"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        // `intranet`, `db`, `localhost`: single-label names resolve through local search domains.
        return Err(internal());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if name.len() > 253 || !labels.iter().all(|l| label_ok(l)) {
        return Err(ParseError::new("must have a valid host name"));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        // The WHATWG parser turns all-numeric hosts into IPv4 addresses; anything numeric left
        // over is not a name DNS would resolve.
        return Err(ParseError::new("must have a valid host name"));
    }
    for suffix in INTERNAL_SUFFIXES {
        if name == suffix
            || name
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.'))
        {
            return Err(internal());
        }
    }
    Ok(())
}

/// Whether `ip` is a globally routable unicast IPv4 address (none of the special-purpose ranges
/// of RFC 6890 and its successors that a webhook should never reach).
pub fn is_public_ipv4(ip: Ipv4Addr) -> bool {
    const BLOCKED: [(u32, u32); 15] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network", incl. the unspecified address
        (0x0A00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10), // 100.64.0.0/10 carrier-grade NAT (shared address space)
        (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
        (0xA9FE_0000, 16), // 169.254.0.0/16 link-local (cloud metadata lives here)
        (0xAC10_0000, 12), // 172.16.0.0/12 private
        (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
        (0xC000_0200, 24), // 192.0.2.0/24 documentation
        (0xC058_6300, 24), // 192.88.99.0/24 6to4 relay anycast
        (0xC0A8_0000, 16), // 192.168.0.0/16 private
        (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
        (0xC633_6400, 24), // 198.51.100.0/24 documentation
        (0xCB00_7100, 24), // 203.0.113.0/24 documentation
        (0xE000_0000, 4),  // 224.0.0.0/4 multicast
        (0xF000_0000, 4),  // 240.0.0.0/4 reserved, incl. 255.255.255.255 broadcast
    ];
    let n = u32::from(ip);
    !BLOCKED
        .iter()
        .any(|&(net, len)| n & (u32::MAX << (32 - len)) == net)
}

/// Whether `ip` is a globally routable unicast IPv6 address that does not lead to a
/// non-public IPv4 address (IPv4-mapped, NAT64 and 6to4 forms are judged by their IPv4 address).
pub fn is_public_ipv6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d connects to a.b.c.d.
        return is_public_ipv4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // 64:ff9b::/96 NAT64: reaches the embedded IPv4 address.
        return is_public_ipv4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 2002::/16 6to4: reaches the embedded IPv4 address.
        return is_public_ipv4(embedded(s[1], s[2]));
    }
    // Only 2000::/3 is global unicast. Everything else is special: ::/96 (unspecified, loopback,
    // IPv4-compatible), 100::/64 discard, fc00::/7 unique-local, fe80::/10 link-local,
    // fec0::/10 site-local, ff00::/8 multicast, and unassigned space.
    if (s[0] & 0xe000) != 0x2000 {
        return false;
    }
    let blocked = match s[0] {
        // 2001::/23 IETF protocol assignments (including Teredo, 2001::/32, which hides an IPv4
        // address) and 2001:db8::/32 documentation.
        0x2001 => s[1] < 0x0200 || s[1] == 0x0db8,
        // 3fff::/20 documentation.
        0x3fff => (s[1] & 0xf000) == 0,
        _ => false,
    };
    !blocked
}

crate::str_enum! {
    /// The events an outbound webhook can subscribe to. The database CHECK on
    /// `outbound_webhooks.event_types` lists the same set.
    #[derive(PartialOrd, Ord)]
    pub enum WebhookEvent {
        /// A customer was created.
        CustomerCreated = "customer.created",
        /// A customer was changed.
        CustomerUpdated = "customer.updated",
        /// A customer was deleted.
        CustomerDeleted = "customer.deleted",
        /// An inbound message (SMS, email) arrived.
        MessageReceived = "message.received",
        /// An outbound message was delivered.
        MessageDelivered = "message.delivered",
        /// An outbound message failed.
        MessageFailed = "message.failed",
        /// A call ended.
        CallCompleted = "call.completed",
        /// A chat message was posted.
        ChatMessageCreated = "chat.message.created",
        /// A campaign finished sending.
        CampaignCompleted = "campaign.completed",
        /// An invoice was paid.
        InvoicePaid = "invoice.paid",
    }
    refusal = "must be a known event type";
}

/// A non-empty set of event types, sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvents(Vec<WebhookEvent>);

impl WebhookEvents {
    /// Parses a list of event type names (duplicates are merged; unknown names are refused).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, ParseError> {
        if names.is_empty() {
            return Err(ParseError::new("must list at least one event type"));
        }
        let mut events = names
            .iter()
            .map(|n| WebhookEvent::parse(n.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_unstable();
        events.dedup();
        Ok(Self(events))
    }

    /// The event type names, in the stable order of [`WebhookEvent::ALL`].
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_good_urls() {
        for (input, normalised) in [
            (
                "https://hooks.example.com/palisade",
                "https://hooks.example.com/palisade",
            ),
            ("HTTPS://Hooks.Example.COM", "https://hooks.example.com/"),
            (
                "https://api.example.com:8443/in?x=1",
                "https://api.example.com:8443/in?x=1",
            ),
            ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
            ("https://[2606:4700::1111]/", "https://[2606:4700::1111]/"),
        ] {
            assert_eq!(
                WebhookUrl::parse(input).map(|u| u.0),
                Ok(normalised.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_internal_and_malformed_urls() {
        for bad in [
            "",
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https:hooks.example.com",
            "https:/hooks.example.com",
            "//hooks.example.com",
            "hooks.example.com",
            "https://",
            "https://user:pass@hooks.example.com/",
            "https://user@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://hooks.example.com/a b",
            "https://hooks.example.com\\@127.0.0.1/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://printer.local/",
            "https://metadata.google.internal/",
            "https://db.internal./",
            "https://router.home.arpa/",
            "https://intranet/",
            "https://127.0.0.1/",
            "https://127.1/",
            "https://0177.0.0.1/",
            "https://0x7f.0.0.1/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://%31%32%37.0.0.1/",
            "https://0/",
            "https://0.0.0.0/",
            "https://10.0.0.1/",
            "https://012.0.0.1/",
            "https://100.64.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://172.16.0.1/",
            "https://192.168.0.1:8443/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://1.2.3.4.5/",
            "https://[::1]/",
            "https://[::]/",
            "https://[0:0:0:0:0:0:0:1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[fe80::1]/",
            "https://[fe80::1%25eth0]/",
            "https://[fc00::1]/",
            "https://[fd00:ec2::254]/",
            "https://[ff02::1]/",
            "https://[64:ff9b::7f00:1]/",
            "https://[2002:c0a8:1::]/",
            "https://[2001:db8::1]/",
            "https://[::1",
            "https://hooks.example.com:0/",
            "https://hooks.example.com:99999/",
            "https://exa_mple.com/",
            "https://-bad.example.com/",
            "https://bad..example.com/",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(WebhookUrl::parse(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
        // Internationalised names are accepted in their punycode form.
        assert_eq!(
            WebhookUrl::parse("https://bücher.example/").map(|u| u.0),
            Ok("https://xn--bcher-kva.example/".to_owned())
        );
    }

    #[test]
    fn ipv4_ranges() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "223.255.255.254",
        ] {
            assert!(
                is_public_ipv4(public.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)),
                "{public}"
            );
        }
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                !is_public_ipv4(private.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)),
                "{private}"
            );
        }
    }

    #[test]
    fn ipv6_ranges() {
        for public in [
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(
                is_public_ipv6(public.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
                "{public}"
            );
        }
        for private in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ] {
            assert!(
                !is_public_ipv6(private.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
                "{private}"
            );
        }
    }

    #[test]
    fn event_sets_are_sorted_deduplicated_and_closed() {
        let e = WebhookEvents::parse(&["invoice.paid", "customer.created", "invoice.paid"]);
        assert_eq!(
            e.map(|e| e.names()),
            Ok(vec!["customer.created", "invoice.paid"])
        );
        assert!(WebhookEvents::parse::<&str>(&[]).is_err());
        assert!(WebhookEvents::parse(&["customer.exploded"]).is_err());
        for &e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.as_str()), Ok(e));
        }
    }
}
