//! `text_enum!`: an enum the API sends as a string, with an `Unknown(String)` for values this
//! crate does not know yet, so a new value on the server never fails a page.

/// Declares the enum, its `From<String>`/`Into<String>` (serde goes through these), `as_str`
/// and `Display`. The first spelling of a variant is the one written back; the others are
/// aliases seen in other doc versions.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know yet, kept as sent.
            Unknown(String),
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire $(| $alias)* => Self::$variant, )+
                    _ => Self::Unknown(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Unknown(s) => s,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl $name {
            /// The value as the API spells it; an unknown value as it was sent.
            ///
            #[doc = concat!(
                "```\n",
                "use helpcrunch_pager::", stringify!($name), ";\n",
                "let unknown = ", stringify!($name), "::Unknown(\"new-value\".into());\n",
                "assert_eq!(unknown.as_str(), \"new-value\");\n",
                "assert_eq!(", stringify!($name), "::from(unknown.to_string()), unknown);\n",
                "```",
            )]
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(s) => s,
                }
            }
        }

        /// Any text: the values this crate knows are listed as examples, and a value it does not
        /// know yet is read too (as is a number, which some doc versions send).
        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": ["string", "integer"],
                    "examples": [$($wire),+],
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
