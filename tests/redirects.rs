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
