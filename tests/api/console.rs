//! The admin console (`/admin`) in a real browser: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, with the fantoccini client), headless, on both backends. Without
//! chromedriver or chromium these tests fail, naming the packages; they never skip.
//!
//! `ROSTER_SCREENSHOTS=1` also writes the screenshots of docs/console.md to `docs/images/`
//! (from the SQLite run), so that CI leaves the tree as it found it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, StatusCode};
use roster::auth::{Role, Secret, Signer};
use serde_json::{Value, json};

use crate::helpers::*;

/// chromedriver on a free loopback port, with one headless Chromium session; the driver's
/// process group (the browser with it) is killed on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let chromedriver =
            std::env::var("ROSTER_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium =
            std::env::var("ROSTER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&chromium).exists(),
            "the console tests need Chromium at {chromium} (Debian: apt-get install chromium \
             chromium-driver; or set ROSTER_TEST_CHROMIUM)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!(
                "the console tests need {chromedriver} (Debian: apt-get install chromium \
                 chromium-driver; or set ROSTER_TEST_CHROMEDRIVER): {e}"
            )
        });
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on {url} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,860",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("starting Chromium through chromedriver: {e}"));
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.driver.id()))
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The text of the first element matching `css`, once it has it (10 s at most).
async fn wait_text(c: &Client, css: &str, expected: &str) {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
        {
            if text.trim() == expected {
                return;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("'{css}' reads {last:?}, not {expected:?}");
}

/// Waits for the page's `h1` to read `title`.
async fn wait_page(c: &Client, title: &str) {
    wait_text(c, "h1", title).await;
}

/// The text of the element `css` finds. The script may replace the element between the find and
/// the read (a stale element reference): then it is found again, for at most a few seconds.
async fn text(c: &Client, css: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        match c.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => return text,
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no text of '{css}': {last}")
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no '{css}': {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking '{css}': {e}"));
}

async fn type_into(c: &Client, css: &str, value: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Signs in on the sign-in page with `token`.
async fn sign_in(c: &Client, app: &TestApp, token: &str) {
    c.goto(&format!("{}/admin", app.address)).await.unwrap();
    type_into(c, "#token", token).await;
    click(c, "form.card button[type=submit]").await;
}

/// `docs/images/<name>.png`, when `ROSTER_SCREENSHOTS` is set (SQLite run only).
async fn screenshot(c: &Client, app: &TestApp, name: &str) {
    if std::env::var_os("ROSTER_SCREENSHOTS").is_none() || app.backend != Backend::Sqlite {
        return;
    }
    let png = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// An admin token and its `jti`.
fn admin_token(sub: Option<&str>) -> (String, String) {
    let (token, claims) = Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
        .issue("default", Role::Admin, sub, None, roster::clock::unix_now())
        .unwrap();
    (token, claims.jti)
}

async fn user_id(app: &TestApp, user_name: &str) -> String {
    app.create_user(user_name).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn scim_active(app: &TestApp, id: &str) -> bool {
    let user: Value = app.get_user(id).await.json().await.unwrap();
    user["active"].as_bool().unwrap()
}

/// The status of `GET /scim/v2/Users` with a token acting as `id`.
async fn acting_as(app: &TestApp, id: &str) -> StatusCode {
    let token = app.mint(Role::Provisioner, "default", Some(id));
    app.request_as(&token, Method::GET, "/Users?count=1", None)
        .await
        .status()
}

/// Opens the row menu of `user_name`, checks its item, chooses it, and confirms the dialog.
async fn change_with_menu(c: &Client, app: &TestApp, user_name: &str, item: &str, shot: bool) {
    let menu = format!("button[aria-label=\"Actions for {user_name}\"]");
    click(c, &menu).await;
    let expanded = c
        .find(Locator::Css(&menu))
        .await
        .unwrap()
        .attr("aria-expanded")
        .await
        .unwrap();
    assert_eq!(expanded.as_deref(), Some("true"));
    let menuitem = format!("tr[data-user-name=\"{user_name}\"] [role=menuitem]");
    wait_text(c, &menuitem, item).await;
    click(c, &menuitem).await;
    let verb = item.split(' ').next().unwrap();
    wait_text(c, "#confirm-title", &format!("{verb} {user_name}?")).await;
    assert_eq!(text(c, "#confirm-ok").await, item);
    assert_eq!(text(c, "#confirm-cancel").await, "Cancel");
    type_into(c, "#confirm-reason", &format!("{verb} in the browser test")).await;
    if shot {
        screenshot(c, app, "console-confirm").await;
    }
    click(c, "#confirm-ok").await;
}

/// Signs in over HTTP; returns the `Cookie` header value and the page's CSRF token.
async fn http_sign_in(app: &TestApp, token: &str) -> (String, String) {
    let signed_in = app
        .client
        .post(format!("{}/admin/sign-in", app.address))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = get_page(app, &cookie, "/admin/users").await.1;
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let page = app
        .client
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (page.status(), page.text().await.unwrap())
}

mod expiry {
    use super::*;

    async fn run(app: TestApp) {
        let (token, _) = admin_token(None);
        let (cookie, csrf) = http_sign_in(&app, &token).await;
        assert_eq!(
            get_page(&app, &cookie, "/admin/users").await.0,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (status, html) = get_page(&app, &cookie, "/admin/users").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "idle for longer than the timeout"
        );
        assert!(html.contains("inactivity"), "{html}");

        // Sign out ends the session at once.
        let (cookie, csrf2) = http_sign_in(&app, &token).await;
        assert_ne!(csrf, csrf2, "each session has its own CSRF token");
        let out = app
            .client
            .post(format!("{}/admin/sign-out", app.address))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf2.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::OK);
        assert!(
            out.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        let (status, html) = get_page(&app, &cookie, "/admin/users").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(html.contains("signed out"), "{html}");
    }

    async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |s| {
            s.console.idle_timeout = Duration::from_secs(2);
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(spawn(Backend::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(spawn(Backend::Postgres).await).await
    }
}

both_backends! {
    async fn an_admin_manages_users_in_chromium(app) {
        let ada = user_id(&app, "ada.lovelace@example.com").await;
        let grace = user_id(&app, "grace.hopper@example.com").await;
        let mut bulk = Vec::new();
        for i in 1..=3 {
            bulk.push(user_id(&app, &format!("bulk-{i}@example.com")).await);
        }
        let browser = Browser::start().await;
        let c = &browser.client;
        let (token, _) = admin_token(None);

        // Sign in with a token; the Manage users table lists everyone.
        sign_in(c, &app, &token).await;
        wait_page(c, "Manage users").await;
        let rows = c.find_all(Locator::Css("tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 5);
        screenshot(c, &app, "console-users").await;

        // Search.
        type_into(c, "#q", "grace").await;
        click(c, "form.search button[type=submit]").await;
        wait_text(c, "tbody tr td[data-label=userName]", "grace.hopper@example.com").await;
        assert_eq!(c.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 1);

        // Menu → Deactivate user → confirm: the row changes without a reload.
        assert_eq!(acting_as(&app, &grace).await, StatusCode::OK);
        c.execute("window.rosterTestMarker = 42;", vec![]).await.unwrap();
        change_with_menu(c, &app, "grace.hopper@example.com", "Deactivate user", true).await;
        wait_text(c, &format!("#user-{grace} .badge"), "Deactivated").await;
        wait_text(c, "#notice", "Deactivated grace.hopper@example.com.").await;
        let marker = c.execute("return window.rosterTestMarker;", vec![]).await.unwrap();
        assert_eq!(marker, json!(42), "the page was not reloaded");
        assert!(text(c, &format!("#user-{grace} .last-change")).await.starts_with("Deactivated "));
        assert!(!scim_active(&app, &grace).await, "SCIM shows active: false");
        assert_eq!(acting_as(&app, &grace).await, StatusCode::UNAUTHORIZED);
        assert!(scim_active(&app, &ada).await, "only the chosen user changed");

        // Activate restores it.
        change_with_menu(c, &app, "grace.hopper@example.com", "Activate user", false).await;
        wait_text(c, &format!("#user-{grace} .badge"), "Active").await;
        assert!(scim_active(&app, &grace).await);
        assert_eq!(acting_as(&app, &grace).await, StatusCode::OK);

        // The changes are audited: channel admin, the admin's token as actor, the reason.
        let events = app.audit_events(&grace).await;
        let lifecycle: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e.action != "user.create")
            .map(|e| (e.action.as_str(), e.channel.as_str()))
            .collect();
        assert_eq!(lifecycle, vec![("user.deactivate", "admin"), ("user.reactivate", "admin")]);
        let deactivation = events.iter().find(|e| e.action == "user.deactivate").unwrap();
        assert_eq!(
            deactivation.detail.as_ref().unwrap().0["reason"],
            "Deactivate in the browser test"
        );

        // Keyboard: ArrowDown opens the menu on its item, Escape closes it back to the button.
        let button = c
            .find(Locator::Css("button[aria-label=\"Actions for grace.hopper@example.com\"]"))
            .await
            .unwrap();
        button.send_keys("\u{E015}").await.unwrap();
        let focused = c
            .execute("return document.activeElement.getAttribute('role');", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!("menuitem"));
        c.active_element().await.unwrap().send_keys("\u{E00C}").await.unwrap();
        let focused = c
            .execute("return document.activeElement.getAttribute('aria-haspopup');", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!("menu"));
        assert_eq!(button.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));

        // Bulk: three selected, confirmed with the count.
        c.goto(&format!("{}/admin/users?q=bulk-", app.address)).await.unwrap();
        wait_page(c, "Manage users").await;
        for id in &bulk {
            click(c, &format!("#user-{id} .row-select")).await;
        }
        wait_text(c, "#selected-count", "3 selected").await;
        click(c, "#bulk-deactivate").await;
        wait_text(c, "#confirm-title", "Deactivate 3 users?").await;
        assert_eq!(text(c, "#confirm-ok").await, "Deactivate 3 users");
        click(c, "#confirm-ok").await;
        wait_text(c, "#notice", "Deactivated 3 users.").await;
        for id in &bulk {
            wait_text(c, &format!("#user-{id} .badge"), "Deactivated").await;
            assert!(!scim_active(&app, id).await);
            let events = app.audit_events(id).await;
            assert_eq!(events.iter().filter(|e| e.action == "user.deactivate").count(), 1);
        }

        // Status filter.
        c.goto(&format!("{}/admin/users?status=deactivated", app.address)).await.unwrap();
        wait_page(c, "Manage users").await;
        assert_eq!(c.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 3);

        // The user's page and the audit log.
        c.goto(&format!("{}/admin/users/{grace}", app.address)).await.unwrap();
        wait_page(c, "grace.hopper@example.com").await;
        let history = text(c, "section[aria-labelledby=history] table").await;
        assert!(history.contains("user.deactivate") && history.contains("user.reactivate"), "{history}");
        assert!(history.contains("Reason: Deactivate in the browser test"), "{history}");
        c.goto(&format!("{}/admin/audit?channel=admin", app.address)).await.unwrap();
        wait_page(c, "Audit log").await;
        assert_eq!(c.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 5);
        screenshot(c, &app, "console-audit").await;

        // 375 px wide: nothing overflows sideways.
        c.set_window_size(375, 812).await.unwrap();
        c.goto(&format!("{}/admin/users", app.address)).await.unwrap();
        wait_page(c, "Manage users").await;
        let viewport = c.execute("return window.innerWidth;", vec![]).await.unwrap();
        assert!(viewport.as_i64().unwrap() <= 375, "the viewport is {viewport} px wide");
        let overflow = c
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .unwrap();
        assert!(overflow.as_i64().unwrap() <= 375, "page is {overflow} px wide at 375 px");
        screenshot(c, &app, "console-narrow").await;
        browser.close().await;
    }

    async fn console_links_refusals_and_revocation_in_chromium(app) {
        let target = user_id(&app, "target@example.com").await;
        let browser = Browser::start().await;
        let c = &browser.client;

        // A console link (as `roster console-link` makes it) signs in once.
        let mut settings = app.settings.clone();
        settings.bind = app.address.trim_start_matches("http://").to_owned();
        let (url, link) = tokio::task::spawn_blocking(move || {
            roster::cli::console_link(&settings, "default", Duration::from_secs(900))
        })
        .await
        .unwrap()
        .unwrap();
        assert!(url.starts_with(&format!("{}/admin/link#", app.address)), "{url}");
        c.goto(&url).await.unwrap();
        wait_page(c, "Sign in with a console link").await;
        click(c, "form.card button[type=submit]").await;
        wait_page(c, "Manage users").await;
        assert!(text(c, ".who .admin").await.contains("console-link-"));
        let again = app
            .client
            .post(format!("{}/admin/link", app.address))
            .form(&[("secret", url.split_once('#').unwrap().1)])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a link works once");
        assert!(again.text().await.unwrap().contains("already used"));

        // Revoking the link's jti ends its session on the next request.
        let settings = app.settings.clone();
        let jti = link.jti.clone();
        tokio::task::spawn_blocking(move || roster::cli::revoke_token(&settings, "default", &jti))
            .await
            .unwrap()
            .unwrap();
        c.goto(&format!("{}/admin/users", app.address)).await.unwrap();
        wait_page(c, "Sign in to the admin console").await;
        assert!(text(c, "p.error").await.contains("revoked"));

        // A provisioner token cannot sign in, and is told why.
        sign_in(c, &app, &app.token).await;
        wait_page(c, "Sign in to the admin console").await;
        assert!(text(c, "p.error").await.contains("only admin tokens can sign in"));

        // Signed in with an admin token; revoking that token ends the session.
        let (token, jti) = admin_token(None);
        sign_in(c, &app, &token).await;
        wait_page(c, "Manage users").await;
        let settings = app.settings.clone();
        tokio::task::spawn_blocking(move || roster::cli::revoke_token(&settings, "default", &jti))
            .await
            .unwrap()
            .unwrap();
        c.goto(&format!("{}/admin/users", app.address)).await.unwrap();
        wait_page(c, "Sign in to the admin console").await;
        assert!(text(c, "p.error").await.contains("the token has been revoked"));
        browser.close().await;

        // Over HTTP: the cookie's flags, the headers, and CSRF.
        let (token, _) = admin_token(None);
        let signed_in = app
            .client
            .post(format!("{}/admin/sign-in", app.address))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let set_cookie = signed_in
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(set_cookie.contains(flag), "{set_cookie}");
        }
        assert!(!set_cookie.contains("Secure"), "http base URL: {set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let page = app
            .client
            .get(format!("{}/admin/users", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(!html.contains("<script>"), "no inline script");
        let csrf = html
            .split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let deactivate = |csrf: Option<&str>| {
            let mut request = app
                .client
                .post(format!("{}/admin/users/{target}/deactivate", app.address))
                .header("cookie", &cookie)
                .json(&json!({}));
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
            request.send()
        };
        for wrong in [None, Some("not-the-token")] {
            let refused = deactivate(wrong).await.unwrap();
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["error"], "forbidden", "{body}");
            assert!(scim_active(&app, &target).await, "nothing changed");
        }
        let done = deactivate(Some(&csrf)).await.unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        assert!(!scim_active(&app, &target).await);
    }

    async fn the_bulk_endpoint_reports_each_users_outcome(app) {
        let a = user_id(&app, "bulk-a@example.com").await;
        let b = user_id(&app, "bulk-b@example.com").await;
        let missing = "0190f6a0-0000-7000-8000-000000000000";
        let admin = app.mint(Role::Admin, "default", None);
        let call = |token: String, path: &'static str, body: Value| {
            app.client
                .post(format!("{}/admin/v1{path}", app.address))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let answer: Value = call(
            admin.clone(),
            "/users/deactivate",
            json!({"ids": [a, b, missing], "reason": "offboarding"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let outcomes: Vec<&str> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, vec!["deactivated", "deactivated", "failed"], "{answer}");
        assert_eq!(answer["results"][2]["error"]["error"], "not_found");
        assert_eq!(answer["results"][0]["user"]["active"], false);
        for id in [&a, &b] {
            assert!(!scim_active(&app, id).await);
            let events = app.audit_events(id).await;
            let last = events.last().unwrap();
            assert_eq!((last.action.as_str(), last.channel.as_str()), ("user.deactivate", "admin"));
            assert_eq!(last.detail.as_ref().unwrap().0["reason"], "offboarding");
        }
        let again: Value = call(admin.clone(), "/users/deactivate", json!({"ids": [a]}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(again["results"][0]["outcome"], "unchanged");
        let back: Value = call(admin.clone(), "/users/activate", json!({"ids": [a, b]}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(back["results"][1]["outcome"], "activated");
        assert!(scim_active(&app, &b).await);

        let too_many: Vec<String> = (0..101).map(|_| a.clone()).collect();
        let refused = call(admin.clone(), "/users/deactivate", json!({ "ids": too_many }))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(scim_active(&app, &a).await, "a refused request changes nothing");
        let forbidden = call(app.token.clone(), "/users/deactivate", json!({"ids": [a]}))
            .await
            .unwrap();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    }
}

/// The value of the form field `css`.
async fn value_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no '{css}': {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The `checked` property of the checkbox `css`.
async fn checked(c: &Client, css: &str) -> Option<String> {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap()
}

/// The token the "New token" panel shows once it shows a token other than `previous`, and its
/// `jti`.
async fn new_token(c: &Client, previous: &str) -> (String, String) {
    let started = Instant::now();
    loop {
        let token = value_of(c, "#new-token-value").await;
        if !token.is_empty() && token != previous {
            let jti = c
                .find(Locator::Css("#new-token"))
                .await
                .unwrap()
                .attr("data-jti")
                .await
                .unwrap()
                .unwrap();
            return (token, jti);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no new token shown; the notice reads {:?}",
            text(c, "#notice").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reloads `path` until `css` matches an element (the request log is written in batches).
async fn reload_until(c: &Client, app: &TestApp, path: &str, css: &str) {
    let started = Instant::now();
    loop {
        c.goto(&format!("{}{path}", app.address)).await.unwrap();
        wait_page(c, "Connectors").await;
        if c.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "'{css}' did not appear on {path}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The audit events of the `default` org, oldest first (at most 100).
async fn org_events(app: &TestApp) -> Vec<roster::store::audit::EventRow> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let org = roster::ids::OrgId::parse("default").unwrap();
        roster::store::audit::list(&mut store.conn().unwrap(), &org, None, None, 100).unwrap()
    })
    .await
    .unwrap()
}

/// The status of `GET /scim/v2/Users` with `token`.
async fn scim_status(app: &TestApp, token: &str) -> StatusCode {
    app.request_as(token, Method::GET, "/Users?count=1", None)
        .await
        .status()
}

both_backends! {
    async fn an_admin_runs_connectors_in_chromium(app) {
        let browser = Browser::start().await;
        let c = &browser.client;
        let (admin, _) = admin_token(None);
        sign_in(c, &app, &admin).await;
        wait_page(c, "Manage users").await;
        click(c, "nav a[href=\"/admin/connectors\"]").await;
        wait_page(c, "Connectors").await;

        // The SCIM base URL to paste into the IdP, with a copy button.
        assert_eq!(value_of(c, "#scim-base-url").await, app.url(""));
        click(c, "button[data-copy=scim-base-url]").await;
        wait_text(c, "button[data-copy=scim-base-url]", "Copied").await;

        // Create a token: shown once, and it works against /scim/v2.
        type_into(c, "#token-name", "Okta test").await;
        type_into(c, "#token-ttl", "90d").await;
        click(c, "#create-token button[type=submit]").await;
        let (okta, okta_jti) = new_token(c, "").await;
        assert!(text(c, "#notice").await.starts_with("Created the provisioner token Okta test."));
        wait_text(c, &format!("#token-{okta_jti} .state"), "Active").await;
        assert_eq!(scim_status(&app, &okta).await, StatusCode::OK);
        let created = app
            .request_as(&okta, Method::POST, "/Users", Some(&okta_user("connector@example.com")))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);

        // A failed Okta-style request: in the log with its scimType, the attribute names only.
        let failed = app
            .request_as(
                &okta,
                Method::POST,
                "/Users",
                Some(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "connector@example.com",
                    "password": "hunter2-not-logged",
                })),
            )
            .await;
        let error = assert_scim_error(failed, 409, Some("uniqueness")).await;
        assert!(error.to_string().contains("userName"), "{error}");

        // After a reload the token is nowhere in the page.
        c.refresh().await.unwrap();
        wait_page(c, "Connectors").await;
        let html = c.source().await.unwrap();
        assert!(!html.contains(&okta), "the token is shown once, not after a reload");
        assert!(c.find(Locator::Css("#new-token")).await.unwrap().attr("hidden").await.unwrap().is_some());
        let (cookie, _) = http_sign_in(&app, &admin).await;
        let (status, html) = get_page(&app, &cookie, "/admin/connectors").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains(&okta) && html.contains(&okta_jti));

        // The request log: the failure with the filter, the success only without it.
        reload_until(c, &app, "/admin/connectors?failures=1", "tr[data-status=\"409\"]").await;
        assert_eq!(checked(c, "#failures-only").await.as_deref(), Some("true"));
        assert!(c.find(Locator::Css("#requests tr[data-status=\"201\"]")).await.is_err(), "failures only");
        let row = text(c, "#requests tr[data-status=\"409\"]").await;
        for shown in ["POST", "/scim/v2/Users", "uniqueness", "password", "userName", "Okta test"] {
            assert!(row.contains(shown), "{shown} in {row}");
        }
        let html = c.source().await.unwrap();
        assert!(!html.contains("hunter2-not-logged"), "never a value");
        reload_until(c, &app, "/admin/connectors", "#requests tr[data-status=\"201\"]").await;
        assert_eq!(checked(c, "#failures-only").await.as_deref(), Some("false"));

        // The rate limit: a wrong value is explained; a right one is in force.
        type_into(c, "#per-second", "0").await;
        type_into(c, "#burst", "80").await;
        click(c, "#set-rate-limit button[type=submit]").await;
        wait_text(c, "#notice", "Requests per second must be between 1 and 100000").await;
        type_into(c, "#per-second", "40").await;
        click(c, "#set-rate-limit button[type=submit]").await;
        wait_text(c, "#notice", "The rate limit is now 40 requests per second, bursts of 80.").await;
        // The notice comes before the panel is refreshed (connectors.js): wait for the panel.
        let started = Instant::now();
        let mut now = text(c, "#rate-limit-now").await;
        while !now.starts_with("40 requests per second, bursts of 80 (this organization's own")
            && started.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            now = text(c, "#rate-limit-now").await;
        }
        assert!(now.starts_with("40 requests per second, bursts of 80 (this organization's own"), "{now}");
        let api_admin = app.mint(Role::Admin, "default", None);
        let limit: Value = app
            .client
            .get(format!("{}/admin/v1/rate-limit", app.address))
            .bearer_auth(&api_admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((limit["perSecond"].as_u64(), limit["burst"].as_u64(), limit["source"].as_str()), (Some(40), Some(80), Some("org")));
        c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
        screenshot(c, &app, "console-connectors").await;

        // Rotate: the new token shown once; the old one keeps working for the overlap stated.
        click(c, "button[aria-label=\"Rotate Okta test\"]").await;
        wait_text(c, "#token-confirm-title", "Rotate Okta test?").await;
        assert_eq!(value_of(c, "#token-overlap").await, "1day");
        type_into(c, "#token-overlap", "2h").await;
        click(c, "#token-confirm-ok").await;
        let (rotated, rotated_jti) = new_token(c, &okta).await;
        let notice = text(c, "#notice").await;
        assert!(notice.starts_with("Rotated Okta test. The old token keeps working for 2h until "), "{notice}");
        assert_eq!(scim_status(&app, &rotated).await, StatusCode::OK);
        assert_eq!(scim_status(&app, &okta).await, StatusCode::OK, "during the overlap");
        wait_text(c, &format!("#token-{rotated_jti} .state"), "Active").await;
        assert!(text(c, &format!("#token-{okta_jti} .state")).await.starts_with("Retiring: refused from "));

        // Revoke, after a confirmation (Cancel changes nothing): refused at once.
        click(c, &format!("#token-{okta_jti} [data-token-action=revoke]")).await;
        wait_text(c, "#token-confirm-title", "Revoke Okta test?").await;
        click(c, "#token-confirm-cancel").await;
        assert_eq!(scim_status(&app, &okta).await, StatusCode::OK, "cancelled");
        click(c, &format!("#token-{okta_jti} [data-token-action=revoke]")).await;
        wait_text(c, "#token-confirm-ok", "Revoke token").await;
        click(c, "#token-confirm-ok").await;
        wait_text(c, "#notice", "Revoked Okta test: requests with it are refused from now on.").await;
        wait_text(c, &format!("#token-{okta_jti} .state"), "Revoked").await;
        assert_eq!(scim_status(&app, &okta).await, StatusCode::UNAUTHORIZED);
        assert_eq!(scim_status(&app, &rotated).await, StatusCode::OK, "only the chosen token");

        // Every change is audited with channel admin.
        let actions: Vec<String> = org_events(&app)
            .await
            .into_iter()
            .filter(|e| e.channel == "admin")
            .map(|e| e.action)
            .collect();
        for action in ["token.create", "token.rotate", "token.revoke", "org.rate_limit"] {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }
        browser.close().await;

        // Over HTTP: a change without the CSRF token is refused, and changes nothing.
        let (cookie, csrf) = http_sign_in(&app, &admin).await;
        let revoke = |csrf: Option<String>| {
            let mut request = app
                .client
                .post(format!("{}/admin/connectors/tokens/{rotated_jti}/revoke", app.address))
                .header("cookie", &cookie)
                .json(&json!({}));
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
            request.send()
        };
        let refused = revoke(None).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(scim_status(&app, &rotated).await, StatusCode::OK);
        let created = app
            .client
            .post(format!("{}/admin/connectors/tokens", app.address))
            .header("cookie", &cookie)
            .json(&json!({"name": "x", "role": "provisioner"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::FORBIDDEN);
        let bad = app
            .client
            .post(format!("{}/admin/connectors/tokens", app.address))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "x", "role": "owner", "ttl": ""}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let body: Value = bad.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("provisioner or admin"), "{body}");
        assert_eq!(revoke(Some(csrf)).await.unwrap().status(), StatusCode::OK);
        assert_eq!(scim_status(&app, &rotated).await, StatusCode::UNAUTHORIZED);
    }
}
