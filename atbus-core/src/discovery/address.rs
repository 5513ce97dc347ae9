//! Gateway addresses: `tcp://host:port`, `udp://host:port`, `unix:///path`, `mem://name`.
//!
//! Addresses come from other nodes' records, so the parser takes untrusted text: it returns an
//! [`AddressError`] that names the rule for anything it refuses and never panics. A parsed
//! address prints back in canonical form (IPv6 compressed), and parsing that form gives the same
//! address.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// The transport an address uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// In-process memory link (`mem://`); reaches only the same process.
    Memory,
    /// Unix-domain socket (`unix://`); reaches only the same machine.
    Unix,
    /// TCP (`tcp://`).
    Tcp,
    /// atbus reliable datagrams over UDP (`udp://`).
    Udp,
    /// A scheme this version does not know (a newer peer's); never used for a route.
    Unknown,
}

impl Transport {
    /// Preference rank between transports of tied gateways: lower is tried first. Memory beats
    /// Unix beats the network transports, which rank equal (the record's order decides).
    pub fn preference_rank(self) -> u8 {
        match self {
            Transport::Memory => 0,
            Transport::Unix => 1,
            Transport::Tcp | Transport::Udp => 2,
            Transport::Unknown => 3,
        }
    }
}

/// The host part of a network address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// An IPv4 literal: reachable only by a node with IPv4.
    Ipv4(Ipv4Addr),
    /// An IPv6 literal (written in brackets): reachable only by a node with IPv6.
    Ipv6(Ipv6Addr),
    /// A DNS host name (RFC 1123); resolution picks the family.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A parsed gateway address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GatewayAddress {
    /// `mem://name`: an in-process endpoint; `name` is 1 to 253 characters of ASCII
    /// alphanumerics, `.`, `_` and `-`.
    Memory(String),
    /// `unix:///path`: a Unix-domain socket at this absolute path (no NUL).
    Unix(String),
    /// `tcp://host:port`.
    Tcp {
        /// Host name or IP literal.
        host: Host,
        /// Port, 1 to 65535.
        port: u16,
    },
    /// `udp://host:port`: atbus reliable datagrams.
    Udp {
        /// Host name or IP literal.
        host: Host,
        /// Port, 1 to 65535.
        port: u16,
    },
    /// `scheme://host:port` for a scheme this version does not know. Kept so that a record
    /// written by a newer node still validates; never chosen for a route.
    Unknown {
        /// The scheme, lower-case.
        scheme: String,
        /// Host name or IP literal.
        host: Host,
        /// Port, 1 to 65535.
        port: u16,
    },
}

/// Why a gateway address was refused. Each message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// No `scheme://` in front.
    #[error("missing `scheme://` (addresses are scheme://host:port, unix:///path or mem://name)")]
    MissingScheme,
    /// The scheme has characters outside the URI scheme syntax, or upper case.
    #[error(
        "scheme must be a lower-case letter followed by lower-case letters, digits, '+', '-' or '.'"
    )]
    InvalidScheme,
    /// A `mem://` name that is empty, too long or has other characters.
    #[error("mem:// name must be 1 to 253 characters of A-Z, a-z, 0-9, '.', '_' and '-'")]
    InvalidMemoryName,
    /// A `unix://` address without an absolute path.
    #[error("unix addresses are unix:///absolute/path (three slashes, a non-empty path)")]
    UnixPathNotAbsolute,
    /// A `unix://` path with a NUL byte.
    #[error("unix socket path must not contain NUL")]
    UnixPathHasNul,
    /// Nothing between `://` and `:port`.
    #[error("missing host (addresses are scheme://host:port)")]
    MissingHost,
    /// A host that is neither an IP literal nor an RFC 1123 host name.
    #[error(
        "host must be an RFC 1123 host name (dot-separated parts of 1 to 63 letters, digits and \
         '-', not starting or ending with '-', at most 253 characters), an IPv4 address or a \
         bracketed IPv6 address"
    )]
    InvalidHostName,
    /// Digits and dots that do not make an IPv4 address.
    #[error("host of digits and dots must be an IPv4 address (four numbers 0-255)")]
    InvalidIpv4,
    /// Bracketed text that is not an IPv6 address (zone ids are not supported).
    #[error("text in brackets must be an IPv6 address without zone id")]
    InvalidIpv6,
    /// An IPv6 literal without brackets.
    #[error("IPv6 literals must be in brackets, e.g. tcp://[::1]:7000")]
    Ipv6NeedsBrackets,
    /// A `[` without its `]`, or text between `]` and `:port`.
    #[error("bracketed IPv6 host must be followed directly by :port")]
    UnclosedBracket,
    /// No `:port` at the end.
    #[error("missing :port (addresses are scheme://host:port)")]
    MissingPort,
    /// A port that is not a number from 1 to 65535 in shortest decimal form.
    #[error("port must be a decimal number from 1 to 65535 without leading zeros")]
    InvalidPort,
}

