//! How clients reach roster, as far as a request may be believed: the scheme and authority that
//! `Location` and `meta.location` are built from when `ROSTER_BASE_URL` is unset, and the
//! client's address in the logs.
//!
//! `Forwarded` and `X-Forwarded-{For,Proto,Host}` are read only from a peer inside
//! `ROSTER_TRUSTED_PROXIES`; anyone else could name any scheme and host in them. From every
//! peer, the scheme is `http` or `https` and the authority a plain `host[:port]`: a `Host` (or
//! forwarded host) that is anything else (`javascript:…`, `user@host`, a path) is replaced by
//! the address the connection arrived on. A client can still choose which valid host its own
//! responses name; `ROSTER_BASE_URL` removes that too, and is required in production
//! (docs/operations.md).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed (`ROSTER_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies at the addresses of `nets`.
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    /// Whether `peer` is one of the proxies. An IPv4 peer seen as an IPv4-mapped IPv6 address
    /// (a dual-stack listener) is compared as IPv4.
    pub fn trusts(&self, peer: Option<SocketAddr>) -> bool {
        let Some(peer) = peer else { return false };
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Parses one entry of `ROSTER_TRUSTED_PROXIES`: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single
/// address (`10.0.0.7`, a /32 or /128).
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is neither an IP address nor a CIDR such as 10.0.0.0/8"))
}

/// The scheme and authority a request reached roster by, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address.
    pub authority: String,
}

/// The origin of `req`: forwarded values from a trusted proxy, else the connection's own
/// scheme and the `Host` header; any value that is not a valid scheme or `host[:port]` gives
/// way to the connection's own (see the module documentation).
pub fn origin(req: &HttpRequest) -> Origin {
    let own_scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let own_authority = || req.app_config().local_addr().to_string();
    let (scheme, authority) = if trusted(req) {
        let info = req.connection_info();
        (
            web_scheme(info.scheme()).unwrap_or(own_scheme),
            Some(info.host().to_owned()),
        )
    } else {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
        (own_scheme, host)
    };
    let authority = authority
        .filter(|a| is_host_and_port(a))
        .unwrap_or_else(own_authority);
    Origin { scheme, authority }
}

/// The client's address for the logs: the forwarded one from a trusted proxy, else the peer.
pub fn client_ip(req: &HttpRequest) -> String {
    if trusted(req)
        && let Some(ip) = req.connection_info().realip_remote_addr()
    {
        return ip.to_owned();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

fn trusted(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<TrustedProxies>>()
        .is_some_and(|p| p.trusts(req.peer_addr()))
}

fn web_scheme(s: &str) -> Option<&'static str> {
    if s.eq_ignore_ascii_case("https") {
        Some("https")
    } else if s.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// Whether `s` is `host[:port]`: a DNS name (letters, digits, `-`, `_`, `.`; at most 253
/// characters), an IPv4 address, or an IPv6 address in brackets, with an optional decimal port
/// of 1 to 65535. No user info, path, query or other scheme.
pub fn is_host_and_port(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(s), None),
        }
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.len() <= 253
            && !h.starts_with(['.', '-'])
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    let port_ok = port.is_none_or(|p| {
        !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && {
            p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
        }
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_hosts_and_ports_are_authorities() {
        for ok in [
            "roster.example.com",
            "roster.example.com:8443",
            "127.0.0.1:8080",
            "localhost",
            "[::1]",
            "[::1]:8080",
            "a_b.internal",
        ] {
            assert!(is_host_and_port(ok), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "javascript://x",
            "evil.example/path",
            "user@evil.example",
            "evil.example:0",
            "evil.example:65536",
            "evil.example:",
            "evil.example:80:80",
            "[::1",
            "[not-v6]",
            "[::1]x",
            "a b",
            "-x",
            "x?y",
            "x#y",
            "%65vil",
        ] {
            assert!(!is_host_and_port(bad), "{bad}");
        }
    }

    #[test]
    fn proxies_are_matched_by_network() {
        let proxies = TrustedProxies::new(vec![
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("192.168.1.7").unwrap(),
            parse_proxy("fd00::/8").unwrap(),
        ]);
        let at = |s: &str| Some(SocketAddr::new(s.parse().unwrap(), 1234));
        assert!(proxies.trusts(at("10.1.2.3")));
        assert!(proxies.trusts(at("192.168.1.7")));
        assert!(proxies.trusts(at("::ffff:10.0.0.1")));
        assert!(proxies.trusts(at("fd12::1")));
        assert!(!proxies.trusts(at("192.168.1.8")));
        assert!(!proxies.trusts(at("127.0.0.1")));
        assert!(!proxies.trusts(None));
        assert!(!TrustedProxies::default().trusts(at("10.0.0.1")));
        assert!(parse_proxy("10.0.0.0/33").is_err());
        assert!(parse_proxy("example.com").is_err());
    }
}
