//! The one rule for where a request may go: strictly under the base URL, whatever the path's
//! spelling. Every request the crate sends with the key (a list window, a search, a single
//! call) has its URL made by [`resolve`]; the middleware asks [`is_under`] of the URLs it sees.
//!
//! A server, or a proxy in front of it, may decode a path once or twice, or read a backslash as
//! a slash, before it routes: `%2e%2e`, `..%2f` and `..\` are each a way out of the base path
//! for some server. So each segment of a path is decoded until nothing changes, and it is
//! refused if that yields a dot segment, a slash or backslash, or a control character.

use percent_encoding::percent_decode_str;
use reqwest::Url;

use crate::error::Error;

/// Whether a path may carry a query string: a single call's may (`customers?email=...`), a
/// list's parameters go through the paginator instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    Allowed,
    Refused,
}

/// The URL of `path` (relative to `base`, with or without a leading `/`), or
/// [`Error::InvalidInput`] naming the path (without its query) where it would not stay under
/// `base`. Nothing is sent for a refused path.
///
/// `base` is the client's checked base URL, without a trailing slash.
pub(crate) fn resolve(base: &str, path: &str, query: Query) -> Result<Url, Error> {
    let (route, has_query) = match path.split_once('?') {
        Some((route, _)) => (route, true),
        None => (path, false),
    };
    let bad = |why: &str| Err(Error::InvalidInput(format!("path {route:?} {why}")));
    if has_query && query == Query::Refused {
        return bad("has a query: pass parameters with .query(key, value)");
    }
    if path.contains('#') {
        return bad("has a fragment");
    }
    if route.starts_with("//") || route.contains("://") {
        return bad("is a URL: give a path relative to the base URL, such as \"chats/42\"");
    }
    // A URL parser drops tabs and newlines, and reads `\` in a path as `/`: refused before it
    // sees them.
    if path.chars().any(char::is_control) || route.contains('\\') {
        return bad("has a backslash or a control character");
    }
    let route = route.strip_prefix('/').unwrap_or(route);
    if route.trim().is_empty() {
        return bad("is empty");
    }
    if let Some(why) = route.split('/').find_map(segment_fault) {
        return bad(why);
    }
    let url = Url::parse(&format!("{base}/{}", path.trim_start_matches('/')))
        .map_err(|e| Error::InvalidInput(format!("path {route:?} does not make a URL: {e}")))?;
    // The rule above should make this impossible; it is checked on the URL that will be sent,
    // all the same, because the key goes with it.
    if !is_under(base, &url) {
        return bad("leaves the base URL");
    }
    Ok(url)
}

/// Whether `url` is strictly under `base`: the same scheme, host and port, a path below the
/// base path (at a segment boundary), and no segment that decodes to a way out. Only such
/// requests carry the key.
pub(crate) fn is_under(base: &str, url: &Url) -> bool {
    url.username().is_empty()
        && url.password().is_none()
        && below(base, url)
            .is_some_and(|rest| rest.split('/').all(|seg| segment_fault(seg).is_none()))
}

/// Whether a request an application sends itself (through the middleware) draws from the
/// account's budget: anything to the base URL's origin below its path, however odd its
/// segments, since the server counts it all the same. The crate's own requests are held to
/// [`is_under`].
#[cfg(feature = "middleware")]
pub(crate) fn spends_budget(base: &str, url: &Url) -> bool {
    below(base, url).is_some()
}

/// The part of `url`'s path below `base`'s, where `url` has `base`'s origin and its path
/// goes on past `base`'s at a segment boundary.
fn below<'u>(base: &str, url: &'u Url) -> Option<&'u str> {
    let base = Url::parse(&format!("{}/", base.trim_end_matches('/'))).ok()?;
    (base.origin() == url.origin())
        .then(|| url.path().strip_prefix(base.path()))
        .flatten()
}

