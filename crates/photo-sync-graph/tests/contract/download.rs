//! `download`: photo bytes with their ETag, and "no photo" responses of `$value`.

use photo_sync_domain::ETag;
use photo_sync_domain::ports::{Download, FailureKind, PhotoSource};
use wiremock::ResponseTemplate;

use crate::support::*;

#[tokio::test]
async fn download_returns_bytes_and_etag() {
    let server = start_graph().await;
    let photo = fixture_photo("grace-hopper.jpg");
    graph_get(value_path(OBJECT_ID))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(photo.clone(), "image/jpeg").insert_header("ETag", "\"BA09D118\""),
        )
        .expect(1)
        .mount(&server)
        .await;

    let results = source(&server).download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let expected = Download::Photo { etag: ETag::new("\"BA09D118\""), bytes: photo };
    assert_eq!(results, vec![Ok(expected)]);
}

#[tokio::test]
async fn download_ignores_content_type() {
    let server = start_graph().await;
    // Batch items have served photo bytes labelled application/json, and the adapter
    // leaves all checks of the bytes to the domain.
    let not_a_photo = fixture_photo("html-error-page.jpg");
    graph_get(value_path(OBJECT_ID))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(not_a_photo.clone(), "application/json")
                .insert_header("ETag", "\"C0FFEE\""),
        )
        .mount(&server)
        .await;

    let results = source(&server).download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let expected = Download::Photo { etag: ETag::new("\"C0FFEE\""), bytes: not_a_photo };
    assert_eq!(results, vec![Ok(expected)]);
}

#[tokio::test]
async fn download_without_etag_header() {
    let server = start_graph().await;
    let photo = fixture_photo("grace-hopper-48.jpg");
    graph_get(value_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_raw(photo.clone(), "image/jpeg"))
        .mount(&server)
        .await;

    let results = source(&server).download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(Download::Photo { etag: None, bytes: photo })]);
}

#[tokio::test]
async fn download_every_other_404_is_no_photo() {
    let not_found = [
        ("ImageNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ImageNotFound", "r-1"))),
        ("ErrorEntityNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ErrorEntityNotFound", "r-2"))),
        ("ErrorItemNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ErrorItemNotFound", "r-3"))),
        ("unknown code", ResponseTemplate::new(404).set_body_json(graph_error("SomeFutureCode", "r-4"))),
        ("empty body", ResponseTemplate::new(404)),
        ("HTML body", ResponseTemplate::new(404).set_body_raw("<html><body>Not Found</body></html>", "text/html")),
    ];

    for (case, response) in not_found {
        let server = start_graph().await;
        graph_get(value_path(OBJECT_ID)).respond_with(response).expect(1).mount(&server).await;

        let results = source(&server).download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

        assert_eq!(results, vec![Ok(Download::NoPhoto)], "{case}");
    }
}

#[tokio::test]
async fn download_unknown_user_fails() {
    let server = start_graph().await;
    graph_get(value_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error("Request_ResourceNotFound", "r-unknown")))
        .mount(&server)
        .await;

    let results = source(&server).download(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("an unknown user is a failure");
    assert_eq!(failure.kind, FailureKind::UnknownUser);
}

#[tokio::test]
async fn download_encodes_guest_upn() {
    let server = start_graph().await;
    let photo = fixture_photo("eileen-collins.png");
    graph_get(value_path("eileen_example.org%23EXT%23@contoso.onmicrosoft.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(photo.clone(), "image/png").insert_header("ETag", "\"E1\""),
        )
        .expect(1)
        .mount(&server)
        .await;

    let guest = photo_sync_domain::MicrosoftAccount::UserPrincipalName(
        "eileen_example.org#EXT#@contoso.onmicrosoft.com".into(),
    );
    let results = source(&server).download(&[guest]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(Download::Photo { etag: ETag::new("\"E1\""), bytes: photo })]);
}
