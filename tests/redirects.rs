//! Redirects are never followed: a request to wherever a 3xx points would leave outside the
//! rate budget and carry the key to a host the caller never named. A 3xx is a typed error that
//! says where it pointed, and is not retried.

mod support;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::Error;
use support::*;

#[tokio::test]
async fn a_redirect_is_refused_and_its_target_sees_no_request() {
    let target = Simulator::builder().departments(10).start().unwrap();
    let origin = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Redirect(target.base_url()))
        .start()
        .unwrap();
    let client = client_for(&origin, 60_000);
    let err = bounded("redirected", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();

    assert!(target.requests().is_empty(), "the redirect was followed");
    assert_eq!(origin.requests().len(), 1, "a redirect is not retried");
    let location = format!("{}/departments?offset=0&limit=100", target.base_url());
    assert!(
        matches!(&err, Error::Redirect { status: 302, location: Some(l), .. } if *l == location),
        "{err:?}"
    );
    assert!(err.is_redirect());
    assert_eq!((err.status(), err.attempts()), (Some(302), 1));
    let message = err.to_string();
    assert!(message.contains(&location), "{message}");
    assert!(message.contains("does not follow redirects"), "{message}");
}

#[tokio::test]
async fn every_3xx_is_refused_and_one_without_a_location_says_so() {
    for status in [300, 301, 303, 307, 308] {
        let origin = Simulator::builder()
            .departments(10)
            .fault(1, Fault::Answer(status, String::new()))
            .start()
            .unwrap();
        let client = client_for(&origin, 60_000);
        let err = bounded("3xx", client.departments().try_collect::<Vec<_>>())
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{status}: {err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(origin.requests().len(), 1, "{status} was retried");
        assert!(
            err.to_string().contains("with no Location"),
            "{status}: {err}"
        );
    }
}

/// A brought HTTP client that follows redirects: the crate cannot stop it, but it does not take
/// the answer from elsewhere for the one it asked for.
#[tokio::test]
async fn a_redirect_a_brought_client_followed_is_an_error_not_an_answer() {
    let target = Simulator::builder().departments(10).start().unwrap();
    let origin = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Redirect(target.base_url()))
        .start()
        .unwrap();
    let following = reqwest::Client::builder().build().unwrap();
    let client = builder_for(&origin, 60_000)
        .http_client(following)
        .build()
        .unwrap();
    let err = bounded("redirected", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    assert_eq!(target.requests().len(), 1, "reqwest followed it");
    assert!(err.is_redirect(), "{err:?}");
    // Where it ended, without the query.
    let location = format!("{}/departments", target.base_url());
    assert!(err.to_string().contains(&location), "{err}");
    assert!(!err.to_string().contains("offset="), "{err}");
}

/// A brought client's requests go through the budget and the retry policy as the crate's own,
/// and a timeout set on the builder holds for each request.
#[tokio::test]
async fn a_brought_client_serves_scans_and_keeps_the_builders_timeout() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = builder_for(&sim, 60_000).http_client(http).build().unwrap();
    let ids = ids("scan", client.departments(), |d| d.id).await.unwrap();
    assert_each_once_in_order(&ids, 250);

    let slow = Simulator::builder()
        .departments(10)
        .latency(std::time::Duration::from_millis(400))
        .start()
        .unwrap();
    let http = reqwest::Client::builder().build().unwrap();
    let client = builder_for(&slow, 60_000)
        .http_client(http)
        .timeout(std::time::Duration::from_millis(50))
        .retry_policy(helpcrunch_pager::RetryPolicy::never())
        .build()
        .unwrap();
    let err = bounded("timed out", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The control: the brought client's own settings (no timeout) hold where none is set.
    let patient = builder_for(&slow, 60_000)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let read = bounded("patient", patient.departments().try_collect::<Vec<_>>()).await;
    assert_eq!(read.unwrap().len(), 10);
}
