//! HelpCrunch's error bodies, as the simulator answers them: the documented
//! `{"errors": [{"code", "message"}]}` shape, and the HTML page a proxy in front of the API
//! sends for a gateway error.

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
