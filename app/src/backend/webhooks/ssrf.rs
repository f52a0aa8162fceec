//! SSRF guard for outgoing webhooks.
//!
//! A webhook URL is chosen by a tenant, but the request is made from inside
//! our network, so an unchecked URL would let a tenant reach loopback
//! services, cloud metadata endpoints or private hosts. Every address a
//! webhook may connect to is therefore checked against [`is_global`] (or the
//! instance's [`AllowedNetworks`]): when the URL is saved and again when it
//! is sent. At send time the check happens inside the DNS resolver that
//! reqwest uses, so the connection goes to exactly the addresses that were
//! checked and a DNS answer that changes between check and connect (DNS
//! rebinding) cannot slip through.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// Longest webhook URL we accept; longer ones are almost certainly abuse.
pub const MAX_URL_LENGTH: usize = 2048;

/// Networks the instance operator trusts despite not being public
/// (e.g. `127.0.0.1/32` in development, an internal relay in production).
#[derive(Clone, Debug, Default)]
pub struct AllowedNetworks(Vec<IpNet>);

impl AllowedNetworks {
    /// Parses a comma-separated list of IP addresses and CIDR networks,
    /// like `"127.0.0.1/32, ::1"`. An empty list allows nothing extra.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_network)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // `::ffff:127.0.0.1` reaches the same host as `127.0.0.1`, so an
        // IPv4 entry must cover its IPv4-mapped form too.
        let canonical = ip.to_canonical();
        self.0
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }
}

fn parse_network(item: &str) -> Result<IpNet, String> {
    let parsed = if item.contains('/') {
        IpNet::from_str(item).map(|net| net.trunc()).ok()
    } else {
        IpAddr::from_str(item).map(IpNet::from).ok()
    };
    parsed.ok_or_else(|| {
        format!(
            "invalid entry \"{item}\" in the webhook allow-list: \
             expected an IP address or a CIDR network such as 10.0.0.0/8"
        )
    })
}

/// IPv4 ranges that are not globally reachable, with the phrase shown to
/// users. The first match wins, so narrower ranges come before wider ones.
const IPV4_RANGES: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 32), "the unspecified address"),
    (v4(0, 0, 0, 0, 8), "a \"this network\" address"),
    (v4(10, 0, 0, 0, 8), "a private address"),
    (v4(100, 64, 0, 0, 10), "a carrier-grade NAT address"),
    (v4(127, 0, 0, 0, 8), "a loopback address"),
    (v4(169, 254, 0, 0, 16), "a link-local address"),
    (v4(172, 16, 0, 0, 12), "a private address"),
    (v4(192, 0, 0, 0, 24), "an IETF protocol assignment address"),
    (v4(192, 0, 2, 0, 24), "a documentation address"),
    (v4(192, 88, 99, 0, 24), "a 6to4 relay anycast address"),
    (v4(192, 168, 0, 0, 16), "a private address"),
    (v4(198, 18, 0, 0, 15), "a benchmarking address"),
    (v4(198, 51, 100, 0, 24), "a documentation address"),
    (v4(203, 0, 113, 0, 24), "a documentation address"),
    (v4(224, 0, 0, 0, 4), "a multicast address"),
    (v4(255, 255, 255, 255, 32), "the broadcast address"),
    (v4(240, 0, 0, 0, 4), "a reserved address"),
];

