//! Where a webhook may point: the URL checks at `createWebhook` and
//! `updateWebhook`, and the same address check again at connect time (the
//! HTTP client's resolver), so a name that later resolves to a private
//! address (DNS rebinding) is refused too.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

use crate::error::{AppError, AppResult};

/// Longest URL accepted.
const MAX_URL_CHARS: usize = 2000;

/// What the settings allow beyond public https endpoints.
#[derive(Clone, Copy, Debug, Default)]
pub struct Allow {
    /// `PORTFOLIO_WEBHOOK_ALLOW_HTTP`: plain http too.
    pub http: bool,
    /// `PORTFOLIO_WEBHOOK_ALLOW_PRIVATE`: loopback, private, link-local and
    /// metadata addresses too.
    pub private: bool,
}

/// A URL that passed the checks: its text, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedUrl(pub String);

/// Checks a webhook URL: http(s), no credentials, and (after resolving the
/// name) only public addresses unless allowed. BAD_USER_INPUT saying why.
pub async fn check(text: &str, allow: Allow) -> AppResult<CheckedUrl> {
    let refuse = |why: String| AppError::bad_input(format!("url: {why}"));
    let text = text.trim();
    if text.chars().count() > MAX_URL_CHARS {
        return Err(refuse(format!("at most {MAX_URL_CHARS} characters")));
    }
    let url = Url::parse(text).map_err(|err| refuse(format!("not a URL ({err})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow.http => {}
        "http" => {
            return Err(refuse(
                "must be https (plain http needs the setting PORTFOLIO_WEBHOOK_ALLOW_HTTP)".into(),
            ));
        }
        other => return Err(refuse(format!("must be https, not {other}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "must not carry credentials; receivers check the signature instead".into(),
        ));
    }
    if url.fragment().is_some() {
        return Err(refuse("must not have a fragment (#...)".into()));
    }
    let Some(host) = url.host_str() else {
        return Err(refuse("needs a host".into()));
    };
    if allow.private {
        return Ok(CheckedUrl(url.to_string()));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|err| refuse(format!("{host} does not resolve ({err})")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(refuse(format!("{host} does not resolve")));
    }
    if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(refuse(format!(
            "{host} resolves to {}, a loopback, private, link-local or metadata address \
             (allowed only with the setting PORTFOLIO_WEBHOOK_ALLOW_PRIVATE)",
            bad.ip()
        )));
    }
    Ok(CheckedUrl(url.to_string()))
}

/// Whether an address is on the public internet: not loopback, private,
/// shared (CGNAT), link-local (which holds the cloud metadata address
/// 169.254.169.254), unspecified, broadcast, multicast, documentation or
/// reserved; an IPv6 address that carries an IPv4 one is judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7 (holds fd00:ec2::254, a metadata address).
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
        // Documentation, 2001:db8::/32.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible and NAT64 forms of private addresses.
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)) && first == 0)
}

/// The HTTP client's resolver: the system's, keeping only public addresses
/// unless private ones are allowed; a name with none left fails to connect.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (private ones are refused)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether a URL whose host is an address literal (which no resolver sees)
/// may be connected to now.
pub fn literal_allowed(url: &Url, allow: Allow) -> bool {
    if allow.private {
        return true;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        _ => true,
    }
}

/// The client deliveries go through: no proxy, no redirects (a 3xx is a
/// failure), the guarded resolver, rustls with the ring provider.
pub fn client(allow: Allow, timeout: std::time::Duration) -> AppResult<reqwest::Client> {
    // Installing fails only when a provider is already installed: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("portfolio-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: allow.private,
        }))
        .build()
        .map_err(|err| AppError::Internal(format!("cannot build the webhook client: {err}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad} counted as public");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(
                is_public(good.parse().unwrap()),
                "{good} counted as private"
            );
        }
    }

    #[tokio::test]
    async fn urls_are_refused_unless_the_settings_allow_them() {
        let strict = Allow::default();
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]:8443/hook",
            "https://localhost/hook",
            "http://93.184.216.34/hook",
            "ftp://93.184.216.34/hook",
            "https://user:pass@93.184.216.34/hook",
            "not a url",
        ] {
            let err = check(url, strict).await.expect_err(url);
            assert_eq!(err.code(), "BAD_USER_INPUT", "{url}");
        }
        assert!(check("https://93.184.216.34/hook", strict).await.is_ok());
        let open = Allow {
            http: true,
            private: true,
        };
        assert!(check("http://127.0.0.1:9/hook", open).await.is_ok());
        assert!(check("http://localhost:9/hook", open).await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses_at_connect_time() {
        let strict = GuardedResolver {
            allow_private: false,
        };
        let refused = strict.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err(), "localhost resolves only to loopback");
        let open = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<SocketAddr> = open
            .resolve("localhost".parse().unwrap())
            .await
            .map_err(|e| e.to_string())
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
