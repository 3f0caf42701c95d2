//! [`BudgetMiddleware`]: a reqwest-middleware middleware that puts an application's own
//! requests to HelpCrunch through the account's rate budget.

use std::fmt;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::http::client::Client;
use crate::http::target;
use crate::rate::priority::Priority;

/// Puts the requests of a [`reqwest_middleware::ClientWithMiddleware`] to HelpCrunch through
/// a [`Client`]'s rate budget, so that an application's own calls and the client's scans stay
/// under the account's limit together. Made by [`Client::middleware`].
///
/// A request under the client's base URL (same scheme, host and port, and a path below the
/// base path) waits for its turn at the budget, in the lane a [`Priority`] in the request's
/// reqwest-middleware extensions names (`RequestBuilder::with_extension`; reqwest's own
/// request extensions are not readable from a middleware), [`Priority::Interactive`] where
/// there is none, and counts in
/// [`Client::stats`]. Its answer is news for the budget, as the client's own are: a 429 holds
/// back every request of the account, the client's included, as long as the server asked or
/// the adaptive rate judges, and a success that says the window is spent holds them back
/// until it resets. Any other request (another API, through the same client) goes through
/// untouched.
///
/// The answer comes back as it is, a 429 or a 503 included: whether to try again is for the
/// application's own retry middleware (reqwest-retry's, say) to decide. Attach that one
/// first, `.with(retry).with(client.middleware())`, so that every attempt takes its turn at
/// the budget; attached after, the retries would go out unbudgeted. Build the
/// `reqwest::Client` underneath with `redirect(reqwest::redirect::Policy::none())`, as the
/// crate's own is: a redirect it follows is a request the budget never sees.
///
/// The middleware carries no key of its own: the application authenticates its requests as
/// it likes, and `Debug` shows only the base URL and the budget.
///
/// ```no_run
/// use helpcrunch_pager::{Client, Priority};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let key = std::env::var("HELPCRUNCH_API_KEY")?;
/// let client = Client::builder().api_key(&key).build()?;
/// let reqwest = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let http = reqwest_middleware::ClientBuilder::new(reqwest)
///     .with(client.middleware())
///     .build();
///
/// // A call someone waits for: ahead of the windows the scans have queued.
/// let chat = http
///     .get("https://api.helpcrunch.com/v1/chats/42")
///     .bearer_auth(&key)
///     .send()
///     .await?;
/// // Bulk work: it queues with the scans.
/// let customers = http
///     .get("https://api.helpcrunch.com/v1/customers?offset=0&limit=100")
///     .bearer_auth(&key)
///     .with_extension(Priority::Background)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BudgetMiddleware {
    client: Client,
}

impl fmt::Debug for BudgetMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetMiddleware")
            .field("base_url", &self.client.base_url())
            .field("budget", &self.client.inner.budget)
            .finish()
    }
}

impl Client {
    /// A [`BudgetMiddleware`] that puts a `reqwest_middleware::ClientWithMiddleware`'s requests
    /// to this client's base URL through its rate budget (feature `middleware`). It shares the
    /// budget, and the counts of [`stats`](Self::stats), with this client and its clones.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().departments(3).start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .with(client.middleware())
    ///     .build();
    /// let answer = http
    ///     .get(format!("{}/departments", sim.base_url()))
    ///     .bearer_auth(sim.api_key())
    ///     .send()
    ///     .await?;
    /// assert_eq!(answer.status(), 200);
    /// // The call took its turn at the client's budget, and counts as one of its requests.
    /// assert_eq!(client.stats().requests, 1);
    /// # Ok(()) }
    /// ```
    #[must_use = "the middleware does nothing until a reqwest-middleware client is built with it"]
    pub fn middleware(&self) -> BudgetMiddleware {
        BudgetMiddleware {
            client: self.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for BudgetMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !target::spends_budget(self.client.base_url(), req.url()) {
            return next.run(req, extensions).await;
        }
        let lane = extensions.get::<Priority>().copied().unwrap_or_default();
        let permit = self
            .client
            .permit(lane)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let response = next.run(req, extensions).await?;
        // The client's own protocol for an answer (`Client::answer`), short of retrying: what
        // to retry is the application's to decide, but a 429 holds every request back as long
        // as the client's own first retry would wait.
        let mut schedule = self.client.inner.retry.schedule();
        self.client
            .answer(
                permit,
                response.status().as_u16(),
                response.headers(),
                &mut schedule,
            )
            .await;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;

    fn middleware(base_url: &str) -> BudgetMiddleware {
        Client::builder()
            .api_key("sk-secret-0123456789")
            .base_url(base_url)
            .build()
            .unwrap()
            .middleware()
    }

    #[test]
    fn only_urls_under_the_base_url_are_the_accounts() {
        let m = middleware("http://127.0.0.1:9/v1");
        let under =
            |url: &str| target::spends_budget(m.client.base_url(), &Url::parse(url).unwrap());
        assert!(under("http://127.0.0.1:9/v1/chats/42"));
        assert!(under("http://127.0.0.1:9/v1/customers?offset=0&limit=100"));
        assert!(under("HTTP://127.0.0.1:9/v1/./chats"));
        // Odd, but the server counts it: the crate's own requests never go there.
        assert!(under("http://127.0.0.1:9/v1/..%2fadmin"));
        for outside in [
            "http://127.0.0.1:9/v1",
            "http://127.0.0.1:9/v10/chats",
            "http://127.0.0.1:9/v1/../admin",
            "http://127.0.0.1:9/v1/%2e%2e/admin",
            "http://127.0.0.1:9/other",
            "http://127.0.0.1:10/v1/chats",
            "https://127.0.0.1:9/v1/chats",
            "http://localhost:9/v1/chats",
        ] {
            assert!(!under(outside), "{outside} is not under the base URL");
        }
    }

    #[test]
    fn a_default_port_is_the_same_origin() {
        let m = middleware("https://api.helpcrunch.com:443/v1");
        assert!(target::spends_budget(
            m.client.base_url(),
            &Url::parse("https://api.helpcrunch.com/v1/chats").unwrap()
        ));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let shown = format!("{:?}", middleware("http://127.0.0.1:9/v1"));
        assert!(shown.contains("127.0.0.1:9/v1"), "{shown}");
        assert!(!shown.contains("sk-secret"), "{shown}");
    }
}
