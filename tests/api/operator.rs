//! The operator's command line goes through `provisioning` like the APIs do: `roster token
//! revoke` and `roster org create` are recorded in the audit log with channel `cli`
//! (docs/architecture.md §2; docs/operations.md).

use clap::Parser;
use reqwest::{Method, StatusCode};
use roster::auth::{Role, Secret, Signer};
use roster::cli::Cli;
use serde_json::Value;

use crate::helpers::*;

/// Runs `roster <args…>` against the app's database, as an operator on the server would.
async fn roster_cli(app: &TestApp, args: &[&str]) -> anyhow::Result<()> {
    let mut cli = Cli::try_parse_from(std::iter::once("roster").chain(args.iter().copied()))?;
    cli.settings = app.settings.clone();
    tokio::task::spawn_blocking(move || roster::cli::run(cli))
        .await
        .unwrap()
}

/// The audit events about `target` in `org`, through the admin API.
async fn audit_events(app: &TestApp, org: &str, target: &str) -> Vec<Value> {
    let token = app.mint(Role::Admin, org, None);
    let response = app
        .client
        .get(format!(
            "{}/admin/v1/audit-events?user_id={target}",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["events"].as_array().unwrap().clone()
}

fn provisioner_token(org: &str) -> (String, String) {
    let (token, claims) = Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
        .issue(
            org,
            Role::Provisioner,
            None,
            None,
            roster::clock::unix_now(),
        )
        .unwrap();
    (token, claims.jti)
}

both_backends! {
    async fn a_cli_revocation_is_audited_with_channel_cli(app) {
        let (token, jti) = provisioner_token("default");
        let accepted = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_eq!(accepted.status(), StatusCode::OK);
        assert!(audit_events(&app, "default", &jti).await.is_empty());

        roster_cli(&app, &["token", "revoke", &jti]).await.unwrap();
        let refused = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let events = audit_events(&app, "default", &jti).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["action"], "token.revoke");
        assert_eq!(events[0]["channel"], "cli");
        assert_eq!(events[0]["actor"], "operator");
        assert_eq!(events[0]["targetType"], "Token");
        assert_eq!(events[0]["targetId"], jti.as_str());

        // Revoking again changes nothing, so records nothing.
        let (settings, again) = (app.settings.clone(), jti.clone());
        let revoked = tokio::task::spawn_blocking(move || {
            roster::cli::revoke_token(&settings, "default", &again)
        })
        .await
        .unwrap();
        assert!(!revoked.unwrap());
        assert_eq!(audit_events(&app, "default", &jti).await.len(), 1);

        // The revocation lands in the log of the org given with --org; one that does not exist
        // is refused before anything is revoked.
        app.create_org("acme");
        let (acme_token, acme_jti) = provisioner_token("acme");
        let err = roster_cli(&app, &["token", "revoke", &acme_jti, "--org", "nowhere"]).await.unwrap_err();
        assert!(format!("{err:#}").contains("organization 'nowhere' does not exist"), "{err:#}");
        let accepted = app.request_as(&acme_token, Method::GET, "/Users", None).await;
        assert_eq!(accepted.status(), StatusCode::OK);
        roster_cli(&app, &["token", "revoke", &acme_jti, "--org", "acme"]).await.unwrap();
        let events = audit_events(&app, "acme", &acme_jti).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["channel"], "cli");
        assert!(audit_events(&app, "default", &acme_jti).await.is_empty());
    }

    async fn a_cli_org_creation_is_audited_in_the_new_org(app) {
        roster_cli(&app, &["org", "create", "globex", "--name", "Globex Corp"]).await.unwrap();
        let events = audit_events(&app, "globex", "globex").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["action"], "org.create");
        assert_eq!(events[0]["channel"], "cli");
        assert_eq!(events[0]["targetType"], "Organization");

        let err = roster_cli(&app, &["org", "create", "globex"]).await.unwrap_err();
        assert_eq!(err.to_string(), "organization 'globex' already exists");
        assert_eq!(audit_events(&app, "globex", "globex").await.len(), 1);
    }
}
