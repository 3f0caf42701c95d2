//! `--about`: what the tap is, what it can do and its settings, as text or JSON.

use serde_json::{json, Value};

use crate::config::Config;

/// What Meltano's `--about --format json` reads: the name, the capabilities and the settings
/// as a JSON Schema.
pub(crate) fn json() -> Value {
    json!({
        "name": "tap-helpcrunch",
        "description": DESCRIPTION,
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": ["about", "activate-version", "catalog", "discover", "properties", "state"],
        "settings": schemars::schema_for!(Config),
    })
}

/// The same for a person.
pub(crate) fn text() -> String {
    let about = json();
    let mut text = format!(
        "tap-helpcrunch {}\n{DESCRIPTION}\n\nCapabilities: {}\n\nSettings (--config FILE, \
         a JSON object):\n",
        env!("CARGO_PKG_VERSION"),
        about["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let properties = about["settings"]["properties"].as_object().cloned();
    for (name, setting) in properties.into_iter().flatten() {
        let kind = match &setting["type"] {
            Value::Array(types) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("any")
                .to_owned(),
            Value::String(t) => t.clone(),
            _ => "any".to_owned(),
        };
        let default = match setting.get("default") {
            Some(d) => format!(" [default: {d}]"),
            None => String::new(),
        };
        let secret = if setting.get("secret") == Some(&json!(true)) {
            " (secret)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {name} ({kind}){secret}{default}\n      {}\n",
            setting["description"]
                .as_str()
                .unwrap_or_default()
                .replace('\n', " ")
        ));
    }
    text
}

const DESCRIPTION: &str = "A Singer tap for HelpCrunch: departments, agents, customers, chats \
                           and messages, read as fast as the account's rate limit allows, \
                           incrementally after the first sync.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_about_text_lists_every_setting_and_marks_the_secrets() {
        let text = text();
        for name in crate::config::known_settings() {
            assert!(text.contains(&format!("  {name} (")), "{name} in {text}");
        }
        assert!(text.contains("api_key (string) (secret)"), "{text}");
        assert!(
            text.contains("page_size (integer) [default: 100]"),
            "{text}"
        );
    }
}
