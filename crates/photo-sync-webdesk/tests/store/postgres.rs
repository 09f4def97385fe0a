//! Tests of what only PostgreSQL has: session time zones, `BYTEA`, the search path,
//! connection errors, unix sockets and a server that restarts under a running store.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use photo_sync_domain::ports::{PhotoWrite, WebdeskStore};
use photo_sync_domain::{PersonId, Selection, SyncState};
use photo_sync_e2e::postgres::{PgServer, create_database, psql, shared_admin_url};
use photo_sync_webdesk::{ConnectError, OpenError, RunHolder, RunStart, WebdeskDb};
use time::macros::datetime;
use tokio::net::{TcpStream, UnixListener};

use crate::support::{Backend, TestDb, png};

const PERSONS: &str = "
    INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME', 'Acme GmbH');
    INSERT INTO persons (id, client_id, username, first_name, last_name) VALUES
        (100, 1, 'anna', 'Anna', 'Berg'),
        (101, 1, 'bert', 'Bert', 'Carl');
";

/// Returns the database name of a URL that ends with `/NAME` and has no parameters.
fn database_name(url: &str) -> &str {
    url.rsplit_once('/').map(|(_, name)| name).expect("the URL ends with a database name")
}

/// Returns the port of the shared test server.
fn shared_server_port() -> u16 {
    let admin_url = shared_admin_url();
    let after_host = admin_url.rsplit_once(':').map(|(_, rest)| rest).expect("the admin URL has a port");
    after_host.split('/').next().and_then(|port| port.parse().ok()).expect("the port is a number")
}

/// Returns a port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port exists");
    listener.local_addr().expect("a bound socket has an address").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamps_keep_instant_in_non_utc_time_zone() {
    let db = TestDb::new(Backend::Postgres);
    // Sessions that do not set a time zone, such as psql here, use this one. The offset
    // of +05:30 also catches code that would drop fractions of an hour.
    psql(&shared_admin_url(), &format!("ALTER DATABASE {} SET timezone TO 'Asia/Kolkata'", database_name(db.url())));
    let store = db.migrated().await;
    psql(db.url(), PERSONS);
    assert_eq!(psql(db.url(), "SHOW timezone"), "Asia/Kolkata");

    // Written by a Webdesk session in local time: 09:35:06 in Kolkata is 04:05:06 UTC.
    psql(
        db.url(),
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, '\\x01', 'image/png', '2026-02-03 09:35:06.123456', 'upload', 1)",
    );
    let images = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert_eq!(images[&PersonId(100)].modified_at, datetime!(2026-02-03 04:05:06.123456 UTC));

    let photo = png(2, 2, 10);
    let state = SyncState {
        stored_etag: None,
        written_version: Some(1),
        observed_etag: None,
        observed_at: datetime!(2026-03-01 08:15:29.25 UTC),
    };
    let write = PhotoWrite {
        person_id: PersonId(101),
        expected_version: None,
        photo: &photo,
        modified_at: datetime!(2026-03-01 08:15:30.5 UTC),
        state: state.clone(),
    };
    store.store_photo(write).await.expect("the photo is stored");

    assert_eq!(
        psql(db.url(), "SELECT modified_at FROM person_images WHERE person_id = 101"),
        "2026-03-01 13:45:30.5+05:30"
    );
    assert_eq!(
        psql(db.url(), "SELECT observed_at FROM photo_sync_state WHERE person_id = 101"),
        "2026-03-01 13:45:29.25+05:30"
    );
    let states = store.load_states(&[PersonId(101)]).await.expect("the states load");
    assert_eq!(states[&PersonId(101)], state);

    let holder = RunHolder { host: "web01".to_owned(), pid: 1, started_at: datetime!(2026-03-01 08:00:00 UTC) };
    store.record_run_start(&RunStart { holder, mode: "newest".to_owned() }).await.expect("the start is recorded");
    assert_eq!(psql(db.url(), "SELECT started_at FROM photo_sync_runs"), "2026-03-01 13:30:00+05:30");
    let run = &store.recent_runs(1).await.expect("the runs load")[0];
    assert_eq!(run.started_at, datetime!(2026-03-01 08:00:00 UTC));
}

