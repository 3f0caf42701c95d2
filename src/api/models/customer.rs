//! A customer, from `GET /customers` and `POST /customers/search`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{lenient, timestamp, Timestamp};

/// A customer (a contact of the account).
///
/// Every field but `id` may be missing or `null`; fields this model does not name are kept in
/// [`extra`](Self::extra), and `customData` as it came in [`custom_data`](Self::custom_data).
///
/// ```
/// use helpcrunch_pager::Customer;
///
/// let c: Customer = serde_json::from_str(r##"{
///     "id": 6930456, "name": "Mike", "email": null, "firstSeen": "1594322706",
///     "lastSeen": 1601477718, "location": {"countryCode": "UA", "city": "Kyiv"},
///     "tags": [{"name": "Paid", "color": "#ff0000"}], "customData": {"plan": "pro"}
/// }"##).unwrap();
/// assert_eq!(c.name.as_deref(), Some("Mike"));
/// assert_eq!(c.first_seen.unwrap().unix_seconds(), 1594322706);
/// assert_eq!(c.location.unwrap().city.as_deref(), Some("Kyiv"));
/// assert_eq!(c.tags[0].name.as_deref(), Some("Paid"));
/// assert_eq!(c.custom_data.unwrap()["plan"], "pro");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Customer {
    /// The customer's id in HelpCrunch.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// Name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// The id the account's own system gave the customer.
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_id: Option<String>,
    /// Company.
    #[serde(default, deserialize_with = "lenient::string")]
    pub company: Option<String>,
    /// Phone number.
    #[serde(default, deserialize_with = "lenient::string")]
    pub phone: Option<String>,
    /// When the customer was first seen.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub first_seen: Option<Timestamp>,
    /// When the customer was last seen.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub last_seen: Option<Timestamp>,
    /// Where the customer was last seen.
    #[serde(default, deserialize_with = "lenient::object")]
    pub location: Option<Location>,
    /// The customer's last device.
    #[serde(default, deserialize_with = "lenient::object")]
    pub device: Option<Device>,
    /// Whether the customer unsubscribed from emails.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub unsubscribed: Option<bool>,
    /// Whether the customer is blocked.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub blocked: Option<bool>,
    /// Where the customer came from.
    #[serde(default, deserialize_with = "lenient::string")]
    pub source: Option<String>,
    /// The referring page.
    #[serde(default, deserialize_with = "lenient::string")]
    pub referer: Option<String>,
    /// The last page the customer visited.
    #[serde(default, deserialize_with = "lenient::string")]
    pub last_page: Option<String>,
    /// The customer's locale.
    #[serde(default, deserialize_with = "lenient::string")]
    pub locale: Option<String>,
    /// How the customer was created.
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_from: Option<String>,
    /// The integration the customer came through.
    #[serde(default, deserialize_with = "lenient::string")]
    pub integration_id: Option<String>,
    /// Notes on the customer.
    #[serde(default, deserialize_with = "lenient::string")]
    pub notes: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "lenient::list")]
    #[cfg_attr(
        feature = "schemars",
        schemars(schema_with = "lenient::list_schema::<Tag>")
    )]
    pub tags: Vec<Tag>,
    /// The account's own fields for the customer, as sent.
    #[serde(default, deserialize_with = "lenient::raw")]
    pub custom_data: Option<Value>,
    /// Every field this model does not name, as the API sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where a customer was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Location {
    /// Region code.
    #[serde(default, deserialize_with = "lenient::string")]
    pub region_code: Option<String>,
    /// Country code.
    #[serde(default, deserialize_with = "lenient::string")]
    pub country_code: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "lenient::string")]
    pub city: Option<String>,
}

/// A customer's device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Device {
    /// The device's id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// IP address.
    #[serde(default, deserialize_with = "lenient::string")]
    pub ip: Option<String>,
    /// Time zone.
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
    /// Platform.
    #[serde(default, deserialize_with = "lenient::string")]
    pub platform: Option<String>,
    /// Browser user agent.
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_agent: Option<String>,
}

/// A tag on a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Tag {
    /// The tag's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// Its colour, such as `#ff0000`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub color: Option<String>,
}
