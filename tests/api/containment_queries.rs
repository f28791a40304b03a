//! No tenant can hurt another through its queries: filters are bounded in complexity, a query
//! that runs too long is stopped with a SCIM error, one organization's scans cannot take every
//! database thread and connection, an overloaded server answers 503 with `Retry-After`, and
//! cursors cannot be forged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// `GET /Users?filter=…` (the filter percent-encoded) with `token`.
async fn list_filtered(app: &TestApp, token: &str, filter: &str) -> reqwest::Response {
    app.client
        .get(app.url("/Users"))
        .query(&[("filter", filter)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn a_filter_over_the_comparison_caps_is_too_many(app) {
        app.create_user("cap@example.com").await;
        let at_cap = vec![r#"userName eq "cap@example.com""#; 50].join(" or ");
        let ok = list_filtered(&app, &app.token, &at_cap).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.json::<Value>().await.unwrap()["totalResults"], 1);

        let over = vec![r#"userName eq "cap@example.com""#; 51].join(" or ");
        let body = assert_scim_error(list_filtered(&app, &app.token, &over).await, 400, Some("tooMany")).await;
        assert!(body["detail"].as_str().unwrap().contains("at most 50"), "{body}");

        let substrings = [r#"name.familyName co "a""#; 6].join(" or ");
        let body = assert_scim_error(list_filtered(&app, &app.token, &substrings).await, 400, Some("tooMany")).await;
        assert!(body["detail"].as_str().unwrap().contains("at most 5"), "{body}");
        // The same through POST /.search.
        let search = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": over,
        });
        let response = app.request(Method::POST, "/Users/.search", Some(&search)).await;
        assert_scim_error(response, 400, Some("tooMany")).await;
    }

    async fn a_cursor_with_a_truncated_tag_is_refused(app) {
        for n in 0..3 {
            app.create_user(&format!("c{n}@example.com")).await;
        }
        let first: Value = app.request(Method::GET, "/Users?count=1&cursor=", None).await.json().await.unwrap();
        let cursor = first["nextCursor"].as_str().unwrap().to_owned();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        // The right first byte of the right tag is not the tag.
        let truncated = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..1]));
        let response = app.request(Method::GET, &format!("/Users?count=1&cursor={truncated}"), None).await;
        assert_scim_error(response, 400, Some("invalidCursor")).await;
        // Nor can a position be forged by trying every one-byte tag.
        let real = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let (print, _) = real.split_once(':').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(format!("{print}:0"));
        for byte in 0..=u8::MAX {
            let candidate = format!("{forged}.{}", URL_SAFE_NO_PAD.encode([byte]));
            let response = app.request(Method::GET, &format!("/Users?count=1&cursor={candidate}"), None).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "one-byte tag {byte} accepted");
        }
        // The whole cursor still works.
        let response = app.request(Method::GET, &format!("/Users?count=1&cursor={cursor}"), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}