impl GatewayAddress {
    /// Parses an address. See the type's variants for the accepted forms.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let (scheme, rest) = text.split_once("://").ok_or(AddressError::MissingScheme)?;
        if !is_scheme(scheme) {
            return Err(AddressError::InvalidScheme);
        }
        match scheme {
            "mem" => {
                if rest.is_empty()
                    || rest.len() > 253
                    || !rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                {
                    return Err(AddressError::InvalidMemoryName);
                }
                Ok(GatewayAddress::Memory(rest.to_owned()))
            }
            "unix" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(AddressError::UnixPathNotAbsolute);
                }
                if rest.contains('\0') {
                    return Err(AddressError::UnixPathHasNul);
                }
                Ok(GatewayAddress::Unix(rest.to_owned()))
            }
            _ => {
                let (host, port) = parse_host_port(rest)?;
                Ok(match scheme {
                    "tcp" => GatewayAddress::Tcp { host, port },
                    "udp" => GatewayAddress::Udp { host, port },
                    _ => GatewayAddress::Unknown {
                        scheme: scheme.to_owned(),
                        host,
                        port,
                    },
                })
            }
        }
    }

    /// The transport this address uses.
    pub fn transport(&self) -> Transport {
        match self {
            GatewayAddress::Memory(_) => Transport::Memory,
            GatewayAddress::Unix(_) => Transport::Unix,
            GatewayAddress::Tcp { .. } => Transport::Tcp,
            GatewayAddress::Udp { .. } => Transport::Udp,
            GatewayAddress::Unknown { .. } => Transport::Unknown,
        }
    }

    /// The host of a network address; `None` for memory and Unix addresses.
    pub fn host(&self) -> Option<&Host> {
        match self {
            GatewayAddress::Tcp { host, .. }
            | GatewayAddress::Udp { host, .. }
            | GatewayAddress::Unknown { host, .. } => Some(host),
            GatewayAddress::Memory(_) | GatewayAddress::Unix(_) => None,
        }
    }
}

impl FromStr for GatewayAddress {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        GatewayAddress::parse(text)
    }
}

impl fmt::Display for GatewayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayAddress::Memory(name) => write!(f, "mem://{name}"),
            GatewayAddress::Unix(path) => write!(f, "unix://{path}"),
            GatewayAddress::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            GatewayAddress::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            GatewayAddress::Unknown { scheme, host, port } => write!(f, "{scheme}://{host}:{port}"),
        }
    }
}

/// RFC 3986 scheme syntax, lower case only.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
}

fn parse_host_port(rest: &str) -> Result<(Host, u16), AddressError> {
    if let Some(bracketed) = rest.strip_prefix('[') {
        let (inner, after) = bracketed
            .split_once(']')
            .ok_or(AddressError::UnclosedBracket)?;
        let port = after.strip_prefix(':').ok_or(if after.is_empty() {
            AddressError::MissingPort
        } else {
            AddressError::UnclosedBracket
        })?;
        let ip = Ipv6Addr::from_str(inner).map_err(|_| AddressError::InvalidIpv6)?;
        return Ok((Host::Ipv6(ip), parse_port(port)?));
    }
    let (host, port) = rest.rsplit_once(':').ok_or(AddressError::MissingPort)?;
    if host.contains(':') {
        return Err(AddressError::Ipv6NeedsBrackets);
    }
    let port = parse_port(port)?;
    if host.is_empty() {
        return Err(AddressError::MissingHost);
    }
    let host = if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        Host::Ipv4(Ipv4Addr::from_str(host).map_err(|_| AddressError::InvalidIpv4)?)
    } else if is_host_name(host) {
        Host::Name(host.to_owned())
    } else {
        return Err(AddressError::InvalidHostName);
    };
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, AddressError> {
    if text.is_empty() {
        return Err(AddressError::MissingPort);
    }
    if text.len() > 5 || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::InvalidPort);
    }
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(AddressError::InvalidPort),
    }
}