#[tokio::test(flavor = "multi_thread")]
async fn bytea_round_trips_every_byte_value() {
    let db = TestDb::new(Backend::Postgres);
    let store = db.migrated().await;
    db.execute(PERSONS).await;
    let every_byte: Vec<u8> = (0..=255).collect();
    let hex: String = every_byte.iter().map(|byte| format!("{byte:02x}")).collect();

    db.execute(&format!(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, decode('{hex}', 'hex'), 'image/png', now(), 'upload', 1)"
    ))
    .await;

    let images = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert_eq!(images[&PersonId(100)].content, every_byte);
}

/// `open_for_run` checks tables with `to_regclass`, which resolves names through the
/// search path just like the job's unqualified queries.
#[tokio::test(flavor = "multi_thread")]
async fn table_check_follows_search_path() {
    let db = TestDb::new(Backend::Postgres);
    let database = database_name(db.url());
    psql(db.url(), "CREATE SCHEMA webdesk");
    psql(&shared_admin_url(), &format!("ALTER DATABASE {database} SET search_path TO webdesk"));
    db.migrated().await;
    assert_eq!(
        psql(
            db.url(),
            "SELECT string_agg(DISTINCT table_schema, ', ') FROM information_schema.tables WHERE table_name LIKE 'photo%'"
        ),
        "webdesk"
    );

    psql(&shared_admin_url(), &format!("ALTER DATABASE {database} RESET search_path"));
    let error = WebdeskDb::open_for_run(db.url()).await.expect_err("public has none of the tables");
    assert!(matches!(error, OpenError::NotReady(_)), "error {error:?}");
    insta::assert_snapshot!(error, @"Webdesk tables missing from the database: clients, persons, groups, group_memberships, person_images; check database.url");

    psql(&shared_admin_url(), &format!("ALTER DATABASE {database} SET search_path TO webdesk, public"));
    let store = WebdeskDb::open_for_run(db.url()).await.expect("the search path finds the tables");
    store.load_directory(&Selection::default()).await.expect("the queries find the tables too");
}

