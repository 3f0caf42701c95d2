//! Text that came from a server (an error body, a decoder's complaint about one, a `Location`
//! header) with the key taken out before it reaches an [`Error`]: a proxy that echoes the
//! request's headers would otherwise put the key in every message that quotes it.

use crate::error::Error;

/// What stands where a secret was.
const MASK: &str = "<redacted>";

/// The fewest characters a word after `Bearer ` or `Basic ` has for it to be taken for a
/// credential: "the bearer of" and "your basic plan" are prose.
const CREDENTIAL: usize = 16;

/// `text` with every spelling of `key` (as sent, percent-encoded in any part, or escaped as
/// JSON may), any credential after `Bearer ` or `Basic `, and the value of an
/// `Authorization:` header line, replaced by `<redacted>`. The rest is left as it came.
pub(crate) fn redact(text: &str, key: &str) -> String {
    let mut out = mask_key(text, key);
    for marker in ["authorization:", "bearer ", "basic "] {
        out = mask_after(&out, marker);
    }
    out
}

/// Masks each span of `text` that spells `key`, where each of its characters may stand as it
/// is, percent-encoded, or escaped as JSON may (`\u002d`, and `\/` for a `/`).
fn mask_key(text: &str, key: &str) -> String {
    if key.is_empty() {
        return text.to_owned();
    }
    let (bytes, key) = (text.as_bytes(), key.as_bytes());
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        match spelled_at(bytes, at, key) {
            Some(end) => {
                out.push_str(&text[copied..at]);
                out.push_str(MASK);
                (copied, at) = (end, end);
            }
            None => at += 1,
        }
    }
    // Spans start and end on ASCII bytes or a whole key's, so the cuts are on char boundaries.
    out.push_str(&text[copied..]);
    out
}

/// Where a spelling of `key` that starts at `at` ends, if one does.
fn spelled_at(text: &[u8], mut at: usize, key: &[u8]) -> Option<usize> {
    for &k in key {
        let rest = &text[at..];
        at += if rest.first() == Some(&k) {
            1
        } else if rest.first() == Some(&b'%') && rest.len() >= 3 && hex(rest[1], rest[2]) == Some(k)
        {
            3
        } else if k == b'/' && rest.starts_with(b"\\/") {
            2
        } else if rest.len() >= 6
            && rest.starts_with(b"\\u")
            && hex(rest[2], rest[3]) == Some(0)
            && hex(rest[4], rest[5]) == Some(k)
        {
            6
        } else {
            return None;
        };
    }
    Some(at)
}

fn hex(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

/// Masks what follows each case-insensitive `marker`: the rest of the line for a header name,
/// a word that looks like a credential otherwise.
fn mask_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let header = marker.ends_with(':');
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(at) = lower[from..].find(marker).map(|i| from + i) {
        let start = at + marker.len();
        let value = &text[start..];
        let lead = value.len() - value.trim_start_matches([' ', '\t']).len();
        let end = if header {
            value.find(['\r', '\n', '"', ',']).unwrap_or(value.len())
        } else {
            value[lead..]
                .find(|c: char| !is_token_char(c))
                .map_or(value.len(), |i| lead + i)
        };
        let word = &value[lead..end];
        let secret = !word.starts_with(MASK)
            && if header {
                !word.is_empty()
            } else {
                word.len() >= CREDENTIAL
            };
        out.push_str(&text[from..start]);
        out.push_str(&value[..lead]);
        out.push_str(if secret { MASK } else { word });
        from = start + end;
    }
    out.push_str(&text[from..]);
    out
}

/// A character of an HTTP credential (RFC 7235's token68).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

/// Takes the key out of every text in `error` that a server could have written.
pub(crate) fn redact_error(error: &mut Error, key: &str) {
    match error {
        Error::Api { errors, body, .. } => {
            for entry in errors {
                entry.code = redact(&entry.code, key);
                entry.message = redact(&entry.message, key);
            }
            if let Some(body) = body {
                *body = redact(body, key);
            }
        }
        Error::Decode { message, .. } => *message = redact(message, key),
        Error::Redirect {
            location: Some(location),
            ..
        } => *location = redact(location, key),
        Error::RetriesExhausted { last, .. } => redact_error(last, key),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "hc-live/KEY+0f9e";

    #[test]
    fn the_key_is_masked_however_it_is_spelled() {
        for (text, shown) in [
            ("token hc-live/KEY+0f9e here", "token <redacted> here"),
            ("key=hc%2Dlive%2FKEY%2B0f9e", "key=<redacted>"),
            ("key=hc-live%2fKEY%2b0f9e&x=1", "key=<redacted>&x=1"),
            (
                r#"{"token": "hc-live\/KEY+0f9e"}"#,
                r#"{"token": "<redacted>"}"#,
            ),
            (
                r#"{"token": "hc\u002dlive/KEY\u002B0f9e"}"#,
                r#"{"token": "<redacted>"}"#,
            ),
            (
                "twice: hc-live/KEY+0f9ehc-live/KEY+0f9e",
                "twice: <redacted><redacted>",
            ),
            ("100%25 done, /a%2Fb é", "100%25 done, /a%2Fb é"),
            ("nothing secret", "nothing secret"),
        ] {
            assert_eq!(redact(text, KEY), shown, "{text}");
        }
    }

    #[test]
    fn credentials_are_masked_and_prose_is_not() {
        let echoed = "GET /v1/x HTTP/1.1\r\nauthorization: Bearer some-other-token\r\nhost: h\r\n";
        assert_eq!(
            redact(echoed, KEY),
            "GET /v1/x HTTP/1.1\r\nauthorization: <redacted>\r\nhost: h\r\n"
        );
        assert_eq!(
            redact("token was BEARER abcdefghijklmnop0123, sorry", KEY),
            "token was BEARER <redacted>, sorry"
        );
        assert_eq!(
            redact("Basic dXNlcjpwYXNzd29yZDEyMw==", KEY),
            "Basic <redacted>"
        );
        for prose in [
            "Your basic plan does not include exports",
            "the bearer of this message",
        ] {
            assert_eq!(redact(prose, KEY), prose);
        }
    }

    #[test]
    fn every_server_text_of_an_error_is_masked() {
        let mut e = Error::RetriesExhausted {
            attempts: 2,
            waited: std::time::Duration::ZERO,
            asked: None,
            last: Box::new(Error::Api {
                status: 400,
                errors: vec![crate::ApiErrorEntry {
                    code: KEY.into(),
                    message: format!("bad key {KEY}"),
                }],
                body: Some(KEY.into()),
                path: "chats".into(),
                offset: None,
            }),
        };
        redact_error(&mut e, KEY);
        let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
        assert!(!shown.contains("KEY"), "{shown}");
    }
}
