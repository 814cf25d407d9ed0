//! permessage-deflate (RFC 7692): the settings a caller opts in with, and the negotiation of
//! `Sec-WebSocket-Extensions` (RFC 7692 §5, §7.1). An extension beyond Windows: handles created
//! without the property never offer, accept or expect it.
//!
//! The parameters and what they mean for each side:
//!
//! | parameter | in a client's offer | in a server's response |
//! |---|---|---|
//! | `server_no_context_takeover` | asks the server to reset its compressor per message | the server will |
//! | `client_no_context_takeover` | announces the client will reset per message | asks the client to |
//! | `server_max_window_bits=N` | asks the server for a window of at most 2^N | the server's window (≤ the offer's) |
//! | `client_max_window_bits[=N]` | the client can limit its window (to N) | asks the client for at most 2^N |
//!
//! Decompression always uses a 32 KiB window, which accepts any peer window.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const EXTENSION_NAME: &str = "permessage-deflate";
/// The largest window (32 KiB), used when no limit is negotiated.
pub const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window RFC 7692 allows (256 bytes).
pub const MIN_WINDOW_BITS: u8 = 8;

/// What a handle was created with (the permessage-deflate property). For a client it shapes the
/// offer; for a server, what it asks of every offer it accepts. Window bits 0 mean "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateConfig {
    /// Client: offer `server_no_context_takeover`. Server: always reset the compressor per
    /// message (and say so).
    pub server_no_context_takeover: bool,
    /// Client: reset the compressor per message (and offer `client_no_context_takeover`).
    /// Server: ask the client to (`client_no_context_takeover` in the response).
    pub client_no_context_takeover: bool,
    /// 0, or 8..=15. Client: offer `server_max_window_bits=N`. Server: compress with at most
    /// 2^N (and answer `server_max_window_bits`).
    pub server_max_window_bits: u8,
    /// 0, or 8..=15. Client: compress with at most 2^N (offered as `client_max_window_bits=N`;
    /// with 0 the offer carries the parameter without a value). Server: ask a client that
    /// offered the parameter for at most 2^N.
    pub client_max_window_bits: u8,
}

impl DeflateConfig {
    /// Checks the window sizes (0 or 8..=15).
    pub fn validate(self) -> Result<DeflateConfig> {
        for bits in [self.server_max_window_bits, self.client_max_window_bits] {
            if bits != 0 && !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits) {
                return Err(Error::BadDeflateSetting);
            }
        }
        Ok(self)
    }
}

/// What was agreed, from this endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Reset the compressor after every message.
    pub send_no_context_takeover: bool,
    /// The compressor's window: 2^bits bytes (8..=15).
    pub send_window_bits: u8,
    /// The peer resets its compressor after every message (ours may reset too).
    pub recv_no_context_takeover: bool,
}

/// One parsed `permessage-deflate` element. For the window parameters the outer Option says
/// whether the parameter appeared, the inner one its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

/// The client's offer: the element to add to `Sec-WebSocket-Extensions`.
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut s = String::from(EXTENSION_NAME);
    match config.client_max_window_bits {
        0 => s.push_str("; client_max_window_bits"),
        n => s.push_str(&format!("; client_max_window_bits={}", n)),
    }
    if config.server_max_window_bits != 0 {
        s.push_str(&format!("; server_max_window_bits={}", config.server_max_window_bits));
    }
    if config.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    s
}

/// Whether an extension list item (`name; params`) names permessage-deflate.
pub fn is_deflate_item(item: &[u8]) -> bool {
    let end = item.iter().position(|c| *c == b';').unwrap_or(item.len());
    trim(&item[..end]).eq_ignore_ascii_case(EXTENSION_NAME.as_bytes())
}

/// The client's check of the server's response (RFC 7692 §7.1): `items` are the response's
/// permessage-deflate elements. Zero elements: not negotiated. More than one, an unknown or
/// repeated parameter, a bad value, or a parameter the offer does not allow:
/// `ExtensionNotSupported`.
pub fn verify_response(config: &DeflateConfig, items: &[&[u8]]) -> Result<Option<Negotiated>> {
    let item = match items {
        [] => return Ok(None),
        [one] => *one,
        _ => return Err(Error::ExtensionNotSupported),
    };
    let p = parse(item).ok_or(Error::ExtensionNotSupported)?;
    // A value is required in a response.
    let server_bits = match p.server_max_window_bits {
        Some(None) => return Err(Error::ExtensionNotSupported),
        Some(Some(n)) => Some(n),
        None => None,
    };
    if config.server_max_window_bits != 0 {
        match server_bits {
            Some(n) if n <= config.server_max_window_bits => {}
            _ => return Err(Error::ExtensionNotSupported),
        }
    }
    if config.server_no_context_takeover && !p.server_no_context_takeover {
        return Err(Error::ExtensionNotSupported);
    }
    let own = match config.client_max_window_bits {
        0 => MAX_WINDOW_BITS,
        n => n,
    };
    let send_window_bits = match p.client_max_window_bits {
        None => own,
        Some(None) => return Err(Error::ExtensionNotSupported),
        Some(Some(n)) => own.min(n),
    };
    Ok(Some(Negotiated {
        send_no_context_takeover: config.client_no_context_takeover || p.client_no_context_takeover,
        send_window_bits,
        recv_no_context_takeover: p.server_no_context_takeover,
    }))
}