#[tokio::test]
async fn connect_error_names_url_without_password() {
    let port = closed_port();
    let url = format!("postgres://sync:s3cret@127.0.0.1:{port}/webdesk");

    let error = WebdeskDb::connect(&url).await.expect_err("nothing listens on the port");

    assert!(matches!(error, ConnectError::Postgres { .. }), "error {error:?}");
    let message = error.to_string().replace(&port.to_string(), "PORT");
    assert!(!message.contains("s3cret"), "message {message}");
    insta::assert_snapshot!(message, @r#"cannot connect to PostgreSQL at "postgres://sync:***@127.0.0.1:PORT/webdesk": error connecting to server: Connection refused (os error 111); check host, port, user, password and database name, and that the server accepts connections without TLS"#);
}

#[tokio::test]
async fn connect_error_names_missing_database() {
    let admin_url = shared_admin_url();
    let (base, _) = admin_url.rsplit_once('/').expect("the admin URL ends with a database name");

    let error = WebdeskDb::connect(&format!("{base}/no_such_database")).await.expect_err("the database is missing");

    assert!(matches!(error, ConnectError::Postgres { .. }), "error {error:?}");
    assert!(error.to_string().contains(r#"database "no_such_database" does not exist"#), "error {error}");
}

#[tokio::test]
async fn connect_error_names_tls_requested_by_url() {
    let db = TestDb::new(Backend::Postgres);

    let error = WebdeskDb::connect(&format!("{}?sslmode=require", db.url())).await.expect_err("TLS is not supported");

    assert!(matches!(error, ConnectError::PostgresTlsRequested { .. }), "error {error:?}");
    let message = error.to_string();
    assert!(message.contains("error performing TLS handshake"), "message {message}");
    assert!(message.ends_with("; the URL requests TLS (sslmode), but photo-sync connects to PostgreSQL without TLS; remove sslmode from database.url if the network to the server is trusted, or connect through the server's unix socket"), "message {message}");
}

/// A server of its own, because the test changes `pg_hba.conf` so that the server rejects
/// every TCP connection without TLS.
#[tokio::test(flavor = "multi_thread")]
async fn connect_error_names_tls_required_by_server() {
    let server = PgServer::start().expect("the PostgreSQL server starts");
    let hba_file = psql(&server.admin_url(), "SHOW hba_file");
    psql(
        &server.admin_url(),
        &format!("COPY (SELECT 'local all all trust') TO '{hba_file}'; SELECT pg_reload_conf();"),
    );

    let error = WebdeskDb::connect(&server.admin_url()).await.expect_err("the server rejects connections without TLS");

    assert!(matches!(error, ConnectError::PostgresTlsRequired { .. }), "error {error:?}");
    let message = error.to_string();
    assert!(message.contains("no pg_hba.conf entry for host"), "message {message}");
    assert!(message.contains("photo-sync connects to PostgreSQL without TLS"), "message {message}");
}

/// Listens on `<folder>/.s.PGSQL.5432`, the socket file name libpq and tokio-postgres use
/// for port 5432, and forwards every connection to the test server's TCP port. Returns
/// the number of connections forwarded so far.
fn forward_unix_socket(folder: &Path, tcp_port: u16) -> Arc<AtomicUsize> {
    let listener = UnixListener::bind(folder.join(".s.PGSQL.5432")).expect("the socket file can be created");
    let forwarded = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&forwarded);
    tokio::spawn(async move {
        while let Ok((mut unix, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut tcp = TcpStream::connect(("127.0.0.1", tcp_port)).await.expect("the test server accepts");
                // Either side may close first; the copy ends then.
                let _ = tokio::io::copy_bidirectional(&mut unix, &mut tcp).await;
            });
        }
    });
    forwarded
}

#[tokio::test(flavor = "multi_thread")]
async fn unix_socket_urls_connect() {
    let db = TestDb::new(Backend::Postgres);
    let database = database_name(db.url());
    let folder = tempfile::tempdir().expect("a temporary folder can be created");
    let forwarded = forward_unix_socket(folder.path(), shared_server_port());
    let socket_folder = folder.path().to_str().expect("the temporary path is UTF-8");

    let encoded_host = socket_folder.replace('/', "%2F");
    let host_in_authority = format!("postgres://postgres@{encoded_host}/{database}");
    let store = WebdeskDb::connect(&host_in_authority).await.expect("the percent-encoded socket folder connects");
    store.migrate(true).await.expect("the database migrates over the socket");
    assert!(forwarded.load(Ordering::SeqCst) >= 1, "the connection went through the socket");

    let host_parameter = format!("postgresql:///{database}?host={socket_folder}&user=postgres");
    let store = WebdeskDb::open_for_run(&host_parameter).await.expect("the host parameter connects");
    store.load_directory(&Selection::default()).await.expect("queries run over the socket");
    assert!(forwarded.load(Ordering::SeqCst) >= 3, "every connection went through the socket");
}

/// A server of its own, because the test stops and restarts it.
#[tokio::test(flavor = "multi_thread")]
async fn store_recovers_after_server_restart() {
    let server = PgServer::start().expect("the PostgreSQL server starts");
    let url = create_database(&server.admin_url(), "restart");
    let store = WebdeskDb::connect(&url).await.expect("the database opens");
    store.migrate(true).await.expect("the database migrates");
    let holder = RunHolder { host: "web01".to_owned(), pid: 1, started_at: datetime!(2026-03-01 08:00:00 UTC) };
    let lease = store.acquire_run_lock(&holder, Duration::from_secs(600)).await.expect("the lock is free");
    store.load_states(&[PersonId(1)]).await.expect("the store works");

    server.stop().expect("the server stops");
    let error = store.load_states(&[PersonId(1)]).await.expect_err("the server is down");
    assert!(error.0.starts_with("cannot connect to PostgreSQL at "), "error {error}");
    let renewed = store.renew_run_lock(&lease).await.expect_err("the lock's session ended with the server");
    assert!(renewed.0.starts_with("the run lock's database session failed, so the lock is lost"), "error {renewed}");

    server.start_again().expect("the server starts again");
    store.load_states(&[PersonId(1)]).await.expect("the store opens a new connection");
    store.renew_run_lock(&lease).await.expect_err("the old session stays lost");
    store.release_run_lock(lease).await.expect_err("the old session cannot unlock");
    let lease = store.acquire_run_lock(&holder, Duration::from_secs(600)).await.expect("the server freed the lock");
    store.release_run_lock(lease).await.expect("the lock is released");
}
