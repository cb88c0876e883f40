//! Where an anonymous request came from, as its rate limits count it.

use std::net::IpAddr;

/// An IPv4 address, or an IPv6 /64: one subscriber's prefix, within which addresses
/// rotate freely, so counting single IPv6 addresses would count nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestSource(String);

impl RequestSource {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let s = v6.segments();
                    Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
        }
    }

    /// A request whose address is not known (never in API Gateway): all such share one
    /// budget.
    pub fn unknown() -> Self {
        Self("unknown".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_prefix() {
        let a = RequestSource::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = RequestSource::of("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = RequestSource::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str(), "2001:db8:1:2::/64");
        assert_eq!(
            RequestSource::of("::ffff:203.0.113.5".parse().unwrap()).as_str(),
            "203.0.113.5"
        );
        assert_eq!(
            RequestSource::of("203.0.113.5".parse().unwrap()).as_str(),
            "203.0.113.5"
        );
    }
}
