//! Text that came from a server (an error body, a decoder's complaint about one, a `Location`
//! header) with the key taken out before it reaches an [`Error`]: a proxy that echoes the
//! request's headers would otherwise put the key in every message that quotes it.

use crate::error::Error;

/// What stands where a secret was.
const MASK: &str = "<redacted>";

/// `text` with `key` (as sent, or percent-encoded in any way), and any credential after `Bearer ` or
/// `Basic ` or in an `Authorization:` header line, replaced by `<redacted>`.
pub(crate) fn redact(text: &str, key: &str) -> String {
    let mut out = text.to_owned();
    if !key.is_empty() {
        out = out.replace(key, MASK);
        // However a server percent-encoded it: the text is shown decoded where that hides it.
        let decoded = percent_encoding::percent_decode_str(&out).decode_utf8_lossy();
        if decoded.contains(key) {
            out = decoded.replace(key, MASK);
        }
    }
    for scheme in ["authorization:", "bearer ", "basic "] {
        out = mask_after(&out, scheme);
    }
    out
}

/// Masks the word after each case-insensitive `marker` (for a header line, the rest of it).
fn mask_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(at) = lower[from..].find(marker).map(|i| from + i) {
        let start = at + marker.len();
        let value = &text[start..];
        let lead = value.len() - value.trim_start_matches([' ', '\t']).len();
        let secret_end = if marker.ends_with(':') {
            value.find(['\r', '\n', '"', ',']).unwrap_or(value.len())
        } else {
            value
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '<'))
                .unwrap_or(value.len())
        };
        out.push_str(&text[from..start]);
        if secret_end > lead && !value[lead..secret_end].starts_with(MASK) {
            out.push_str(&value[..lead]);
            out.push_str(MASK);
        } else {
            out.push_str(&value[..secret_end]);
        }
        from = start + secret_end;
    }
    out.push_str(&text[from..]);
    out
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
    fn the_key_and_any_credential_are_masked() {
        let echoed = "GET /v1/x HTTP/1.1\r\nauthorization: Bearer hc-live/KEY+0f9e\r\nhost: h\r\n";
        let shown = redact(echoed, KEY);
        assert_eq!(
            shown,
            "GET /v1/x HTTP/1.1\r\nauthorization: <redacted>\r\nhost: h\r\n"
        );
        assert_eq!(
            redact(r#"{"error": "bad token hc-live/KEY+0f9e"}"#, KEY),
            r#"{"error": "bad token <redacted>"}"#
        );
        assert_eq!(redact("key=hc%2Dlive%2FKEY%2B0f9e", KEY), "key=<redacted>");
        assert_eq!(
            redact("key=hc-live%2fKEY%2b0f9e&x=1", KEY),
            "key=<redacted>&x=1"
        );
        assert_eq!(
            redact("token was BEARER other-token, sorry", KEY),
            "token was BEARER <redacted>, sorry"
        );
        assert_eq!(redact("Basic dXNlcjpwYXNz", KEY), "Basic <redacted>");
        assert_eq!(redact("nothing secret", KEY), "nothing secret");
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
                    message: format!("Bearer {KEY}"),
                }],
                body: Some(KEY.into()),
                path: "chats".into(),
                offset: None,
            }),
        };
        redact_error(&mut e, KEY);
        let shown = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(!shown.contains("KEY"), "{shown}");
    }
}
