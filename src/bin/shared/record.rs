//! A record as one line of output.

use std::borrow::Cow;

/// `raw` (a record's JSON as the server sent it) on one line. JSON holds a raw line break only
/// as whitespace between tokens (inside a string it is escaped), so each becomes a space: a
/// server that pretty-prints its answers still gives a record a line.
pub(crate) fn one_line(raw: &str) -> Cow<'_, str> {
    if raw.contains(['\n', '\r']) {
        raw.replace(['\n', '\r'], " ").into()
    } else {
        Cow::Borrowed(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pretty_printed_record_is_one_line_and_the_same_json() {
        let raw = "{\n  \"id\": 7,\r\n  \"text\": \"a\\nb\"\n}";
        let line = one_line(raw);
        assert!(!line.contains(['\n', '\r']), "{line}");
        let (a, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(raw).unwrap(),
            serde_json::from_str(&line).unwrap(),
        );
        assert_eq!(a, b);
        assert!(matches!(one_line("{\"id\":7}"), Cow::Borrowed(_)));
    }
}
