//! Retries while Graph throttles (429) or is unavailable (503, 504).

use std::time::{Duration, Instant};

use photo_sync_domain::ports::{Download, FailureKind, PhotoSource};
use photo_sync_domain::{ETag, GraphObservation};
use photo_sync_graph::RetryPolicy;
use wiremock::ResponseTemplate;

use crate::support::*;

fn throttled(retry_after: &str) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .set_body_json(graph_error("TooManyRequests", "r-429"))
        .insert_header("Retry-After", retry_after)
        .insert_header("request-id", "r-429")
}

#[tokio::test]
async fn throttled_request_waits_fractional_retry_after() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(throttled("0.25"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"R1\"")))
        .mount(&server)
        .await;
    // Backoff without the header would be 1 ms, so a wait of 250 ms proves that the
    // fractional Retry-After was used.
    let source = source(&server).with_retry_policy(FAST_RETRY);

    let started = Instant::now();
    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");
    let elapsed = started.elapsed();

    assert_eq!(results, vec![Ok(GraphObservation::Photo(ETag::new("\"R1\"").expect("not empty")))]);
    assert_eq!(count_requests(&server, &metadata_path(OBJECT_ID)).await, 2);
    assert!(elapsed >= Duration::from_millis(250), "the retry came after {elapsed:?}");
}

#[tokio::test]
async fn unavailable_without_retry_after_backs_off() {
    for status in [503, 504] {
        let server = start_graph().await;
        graph_get(value_path(OBJECT_ID))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        graph_get(value_path(OBJECT_ID))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_bytes(fixture_photo("grace-hopper-48.jpg"))
                    .insert_header("ETag", "\"V\""),
            )
            .mount(&server)
            .await;
        let source = source(&server).with_retry_policy(FAST_RETRY);

        let results = source.download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

        assert!(matches!(&results[0], Ok(Download::Photo { .. })), "{status}: {results:?}");
        assert_eq!(count_requests(&server, &value_path(OBJECT_ID)).await, 3, "{status}");
    }
}

#[tokio::test]
async fn throttled_forever_gives_up_as_unavailable() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID)).respond_with(throttled("0.01")).mount(&server).await;
    // The default policy, so the test pins the production number of retries.
    let source = source(&server);

    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("Graph never stopped throttling");
    assert_eq!(failure.kind, FailureKind::Unavailable);
    assert_eq!(
        count_requests(&server, &metadata_path(OBJECT_ID)).await,
        1 + RetryPolicy::default().max_retries as usize
    );
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn retry_count_follows_policy() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID)).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let policy = RetryPolicy { max_retries: 2, ..FAST_RETRY };
    let source = source(&server).with_retry_policy(policy);

    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert_eq!(results[0].as_ref().map_err(|f| f.kind), Err(FailureKind::Unavailable));
    assert_eq!(count_requests(&server, &metadata_path(OBJECT_ID)).await, 3);
}
