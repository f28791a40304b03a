//! Who may call `/scim/v2` (docs/architecture.md §5): every refusal is a 401 SCIM error with a
//! `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) and a `detail` a person can act on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, Response, StatusCode};
use roster::auth::{Role, Secret, Signer};
use serde_json::{Value, json};

use crate::helpers::*;

/// Signs `claims` with HS256 and `secret`, whatever the claims say.
fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign test token")
}

/// Claims roster accepts from the test app, issued now; callers break one of them.
fn valid_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "org": "default",
        "role": "provisioner",
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": roster::clock::unix_now(),
    })
}

/// The JSON payload (claims) of a compact JWS.
fn payload_of(token: &str) -> Value {
    let segment = token.split('.').nth(1).expect("a payload segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url payload"))
        .expect("JSON payload")
}

/// `GET /Users` with a raw `Authorization` header (or none).
async fn list_with_authorization(app: &TestApp, authorization: Option<&str>) -> Response {
    let mut request = app.client.get(app.url("/Users"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("request")
}

/// Asserts a 401 SCIM error with a Bearer challenge whose `detail` contains `needle` (ignoring
/// case), so an admin reading the Okta alert knows what to fix.
async fn assert_unauthorized(response: Response, needle: &str) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate is {challenge:?}"
    );
    let body = assert_scim_error(response, 401, None).await;
    let detail = body["detail"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        detail.contains(&needle.to_lowercase()),
        "detail {detail:?} should mention {needle:?}"
    );
}

async fn assert_accepted(app: &TestApp, token: &str) {
    let response = app.request_as(token, Method::GET, "/Users", None).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "token refused on {:?}",
        app.backend
    );
}