/// IPv6 ranges that are not globally reachable. Ranges that embed an IPv4
/// address (IPv4-mapped, NAT64, 6to4) are judged by that address instead,
/// see [`embedded_ipv4`]; anything outside 2000::/3 is reserved anyway.
const IPV6_RANGES: &[(Ipv6Net, &str)] = &[
    (v6(0, 0, 0, 128), "the unspecified address"),
    (
        Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128),
        "a loopback address",
    ),
    (v6(0, 0, 0, 96), "a deprecated IPv4-compatible address"),
    (v6(0x64, 0xff9b, 1, 48), "a local-use NAT64 address"),
    (v6(0x100, 0, 0, 64), "a discard-only address"),
    (v6(0x2001, 0, 0, 32), "a Teredo address"),
    (v6(0x2001, 0xdb8, 0, 32), "a documentation address"),
    (v6(0x2001, 0, 0, 23), "an IETF protocol assignment address"),
    (v6(0x3fff, 0, 0, 20), "a documentation address"),
    (v6(0xfc00, 0, 0, 7), "a unique-local (private) address"),
    (v6(0xfe80, 0, 0, 10), "a link-local address"),
    (v6(0xfec0, 0, 0, 10), "a site-local address"),
    (v6(0xff00, 0, 0, 8), "a multicast address"),
];

const IPV6_GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 3);
const IPV4_MAPPED: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
const NAT64_WELL_KNOWN: Ipv6Net = v6(0x64, 0xff9b, 0, 96);
const SIX_TO_FOUR: Ipv6Net = v6(0x2002, 0, 0, 16);

// Evaluated at compile time, so an invalid prefix fails the build rather
// than panicking at run time.
const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

/// A network whose address has at most its first three segments set.
const fn v6(a: u16, b: u16, c: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0), prefix)
}

/// Whether `ip` is a globally routable address a webhook may reach.
pub fn is_global(ip: IpAddr) -> bool {
    non_global_kind(ip).is_none()
}

/// Why `ip` is not global, as a phrase for users ("a private address").
fn non_global_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => ipv4_kind(ip),
        IpAddr::V6(ip) => ipv6_kind(ip),
    }
}

fn ipv4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    IPV4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| *kind)
}

fn ipv6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(embedded) = embedded_ipv4(ip) {
        return ipv4_kind(embedded);
    }
    let listed = IPV6_RANGES.iter().find(|(net, _)| net.contains(&ip));
    match listed {
        Some((_, kind)) => Some(kind),
        None if !IPV6_GLOBAL_UNICAST.contains(&ip) => Some("a reserved address"),
        None => None,
    }
}

/// The IPv4 address that traffic to `ip` ends up at, for the IPv6 ranges
/// that translate to IPv4 (IPv4-mapped, NAT64 well-known prefix, 6to4).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    if IPV4_MAPPED.contains(&ip) || NAT64_WELL_KNOWN.contains(&ip) {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if SIX_TO_FOUR.contains(&ip) {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

/// Why a webhook URL is refused. `Display` is shown to end users as the
/// form error of the URL field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("The URL is longer than {MAX_URL_LENGTH} characters.")]
    TooLong,
    #[error(
        "This is not a valid URL ({0}); enter a full address such as https://example.com/webhook."
    )]
    Malformed(String),
    #[error("Webhook URLs must start with {expected} (this one starts with {scheme}://).")]
    UnsupportedScheme {
        scheme: String,
        expected: &'static str,
    },
    #[error("The URL must not contain a user name or password.")]
    Credentials,
    #[error("The URL has no host name.")]
    MissingHost,
    #[error("The URL's host {host} could not be found.")]
    Unresolvable { host: String },
    #[error("The URL's host {ip} is {kind}; webhooks may only reach public addresses.")]
    ForbiddenAddress { ip: IpAddr, kind: &'static str },
    #[error(
        "The URL's host {host} resolves to {ip}, {kind}; webhooks may only reach public addresses."
    )]
    ForbiddenResolvedAddress {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
}

impl Refusal {
    /// False when retrying later could succeed (DNS may be down for a
    /// moment); a delivery worker should retry those and give up on others.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Unresolvable { .. })
    }
}

pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// How host names are resolved; the system resolver in production, a fake in tests.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str, port: u16) -> LookupFuture;
}

struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str, port: u16) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Decides which webhook URLs and addresses may be used. Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    allowed: Arc<AllowedNetworks>,
    allow_http: bool,
    lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("allowed", &self.allowed)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard using the system resolver. `allow_http` permits plain
    /// `http://` URLs, meant for development and tests only.
    pub fn new(allowed: AllowedNetworks, allow_http: bool) -> Self {
        Self {
            allowed: Arc::new(allowed),
            allow_http,
            lookup: Arc::new(SystemLookup),
        }
    }

    pub fn with_lookup(self, lookup: impl Lookup) -> Self {
        Self {
            lookup: Arc::new(lookup),
            ..self
        }
    }

    pub fn allows_http(&self) -> bool {
        self.allow_http
    }

    /// Syntax only (scheme, host, no credentials, length): no DNS.
    pub fn parse(&self, url: &str) -> Result<Url, Refusal> {
        if url.chars().count() > MAX_URL_LENGTH {
            return Err(Refusal::TooLong);
        }
        let parsed = Url::parse(url).map_err(|error| match error {
            url::ParseError::EmptyHost => Refusal::MissingHost,
            other => Refusal::Malformed(other.to_string()),
        })?;
        self.check_scheme(&parsed)?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Refusal::Credentials);
        }
        if parsed.host().is_none() {
            return Err(Refusal::MissingHost);
        }
        // Normalisation (e.g. punycode) can make the URL longer.
        if parsed.as_str().len() > MAX_URL_LENGTH {
            return Err(Refusal::TooLong);
        }
        Ok(parsed)
    }

    fn check_scheme(&self, url: &Url) -> Result<(), Refusal> {
        let allowed = match url.scheme() {
            "https" => true,
            "http" => self.allow_http,
            _ => false,
        };
        if allowed {
            return Ok(());
        }
        let expected = if self.allow_http {
            "http:// or https://"
        } else {
            "https://"
        };
        Err(Refusal::UnsupportedScheme {
            scheme: url.scheme().to_owned(),
            expected,
        })
    }

    /// Syntax, then resolve the host and refuse if ANY address is not
    /// allowed. Use it when a URL is saved and again before each send.
    pub async fn check(&self, url: &str) -> Result<Url, Refusal> {
        let parsed = self.parse(url)?;
        self.resolve(&parsed).await?;
        Ok(parsed)
    }

    /// The addresses to connect to for `url` (IP literal or resolved name),
    /// all checked. Pass a URL that came from [`Guard::parse`].
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, Refusal> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refusal::UnsupportedScheme {
                scheme: url.scheme().to_owned(),
                expected: "https://",
            })?;
        let ip = match url.host() {
            None => return Err(Refusal::MissingHost),
            Some(Host::Domain(name)) => return self.resolve_name(name, port).await,
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        self.check_ip(ip)
            .map_err(|kind| Refusal::ForbiddenAddress { ip, kind })?;
        Ok(vec![SocketAddr::new(ip, port)])
    }

    /// Resolves `host` once and returns its addresses only if every one of
    /// them is allowed: a name that also points inside is refused outright
    /// rather than filtered, since it is most likely an attempt to get in.
    async fn resolve_name(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let unresolvable = || Refusal::Unresolvable {
            host: host.to_owned(),
        };
        let mut addrs = self.lookup.lookup(host, port).await.map_err(|error| {
            tracing::info!(host, %error, "webhook host could not be resolved");
            unresolvable()
        })?;
        if addrs.is_empty() {
            return Err(unresolvable());
        }
        for addr in &mut addrs {
            let ip = addr.ip();
            self.check_ip(ip).map_err(|kind| {
                tracing::warn!(host, %ip, kind, "webhook host resolves to a non-public address");
                Refusal::ForbiddenResolvedAddress {
                    host: host.to_owned(),
                    ip,
                    kind,
                }
            })?;
            addr.set_port(port);
        }
        Ok(addrs)
    }

    /// Ok if `ip` may be reached, else why not.
    fn check_ip(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.allowed.contains(ip) {
            return Ok(());
        }
        non_global_kind(ip).map_or(Ok(()), Err)
    }

    /// A reqwest client builder that connects only to checked addresses: its
    /// DNS resolver is this guard, redirects are not followed (a redirect
    /// could point anywhere), proxies from the environment are ignored (the
    /// proxy would do the resolving) and `https://` is enforced unless
    /// `http://` is allowed.
    ///
    /// reqwest does NOT call the resolver for hosts that are IP literals
    /// (`https://10.0.0.1/`), so callers must also run [`Guard::resolve`] (or
    /// [`Guard::check`]) on the URL before every send.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!self.allow_http)
    }
}