/// The server's choice among the client's offers (RFC 7692 §5.1, §7.1): the first valid offer,
/// answered with this server's requirements. Invalid offers are declined (skipped), not errors.
/// Returns the response element and what was agreed, or None when no offer is acceptable.
pub fn accept_offer(config: &DeflateConfig, offers: &[&[u8]]) -> Option<(String, Negotiated)> {
    offers.iter().filter_map(|o| parse(o)).find_map(|p| accept(config, &p))
}

fn accept(config: &DeflateConfig, p: &Params) -> Option<(String, Negotiated)> {
    // server_max_window_bits needs a value in an offer.
    let offered_server_bits = match p.server_max_window_bits {
        Some(None) => return None,
        Some(Some(n)) => Some(n),
        None => None,
    };
    let mut response = String::from(EXTENSION_NAME);
    let send_no_context_takeover = p.server_no_context_takeover || config.server_no_context_takeover;
    if send_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    let own = match config.server_max_window_bits {
        0 => MAX_WINDOW_BITS,
        n => n,
    };
    let send_window_bits = own.min(offered_server_bits.unwrap_or(MAX_WINDOW_BITS));
    if offered_server_bits.is_some() || own < MAX_WINDOW_BITS {
        response.push_str(&format!("; server_max_window_bits={}", send_window_bits));
    }
    if config.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if let (Some(offered), true) = (p.client_max_window_bits, config.client_max_window_bits != 0) {
        let bits = config.client_max_window_bits.min(offered.unwrap_or(MAX_WINDOW_BITS));
        response.push_str(&format!("; client_max_window_bits={}", bits));
    }
    Some((
        response,
        Negotiated {
            send_no_context_takeover,
            send_window_bits,
            recv_no_context_takeover: config.client_no_context_takeover,
        },
    ))
}

