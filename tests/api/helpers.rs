//! The test application: spawn roster on a fresh database, call it like a connector would.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::{Method, Response, StatusCode};
use roster::auth::{Role, Secret, Signer};
use roster::config::{LogFormat, Settings};
use roster::ids::OrgId;
use roster::startup::Application;
use roster::store::{Store, orgs};
use serde_json::{Value, json};

/// The HS256 secret every test app uses.
pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
pub const ISSUER: &str = "roster-test";
pub const AUDIENCE: &str = "roster-test-aud";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each test body against a fresh app on both backends:
/// `both_backends! { async fn name(app) { … } }` makes `name::sqlite` and `name::postgres`.
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: $crate::helpers::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await
                }
            }
        )*
    };
}

/// A fresh database for one test, removed when the test ends.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn create(backend: Backend) -> (TestDb, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("roster.db").display().to_string();
                (TestDb::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let admin_url = std::env::var("ROSTER_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin_url} is required for the PostgreSQL tests: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                (TestDb::Postgres { admin_url, name }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            // Best effort: a leftover database is harmless and named roster_test_*.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// A running roster and a client for it.
pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub client: reqwest::Client,
    /// A provisioner token for the `default` org.
    pub token: String,
    pub settings: Settings,
    /// A second pool on the same database, for set-up the API does not offer.
    pub store: Store,
    _db: TestDb,
}

pub fn settings(database_url: &str) -> Settings {
    Settings {
        bind: "127.0.0.1:0".to_owned(),
        database_url: database_url.to_owned(),
        jwt_secret: Some(Secret::from_config(SECRET)),
        jwt_public_keys: None,
        jwt_issuer: ISSUER.to_owned(),
        jwt_audience: AUDIENCE.to_owned(),
        jwt_algorithms: Vec::new(),
        log_format: LogFormat::Pretty,
        base_url: None,
        max_body_bytes: 64 * 1024,
        max_results: 200,
        bulk_max_operations: 1000,
        bulk_max_payload_bytes: 1024 * 1024,
        db_pool_size: 4,
        db_timeout: Duration::from_secs(10),
        workers: Some(2),
        write_queue: 1024,
        write_deadline: Duration::from_secs(10),
        hash_threads: 1,
        hash_queue: 64,
        cli_lock_wait: Duration::from_secs(120),
        queries: Default::default(),
        events: Default::default(),
        admission: Default::default(),
        // Tests send bursts far beyond the default rate limit; the rate limit's own tests set
        // an organization's limit through the admin API. Last-used marks are written rarely:
        // they are writes through the SQLite writer, which the writer tests count on having to
        // themselves (tests/api/connectors.rs writes them quickly).
        connectors: roster::config::ConnectorSettings {
            rate_limit_per_second: 1_000_000,
            rate_limit_burst: 1_000_000,
            // Requests count one each, however long they take (a debug build's are slow): the
            // charge for work has a test of its own.
            rate_limit_work: Duration::ZERO,
            token_last_used_flush: Duration::from_secs(3600),
            rate_limit_refresh: Duration::from_millis(500),
            ..Default::default()
        },
        console: Default::default(),
        operations: Default::default(),
    }
}

impl TestApp {
    /// The audit events of `target` in the `default` org, oldest first (at most 100), read
    /// straight from the store.
    pub async fn audit_events(&self, target: &str) -> Vec<roster::store::audit::EventRow> {
        let store = self.store.clone();
        let target = target.to_owned();
        tokio::task::spawn_blocking(move || {
            let org = OrgId::parse("default").unwrap();
            roster::store::audit::list(&mut store.conn().unwrap(), &org, Some(&target), None, 100)
                .unwrap()
        })
        .await
        .unwrap()
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        if std::env::var_os("TEST_LOG").is_some() {
            roster::telemetry::init(LogFormat::Pretty);
        }
        let (db, url) = TestDb::create(backend);
        let mut settings = settings(&url);
        adjust(&mut settings);
        let app = Application::build(&settings).expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let store = Store::open(&url, 2, Duration::from_secs(10)).expect("open store");
        let mut app = TestApp {
            backend,
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            token: String::new(),
            settings,
            store,
            _db: db,
        };
        app.token = app.mint(Role::Provisioner, "default", None);
        app
    }

    /// A token signed with the app's secret.
    pub fn mint(&self, role: Role, org: &str, sub: Option<&str>) -> String {
        Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
            .issue(org, role, sub, None, roster::clock::unix_now())
            .expect("mint token")
            .0
    }

    /// Creates an org directly in the database.
    pub fn create_org(&self, slug: &str) {
        let mut conn = self.store.conn().expect("conn");
        orgs::create(
            &mut conn,
            &OrgId::parse(slug).expect("slug"),
            slug,
            roster::clock::now(),
        )
        .expect("create org");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.address)
    }

    /// A request to `/scim/v2{path}` with the default token and, when given, a SCIM JSON body.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        self.request_as(&self.token, method, path, body).await
    }

    pub async fn request_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        req.send().await.expect("request")
    }

    pub async fn post_user(&self, body: &Value) -> Response {
        self.request(Method::POST, "/Users", Some(body)).await
    }

    /// Creates a user and returns its representation; panics unless 201.
    pub async fn create_user(&self, user_name: &str) -> Value {
        let response = self.post_user(&okta_user(user_name)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    pub async fn get_user(&self, id: &str) -> Response {
        self.request(Method::GET, &format!("/Users/{id}"), None)
            .await
    }

    pub async fn patch_user(&self, id: &str, operations: Value) -> Response {
        let body = json!({ "schemas": [PATCH_SCHEMA], "Operations": operations });
        self.request(Method::PATCH, &format!("/Users/{id}"), Some(&body))
            .await
    }
}

/// The body Okta sends to create a user (docs/idp-behaviour.md, "Okta", "Create").
pub fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": { "givenName": "Ada", "familyName": "Lovelace" },
        "emails": [{ "primary": true, "value": user_name, "type": "work" }],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": format!("okta-{user_name}"),
        "groups": [],
        "password": "correct horse battery staple",
        "active": true
    })
}

/// Asserts a SCIM error response: status, `scimType` (or none) and the error schema; returns
/// the body.
pub async fn assert_scim_error(response: Response, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/scim+json");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(body["status"], json!(status.to_string()));
    assert_eq!(
        body.get("scimType").and_then(Value::as_str),
        scim_type,
        "scimType in {body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail in {body}"
    );
    body
}

/// A call to `/admin/v1{path}` as the `default` org's admin: the status and the JSON body
/// (`null` when there is none).
pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    admin_of(app, "default", method, path, body).await
}

/// [`admin`] as the admin of `org`.
pub async fn admin_of(
    app: &TestApp,
    org: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(app.mint(Role::Admin, org, None));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
