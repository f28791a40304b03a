//! Caseless names (src/scim/caseless.rs): spellings that are one `userName` (or group
//! `displayName`) clash on create and find each other through `eq`; keys made by the old rule
//! are recomputed at start, and a clash between existing rows does not stop the start.

use diesel::prelude::*;
use reqwest::Method;
use roster::store::rekey::{self, Collision, Rekeyed};
use roster::store::schema::{groups, settings, users};
use serde_json::{Value, json};

use crate::helpers::*;

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Pairs of spellings that are one name.
const ONE_NAME: &[(&str, &str)] = &[
    ("straße", "STRASSE"),
    ("ὈΔΥΣΣΕΎΣ", "ὀδυσσεύς"),
    ("σας", "σασ"),
    ("zw\u{200B}sp", "zwsp"),
    ("soft\u{AD}hyphen", "softhyphen"),
    ("trailing ", "trailing"),
    (" leading", "leading"),
    ("ＦＵＬＬ＠ＷＩＤＴＨ", "full@width"),
    ("\u{FB01}ona", "fiona"),
    ("\u{212A}elvin", "kelvin"),
];

/// `GET /Users?filter=userName eq "<name>"`: the ids found.
async fn find_user(app: &TestApp, name: &str) -> Vec<String> {
    let filter = format!("userName eq {}", json!(name));
    let page: Value = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(&app.token)
        .query(&[("filter", filter)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["Resources"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn post_group(app: &TestApp, name: &str) -> reqwest::Response {
    app.request(
        Method::POST,
        "/Groups",
        Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": name})),
    )
    .await
}

/// Runs blocking store work from the test.
async fn blocking<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&roster::store::Store) -> T + Send + 'static,
) -> T {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .unwrap()
}

both_backends! {
    async fn spellings_of_one_user_name_clash_and_find_each_other(app) {
        for (first, second) in ONE_NAME {
            let user = app.create_user(first).await;
            let id = user["id"].as_str().unwrap();
            assert_eq!(user["userName"], *first, "the name is stored as given");
            let clash = app
                .post_user(&json!({"schemas": [USER_SCHEMA], "userName": second}))
                .await;
            assert_scim_error(clash, 409, Some("uniqueness")).await;
            for spelling in [first, second] {
                assert_eq!(find_user(&app, spelling).await, [id], "eq {spelling:?}");
            }
        }
    }

    async fn a_dotless_i_is_another_name(app) {
        let dotted = app.create_user("id@example.com").await;
        let dotless = app.create_user("ıd@example.com").await;
        assert_ne!(dotted["id"], dotless["id"]);
        assert_eq!(find_user(&app, "ID@example.com").await, [dotted["id"].as_str().unwrap()]);
    }

    async fn a_rename_to_another_spelling_of_a_taken_name_clashes(app) {
        app.create_user("straße").await;
        let other = app.create_user("other").await;
        let response = app
            .patch_user(
                other["id"].as_str().unwrap(),
                json!([{"op": "replace", "path": "userName", "value": "Strasse "}]),
            )
            .await;
        assert_scim_error(response, 409, Some("uniqueness")).await;
    }

    async fn spellings_of_one_group_name_clash(app) {
        for (first, second) in ONE_NAME {
            let created = post_group(&app, first).await;
            assert_eq!(created.status().as_u16(), 201, "{first:?}");
            assert_scim_error(post_group(&app, second).await, 409, Some("uniqueness")).await;
        }
    }

    async fn keys_of_the_old_rule_are_recomputed_and_a_clash_keeps_both(app) {
        let strasse = app.create_user("Strasse").await["id"].as_str().unwrap().to_owned();
        let sharp_s = app.create_user("placeholder").await["id"].as_str().unwrap().to_owned();
        let dave = app.create_user("dave").await["id"].as_str().unwrap().to_owned();
        let team: Value = post_group(&app, "Team").await.json().await.unwrap();
        let team = team["id"].as_str().unwrap().to_owned();
        // The rows as version 1 of the rule left them: NFKC + lower case, nothing else.
        let (b, d, t) = (sharp_s.clone(), dave.clone(), team.clone());
        blocking(&app, move |store| {
            let mut conn = store.conn().unwrap();
            for (id, name, key) in [(&b, "Straße", "straße"), (&d, "Dave ", "dave ")] {
                diesel::update(users::table.find(id))
                    .set((users::user_name.eq(name), users::user_name_ci.eq(key)))
                    .execute(&mut conn)
                    .unwrap();
            }
            diesel::update(groups::table.find(&t))
                .set((
                    groups::display_name.eq("Te\u{AD}am"),
                    groups::display_name_ci.eq("te\u{AD}am"),
                ))
                .execute(&mut conn)
                .unwrap();
            diesel::update(settings::table.find("name_key_version"))
                .set(settings::value.eq("1"))
                .execute(&mut conn)
                .unwrap();
        })
        .await;

        let report = blocking(&app, |store| rekey::run(store).unwrap()).await;
        assert_eq!(
            report,
            Rekeyed {
                changed: 2,
                collisions: vec![Collision {
                    table: "users",
                    org_id: "default".to_owned(),
                    kept_old_key: sharp_s.clone(),
                    holder: strasse.clone(),
                }],
            }
        );
        assert_eq!(find_user(&app, "DAVE").await, [dave.as_str()]);
        assert_eq!(find_user(&app, "straße").await, [strasse.as_str()]);
        let found: Value = app
            .client
            .get(app.url("/Groups"))
            .bearer_auth(&app.token)
            .query(&[("filter", "displayName eq \"TEAM\"")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["Resources"][0]["id"], json!(team));
        // Both users of the clash are still there, and readable.
        assert_eq!(app.get_user(&sharp_s).await.status().as_u16(), 200);

        // Once recorded, the next start does nothing.
        let again = blocking(&app, |store| rekey::run(store).unwrap()).await;
        assert_eq!(again, Rekeyed::default());
        let version = blocking(&app, |store| {
            settings::table
                .find("name_key_version")
                .select(settings::value)
                .first::<String>(&mut store.conn().unwrap())
                .unwrap()
        })
        .await;
        assert_eq!(version, roster::scim::caseless::KEY_VERSION.to_string());
    }
}
