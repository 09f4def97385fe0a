//! Validation of the settings, named by configuration key.

use photo_sync_graph::{GraphPhotoSource, GraphSettings, SettingsError};

fn settings() -> GraphSettings {
    GraphSettings::new("contoso.onmicrosoft.com", "7d4f1c2a-0b3e-4c5d-9e6f-112233445566", "a-secret-value")
}

fn error_of(settings: GraphSettings) -> SettingsError {
    GraphPhotoSource::new(settings).expect_err("the settings are invalid")
}

#[test]
fn http_base_url_on_remote_host_rejected() {
    let error = error_of(GraphSettings { base_url: "http://graph.microsoft.com".into(), ..settings() });

    assert!(matches!(&error, SettingsError::InvalidUrl { key: "graph.base_url", .. }), "{error:?}");
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn http_authority_on_remote_host_rejected() {
    let error = error_of(GraphSettings { authority_host: "http://login.microsoftonline.com".into(), ..settings() });

    assert!(matches!(&error, SettingsError::InvalidUrl { key: "graph.authority_host", .. }), "{error:?}");
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn invalid_settings_are_named() {
    let cases = [
        GraphSettings { base_url: "graph.microsoft.com".into(), ..settings() },
        GraphSettings { base_url: "ftp://127.0.0.1/graph".into(), ..settings() },
        GraphSettings { base_url: "http://10.1.2.3:8080".into(), ..settings() },
        GraphSettings { base_url: "https://user:password@graph.microsoft.com".into(), ..settings() },
        GraphSettings { base_url: "https://graph.microsoft.com/?tenant=x".into(), ..settings() },
        GraphSettings { authority_host: "https://login.microsoftonline.com/contoso".into(), ..settings() },
        GraphSettings { authority_host: "http://[::2]:8080".into(), ..settings() },
        GraphSettings { tenant_id: "  ".into(), ..settings() },
        GraphSettings { tenant_id: "contoso/../other".into(), ..settings() },
        GraphSettings { client_id: String::new(), ..settings() },
        GraphSettings { client_secret: String::new(), ..settings() },
        GraphSettings { max_concurrency: 0, ..settings() },
    ];

    let messages: Vec<String> = cases.into_iter().map(|case| error_of(case).to_string()).collect();

    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn valid_endpoints_accepted() {
    let cases = [
        ("https://graph.microsoft.com", "https://login.microsoftonline.com"),
        ("https://graph.microsoft.us/", "https://login.microsoftonline.us/"),
        ("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081"),
        ("http://127.10.0.1/graph/", "http://localhost:8081"),
        ("http://[::1]:8080", "http://[::1]:8081"),
    ];

    for (base_url, authority_host) in cases {
        let result = GraphPhotoSource::new(GraphSettings {
            base_url: base_url.into(),
            authority_host: authority_host.into(),
            ..settings()
        });
        assert!(result.is_ok(), "{base_url} with {authority_host}: {result:?}");
    }
}

#[test]
fn debug_output_hides_secret() {
    let source = GraphPhotoSource::new(settings()).expect("valid settings");

    let source_debug = format!("{source:?}");
    let settings_debug = format!("{:?}", settings());

    assert!(!source_debug.contains("a-secret-value"), "{source_debug}");
    assert!(!settings_debug.contains("a-secret-value"), "{settings_debug}");
    assert!(source_debug.contains("contoso.onmicrosoft.com"), "{source_debug}");
}