both_backends! {
    async fn no_authorization_header_is_refused(app) {
        assert_unauthorized(list_with_authorization(&app, None).await, "Authorization: Bearer").await;
    }

    async fn basic_scheme_is_refused(app) {
        let response = list_with_authorization(&app, Some("Basic dXNlcjpwYXNzd29yZA==")).await;
        assert_unauthorized(response, "Bearer scheme").await;
    }

    async fn empty_bearer_is_refused(app) {
        assert_unauthorized(list_with_authorization(&app, Some("Bearer ")).await, "empty").await;
        assert_unauthorized(list_with_authorization(&app, Some("Bearer")).await, "empty").await;
    }

    async fn garbage_token_is_refused(app) {
        let response = app.request_as("not-a-jwt", Method::GET, "/Users", None).await;
        assert_unauthorized(response, "well-formed").await;
        let response = app.request_as("a.b.c", Method::GET, "/Users", None).await;
        assert_unauthorized(response, "well-formed").await;
        // Refused before any parsing when absurdly long.
        let long = format!("{}.{}.{}", "a".repeat(6000), "b".repeat(6000), "c".repeat(6000));
        let response = app.request_as(&long, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "16 KiB").await;
        // A header that is not text.
        let response = app
            .client
            .get(app.url("/Users"))
            .header("Authorization", reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap())
            .send()
            .await
            .unwrap();
        assert_unauthorized(response, "not valid text").await;
    }

    async fn alg_none_is_refused(app) {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
        let token = format!("{header}.{payload}.");
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "algorithm").await;
        // Spelled otherwise, it is still refused.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"None","typ":"JWT"}"#);
        let response = app
            .request_as(&format!("{header}.{payload}."), Method::GET, "/Users", None)
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    async fn algorithms_outside_the_allow_list_are_refused(app) {
        // Signed with the right secret, but HS512 is not configured (the allow-list is HS256).
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "not allowed").await;
        // An RS256 header over an HMAC signature: no public key is configured, nothing verifies.
        let hs = sign(&valid_claims(), SECRET);
        let (_, rest) = hs.split_once('.').unwrap();
        let rs_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let response = app.request_as(&format!("{rs_header}.{rest}"), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "algorithm").await;
    }

    async fn tampered_payload_is_refused(app) {
        let token = app.mint(Role::Provisioner, "default", None);
        assert_accepted(&app, &token).await;
        let (header, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        // org-b exists, so only the signature can refuse the forged `org`.
        app.create_org("org-b");
        for (claim, forged) in [("role", "admin"), ("org", "org-b")] {
            let mut claims = payload_of(&token);
            claims[claim] = json!(forged);
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            let forged_token = format!("{header}.{payload}.{signature}");
            let response = app.request_as(&forged_token, Method::GET, "/Users", None).await;
            assert_unauthorized(response, "signature").await;
        }
    }

    async fn token_signed_with_another_secret_is_refused(app) {
        let token = sign(&valid_claims(), "another-secret-that-is-also-32-bytes-long!");
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "signature").await;
        // The same claims with the right secret are accepted: only the key differs.
        assert_accepted(&app, &sign(&valid_claims(), SECRET)).await;
    }

    async fn wrong_issuer_is_refused(app) {
        let mut claims = valid_claims();
        claims["iss"] = json!("someone-else");
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "issuer").await;
    }

    async fn wrong_audience_is_refused(app) {
        let mut claims = valid_claims();
        claims["aud"] = json!("another-service");
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "audience").await;
        // RFC 7519 §4.1.3: an array of audiences works when ours is among them.
        claims["aud"] = json!(["another-service", AUDIENCE]);
        assert_accepted(&app, &sign(&claims, SECRET)).await;
    }

    async fn unknown_role_and_missing_jti_are_refused(app) {
        let mut claims = valid_claims();
        claims["role"] = json!("superuser");
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "role").await;
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove("jti");
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "jti").await;
    }

    async fn expired_token_is_refused_and_unexpired_one_works(app) {
        let now = roster::clock::unix_now();
        let mut claims = valid_claims();
        claims["iat"] = json!(now - 7200);
        claims["exp"] = json!(now - 3600);
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "expired").await;

        claims["exp"] = json!(now + 3600);
        assert_accepted(&app, &sign(&claims, SECRET)).await;
    }

    async fn tokens_from_the_future_are_refused(app) {
        let now = roster::clock::unix_now();
        let mut claims = valid_claims();
        claims["nbf"] = json!(now + 3600);
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "not valid yet").await;
        let mut claims = valid_claims();
        claims["iat"] = json!(now + 3600);
        let response = app.request_as(&sign(&claims, SECRET), Method::GET, "/Users", None).await;
        assert_unauthorized(response, "future").await;
    }

    async fn revoked_token_is_refused_from_the_next_request_on(app) {
        let (token, claims) = Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
            .issue("default", Role::Provisioner, None, None, roster::clock::unix_now())
            .unwrap();
        assert_eq!(payload_of(&token)["jti"], json!(claims.jti));
        assert_accepted(&app, &token).await;

        let store = app.store.clone();
        let jti = claims.jti.clone();
        let fresh = tokio::task::spawn_blocking(move || {
            let mut conn = store.conn().unwrap();
            roster::store::tokens::revoke(&mut conn, &jti, roster::clock::now()).unwrap()
        })
        .await
        .unwrap();
        assert!(fresh);

        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "revoked").await;
        // Other tokens are untouched.
        assert_accepted(&app, &app.token).await;
    }

    async fn token_for_an_org_that_does_not_exist_is_refused(app) {
        let token = app.mint(Role::Provisioner, "no-such-org", None);
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "does not exist").await;
    }

    async fn subject_token_follows_the_users_lifecycle(app) {
        let user = app.create_user("subject@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        assert_accepted(&app, &token).await;

        let deactivated = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": false}}]))
            .await;
        assert_eq!(deactivated.status(), StatusCode::OK);
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "deactivated").await;

        let reactivated = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": true}}]))
            .await;
        assert_eq!(reactivated.status(), StatusCode::OK);
        assert_accepted(&app, &token).await;

        let deleted = app.request(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "no longer exists").await;
    }

    async fn subject_that_never_existed_is_refused(app) {
        let token = app.mint(Role::Provisioner, "default", Some("01a21f1f-6d2e-7217-b3a5-f6aac407ee0a"));
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "no longer exists").await;
        let token = app.mint(Role::Provisioner, "default", Some("not-a-user-id"));
        let response = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_unauthorized(response, "sub").await;
    }

    async fn admin_token_may_use_scim(app) {
        let admin = app.mint(Role::Admin, "default", None);
        let created = app.request_as(&admin, Method::POST, "/Users", Some(&okta_user("by-admin@example.com"))).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_accepted(&app, &admin).await;
    }

    async fn doubled_bearer_prefix_and_any_scheme_case_are_accepted(app) {
        // The Okta paste mistake: "Bearer <token>" typed into a field that adds "Bearer ".
        let doubled = format!("Bearer Bearer {}", app.token);
        let response = list_with_authorization(&app, Some(&doubled)).await;
        assert_eq!(response.status(), StatusCode::OK);
        // RFC 9110 §11.1: the scheme is case-insensitive.
        let lower = format!("bearer {}", app.token);
        let response = list_with_authorization(&app, Some(&lower)).await;
        assert_eq!(response.status(), StatusCode::OK);
        // A doubled prefix in front of a bad token is still a bad token.
        let response = list_with_authorization(&app, Some("Bearer Bearer garbage")).await;
        assert_unauthorized(response, "well-formed").await;
    }

    async fn every_scim_endpoint_needs_a_token(app) {
        let user = app.create_user("guarded@example.com").await;
        let id = user["id"].as_str().unwrap();
        let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]});
        let cases = [
            (Method::GET, "/Users".to_owned(), None),
            (Method::POST, "/Users".to_owned(), Some(okta_user("anon@example.com"))),
            (Method::GET, format!("/Users/{id}"), None),
            (Method::PUT, format!("/Users/{id}"), Some(okta_user("guarded@example.com"))),
            (Method::PATCH, format!("/Users/{id}"), Some(patch)),
            (Method::DELETE, format!("/Users/{id}"), None),
        ];
        for (method, path, body) in cases {
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(body) = body {
                request = request.header("Content-Type", "application/scim+json").body(body.to_string());
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_unauthorized(response, "Bearer").await;
        }
        // Nothing of the above went through.
        let user_now: Value = app.get_user(id).await.json().await.unwrap();
        assert_eq!(user_now["active"], true);
        assert_eq!(user_now["meta"]["version"], user["meta"]["version"]);
    }
}

both_backends! {
    async fn the_challenge_says_invalid_token_only_for_a_presented_token(app) {
        let challenge = |response: &Response| {
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        // RFC 6750 §3: no credentials, no error code.
        let missing = list_with_authorization(&app, None).await;
        assert_eq!(challenge(&missing), "Bearer realm=\"roster\"");
        // §3.1: a token that is refused is `invalid_token`.
        let refused = list_with_authorization(&app, Some("Bearer not.a.token")).await;
        assert_eq!(challenge(&refused), "Bearer realm=\"roster\", error=\"invalid_token\"");
        assert_scim_error(refused, 401, None).await;
    }
}
