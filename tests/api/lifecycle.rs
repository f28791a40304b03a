//! The lifecycle rule end to end: a deactivated user no longer has access, from the next request
//! on, on every node; reactivation restores it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn admin_post(app: &TestApp, path: &str) -> StatusCode {
    app.client
        .post(format!("{}/admin/v1{path}", app.address))
        .bearer_auth(app.mint(Role::Admin, "default", None))
        .send()
        .await
        .unwrap()
        .status()
}

both_backends! {
    async fn a_users_token_follows_the_users_state(app) {
        let id = app.create_user("holder@example.com").await["id"].as_str().unwrap().to_owned();
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        let me = |token: String| {
            let app = &app;
            async move { app.request_as(&token, Method::GET, "/Me", None).await }
        };
        let response = me(token.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], id.as_str());

        assert_eq!(admin_post(&app, &format!("/users/{id}/deactivate")).await, StatusCode::OK);
        let refused = assert_scim_error(me(token.clone()).await, 401, None).await;
        assert!(refused["detail"].as_str().unwrap().contains("deactivated"));

        assert_eq!(admin_post(&app, &format!("/users/{id}/activate")).await, StatusCode::OK);
        assert_eq!(me(token.clone()).await.status(), StatusCode::OK);

        assert_eq!(app.request(Method::DELETE, &format!("/Users/{id}"), None).await.status(), StatusCode::NO_CONTENT);
        assert_scim_error(me(token).await, 401, None).await;
    }

    async fn me_without_a_subject_is_not_implemented(app) {
        assert_scim_error(app.request(Method::GET, "/Me", None).await, 501, None).await;
    }

    async fn me_patch_acts_on_the_subject(app) {
        let id = app.create_user("self@example.com").await["id"].as_str().unwrap().to_owned();
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Me Myself"}]});
        let response = app.request_as(&token, Method::PATCH, "/Me", Some(&body)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user["displayName"], "Me Myself");
    }
}

/// A `roster serve` process of the built binary.
struct Node {
    child: Child,
    address: String,
}

impl Node {
    fn start(database_url: &str) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("ROSTER_JWT_SECRET", SECRET)
            .env("ROSTER_JWT_ISSUER", ISSUER)
            .env("ROSTER_JWT_AUDIENCE", AUDIENCE)
            .env("ROSTER_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Node {
            child,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/readyz", self.address)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("roster at {} did not become ready", self.address);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_agree_on_deactivation() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let url = app.settings.database_url.clone();
    let (first, second) = (Node::start(&url), Node::start(&url));
    first.wait_ready(&app.client).await;
    second.wait_ready(&app.client).await;

    let id = app.create_user("two-nodes@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let subject_token = app.mint(Role::Provisioner, "default", Some(&id));
    let me = |node: &Node| {
        app.client
            .get(format!("{}/scim/v2/Me", node.address))
            .bearer_auth(&subject_token)
            .send()
    };
    assert_eq!(
        me(&second).await.unwrap().status(),
        StatusCode::OK,
        "the second node serves the token"
    );

    // Deactivate through the first node, as an IdP would.
    let deactivate = app
        .client
        .patch(format!("{}/scim/v2/Users/{id}", first.address))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/scim+json")
        .body(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate.status(), StatusCode::OK);

    // The very next request on the second node is refused.
    assert_eq!(
        me(&second).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&first).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