/// Parses one element (`permessage-deflate; p; p=v; p="v"`). None when the name differs or a
/// parameter is unknown, repeated, or has an invalid value (RFC 7692 §7.1).
fn parse(item: &[u8]) -> Option<Params> {
    let mut parts = item.split(|c| *c == b';');
    if !trim(parts.next()?).eq_ignore_ascii_case(EXTENSION_NAME.as_bytes()) {
        return None;
    }
    let mut p = Params::default();
    for part in parts {
        let part = trim(part);
        let (name, value) = match part.iter().position(|c| *c == b'=') {
            Some(i) => (trim(&part[..i]), Some(unquote(trim(&part[i + 1..]))?)),
            None => (part, None),
        };
        let lower = name.to_ascii_lowercase();
        match lower.as_slice() {
            b"server_no_context_takeover" | b"client_no_context_takeover" => {
                if value.is_some() {
                    return None;
                }
                let flag = if lower.starts_with(b"server") {
                    &mut p.server_no_context_takeover
                } else {
                    &mut p.client_no_context_takeover
                };
                if *flag {
                    return None;
                }
                *flag = true;
            }
            b"server_max_window_bits" | b"client_max_window_bits" => {
                let bits = match value {
                    None => None,
                    Some(v) => Some(window_bits(v)?),
                };
                let slot = if lower.starts_with(b"server") {
                    &mut p.server_max_window_bits
                } else {
                    &mut p.client_max_window_bits
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(bits);
            }
            _ => return None,
        }
    }
    Some(p)
}

/// `8`..`15`, without leading zeros (RFC 7692 §7.1.2).
fn window_bits(v: &[u8]) -> Option<u8> {
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// A token as is, or a quoted-string's content (no escapes are valid in these values).
fn unquote(v: &[u8]) -> Option<&[u8]> {
    match v {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'"') && !inner.contains(&b'\\') => Some(inner),
        [] => None,
        _ if v.contains(&b'"') => None,
        _ => Some(v),
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: DeflateConfig = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 0,
        client_max_window_bits: 0,
    };

    fn neg(send_reset: bool, bits: u8, recv_reset: bool) -> Negotiated {
        Negotiated {
            send_no_context_takeover: send_reset,
            send_window_bits: bits,
            recv_no_context_takeover: recv_reset,
        }
    }

    #[test]
    fn offers() {
        assert_eq!(client_offer(&DEFAULT), "permessage-deflate; client_max_window_bits");
        let all = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 8,
            client_max_window_bits: 10,
        };
        assert_eq!(
            client_offer(&all),
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=8; \
             server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn parses_parameters_quoted_values_and_rejects_bad_ones() {
        let p = parse(b"Permessage-Deflate ; server_max_window_bits=\"10\";client_max_window_bits").unwrap();
        assert_eq!(p.server_max_window_bits, Some(Some(10)));
        assert_eq!(p.client_max_window_bits, Some(None));
        for bad in [
            &b"permessage-deflate; server_max_window_bits=7"[..],
            b"permessage-deflate; server_max_window_bits=16",
            b"permessage-deflate; server_max_window_bits=010",
            b"permessage-deflate; server_max_window_bits=\"1\"0",
            b"permessage-deflate; server_max_window_bits=",
            b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            b"permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            b"permessage-deflate; server_no_context_takeover=1",
            b"permessage-deflate; unknown",
            b"x-webkit-deflate-frame",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn server_picks_the_first_acceptable_offer() {
        // Autobahn 13.7's three offers, the first with a bad value here.
        let offers: [&[u8]; 3] = [
            b"permessage-deflate; server_max_window_bits=7",
            b"permessage-deflate; server_no_context_takeover; client_max_window_bits",
            b"permessage-deflate",
        ];
        let (resp, n) = accept_offer(&DEFAULT, &offers).unwrap();
        assert_eq!(resp, "permessage-deflate; server_no_context_takeover");
        assert_eq!(n, neg(true, 15, false));
        let (resp, n) = accept_offer(
            &DEFAULT,
            &[b"permessage-deflate; server_max_window_bits=8; client_max_window_bits"],
        )
        .unwrap();
        assert_eq!(resp, "permessage-deflate; server_max_window_bits=8");
        assert_eq!(n, neg(false, 8, false));
        // A server that limits itself and asks the client to reset and limit.
        let strict = DeflateConfig {
            client_no_context_takeover: true,
            client_max_window_bits: 9,
            server_max_window_bits: 10,
            ..DEFAULT
        };
        let (resp, n) = accept_offer(&strict, &[b"permessage-deflate; client_max_window_bits=12"]).unwrap();
        assert_eq!(
            resp,
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover; client_max_window_bits=9"
        );
        assert_eq!(n, neg(false, 10, true));
        // server_max_window_bits without a value is invalid in an offer.
        assert_eq!(accept_offer(&DEFAULT, &[b"permessage-deflate; server_max_window_bits"]), None);
        assert_eq!(accept_offer(&DEFAULT, &[]), None);
    }

    #[test]
    fn client_accepts_only_what_its_offer_allows() {
        let ok = |c: &DeflateConfig, r: &str| verify_response(c, &[r.as_bytes()]);
        assert_eq!(verify_response(&DEFAULT, &[]), Ok(None));
        assert_eq!(ok(&DEFAULT, "permessage-deflate"), Ok(Some(neg(false, 15, false))));
        assert_eq!(
            ok(&DEFAULT, "permessage-deflate; client_max_window_bits=8; client_no_context_takeover"),
            Ok(Some(neg(true, 8, false)))
        );
        assert_eq!(
            ok(&DEFAULT, "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
            Ok(Some(neg(false, 15, true)))
        );
        let e = Err(Error::ExtensionNotSupported);
        assert_eq!(ok(&DEFAULT, "permessage-deflate; client_max_window_bits"), e);
        assert_eq!(ok(&DEFAULT, "permessage-deflate; server_max_window_bits"), e);
        assert_eq!(ok(&DEFAULT, "permessage-deflate; foo=1"), e);
        assert_eq!(verify_response(&DEFAULT, &[b"permessage-deflate", b"permessage-deflate"]), e);
        let asked = DeflateConfig { server_no_context_takeover: true, server_max_window_bits: 10, ..DEFAULT };
        assert_eq!(ok(&asked, "permessage-deflate; server_no_context_takeover"), e);
        assert_eq!(
            ok(&asked, "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
            e
        );
        assert_eq!(ok(&asked, "permessage-deflate; server_max_window_bits=10"), e);
        assert_eq!(
            ok(&asked, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
            Ok(Some(neg(false, 15, true)))
        );
        let limited = DeflateConfig { client_max_window_bits: 10, ..DEFAULT };
        assert_eq!(
            ok(&limited, "permessage-deflate; client_max_window_bits=12"),
            Ok(Some(neg(false, 10, false)))
        );
    }

    #[test]
    fn settings_are_validated() {
        assert!(DeflateConfig { server_max_window_bits: 8, client_max_window_bits: 15, ..DEFAULT }
            .validate()
            .is_ok());
        assert_eq!(
            DeflateConfig { server_max_window_bits: 7, ..DEFAULT }.validate(),
            Err(Error::BadDeflateSetting)
        );
        assert_eq!(
            DeflateConfig { client_max_window_bits: 16, ..DEFAULT }.validate(),
            Err(Error::BadDeflateSetting)
        );
    }
}
