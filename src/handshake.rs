//! The HTTP upgrade of RFC 6455 §4: request and response headers, their verification, and the
//! `Sec-WebSocket-Accept` computation (spec §8).
//!
//! Header names compare ASCII case-insensitively, values are trimmed of spaces and tabs, list
//! headers contribute every comma-separated item of every occurrence, and single-valued headers
//! may appear only once. Everything produced here is 7-bit ASCII.
#![forbid(unsafe_code)]

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::deflate::{self, DeflateConfig, Negotiated};
use crate::error::{Error, Result};

/// The GUID that RFC 6455 appends to the key before hashing.
pub const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Connection`.
pub const CONNECTION: &str = "Connection";
/// `Upgrade`.
pub const UPGRADE: &str = "Upgrade";
/// `Sec-WebSocket-Key`.
pub const SEC_WEBSOCKET_KEY: &str = "Sec-WebSocket-Key";
/// `Sec-WebSocket-Version`.
pub const SEC_WEBSOCKET_VERSION: &str = "Sec-WebSocket-Version";
/// `Sec-WebSocket-Accept`.
pub const SEC_WEBSOCKET_ACCEPT: &str = "Sec-WebSocket-Accept";
/// `Sec-WebSocket-Protocol`.
pub const SEC_WEBSOCKET_PROTOCOL: &str = "Sec-WebSocket-Protocol";
/// `Sec-WebSocket-Extensions`.
pub const SEC_WEBSOCKET_EXTENSIONS: &str = "Sec-WebSocket-Extensions";

/// One header as the caller passed it: raw bytes, lengths explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// The name, without a colon.
    pub name: &'a [u8],
    /// The value, untrimmed.
    pub value: &'a [u8],
}

/// A header produced by the library.
pub type Header = (&'static str, String);

/// `base64(SHA-1(key + GUID))`, over the key text exactly as given.
pub fn accept_for_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The base64 text of a 16-byte nonce, as sent in `Sec-WebSocket-Key`.
pub fn encode_key(nonce: &[u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

/// The headers a client adds to its upgrade request (spec §8.1), in order.
pub fn client_request_headers(key: &str, subprotocols: &[String], extensions: &[String]) -> Vec<Header> {
    let mut out = vec![
        (CONNECTION, "Upgrade".to_string()),
        (UPGRADE, "websocket".to_string()),
        (SEC_WEBSOCKET_KEY, key.to_string()),
        (SEC_WEBSOCKET_VERSION, "13".to_string()),
    ];
    if !subprotocols.is_empty() {
        out.push((SEC_WEBSOCKET_PROTOCOL, subprotocols.join(", ")));
    }
    if !extensions.is_empty() {
        out.push((SEC_WEBSOCKET_EXTENSIONS, extensions.join(", ")));
    }
    out
}

/// The headers a server adds to its 101 response (spec §8.2), in order.
pub fn server_response_headers(
    accept: &str,
    subprotocol: Option<&str>,
    extensions: &[String],
) -> Vec<Header> {
    let mut out = vec![
        (CONNECTION, "Upgrade".to_string()),
        (UPGRADE, "websocket".to_string()),
        (SEC_WEBSOCKET_ACCEPT, accept.to_string()),
    ];
    if let Some(p) = subprotocol {
        out.push((SEC_WEBSOCKET_PROTOCOL, p.to_string()));
    }
    if !extensions.is_empty() {
        out.push((SEC_WEBSOCKET_EXTENSIONS, extensions.join(", ")));
    }
    out
}

/// Checks a client's upgrade request (spec §8.2) and returns the trimmed `Sec-WebSocket-Key`.
/// Format problems are reported before an unsupported version, so that a well-formed request
/// for another version gets `E_PROTOCOL_VERSION_NOT_SUPPORTED`.
pub fn verify_request(headers: &[HeaderRef<'_>]) -> Result<Vec<u8>> {
    if !list_contains(headers, CONNECTION, b"upgrade") {
        return Err(Error::BadHeader(CONNECTION));
    }
    if !list_contains(headers, UPGRADE, b"websocket") {
        return Err(Error::BadHeader(UPGRADE));
    }
    let versions = list_items(headers, SEC_WEBSOCKET_VERSION);
    if versions.is_empty() {
        return Err(Error::BadHeader(SEC_WEBSOCKET_VERSION));
    }
    let key = single(headers, SEC_WEBSOCKET_KEY)?.ok_or(Error::BadHeader(SEC_WEBSOCKET_KEY))?;
    if key.is_empty() {
        return Err(Error::BadHeader(SEC_WEBSOCKET_KEY));
    }
    if !versions.iter().any(|v| *v == b"13") {
        return Err(Error::VersionNotSupported);
    }
    Ok(key.to_vec())
}

/// What the server selected, as indices into what the client offered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Index of the selected subprotocol, if any.
    pub subprotocol: Option<usize>,
    /// Indices of the selected extensions, in the order of the response. permessage-deflate
    /// negotiated by the library itself has the index one past the application's extensions
    /// (`offered_extensions.len()`).
    pub extensions: Vec<usize>,
    /// permessage-deflate as agreed, when the library offered it and the server accepted.
    pub deflate: Option<Negotiated>,
}

/// Checks a server's 101 response headers (spec §8.3) against what this client sent. With
/// `deflate` (the library offered permessage-deflate), the response's permessage-deflate
/// elements are checked against that offer (RFC 7692) instead of the application's strings.
pub fn verify_response(
    headers: &[HeaderRef<'_>],
    expected_accept: &str,
    offered_subprotocols: &[String],
    offered_extensions: &[String],
    deflate: Option<&DeflateConfig>,
) -> Result<Selection> {
    if !list_contains(headers, UPGRADE, b"websocket") {
        return Err(Error::BadHeader(UPGRADE));
    }
    if !list_contains(headers, CONNECTION, b"upgrade") {
        return Err(Error::BadHeader(CONNECTION));
    }
    match single(headers, SEC_WEBSOCKET_ACCEPT)? {
        Some(accept) if accept == expected_accept.as_bytes() => {}
        Some(_) => return Err(Error::AcceptMismatch),
        None => return Err(Error::BadHeader(SEC_WEBSOCKET_ACCEPT)),
    }
    let mut selection = Selection::default();
    let protocols = list_items(headers, SEC_WEBSOCKET_PROTOCOL);
    match protocols.as_slice() {
        [] => {}
        [one] => {
            let i = offered_subprotocols
                .iter()
                .position(|p| p.as_bytes().eq_ignore_ascii_case(one))
                .ok_or(Error::SubprotocolNotSupported)?;
            selection.subprotocol = Some(i);
        }
        _ => return Err(Error::SubprotocolNotSupported),
    }
    let mut deflate_items = Vec::new();
    for item in list_items(headers, SEC_WEBSOCKET_EXTENSIONS) {
        if deflate.is_some() && deflate::is_deflate_item(item) {
            if deflate_items.is_empty() {
                selection.extensions.push(offered_extensions.len());
            }
            deflate_items.push(item);
            continue;
        }
        let name = extension_name(item);
        let i = offered_extensions
            .iter()
            .position(|e| extension_name(e.as_bytes()).eq_ignore_ascii_case(name))
            .ok_or(Error::ExtensionNotSupported)?;
        selection.extensions.push(i);
    }
    if let Some(config) = deflate {
        selection.deflate = deflate::verify_response(config, &deflate_items)?;
    }
    Ok(selection)
}

/// A server's permessage-deflate answer to a request: the first acceptable offer among every
/// `Sec-WebSocket-Extensions` header of `request` (RFC 7692 §5.1), or None.
pub fn accept_deflate(request: &[HeaderRef<'_>], config: &DeflateConfig) -> Option<(String, Negotiated)> {
    let offers: Vec<&[u8]> = list_items(request, SEC_WEBSOCKET_EXTENSIONS)
        .into_iter()
        .filter(|i| deflate::is_deflate_item(i))
        .collect();
    deflate::accept_offer(config, &offers)
}

/// Rejects an application extension string named permessage-deflate on a handle where the
/// library negotiates it.
pub fn check_not_deflate(extensions: &[String]) -> Result<()> {
    if extensions.iter().any(|e| deflate::is_deflate_item(e.as_bytes())) {
        return Err(Error::BadToken);
    }
    Ok(())
}

/// Checks a subprotocol given by the application: a non-empty HTTP token (spec §8.4).
pub fn check_subprotocol(s: &[u8]) -> Result<String> {
    let is_token_char = |c: &u8| (0x21..=0x7E).contains(c) && !b"()<>@,;:\\\"/[]?={}".contains(c);
    if s.is_empty() || !s.iter().all(is_token_char) {
        return Err(Error::BadToken);
    }
    Ok(String::from_utf8_lossy(s).into_owned())
}

/// Checks an extension string given by the application (`name; param=value`): non-empty after
/// trimming, printable ASCII or tab, no CR, LF or NUL (spec §8.4).
pub fn check_extension(s: &[u8]) -> Result<String> {
    let ok = |c: &u8| (0x20..=0x7E).contains(c) || *c == b'\t';
    let trimmed = trim(s);
    if trimmed.is_empty() || !trimmed.iter().all(ok) || extension_name(trimmed).is_empty() {
        return Err(Error::BadToken);
    }
    Ok(String::from_utf8_lossy(trimmed).into_owned())
}

fn extension_name(item: &[u8]) -> &[u8] {
    let end = item.iter().position(|c| *c == b';').unwrap_or(item.len());
    trim(&item[..end])
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

fn values<'a>(headers: &'a [HeaderRef<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |h| trim(h.name).eq_ignore_ascii_case(name.as_bytes())).map(|h| trim(h.value))
}

fn list_items<'a>(headers: &'a [HeaderRef<'a>], name: &'a str) -> Vec<&'a [u8]> {
    values(headers, name)
        .flat_map(|v| v.split(|c| *c == b','))
        .map(trim)
        .filter(|item| !item.is_empty())
        .collect()
}

fn list_contains(headers: &[HeaderRef<'_>], name: &str, token: &[u8]) -> bool {
    list_items(headers, name).iter().any(|item| item.eq_ignore_ascii_case(token))
}

fn single<'a>(headers: &'a [HeaderRef<'a>], name: &'static str) -> Result<Option<&'a [u8]>> {
    let mut found = values(headers, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(Error::DuplicateHeader(name));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(name: &'a str, value: &'a str) -> HeaderRef<'a> {
        HeaderRef { name: name.as_bytes(), value: value.as_bytes() }
    }

    #[test]
    fn accept_vectors() {
        assert_eq!(accept_for_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(accept_for_key(b"AAAAAAAAAAAAAAAAAAAAAA=="), "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
        assert_eq!(encode_key(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
    }

    #[test]
    fn dotnet_fake_request_is_accepted() {
        let req = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Host", ""),
            h("Sec-WebSocket-Version", "13"),
            h("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ];
        assert_eq!(verify_request(&req).unwrap(), b"AAAAAAAAAAAAAAAAAAAAAA==".to_vec());
    }

    #[test]
    fn browser_request_with_lists_and_odd_case() {
        let req = [
            h("connection", "keep-alive, Upgrade"),
            h("UPGRADE", " WebSocket "),
            h("sec-websocket-version", "13"),
            h("sec-websocket-key", "  dGhlIHNhbXBsZSBub25jZQ==\t"),
        ];
        assert_eq!(verify_request(&req).unwrap(), b"dGhlIHNhbXBsZSBub25jZQ==".to_vec());
    }

    #[test]
    fn request_errors() {
        let base = |skip: &str| -> Vec<HeaderRef<'static>> {
            [
                h("Connection", "Upgrade"),
                h("Upgrade", "websocket"),
                h("Sec-WebSocket-Version", "13"),
                h("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ]
            .into_iter()
            .filter(|x| x.name != skip.as_bytes())
            .collect()
        };
        assert_eq!(verify_request(&base("Connection")), Err(Error::BadHeader(CONNECTION)));
        assert_eq!(verify_request(&base("Upgrade")), Err(Error::BadHeader(UPGRADE)));
        assert_eq!(
            verify_request(&base("Sec-WebSocket-Version")),
            Err(Error::BadHeader(SEC_WEBSOCKET_VERSION))
        );
        assert_eq!(verify_request(&base("Sec-WebSocket-Key")), Err(Error::BadHeader(SEC_WEBSOCKET_KEY)));
        let mut dup = base("");
        dup.push(h("Sec-WebSocket-Key", "x"));
        assert_eq!(verify_request(&dup), Err(Error::DuplicateHeader(SEC_WEBSOCKET_KEY)));
        let mut v8 = base("Sec-WebSocket-Version");
        v8.push(h("Sec-WebSocket-Version", "8"));
        assert_eq!(verify_request(&v8), Err(Error::VersionNotSupported));
        let mut empty_key = base("Sec-WebSocket-Key");
        empty_key.push(h("Sec-WebSocket-Key", "  "));
        assert_eq!(verify_request(&empty_key), Err(Error::BadHeader(SEC_WEBSOCKET_KEY)));
        let mut conn = base("Connection");
        conn.push(h("Connection", "keep-alive"));
        assert_eq!(verify_request(&conn), Err(Error::BadHeader(CONNECTION)));
    }

    #[test]
    fn response_checks() {
        let accept = accept_for_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        let offered = vec!["chat".to_string(), "superchat".to_string()];
        let exts = vec!["permessage-foo; x=1".to_string(), "bar".to_string()];
        let ok = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Sec-WebSocket-Accept", &accept),
            h("Sec-WebSocket-Protocol", "SuperChat"),
            h("Sec-WebSocket-Extensions", "bar, permessage-foo; y=2"),
        ];
        let sel = verify_response(&ok, &accept, &offered, &exts, None).unwrap();
        assert_eq!(sel, Selection { subprotocol: Some(1), extensions: vec![1, 0], deflate: None });

        let wrong = [h("Connection", "Upgrade"), h("Upgrade", "websocket"), h("Sec-WebSocket-Accept", "x")];
        assert_eq!(verify_response(&wrong, &accept, &[], &[], None), Err(Error::AcceptMismatch));
        let unknown = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Sec-WebSocket-Accept", &accept),
            h("Sec-WebSocket-Protocol", "other"),
        ];
        assert_eq!(
            verify_response(&unknown, &accept, &offered, &[], None),
            Err(Error::SubprotocolNotSupported)
        );
        let ext = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Sec-WebSocket-Accept", &accept),
            h("Sec-WebSocket-Extensions", "baz"),
        ];
        assert_eq!(verify_response(&ext, &accept, &[], &exts, None), Err(Error::ExtensionNotSupported));
    }

    #[test]
    fn tokens() {
        assert_eq!(check_subprotocol(b"chat.v2").unwrap(), "chat.v2");
        assert_eq!(check_subprotocol(b""), Err(Error::BadToken));
        assert_eq!(check_subprotocol(b"a b"), Err(Error::BadToken));
        assert_eq!(check_subprotocol(b"a,b"), Err(Error::BadToken));
        assert_eq!(check_extension(b" x; a=1 ").unwrap(), "x; a=1");
        assert_eq!(check_extension(b"x\r\n"), Err(Error::BadToken));
        assert_eq!(check_extension(b"; a=1"), Err(Error::BadToken));
    }
}
