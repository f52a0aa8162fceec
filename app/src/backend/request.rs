//! What the backend takes from an HTTP request, the same way for server
//! functions and the REST API: the client's address (through trusted
//! proxies only), a bounded user agent and a well-formed request id.
use http::HeaderMap;
use sqlx::types::ipnetwork::IpNetwork;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::RequestMeta;
use crate::api_request_id_header;

/// User agents are stored (sessions, audit) and shown on the account page;
/// longer ones are cut to this many characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// A client-given request id is kept only when it is at most this long and
/// made of `[A-Za-z0-9._-]`; otherwise the server makes its own.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The `trusted-proxies` setting: addresses whose `X-Forwarded-For` we
/// believe. Empty (the default) trusts no one, and the client is the TCP
/// peer.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNetwork]>);

impl TrustedProxies {
    /// Comma-separated IP addresses and CIDR ranges (`10.0.0.0/8`, `::1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let networks = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNetwork>()
                    .map_err(|_| format!("`{entry}` is not an IP address or CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(networks.into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(ip))
    }

    /// The client's address. The TCP peer, unless it is a trusted proxy:
    /// then `X-Forwarded-For`, read from the right (each proxy appends the
    /// address it saw), skipping trusted proxies and entries that are not
    /// addresses; the first other entry is the client, or the leftmost if
    /// every entry is a trusted proxy. A client can write anything into the
    /// header, but only to the left of what our proxies append.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let chain: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(forwarded_ip)
            .collect();
        chain
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// At most `MAX_USER_AGENT_CHARS` characters, cut at a character boundary.
pub fn bound_user_agent(user_agent: &str) -> String {
    match user_agent.char_indices().nth(MAX_USER_AGENT_CHARS) {
        Some((end, _)) => user_agent[..end].to_owned(),
        None => user_agent.to_owned(),
    }
}

/// Whether a client-given request id may be used as ours: short and plain,
/// so it cannot forge log lines or fill the audit log.
pub fn is_acceptable_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl RequestMeta {
    /// The facts an audit entry records, from a request's headers and its
    /// TCP peer.
    pub fn from_http(headers: &HeaderMap, peer: Option<IpAddr>, proxies: &TrustedProxies) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self {
            ip: peer.map(|peer| proxies.client_ip(peer, headers)),
            user_agent: header("user-agent").map(bound_user_agent),
            request_id: header(api_request_id_header())
                .filter(|id| is_acceptable_request_id(id))
                .map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn without_trusted_proxies_the_client_is_the_tcp_peer_whatever_it_forwards() {
        let proxies = TrustedProxies::default();
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(
            proxies.client_ip(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(
            proxies.client_ip(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_entry_from_the_right() {
        let proxies = TrustedProxies::parse("10.0.0.1, 10.1.0.0/16").unwrap();
        // The client claims 1.1.1.1; our outer proxy saw 203.0.113.9.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn when_every_entry_is_a_trusted_proxy_the_leftmost_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let headers = forwarded(&["10.0.0.7, 10.0.0.8"]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.7"));
        // No header at all: the proxy itself.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn malformed_forwarded_entries_are_skipped_and_ports_and_mapped_addresses_understood() {
        let proxies = TrustedProxies::parse("::1, 127.0.0.1").unwrap();
        let headers = forwarded(&["203.0.113.9:4711, not-an-ip, , 127.0.0.1"]);
        assert_eq!(proxies.client_ip(ip("::1"), &headers), ip("203.0.113.9"));
        let headers = forwarded(&["[2001:db8::7]:443, unknown"]);
        assert_eq!(
            proxies.client_ip(ip("::ffff:127.0.0.1"), &headers),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn a_malformed_trusted_proxy_setting_is_an_error() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse(" 10.0.0.0/8 , fd00::/8 ").is_ok());
        let error = TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(error.contains("proxy.local"), "{error}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn user_agents_are_cut_at_a_character_boundary() {
        assert_eq!(bound_user_agent("curl/8.0"), "curl/8.0");
        let long = "é".repeat(MAX_USER_AGENT_CHARS + 10);
        let cut = bound_user_agent(&long);
        assert_eq!(cut.chars().count(), MAX_USER_AGENT_CHARS);
        assert!(long.starts_with(&cut));
    }

    #[test]
    fn only_short_plain_request_ids_are_accepted() {
        assert!(is_acceptable_request_id("3f2c.a_b-9"));
        assert!(is_acceptable_request_id(&"a".repeat(MAX_REQUEST_ID_LEN)));
        for bad in ["", "a b", "id\nforged log line", "ü", "<script>", "a/b"] {
            assert!(!is_acceptable_request_id(bad), "{bad:?}");
        }
        assert!(!is_acceptable_request_id(
            &"a".repeat(MAX_REQUEST_ID_LEN + 1)
        ));
    }

    #[test]
    fn request_meta_takes_the_bounded_and_checked_values() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let mut headers = forwarded(&["203.0.113.9"]);
        headers.insert("user-agent", "x".repeat(2000).parse().unwrap());
        headers.insert("x-request-id", "bad id".parse().unwrap());
        let meta = RequestMeta::from_http(&headers, Some(ip("127.0.0.1")), &proxies);
        assert_eq!(meta.ip, Some(ip("203.0.113.9")));
        assert_eq!(meta.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
        assert_eq!(meta.request_id, None);
    }
}
