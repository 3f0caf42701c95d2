//! Decoding one page: the records under `data` (or the older `messages`) and the total under
//! `meta.total` or at the top level.

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// One page of a collection, as the page stream yields it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The page's records, in the order the API sent them.
    pub items: Vec<T>,
    /// The `offset` the page was asked for.
    pub offset: u64,
    /// The `limit` the page was asked for; fewer items than this means the collection ended.
    pub limit: u32,
    /// The total the API reported on this page.
    pub total: u64,
    /// How many records the API sent, before the scan dropped any it had yielded already.
    pub(crate) received: usize,
}

impl<T: DeserializeOwned> Page<T> {
    /// Decodes a page body as the API sends it, for the window `offset`/`limit` it answers.
    ///
    /// ```
    /// use helpcrunch_pager::{Department, Page};
    ///
    /// let body = br#"{"data": [{"id": 1, "name": "Sales", "agents": []}], "meta": {"total": 1}}"#;
    /// let page: Page<Department> = Page::from_json(body, 0, 100).unwrap();
    /// assert_eq!((page.items[0].id, page.total, page.is_short()), (1, 1, true));
    /// ```
    pub fn from_json(body: &[u8], offset: u64, limit: u32) -> Result<Self, crate::Error> {
        decode(body, offset, limit).map_err(|e| e.into_error(String::new(), offset).1)
    }
}

impl<T> Page<T> {
    /// Whether the API sent fewer records than were asked for, which ends a scan. (`items` may
    /// hold fewer still: the scan drops records it has yielded already.)
    ///
    /// ```
    /// use helpcrunch_pager::Page;
    /// let page: Page<serde_json::Value> = Page::from_json(br#"{"data": [{"id": 1}], "total": 9}"#, 0, 2)?;
    /// assert!(page.is_short(), "one record where two were asked for: the collection ended");
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn is_short(&self) -> bool {
        self.received < self.limit as usize
    }

    /// The window this page answers.
    pub(crate) fn window(&self) -> crate::paging::window::Window {
        crate::paging::window::Window {
            offset: self.offset,
            limit: self.limit,
        }
    }

    /// The offset just past the last record the API sent: where a scan resumed later should
    /// start.
    ///
    /// ```
    /// use helpcrunch_pager::Page;
    /// let page: Page<serde_json::Value> =
    ///     Page::from_json(br#"{"data": [{"id": 1}, {"id": 2}], "total": 9}"#, 40, 2)?;
    /// assert_eq!(page.end_offset(), 42);
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn end_offset(&self) -> u64 {
        self.offset.saturating_add(self.received as u64)
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(alias = "messages")]
    data: Vec<T>,
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    total: Option<u64>,
}

/// Why a body is not a page.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The body ended early: a transfer cut short, worth another attempt.
    Truncated(String),
    /// The body is complete but not a page.
    Malformed(String),
}

impl DecodeError {
    /// The crate's error for it, and whether another attempt might succeed.
    pub(crate) fn into_error(self, path: String, offset: u64) -> (bool, crate::Error) {
        let (retryable, message) = match self {
            DecodeError::Truncated(m) => (true, m),
            DecodeError::Malformed(m) => (false, m),
        };
        (
            retryable,
            crate::Error::Decode {
                path,
                offset: Some(offset),
                message,
            },
        )
    }
}

/// Decodes a page body.
pub(crate) fn decode<T: DeserializeOwned>(
    body: &[u8],
    offset: u64,
    limit: u32,
) -> Result<Page<T>, DecodeError> {
    let env: Envelope<T> = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            DecodeError::Truncated(format!("the body ended early ({e})"))
        } else {
            DecodeError::Malformed(e.to_string())
        }
    })?;
    let total = env
        .meta
        .and_then(|m| m.total)
        .or(env.total)
        .ok_or_else(|| {
            DecodeError::Malformed("the page has no total (neither meta.total nor total)".into())
        })?;
    Ok(Page {
        received: env.data.len(),
        items: env.data,
        offset,
        limit,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn page(body: &str) -> Result<Page<Value>, DecodeError> {
        decode(body.as_bytes(), 0, 100)
    }

    #[test]
    fn reads_the_total_from_meta_or_the_top_level() {
        assert_eq!(
            page(r#"{"data":[1,2],"meta":{"total":7}}"#).unwrap().total,
            7
        );
        assert_eq!(page(r#"{"data":[1],"total":3}"#).unwrap().total, 3);
    }

    #[test]
    fn reads_the_older_messages_key() {
        let p = page(r#"{"messages":[{"id":1}],"total":1}"#).unwrap();
        assert_eq!(p.items.len(), 1);
    }

    #[test]
    fn a_missing_total_or_data_is_malformed() {
        assert!(matches!(
            page(r#"{"data":[]}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            page(r#"{"meta":{"total":1}}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            page("<html>Bad gateway</html>"),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn a_body_cut_short_is_truncated() {
        assert!(matches!(
            page(r#"{"data":[{"id":1},{"id""#),
            Err(DecodeError::Truncated(_))
        ));
        assert!(matches!(page(""), Err(DecodeError::Truncated(_))));
    }

    #[test]
    fn a_short_page_is_one_with_fewer_items_than_asked() {
        let p: Page<Value> = decode(br#"{"data":[1,2],"meta":{"total":5}}"#, 0, 3).unwrap();
        assert!(p.is_short());
        let p: Page<Value> = decode(br#"{"data":[1,2,3],"meta":{"total":5}}"#, 0, 3).unwrap();
        assert!(!p.is_short());
    }
}
