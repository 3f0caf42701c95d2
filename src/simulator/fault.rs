//! Faults the simulator injects on chosen requests.

/// What the simulator answers instead of the page, on a request chosen by number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// This status with HelpCrunch's documented body for it (a proxy's HTML page for 502, 503
    /// and 504).
    Status(u16),
    /// `200 OK` with this body instead of the page.
    Body(String),
    /// This status with this body, such as an older error shape.
    Answer(u16, String),
    /// The connection is closed with no answer at all, as by a reset.
    Reset,
    /// `200 OK` with the page cut off halfway, as when a transfer breaks.
    Truncated,
    /// `302 Found` to this URL, with the request's path and query appended.
    Redirect(String),
    /// The page with its total replaced by this JSON text (`"-5"`, `"\"12\""`,
    /// `"18446744073709551615"`), or with no total at all.
    Total(Option<String>),
    /// The page with records past the limit asked for.
    Longer,
    /// The page with its second record replaced by a copy of its first.
    DuplicateId,
    /// The page, after this long: longer than a client's timeout, it is a response that never
    /// comes.
    Stall(std::time::Duration),
}

impl Fault {
    /// The status and body this fault answers with; `None` for the faults that change the
    /// page (`Truncated`) or give no answer (`Reset`).
    pub(crate) fn reply(&self) -> Option<(u16, String)> {
        match self {
            Fault::Status(status) => Some((*status, error_body(*status))),
            Fault::Body(body) => Some((200, body.clone())),
            Fault::Answer(status, body) => Some((*status, body.clone())),
            _ => None,
        }
    }
}

/// HelpCrunch's documented error body for `status` (newer shapes), or what a proxy in front of
/// it sends for a gateway error.
pub(crate) fn error_body(status: u16) -> String {
    let entries: &[(&str, &str)] = match status {
        400 => &[("invalid_request", "Invalid request")],
        401 => &[("invalid_request", "Invalid request"), ("unauthorized", "Unauthorized")],
        403 => &[("forbidden", "Forbidden")],
        404 => &[("not_found", "Not found")],
        429 => &[("invalid_request", "Invalid request"), ("too_many_requests", "Too many requests")],
        502..=504 => {
            return format!("<html><head><title>{status}</title></head><body><center><h1>{status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
        }
        _ => &[("internal_error", "Internal server error")],
    };
    errors_json(entries)
}

/// `{"errors":[{"code":..,"message":..},..]}`.
pub(crate) fn errors_json(entries: &[(&str, &str)]) -> String {
    let errors: Vec<_> = entries
        .iter()
        .map(|(code, message)| serde_json::json!({ "code": code, "message": message }))
        .collect();
    serde_json::json!({ "errors": errors }).to_string()
}