/// RFC 1123 host name: dot-separated labels of 1 to 63 letters, digits and `-`, not starting or
/// ending with `-`; at most 253 characters in all.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let v4 = |a, b, c, d| Host::Ipv4(Ipv4Addr::new(a, b, c, d));
        let cases: Vec<(&str, GatewayAddress, &str)> = vec![
            (
                "tcp://10.0.0.1:7000",
                GatewayAddress::Tcp {
                    host: v4(10, 0, 0, 1),
                    port: 7000,
                },
                "tcp://10.0.0.1:7000",
            ),
            (
                "udp://relay.eu.example:65535",
                GatewayAddress::Udp {
                    host: Host::Name("relay.eu.example".into()),
                    port: 65535,
                },
                "udp://relay.eu.example:65535",
            ),
            (
                "tcp://[::1]:1",
                GatewayAddress::Tcp {
                    host: Host::Ipv6(Ipv6Addr::LOCALHOST),
                    port: 1,
                },
                "tcp://[::1]:1",
            ),
            (
                "tcp://[2001:db8:0:0::1]:80",
                GatewayAddress::Tcp {
                    host: Host::Ipv6("2001:db8::1".parse().unwrap()),
                    port: 80,
                },
                "tcp://[2001:db8::1]:80",
            ),
            (
                "tcp://[::ffff:1.2.3.4]:80",
                GatewayAddress::Tcp {
                    host: Host::Ipv6("::ffff:1.2.3.4".parse().unwrap()),
                    port: 80,
                },
                "tcp://[::ffff:1.2.3.4]:80",
            ),
            (
                "tcp://Host-1:9",
                GatewayAddress::Tcp {
                    host: Host::Name("Host-1".into()),
                    port: 9,
                },
                "tcp://Host-1:9",
            ),
            (
                "unix:///run/atbus/a.sock",
                GatewayAddress::Unix("/run/atbus/a.sock".into()),
                "unix:///run/atbus/a.sock",
            ),
            (
                "mem://app-1.main_0",
                GatewayAddress::Memory("app-1.main_0".into()),
                "mem://app-1.main_0",
            ),
            (
                "quic+v2://h:443",
                GatewayAddress::Unknown {
                    scheme: "quic+v2".into(),
                    host: Host::Name("h".into()),
                    port: 443,
                },
                "quic+v2://h:443",
            ),
        ];
        for (text, expected, canonical) in cases {
            let parsed = GatewayAddress::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string(), canonical, "{text}");
            assert_eq!(
                GatewayAddress::parse(canonical).unwrap(),
                parsed,
                "{canonical}"
            );
        }
    }

    #[test]
    fn refused_forms_name_the_rule() {
        use AddressError::*;
        let cases = [
            ("10.0.0.1:7000", MissingScheme),
            ("", MissingScheme),
            ("TCP://h:1", InvalidScheme),
            ("://h:1", InvalidScheme),
            ("1tcp://h:1", InvalidScheme),
            ("mem://", InvalidMemoryName),
            ("mem://a/b", InvalidMemoryName),
            ("mem://é", InvalidMemoryName),
            ("unix://run/a.sock", UnixPathNotAbsolute),
            ("unix:///", UnixPathNotAbsolute),
            ("unix://", UnixPathNotAbsolute),
            ("unix:///a\0b", UnixPathHasNul),
            ("tcp://:80", MissingHost),
            ("tcp://h", MissingPort),
            ("tcp://h:", MissingPort),
            ("tcp://h:0", InvalidPort),
            ("tcp://h:080", InvalidPort),
            ("tcp://h:65536", InvalidPort),
            ("tcp://h:+80", InvalidPort),
            ("tcp://h:123456", InvalidPort),
            ("tcp://::1:80", Ipv6NeedsBrackets),
            ("tcp://[::1]", MissingPort),
            ("tcp://[::1:80", UnclosedBracket),
            ("tcp://[::1]x:80", UnclosedBracket),
            ("tcp://[fe80::1%eth0]:80", InvalidIpv6),
            ("tcp://[1.2.3.4]:80", InvalidIpv6),
            ("tcp://256.1.1.1:80", InvalidIpv4),
            ("tcp://1.2.3:80", InvalidIpv4),
            ("tcp://-h:80", InvalidHostName),
            ("tcp://h-:80", InvalidHostName),
            ("tcp://a..b:80", InvalidHostName),
            ("tcp://h_1:80", InvalidHostName),
            ("tcp://user@h:80", InvalidHostName),
            ("tcp://h/x:80", InvalidHostName),
            ("tcp://é:80", InvalidHostName),
        ];
        for (text, expected) in cases {
            assert_eq!(
                GatewayAddress::parse(text),
                Err(expected.clone()),
                "{text:?}"
            );
        }
        let long_label = format!("tcp://{}:80", "a".repeat(64));
        assert_eq!(GatewayAddress::parse(&long_label), Err(InvalidHostName));
        let long_name = format!("tcp://{}a:80", "a.".repeat(127));
        assert_eq!(GatewayAddress::parse(&long_name), Err(InvalidHostName));
        assert_eq!(
            GatewayAddress::parse(&format!("mem://{}", "m".repeat(254))),
            Err(InvalidMemoryName)
        );
    }

    #[test]
    fn transports_and_ranks() {
        let rank = |text: &str| {
            GatewayAddress::parse(text)
                .unwrap()
                .transport()
                .preference_rank()
        };
        assert!(rank("mem://a") < rank("unix:///a"));
        assert!(rank("unix:///a") < rank("tcp://h:1"));
        assert_eq!(rank("tcp://h:1"), rank("udp://h:1"));
        assert!(rank("udp://h:1") < rank("x://h:1"));
        assert_eq!(GatewayAddress::parse("mem://a").unwrap().host(), None);
    }
}