/// The guard as reqwest's resolver, so the addresses reqwest connects to
/// are the very ones that were checked.
struct CheckedResolver(Guard);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0 is replaced by the URL's port when connecting.
            let addrs = guard.resolve_name(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test IP address")
    }

    fn open_guard() -> Guard {
        Guard::new(AllowedNetworks::default(), false)
    }

    fn allowed(list: &str) -> AllowedNetworks {
        AllowedNetworks::parse(list).expect("test allow-list")
    }

    /// A resolver answering from a fixed table; unknown names fail.
    struct FakeDns(Vec<(&'static str, Vec<&'static str>)>);

    impl Lookup for FakeDns {
        fn lookup(&self, host: &str, port: u16) -> LookupFuture {
            let answer = self
                .0
                .iter()
                .find(|(name, _)| *name == host)
                .map(|(_, ips)| {
                    ips.iter()
                        .map(|text| SocketAddr::new(ip(text), port))
                        .collect()
                })
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"));
            Box::pin(async move { answer })
        }
    }

    #[test]
    fn every_non_global_range_is_refused_at_both_edges() {
        let refused = [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.0",
            "192.0.0.255",
            "192.0.2.0",
            "192.0.2.255",
            "192.88.99.0",
            "192.88.99.255",
            "192.168.0.0",
            "192.168.255.255",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.0",
            "198.51.100.255",
            "203.0.113.0",
            "203.0.113.255",
            "224.0.0.0",
            "239.255.255.255",
            "240.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
            "::",
            "::1",
            "::2",
            "::a00:1",
            "::ffff:0.0.0.0",
            "fc00::",
            "fdff:ffff::1",
            "fe80::",
            "febf:ffff::1",
            "fec0::",
            "feff:ffff::1",
            "ff00::",
            "ff02::1",
            "2001:db8::",
            "2001:db8:ffff::1",
            "2001::",
            "2001:0:ffff::1",
            "2001:10::1",
            "2001:20::1",
            "2001:2::1",
            "2001:1ff::1",
            "100::",
            "100::ffff",
            "3fff::1",
            "64:ff9b:1::1",
            "5f00::1",
            "4000::1",
            "1::1",
        ];
        for text in refused {
            assert!(!is_global(ip(text)), "{text} should be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2001:200::1",
            "2003::1",
            "3fff:1000::1",
        ];
        for text in allowed {
            assert!(is_global(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        for text in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
        ] {
            assert!(!is_global(ip(text)), "{text} should be refused");
        }
        for text in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(is_global(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn the_allow_list_lets_only_its_own_addresses_through() {
        let list = allowed("127.0.0.1/32, ::1");
        assert!(list.contains(ip("127.0.0.1")));
        assert!(list.contains(ip("::ffff:127.0.0.1")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("127.0.0.2")));
        assert!(allowed("10.1.2.3/8").contains(ip("10.200.0.1")));
        assert!(!AllowedNetworks::default().contains(ip("127.0.0.1")));
        assert!(allowed(" , ").0.is_empty());
    }

    #[test]
    fn a_malformed_allow_list_is_an_error_naming_the_entry() {
        for list in ["banana", "10.0.0.0/33", "127.0.0.1, ::1/200"] {
            let error = AllowedNetworks::parse(list).expect_err(list);
            assert!(error.contains("invalid entry"), "{error}");
        }
    }

    #[tokio::test]
    async fn allow_listed_loopback_passes_but_its_neighbour_does_not() {
        let guard = Guard::new(allowed("127.0.0.1/32"), true);
        assert!(guard.check("http://127.0.0.1:8080/hook").await.is_ok());
        let refusal = guard
            .check("http://127.0.0.2/")
            .await
            .expect_err("127.0.0.2");
        assert_eq!(
            refusal.to_string(),
            "The URL's host 127.0.0.2 is a loopback address; webhooks may only reach public addresses."
        );
    }

    #[test]
    fn https_is_required_unless_http_is_allowed() {
        let refusal = open_guard().parse("http://example.com/").expect_err("http");
        assert_eq!(
            refusal,
            Refusal::UnsupportedScheme {
                scheme: "http".into(),
                expected: "https://"
            }
        );
        assert!(open_guard().parse("https://example.com/").is_ok());
        let dev = Guard::new(AllowedNetworks::default(), true);
        assert!(dev.allows_http());
        assert!(dev.parse("http://example.com/").is_ok());
        assert!(matches!(
            dev.parse("ftp://example.com/"),
            Err(Refusal::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            dev.parse("file:///etc/passwd"),
            Err(Refusal::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn credentials_missing_hosts_and_garbage_are_refused() {
        let guard = open_guard();
        assert_eq!(
            guard.parse("https://user:pw@example.com/"),
            Err(Refusal::Credentials)
        );
        assert_eq!(
            guard.parse("https://user@example.com/"),
            Err(Refusal::Credentials)
        );
        assert_eq!(
            guard.parse("https://:pw@example.com/"),
            Err(Refusal::Credentials)
        );
        assert_eq!(guard.parse("https://"), Err(Refusal::MissingHost));
        assert!(matches!(
            guard.parse("example.com/hook"),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            guard.parse("https://exa mple.com/"),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn urls_longer_than_the_limit_are_refused() {
        let base = "https://example.com/";
        let at_limit = format!("{base}{}", "a".repeat(MAX_URL_LENGTH - base.len()));
        assert!(open_guard().parse(&at_limit).is_ok());
        assert_eq!(
            open_guard().parse(&format!("{at_limit}a")),
            Err(Refusal::TooLong)
        );
    }

    #[tokio::test]
    async fn ip_literals_in_any_spelling_are_checked_without_dns() {
        let guard = open_guard().with_lookup(FakeDns(vec![]));
        for url in [
            "https://10.0.0.5/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::ffff:127.0.0.1]/",
            "https://[fe80::1]/",
            "https://169.254.169.254/latest/meta-data/",
        ] {
            let refusal = guard.check(url).await.expect_err(url);
            assert!(
                matches!(refusal, Refusal::ForbiddenAddress { .. }),
                "{url}: {refusal:?}"
            );
        }
        let addrs = guard
            .resolve(&guard.parse("https://8.8.8.8/").expect("url"))
            .await;
        assert_eq!(addrs, Ok(vec![SocketAddr::new(ip("8.8.8.8"), 443)]));
    }

    #[tokio::test]
    async fn a_name_resolving_to_any_private_address_is_refused() {
        let guard = open_guard().with_lookup(FakeDns(vec![(
            "mixed.example",
            vec!["93.184.216.34", "10.0.0.5"],
        )]));
        let refusal = guard
            .check("https://mixed.example/hook")
            .await
            .expect_err("mixed");
        assert_eq!(
            refusal.to_string(),
            "The URL's host mixed.example resolves to 10.0.0.5, a private address; \
             webhooks may only reach public addresses."
        );
        assert!(refusal.is_permanent());
    }

    #[tokio::test]
    async fn a_name_resolving_only_to_public_addresses_is_allowed() {
        let dns = FakeDns(vec![(
            "public.example",
            vec!["93.184.216.34", "2606:2800:220:1::1"],
        )]);
        let guard = open_guard().with_lookup(dns);
        let url = guard
            .check("https://public.example:8443/hook")
            .await
            .expect("public");
        let addrs = guard.resolve(&url).await.expect("addresses");
        assert_eq!(addrs.len(), 2);
        assert!(addrs.iter().all(|addr| addr.port() == 8443));
    }

    #[tokio::test]
    async fn an_unknown_or_empty_name_is_a_retryable_refusal() {
        let guard = open_guard().with_lookup(FakeDns(vec![("empty.example", vec![])]));
        for host in ["nowhere.example", "empty.example"] {
            let refusal = guard
                .check(&format!("https://{host}/"))
                .await
                .expect_err(host);
            assert_eq!(refusal, Refusal::Unresolvable { host: host.into() });
            assert!(!refusal.is_permanent());
        }
    }

    #[tokio::test]
    async fn localhost_is_refused_by_the_system_resolver() {
        let refusal = open_guard()
            .check("https://localhost/")
            .await
            .expect_err("localhost");
        assert!(
            matches!(refusal, Refusal::ForbiddenResolvedAddress { .. }),
            "{refusal:?}"
        );
    }

    mod end_to_end {
        use super::*;
        use axum::http::{header, StatusCode};
        use axum::routing::get;

        /// Serves `/` (200 "ok") and `/redirect` (302 to a private address).
        async fn spawn_server() -> u16 {
            let app = axum::Router::new()
                .route("/", get(|| async { "ok" }))
                .route(
                    "/redirect",
                    get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://10.0.0.1/")]) }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = listener.local_addr().expect("local address").port();
            tokio::spawn(async move { axum::serve(listener, app).await });
            port
        }

        fn client(guard: &Guard) -> reqwest::Client {
            guard.client_builder().build().expect("client")
        }

        fn has_refusal_in_chain(error: &reqwest::Error) -> bool {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
            while let Some(current) = source {
                if current.downcast_ref::<Refusal>().is_some() {
                    return true;
                }
                source = current.source();
            }
            false
        }

        #[tokio::test]
        async fn the_client_refuses_to_connect_to_localhost_without_allow_list() {
            let port = spawn_server().await;
            let guard = Guard::new(AllowedNetworks::default(), true);
            let error = client(&guard)
                .get(format!("http://localhost:{port}/"))
                .send()
                .await
                .expect_err("localhost must be refused");
            assert!(error.is_connect(), "{error:?}");
            assert!(has_refusal_in_chain(&error), "{error:?}");
        }

        #[tokio::test]
        async fn the_client_reaches_allow_listed_localhost() {
            let port = spawn_server().await;
            let guard = Guard::new(allowed("127.0.0.1/32, ::1/128"), true);
            let response = client(&guard)
                .get(format!("http://localhost:{port}/"))
                .send()
                .await
                .expect("allowed");
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            assert_eq!(response.text().await.expect("body"), "ok");
        }

        #[tokio::test]
        async fn redirects_are_returned_not_followed() {
            let port = spawn_server().await;
            let guard = Guard::new(allowed("127.0.0.1/32, ::1/128"), true);
            let response = client(&guard)
                .get(format!("http://localhost:{port}/redirect"))
                .send()
                .await
                .expect("302 response");
            assert_eq!(response.status(), reqwest::StatusCode::FOUND);
            assert_eq!(
                response.headers()[reqwest::header::LOCATION],
                "http://10.0.0.1/"
            );
        }

        #[tokio::test]
        async fn ip_literals_bypass_the_resolver_so_callers_must_resolve_first() {
            let port = spawn_server().await;
            let guard = Guard::new(AllowedNetworks::default(), true);
            let url = guard
                .parse(&format!("http://127.0.0.1:{port}/"))
                .expect("syntax is fine");
            assert!(matches!(
                guard.resolve(&url).await,
                Err(Refusal::ForbiddenAddress { .. })
            ));
        }

        #[tokio::test]
        async fn the_client_refuses_plain_http_unless_allowed() {
            let port = spawn_server().await;
            let guard = Guard::new(allowed("127.0.0.1/32, ::1/128"), false);
            let result = client(&guard)
                .get(format!("http://localhost:{port}/"))
                .send()
                .await;
            let error = result.expect_err("plain http must be refused");
            assert!(error.is_builder(), "{error:?}");
        }
    }
}