/// Why a path segment could lead out of the base path, once a server decodes it as often as it
/// likes: `None` for a segment that cannot. Servers differ in what else they take away before
/// they read a segment as `..`: Java's drop a `;parameter`, Windows' trailing spaces and dots;
/// and old ones read overlong UTF-8 (`%c0%ae`) as a dot. So a segment of dots alone once those
/// are gone is refused, and so is one that does not decode to UTF-8.
fn segment_fault(segment: &str) -> Option<&'static str> {
    let mut decoded = segment.to_owned();
    // Each round removes at least one `%`, so this ends.
    loop {
        let Ok(next) = percent_decode_str(&decoded).decode_utf8() else {
            return Some("has an encoded byte sequence that is not UTF-8");
        };
        if next == decoded.as_str() {
            break;
        }
        decoded = next.into_owned();
    }
    let bare = decoded.split(';').next().unwrap_or_default();
    let bare = bare.trim_end_matches([' ', '\t']);
    if !bare.is_empty() && bare.chars().all(|c| c == '.') {
        Some("has a '.' or '..' segment (in some spelling)")
    } else if decoded.contains(['/', '\\']) {
        Some("has an encoded slash or backslash in a segment")
    } else if decoded.chars().any(char::is_control) {
        Some("has an encoded control character")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://gateway.example/helpcrunch/v1";

    fn url(path: &str) -> Result<String, Error> {
        resolve(BASE, path, Query::Allowed).map(String::from)
    }

    #[test]
    fn a_path_goes_under_the_base_url_and_may_carry_a_query_where_allowed() {
        assert_eq!(url("chats/42").unwrap(), format!("{BASE}/chats/42"));
        assert_eq!(url("/chats/42").unwrap(), format!("{BASE}/chats/42"));
        assert_eq!(
            url("customers?email=ada%40example.com").unwrap(),
            format!("{BASE}/customers?email=ada%40example.com")
        );
        assert_eq!(
            url("customers/ada%40example.com").unwrap(),
            format!("{BASE}/customers/ada%40example.com")
        );
        assert_eq!(
            url("customers?q=a\\b;c").unwrap(),
            format!("{BASE}/customers?q=a\\b;c")
        );
        assert_eq!(url("a;b/c.d").unwrap(), format!("{BASE}/a;b/c.d"));
        assert!(resolve(BASE, "customers?x=1", Query::Refused).is_err());
        assert!(resolve(BASE, "customers", Query::Refused).is_ok());
    }

    #[test]
    fn every_spelling_of_a_way_out_is_refused() {
        for bad in [
            "",
            " ",
            "/",
            "?x=1",
            "../admin",
            "./x",
            "a/./b",
            "%2e%2e/admin",
            "%2E%2E/x",
            "%2e./y",
            ".%2e/y",
            ".%2E/y",
            "departments/%2e%2e/%2e%2e/admin",
            "chats/42/%2e",
            "%252e%252e/admin",
            "..\\admin",
            "a\\b",
            "..%2fadmin",
            "..%2Fadmin",
            "%5c..%5cadmin",
            "a%5Cb",
            "%2e%2e%5cadmin",
            "chats/.\t./x",
            "chats/\n../x",
            "chats/%00",
            "..;/admin",
            "chats/..;/..;/admin",
            "..%3bx/admin",
            ".. /admin",
            "..%20/admin",
            "...",
            "%c0%ae%c0%ae/admin",
            "%ff/x",
            "https://evil/x",
            "http:/\\evil/x",
            "//evil/x",
            "a#b",
        ] {
            let e = url(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{bad:?}: {e:?}");
            assert!(e.to_string().contains("path "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_refusal_names_the_path_without_its_query() {
        let e = url("%2e%2e/admin?email=ada%40example.com").unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("%2e%2e/admin"), "{shown}");
        assert!(!shown.contains("ada"), "{shown}");
    }

    #[test]
    fn only_urls_strictly_under_the_base_are_under_it() {
        let under = |u: &str| is_under(BASE, &Url::parse(u).unwrap());
        assert!(under("https://gateway.example/helpcrunch/v1/chats"));
        assert!(under(
            "https://gateway.example/helpcrunch/v1/chats?offset=0"
        ));
        assert!(!under("https://gateway.example/helpcrunch/v1"));
        assert!(!under("https://gateway.example/helpcrunch/v10/chats"));
        assert!(!under("https://gateway.example/admin"));
        assert!(!under("https://gateway.example/helpcrunch/v1/%2e%2e/admin"));
        assert!(!under("https://gateway.example/helpcrunch/v1/..%2fadmin"));
        assert!(!under(
            "https://gateway.example/helpcrunch/v1/%5c..%5cadmin"
        ));
        assert!(!under("http://gateway.example/helpcrunch/v1/chats"));
        assert!(!under("https://gateway.example:8443/helpcrunch/v1/chats"));
        assert!(!under("https://evil.example/helpcrunch/v1/chats"));
        assert!(!under("https://u:p@gateway.example/helpcrunch/v1/chats"));
    }

    #[cfg(feature = "middleware")]
    #[test]
    fn an_odd_url_of_the_account_still_spends_its_budget() {
        let spends = |u: &str| spends_budget(BASE, &Url::parse(u).unwrap());
        assert!(spends("https://gateway.example/helpcrunch/v1/chats"));
        assert!(spends("https://gateway.example/helpcrunch/v1/..%2fadmin"));
        assert!(!spends("https://gateway.example/helpcrunch/v10/chats"));
        assert!(!spends("https://gateway.example/admin"));
        assert!(!spends("https://evil.example/helpcrunch/v1/chats"));
    }
}
