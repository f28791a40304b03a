//! Races: what connectors do at scale must still give one answer per request, never a 500.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

both_backends! {
    async fn racing_creates_of_one_user_name_give_one_201_and_409s(app) {
        let names: Vec<String> = (0..16)
            .map(|i| {
                let base = "racer@example.com";
                // Mixed case: every request names the same user.
                base.chars()
                    .enumerate()
                    .map(|(j, c)| if (i >> (j % 4)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
            .collect();
        let responses = join_all(names.iter().map(|n| {
            let mut body = okta_user(n);
            body["externalId"] = Value::Null;
            body.as_object_mut().unwrap().remove("password");
            let app = &app;
            async move { app.post_user(&body).await }
        }))
        .await;
        let mut created = 0;
        let mut conflicts = 0;
        for response in responses {
            match response.status() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {
                    assert_scim_error(response, 409, Some("uniqueness")).await;
                    conflicts += 1;
                }
                other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
            }
        }
        assert_eq!((created, conflicts), (1, 15));
    }
}
