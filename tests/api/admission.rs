//! Per-organization admission (docs/limits.md, "Sharing the server between organizations"): an
//! organization over its in-flight allowance waits, then gets 503 with `Retry-After` and a SCIM
//! error, while another organization is served; a request that waits is admitted as soon as
//! one of its organization's requests ends; and scans run at a lower CPU priority than point
//! reads.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Okta's create body without its password (hashing it is slow in a debug build, and beside
/// the point here).
fn user(user_name: &str) -> serde_json::Value {
    let mut body = okta_user(user_name);
    body.as_object_mut().unwrap().remove("password");
    body
}

/// How long a request over its organization's allowance waits in these tests.
const WAIT: Duration = Duration::from_millis(600);

/// A `POST /Users` whose body is sent in two parts: the first byte now, the rest when
/// [`Held::finish`] is called. Until then the request is admitted and in flight (its handler is
/// reading the body), holding one unit of its organization's allowance.
struct Held {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Held {
    async fn start(app: &TestApp, token: &str, user_name: &str) -> Held {
        let address = app.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.unwrap();
        let body = user(user_name).to_string().into_bytes();
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..1]).await.unwrap();
        stream.flush().await.unwrap();
        Held {
            stream,
            rest: body[1..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the response's status line.
    async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.unwrap();
        self.stream.flush().await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut buf))
                .await
                .expect("the held request is answered")
                .unwrap();
            assert!(n > 0, "connection closed before the answer");
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn over_its_allowance_an_org_waits_then_503_while_another_is_served(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.admission.org_requests = 2;
        s.admission.org_request_wait = WAIT;
    })
    .await;
    app.create_org("other");
    let other = app.mint(roster::auth::Role::Provisioner, "other", None);
    app.create_user("known@example.com").await;

    // Two slow uploads take the default org's whole allowance.
    let first = Held::start(&app, &app.token, "held1@example.com").await;
    let second = Held::start(&app, &app.token, "held2@example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A third request of the same org waits, then is refused; the other org is served at once
    // meanwhile, reads and writes.
    let refused = async {
        let started = Instant::now();
        let response = app
            .request(
                reqwest::Method::GET,
                "/Users?filter=userName%20eq%20%22known@example.com%22",
                None,
            )
            .await;
        (response, started.elapsed())
    };
    let served = async {
        let started = Instant::now();
        let created = app
            .request_as(
                &other,
                reqwest::Method::POST,
                "/Users",
                Some(&user("b@other.example")),
            )
            .await
            .status();
        let found = app
            .request_as(
                &other,
                reqwest::Method::GET,
                "/Users?filter=userName%20eq%20%22b@other.example%22",
                None,
            )
            .await
            .status();
        (created, found, started.elapsed())
    };
    let ((response, waited), (created, found, other_took)) = tokio::join!(refused, served);
    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(found, StatusCode::OK);
    assert!(
        other_took < WAIT,
        "the other org waited {other_took:?}, as long as the refused request's wait"
    );
    assert!(waited >= WAIT, "refused after {waited:?}, before its wait");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    assert_eq!(retry_after, Some(1));
    let body = assert_scim_error(response, 503, None).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ROSTER_ORG_REQUESTS")),
        "{body}"
    );

    // A request that waits is admitted as soon as one of its org's requests ends.
    let waiting = tokio::spawn({
        let request = app
            .client
            .get(app.url("/Users?filter=userName%20eq%20%22known@example.com%22"))
            .bearer_auth(&app.token);
        async move { request.send().await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!waiting.is_finished(), "admitted over the allowance");
    assert!(first.finish().await.contains("201"));
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    assert!(second.finish().await.contains("201"));
}

async fn a_large_body_weighs_more(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.admission.org_requests = 2;
        s.admission.org_request_wait = Duration::from_millis(200);
        s.max_body_bytes = 1024 * 1024;
    })
    .await;
    // One slow upload declaring more than 64 KiB weighs 2: the org's whole allowance.
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{{",
        app.token,
        64 * 1024 + 10
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = app
        .request(reqwest::Method::GET, "/Users?count=1", None)
        .await;
    assert_scim_error(response, 503, None).await;
    drop(stream);
    // Once it is gone, the org is served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app
            .request(reqwest::Method::GET, "/Users?count=1", None)
            .await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after the upload ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The CPU priority (Linux `nice`) of the thread this runs on.
#[cfg(target_os = "linux")]
fn nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
}

/// A scan (a read whose cost grows with the data) runs on a thread of lower CPU priority, a
/// point read on one of the request's: under contention the kernel serves short work first.
#[cfg(target_os = "linux")]
async fn scans_run_at_a_lower_cpu_priority_than_point_reads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = roster::ids::OrgId::parse("default").unwrap();
    let scan = app
        .store
        .scan(&org, |_| Ok::<_, roster::store::StoreError>(nice()))
        .await
        .unwrap();
    let read = app
        .store
        .run(|_| Ok::<_, roster::store::StoreError>(nice()))
        .await
        .unwrap();
    // `nice` is set, not added to: a process already at NICE or above stays where it is.
    assert_eq!(
        scan,
        roster::priority::NICE.max(read),
        "scan {scan}, point read {read}"
    );
}

macro_rules! on_both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

on_both!(
    over_its_allowance_an_org_waits_then_503_while_another_is_served,
    a_large_body_weighs_more
);

#[cfg(target_os = "linux")]
on_both!(scans_run_at_a_lower_cpu_priority_than_point_reads);
