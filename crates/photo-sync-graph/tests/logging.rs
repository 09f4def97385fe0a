//! Log output of the adapter: retries are logged as warnings, and no log line of any
//! crate contains the access token or the client secret.
//!
//! This is a test binary of its own with one test and a global subscriber. With a
//! subscriber for one thread, the test missed the warning once while other tests ran
//! the same code on other threads, because tracing caches per callsite whether any
//! subscriber wants its events.

#[expect(dead_code, reason = "this binary uses only some of the contract test helpers")]
#[path = "contract/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use photo_sync_domain::GraphObservation;
use photo_sync_domain::ports::PhotoSource;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::ResponseTemplate;

use crate::support::*;

/// Log output, shared with the subscriber that writes it.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn retries_logged_without_secrets() {
    let logs = CapturedLogs::default();
    // Every level, so that the logs of reqwest, hyper and azure_core are checked too.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("no other test of this binary sets a subscriber");

    let server = start_graph().await;
    let throttled = ResponseTemplate::new(429)
        .set_body_json(graph_error("TooManyRequests", "r-429"))
        .insert_header("Retry-After", "0.01")
        .insert_header("request-id", "r-429");
    graph_get(metadata_path(OBJECT_ID)).respond_with(throttled).up_to_n_times(1).with_priority(1).mount(&server).await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"L\"")))
        .mount(&server)
        .await;

    let results = source(&server)
        .with_retry_policy(FAST_RETRY)
        .observe(&[object_id(OBJECT_ID)])
        .await
        .expect("a token is issued");

    assert!(matches!(results[0], Ok(GraphObservation::Photo(_))), "{results:?}");
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("retrying in 10 ms (retry 1 of 3)"), "{text}");
    assert!(text.contains("graph.status=429"), "{text}");
    assert!(text.contains("graph.request_id=\"r-429\""), "{text}");
    assert!(!text.contains(ACCESS_TOKEN), "the access token was logged: {text}");
    assert!(!text.contains(CLIENT_SECRET), "the client secret was logged: {text}");
}
