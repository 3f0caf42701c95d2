//! Decoding helpers shared by the models.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default, so `"agents": null` is an empty list.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
