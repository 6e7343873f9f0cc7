//! Where a request comes from: the peer address, or the client named by a trusted reverse
//! proxy in `X-Forwarded-For`, and whether it came over TLS (`X-Forwarded-Proto` from a
//! trusted proxy). Headers from anyone else are ignored, so a client cannot pick the address
//! it is throttled under.

use crate::WebConfig;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, header};
use klar_store::users::SessionOrigin;
use std::net::{IpAddr, SocketAddr};

/// The longest user agent kept with a session.
const MAX_USER_AGENT_CHARS: usize = 80;

/// The client's address, as far as it can be known.
pub fn client_ip(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    config: &WebConfig,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !config.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    // The proxy appends the address it saw; the last entry not itself a trusted proxy is
    // the client (earlier entries were sent by the client and prove nothing).
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !config.trusted_proxies.contains(a))
        .or(Some(peer))
}

/// Whether a trusted proxy says the request came over https.
pub fn forwarded_https<B>(req: &Request<B>, config: &WebConfig) -> bool {
    let from_proxy = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| config.trusted_proxies.contains(&c.0.ip()));
    from_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The key an address is throttled under: an IPv4 address as it is, an IPv6 address by its
/// /64 (one subscriber's network).
pub fn throttle_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The network shown in a user's session list: IPv4 /24, IPv6 /48.
pub fn display_net(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => display_net(IpAddr::V4(v4)),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

/// What a new session records about where it came from.
pub fn session_origin(ip: Option<IpAddr>, headers: &HeaderMap) -> SessionOrigin {
    SessionOrigin {
        client_net: ip.map(display_net),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect()
            }),
    }
}

/// The client's address (see [`client_ip`]) as an extractor; `None` when the server runs
/// without connection info.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(
            &parts.headers,
            &parts.extensions,
            &state.config,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, xff: Option<&str>) -> (HeaderMap, axum::http::Extensions) {
        let mut h = HeaderMap::new();
        if let Some(x) = xff {
            h.insert("x-forwarded-for", x.parse().unwrap());
        }
        let mut e = axum::http::Extensions::new();
        e.insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        (h, e)
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let mut c = WebConfig::new("https://crm.example");
        let (h, e) = parts("203.0.113.9:4000", Some("198.51.100.7"));
        assert_eq!(
            client_ip(&h, &e, &c),
            Some("203.0.113.9".parse().unwrap()),
            "an untrusted peer cannot claim another address"
        );
        c.trusted_proxies = vec!["10.0.0.2".parse().unwrap()];
        let (h, e) = parts("10.0.0.2:4000", Some("6.6.6.6, 198.51.100.7"));
        assert_eq!(client_ip(&h, &e, &c), Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn addresses_are_truncated_for_display_and_ipv6_is_throttled_by_its_64() {
        assert_eq!(display_net("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(
            display_net("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1::/48"
        );
        assert_eq!(
            throttle_address("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            throttle_address("192.0.2.77".parse().unwrap()),
            "192.0.2.77"
        );
    }
}
