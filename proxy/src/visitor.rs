//! Who a request comes from, for per-visitor limits: the peer's address, or — only when
//! the peer is one of the operator's own proxies (`--trust-proxy`) — the address those
//! proxies report in `X-Forwarded-For`. IPv6 visitors are counted per /64, the block one
//! household or phone is given, so that rotating through its addresses buys nothing.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// A visitor as the limits count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Visitor(IpAddr);

impl Visitor {
    /// The visitor an address belongs to: IPv4 (also IPv4-mapped IPv6) as it is, IPv6
    /// as its /64 network.
    pub fn of(ip: IpAddr) -> Visitor {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Visitor(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Visitor(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
            v4 => Visitor(v4),
        }
    }
}

impl fmt::Display for Visitor {
    /// `203.0.113.7`, or `2001:db8:1:2::/64`: the text used in counter keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The operator's own reverse proxies / load balancers, whose `X-Forwarded-For` is
/// believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies at these networks (a single address is a /32 or /128).
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The visitor behind a request from `peer` carrying these `X-Forwarded-For`
    /// values (in order). From an untrusted peer the header is ignored: anyone can
    /// write it. From a trusted one, the header is read right to left, past every
    /// trusted hop, to the first address the operator's proxies did not add; an
    /// unreadable entry stops the walk at the last address known good.
    pub fn visitor(&self, peer: IpAddr, forwarded_for: &[&str]) -> Visitor {
        let mut client = peer;
        if self.trusts(peer) {
            let hops = forwarded_for
                .iter()
                .flat_map(|value| value.split(','))
                .map(str::trim)
                .collect::<Vec<_>>();
            for hop in hops.into_iter().rev() {
                match parse_hop(hop) {
                    Some(ip) => {
                        client = ip;
                        if !self.trusts(ip) {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
        Visitor::of(client)
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:567`,
/// `[2001:db8::1]:567`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().expect("a network")).collect())
    }

    #[test]
    fn ipv6_visitors_are_counted_per_64() {
        let a = Visitor::of(ip("2001:db8:1:2:aaaa::1"));
        let b = Visitor::of(ip("2001:db8:1:2:ffff:1:2:3"));
        let c = Visitor::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            Visitor::of(ip("::ffff:203.0.113.7")).to_string(),
            "203.0.113.7"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let peer = ip("198.51.100.9");
        assert_eq!(none.visitor(peer, &["203.0.113.7"]), Visitor::of(peer));

        let lb = trusted(&["10.0.0.0/8"]);
        let from_lb = ip("10.1.2.3");
        assert_eq!(
            lb.visitor(from_lb, &["203.0.113.7"]),
            Visitor::of(ip("203.0.113.7"))
        );
        // A visitor who writes their own header gets the address the LB saw, not theirs.
        assert_eq!(
            lb.visitor(from_lb, &["1.1.1.1, 203.0.113.7"]),
            Visitor::of(ip("203.0.113.7"))
        );
        // Two trusted hops (CDN → LB): skipped, to the first untrusted one.
        assert_eq!(
            lb.visitor(from_lb, &["203.0.113.7", "10.9.9.9"]),
            Visitor::of(ip("203.0.113.7"))
        );
        // Ports and brackets.
        assert_eq!(
            lb.visitor(from_lb, &["[2001:db8::1]:4711"]),
            Visitor::of(ip("2001:db8::1"))
        );
        assert_eq!(
            lb.visitor(from_lb, &["203.0.113.7:80"]),
            Visitor::of(ip("203.0.113.7"))
        );
        // Garbage stops the walk at the last good address: the proxy itself here.
        assert_eq!(lb.visitor(from_lb, &["not-an-ip"]), Visitor::of(from_lb));
        // No header: the peer.
        assert_eq!(lb.visitor(from_lb, &[]), Visitor::of(from_lb));
    }
}
