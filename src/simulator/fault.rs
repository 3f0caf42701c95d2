//! Faults the simulator injects on chosen requests: which request gets one, and what it does
//! to the answer.

use serde_json::{Map, Value};

use super::errors::error_body;

/// What the simulator answers instead of the page or record, on a request chosen by number.
///
/// A fault that stands in for the answer (`Status`, `Body`, `Answer`, `Reset`, `Redirect`)
/// leaves the data as it was: a `POST` answered `502`, or reset, created nothing, as where the
/// failure came before the server acted. The others (`Truncated`, `Total`, `Short`, `Stall`
/// and the like) spoil or delay the answer of a request that was served, and acted on.
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
    /// `200 OK` with a page that holds only the first half of its records (rounded down: at
    /// least one fewer than it should, and none of one), while its total stays the real one,
    /// as a lagging replica or a query the server cut off answers. An empty page stays empty.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Fault, Simulator};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().departments(250).fault(1, Fault::Short).start()?;
    /// let body = reqwest::Client::new()
    ///     .get(format!("{}/departments?offset=0&limit=100", sim.base_url()))
    ///     .bearer_auth(sim.api_key())
    ///     .send()
    ///     .await?
    ///     .text()
    ///     .await?;
    /// let page: serde_json::Value = serde_json::from_str(&body)?;
    /// assert_eq!(page["data"].as_array().map(Vec::len), Some(50));
    /// assert_eq!(page["meta"]["total"], 250);
    /// # Ok(()) }
    /// ```
    Short,
    /// The page, after this long: longer than a client's timeout, it is a response that never
    /// comes.
    Stall(std::time::Duration),
    /// `429 Too Many Requests` with HelpCrunch's body and this `Retry-After` header, as it
    /// came (`"0"`, `"3"`, or an HTTP date, which may lie in the past); a value no header can
    /// carry is left out.
    RateLimited(String),
}

impl Fault {
    /// The status and body this fault answers with; `None` for the faults that change the
    /// page (`Truncated`) or give no answer (`Reset`).
    pub(crate) fn reply(&self) -> Option<(u16, String)> {
        match self {
            Fault::Status(status) => Some((*status, error_body(*status))),
            Fault::Body(body) => Some((200, body.clone())),
            Fault::Answer(status, body) => Some((*status, body.clone())),
            Fault::RateLimited(_) => Some((429, error_body(429))),
            _ => None,
        }
    }

    /// The page `body` as this fault spoils it; unchanged for the faults that do not edit a
    /// page.
    pub(crate) fn spoil(&self, body: &str) -> String {
        let edit = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut page: Map<String, Value> =
                serde_json::from_str(body).expect("the simulator's pages are JSON");
            f(&mut page);
            Value::Object(page).to_string()
        };
        let records = |f: &dyn Fn(&mut Vec<Value>)| {
            edit(&|page| {
                if let Some(Value::Array(data)) = page.get_mut("data") {
                    f(data);
                }
            })
        };
        match self {
            Fault::Truncated => body[..body.len() / 2].to_owned(),
            Fault::Total(total) => edit(&|page| {
                page.remove("meta");
                page.remove("total");
                if let Some(raw) = total {
                    let value = serde_json::from_str(raw).expect("Fault::Total takes JSON text");
                    page.insert("total".into(), value);
                }
            }),
            Fault::Longer => records(&|data| {
                data.extend((0..101u64).map(|i| serde_json::json!({"id": 900_000_000 + i})));
            }),
            Fault::DuplicateId => records(&|data| {
                if data.len() >= 2 {
                    data[1] = data[0].clone();
                }
            }),
            Fault::Short => records(&|data| data.truncate(data.len() / 2)),
            _ => body.to_owned(),
        }
    }
}

/// A fault drawn for request `n` from `rates` (each fault with its probability), by a
/// generator seeded with `seed` and `n`, so a run can be repeated.
pub(crate) fn random(rates: &[(f64, Fault)], seed: u64, n: u64) -> Option<&Fault> {
    if rates.is_empty() {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rates
        .iter()
        .find(|(p, _)| rng.f64() < *p)
        .map(|(_, fault)| fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: impl IntoIterator<Item = u64>, total: u64) -> String {
        let data: Vec<_> = ids
            .into_iter()
            .map(|id| serde_json::json!({"id": id}))
            .collect();
        serde_json::json!({"data": data, "meta": {"total": total}}).to_string()
    }

    fn ids(body: &str) -> Vec<u64> {
        let page: Value = serde_json::from_str(body).unwrap();
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn a_short_page_keeps_its_first_half_and_its_real_total() {
        let short = Fault::Short.spoil(&page(1..=100, 250));
        assert_eq!(ids(&short), (1..=50).collect::<Vec<_>>());
        let total: Value = serde_json::from_str(&short).unwrap();
        assert_eq!(total["meta"]["total"], 250);
        assert_eq!(ids(&Fault::Short.spoil(&page(1..=3, 3))), [1]);
        assert!(
            ids(&Fault::Short.spoil(&page([7], 1))).is_empty(),
            "one fewer"
        );
        assert!(ids(&Fault::Short.spoil(&page([], 0))).is_empty());
    }

    #[test]
    fn random_faults_include_short_pages_and_repeat_with_the_seed() {
        let rates = [(0.5, Fault::Short)];
        let drawn: Vec<bool> = (1..=200).map(|n| random(&rates, 1, n).is_some()).collect();
        let again: Vec<bool> = (1..=200).map(|n| random(&rates, 1, n).is_some()).collect();
        assert_eq!(drawn, again);
        let hits = drawn.iter().filter(|&&d| d).count();
        assert!((60..=140).contains(&hits), "{hits} of 200 at 50 %");
        assert!((1..=200).all(|n| random(&rates, 1, n).is_none_or(|f| *f == Fault::Short)));
    }
}
