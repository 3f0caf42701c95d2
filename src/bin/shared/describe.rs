//! An error in the user's terms.

use helpcrunch_pager::Error;

/// The error, followed by whatever its causes add (reqwest's "error sending request" says
/// little until its cause says "connection refused"), with the library's names of settings
/// replaced by the program's (`terms`: the library's words, then the program's).
pub(crate) fn describe(e: &Error, terms: &[(&str, &str)]) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    // Only the library's own words are translated: an error that quotes a server keeps what
    // the server wrote, but for the rate setting a 429's hint names.
    let library_text = matches!(e, Error::InvalidInput(_));
    for (library, program) in terms {
        if library_text || *library == RATE_SETTING {
            message = message.replace(library, program);
        }
    }
    message
}

/// The setting a 429's hint names, in a message that may also quote the server.
pub(crate) const RATE_SETTING: &str = "requests_per_minute";
