//! The console's HTML, written with maud: each page is a Rust function, checked by the compiler
//! (an unclosed element or a misspelt variable does not build) and escaped by default (every
//! `(value)` is HTML-escaped; nothing here writes unescaped text). No inline script or style:
//! the Content-Security-Policy allows only `/admin/assets/`.

use chrono::NaiveDateTime;
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::provisioning::console::{EventRow, SubscriptionRow, UserRow};

/// The console's pages, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Users,
    Audit,
    Events,
    Connectors,
    None,
}

/// Who is signed in, for the page header.
pub struct Chrome<'a> {
    pub org: &'a str,
    pub admin: &'a str,
    pub csrf: &'a str,
}

/// A time as the console shows it: `2026-11-29 12:03 UTC`.
pub fn when(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(csrf) = csrf {
                meta name="csrf-token" content=(csrf);
            }
            title { (title) " · roster" }
            link rel="stylesheet" href="/admin/assets/console.css";
            script type="module" src="/admin/assets/console.js" {}
        }
    }
}

/// A page of the signed-in console.
pub fn layout(chrome: &Chrome<'_>, nav: Nav, title: &str, body: Markup) -> Markup {
    let item = |this: Nav, href: &str, label: &str| {
        html! {
            li {
                a href=(href) aria-current=[(nav == this).then_some("page")] { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(chrome.csrf)))
            body {
                header.top {
                    span.brand { "roster" }
                    nav aria-label="Console" {
                        ul {
                            (item(Nav::Users, "/admin/users", "Manage users"))
                            (item(Nav::Audit, "/admin/audit", "Audit log"))
                            (item(Nav::Events, "/admin/events", "Event subscriptions"))
                            (item(Nav::Connectors, "/admin/connectors", "Connectors"))
                        }
                    }
                    div.who {
                        span { "Org " strong { (chrome.org) } }
                        span.admin title=(chrome.admin) { "Admin " (short(chrome.admin)) }
                        form method="post" action="/admin/sign-out" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    div id="notice" role="status" aria-live="polite" hidden {}
                    (body)
                }
            }
        }
    }
}

/// An actor id (a user id or a token id) shortened for a table cell; the full value is in the
/// cell's `title`.
fn short(id: &str) -> String {
    if id.chars().count() > 20 {
        let head: String = id.chars().take(18).collect();
        format!("{head}…")
    } else {
        id.to_owned()
    }
}

/// A page outside the session (sign-in, link, errors).
fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body.bare {
                main id="main" {
                    p.brand { "roster" }
                    (body)
                }
            }
        }
    }
}

/// The sign-in page, with an error when the last attempt failed or the session ended.
pub fn sign_in(error: Option<&str>) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in to the admin console" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="post" action="/admin/sign-in" {
                label for="token" { "Admin token" }
                textarea id="token" name="token" rows="4" required autocomplete="off"
                    spellcheck="false" aria-describedby="token-help" {}
                p.help id="token-help" {
                    "A JWT with the role " code { "admin" } ", from "
                    code { "roster token create --role admin" } " or your identity provider. "
                    "Operators can also print a one-time link with "
                    code { "roster console-link --org <slug>" } "."
                }
                button.primary type="submit" { "Sign in" }
            }
        },
    )
}

/// The page a console link opens: the link's secret is in the URL's fragment (never sent to a
/// server or logged); the script puts it in the form, which the admin submits.
pub fn link(error: Option<&str>) -> Markup {
    bare(
        "Console link",
        html! {
            h1 { "Sign in with a console link" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="post" action="/admin/link" {
                input type="hidden" id="link-secret" name="secret" value="";
                p { "This one-time link signs you in as the organization's admin. It works once." }
                button.primary type="submit" { "Continue to the console" }
            }
            p { a href="/admin" { "Sign in with a token instead" } }
        },
    )
}

/// An error page: never a blank page.
pub fn error(status: u16, message: &str, signed_in: bool) -> Markup {
    bare(
        "Error",
        html! {
            h1 { "Something went wrong (" (status) ")" }
            p.error role="alert" { (message) }
            p {
                @if signed_in {
                    a href="/admin/users" { "Back to Manage users" }
                } @else {
                    a href="/admin" { "Sign in" }
                }
            }
        },
    )
}

/// The text a user row shows for its status.
pub fn status_label(active: bool) -> &'static str {
    if active { "Active" } else { "Deactivated" }
}

/// The "last change" of a user: its newest lifecycle event, else the deactivation record.
pub fn last_change(user: &UserRow, event: Option<&EventRow>) -> String {
    match event {
        Some(e) => {
            let what = match e.action.as_str() {
                "user.create" => "Created",
                "user.deactivate" => "Deactivated",
                "user.reactivate" => "Activated",
                other => other,
            };
            format!(
                "{what} {} by {} ({})",
                when(e.occurred_at),
                short(&e.actor),
                e.channel
            )
        }
        None => match (&user.deactivated_at, &user.deactivated_by) {
            (Some(at), Some(by)) => format!(
                "Deactivated {} by {} ({})",
                when(*at),
                short(by),
                user.deactivated_via.as_deref().unwrap_or("?")
            ),
            _ => format!("Created {}", when(user.created_at)),
        },
    }
}

/// A user's name: `displayName`, else `name.formatted`, else given and family names.
pub fn name_of(user: &UserRow) -> String {
    if let Some(display) = user.display_name.as_deref().filter(|d| !d.is_empty()) {
        return display.to_owned();
    }
    let name = user.resource.0.get("name");
    let text = |k: &str| name.and_then(|n| n.get(k)).and_then(Value::as_str);
    if let Some(formatted) = text("formatted") {
        return formatted.to_owned();
    }
    [text("givenName"), text("familyName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A user's primary e-mail, else the first.
pub fn primary_email(user: &UserRow) -> String {
    let emails = user
        .resource
        .0
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let primary = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or(emails.first());
    primary
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// What the Manage users page shows.
pub struct UsersView<'a> {
    pub users: &'a [(UserRow, Option<EventRow>)],
    pub q: &'a str,
    pub status: &'a str,
    /// The link of the next page, when there is one.
    pub next: Option<String>,
    /// Whether this is a later page (a link back to the first).
    pub paged: bool,
}

/// Manage users.
pub fn users(view: &UsersView<'_>) -> Markup {
    let option = |value: &str, label: &str| {
        html! { option value=(value) selected[view.status == value] { (label) } }
    };
    html! {
        h1 { "Manage users" }
        form.search method="get" action="/admin/users" role="search" {
            div.field {
                label for="q" { "Search" }
                input id="q" type="search" name="q" value=(view.q)
                    placeholder="userName, name or e-mail" maxlength="256";
            }
            div.field {
                label for="status" { "Status" }
                select id="status" name="status" {
                    (option("", "All"))
                    (option("active", "Active"))
                    (option("deactivated", "Deactivated"))
                }
            }
            button type="submit" { "Search" }
        }
        div.bulk {
            span id="selected-count" aria-live="polite" { "0 selected" }
            button id="bulk-deactivate" type="button" data-action="deactivate" disabled {
                "Deactivate selected"
            }
            button id="bulk-activate" type="button" data-action="activate" disabled {
                "Activate selected"
            }
        }
        @if view.users.is_empty() {
            p.empty { "No users match." }
        } @else {
            table.users {
                thead {
                    tr {
                        th scope="col" {
                            input id="select-all" type="checkbox"
                                aria-label="Select all users on this page";
                        }
                        th scope="col" { "userName" }
                        th scope="col" { "Name" }
                        th scope="col" { "Primary e-mail" }
                        th scope="col" { "Status" }
                        th scope="col" { "Last change" }
                        th scope="col" { span.sr-only { "Actions" } }
                    }
                }
                tbody {
                    @for (user, event) in view.users {
                        (user_row(user, event.as_ref()))
                    }
                }
            }
        }
        nav.paging aria-label="Pages" {
            @if view.paged {
                a href=(format!("/admin/users?{}", query(&[("q", view.q), ("status", view.status)]))) {
                    "First page"
                }
            }
            @if let Some(next) = &view.next {
                a href=(next) rel="next" { "Next page" }
            }
        }
        (confirm_dialog())
    }
}

/// One row of Manage users; the script updates its status, last change and menu in place.
pub fn user_row(user: &UserRow, event: Option<&EventRow>) -> Markup {
    let menu_id = format!("menu-{}", user.id);
    let (action, label) = if user.active {
        ("deactivate", "Deactivate user")
    } else {
        ("activate", "Activate user")
    };
    html! {
        tr id=(format!("user-{}", user.id)) data-id=(user.id) data-user-name=(user.user_name)
            data-active=(if user.active { "true" } else { "false" }) {
            td.select {
                input.row-select type="checkbox" aria-label=(format!("Select {}", user.user_name));
            }
            td data-label="userName" {
                a href=(format!("/admin/users/{}", user.id)) { (user.user_name) }
            }
            td data-label="Name" { (name_of(user)) }
            td data-label="Primary e-mail" { (primary_email(user)) }
            td.status data-label="Status" {
                span.badge.active[user.active].deactivated[!user.active] { (status_label(user.active)) }
            }
            td.last-change data-label="Last change" { (last_change(user, event)) }
            td.actions {
                div.menu {
                    button.menu-button type="button" aria-haspopup="menu" aria-expanded="false"
                        aria-controls=(menu_id) aria-label=(format!("Actions for {}", user.user_name)) {
                        "Actions" span aria-hidden="true" { " ▾" }
                    }
                    ul.menu-list id=(menu_id) role="menu"
                        aria-label=(format!("Actions for {}", user.user_name)) hidden {
                        li role="none" {
                            button type="button" role="menuitem" tabindex="-1" data-action=(action) {
                                (label)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The confirmation dialog the script fills in and opens.
fn confirm_dialog() -> Markup {
    html! {
        dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text" {
            form method="dialog" {
                h2 id="confirm-title" {}
                p id="confirm-text" {}
                label for="confirm-reason" { "Reason (optional)" }
                textarea id="confirm-reason" name="reason" rows="2" maxlength="1000" {}
                p.hold hidden {
                    input id="confirm-hold" type="checkbox" name="hold";
                    " "
                    label for="confirm-hold" {
                        "Hold: the IdP cannot reactivate (only an admin can release the hold)"
                    }
                }
                div.buttons {
                    button id="confirm-cancel" type="button" value="cancel" { "Cancel" }
                    button.primary id="confirm-ok" type="submit" value="confirm" {}
                }
            }
        }
    }
}

/// A query string of the non-empty pairs, URL-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A user's page: attributes, groups, lifecycle history.
pub fn user(user: &UserRow, groups: &[Value], history: &[EventRow]) -> Markup {
    let emails: Vec<(String, bool)> = user
        .resource
        .0
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e.get("value")?.as_str()?.to_owned(),
                e.get("primary").and_then(Value::as_bool) == Some(true),
            ))
        })
        .collect();
    html! {
        p { a href="/admin/users" { "← Manage users" } }
        h1 { (user.user_name) }
        p {
            span.badge.active[user.active].deactivated[!user.active] { (status_label(user.active)) }
        }
        section aria-labelledby="attributes" {
            h2 id="attributes" { "Attributes" }
            dl.attributes {
                dt { "id" } dd { code { (user.id) } }
                dt { "userName" } dd { (user.user_name) }
                dt { "Name" } dd { (name_of(user)) }
                dt { "E-mails" }
                dd {
                    @for (email, primary) in &emails {
                        (email) @if *primary { " (primary)" } br;
                    }
                }
                dt { "externalId" } dd { (user.external_id.as_deref().unwrap_or("—")) }
                dt { "Created" } dd { (when(user.created_at)) }
                dt { "Last modified" } dd { (when(user.last_modified)) }
                @if let Some(at) = user.deactivated_at {
                    dt { "Deactivated" }
                    dd {
                        (when(at)) " by " (user.deactivated_by.as_deref().unwrap_or("?"))
                        " (" (user.deactivated_via.as_deref().unwrap_or("?")) ")"
                    }
                }
                @if let Some(at) = user.held_at {
                    dt { "Hold" }
                    dd {
                        (when(at)) " by " (user.held_by.as_deref().unwrap_or("?"))
                        @if let Some(reason) = &user.hold_reason { ": " (reason) }
                    }
                }
            }
        }
        section aria-labelledby="groups" {
            h2 id="groups" { "Groups" }
            @if groups.is_empty() {
                p.empty { "Not a member of any group." }
            } @else {
                ul {
                    @for g in groups {
                        li { (g.get("display").and_then(Value::as_str).unwrap_or("(unnamed)")) }
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 id="history" { "Lifecycle history" }
            (events_table(history, false))
            p { a href=(format!("/admin/audit?{}", query(&[("user", &user.id)]))) { "All audit events of this user" } }
        }
    }
}

fn action_label(action: &str) -> &str {
    match action {
        "user.create" => "Created",
        "user.update" => "Updated",
        "user.delete" => "Deleted",
        "user.deactivate" => "Deactivated",
        "user.reactivate" => "Activated",
        "user.hold" => "Put on hold",
        "user.release" => "Hold released",
        "user.reactivate_refused" => "Reactivation refused (hold)",
        "user.restore" => "Restored",
        "group.create" => "Group created",
        "group.update" => "Group updated",
        "group.delete" => "Group deleted",
        other => other,
    }
}

/// Audit events as a table; `targets` adds the target column.
fn events_table(events: &[EventRow], targets: bool) -> Markup {
    html! {
        @if events.is_empty() {
            p.empty { "No events." }
        } @else {
            table.events {
                thead {
                    tr {
                        th scope="col" { "When" }
                        th scope="col" { "Action" }
                        @if targets { th scope="col" { "Target" } }
                        th scope="col" { "Who" }
                        th scope="col" { "Channel" }
                        th scope="col" { "Detail" }
                    }
                }
                tbody {
                    @for e in events {
                        tr {
                            td data-label="When" { (when(e.occurred_at)) }
                            td data-label="Action" { (action_label(&e.action)) " " code { (e.action) } }
                            @if targets {
                                td data-label="Target" {
                                    @if e.target_type == "User" || e.target_type == "user" {
                                        a href=(format!("/admin/users/{}", e.target_id)) title=(e.target_id) { (short(&e.target_id)) }
                                    } @else {
                                        (e.target_type) " " span title=(e.target_id) { (short(&e.target_id)) }
                                    }
                                }
                            }
                            td data-label="Who" title=(e.actor) { (short(&e.actor)) }
                            td data-label="Channel" { (e.channel) }
                            td data-label="Detail" { (detail(e)) }
                        }
                    }
                }
            }
        }
    }
}

/// An event's detail: its reason, and the names of the attributes it changed.
fn detail(e: &EventRow) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = e
        .detail
        .as_ref()
        .and_then(|d| d.0.get("reason"))
        .and_then(Value::as_str)
    {
        parts.push(format!("Reason: {reason}"));
    }
    let names: Vec<&str> = e
        .attributes
        .0
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !names.is_empty() {
        parts.push(names.join(", "));
    }
    parts.join(" · ")
}

/// The filters of the Audit log page.
pub struct AuditView<'a> {
    pub events: &'a [EventRow],
    pub user: &'a str,
    pub action: &'a str,
    pub channel: &'a str,
    pub next: Option<String>,
    pub paged: bool,
}

/// The actions the audit page filters by.
pub const ACTIONS: [&str; 13] = [
    "user.create",
    "user.update",
    "user.deactivate",
    "user.reactivate",
    "user.delete",
    "user.hold",
    "user.release",
    "user.reactivate_refused",
    "user.restore",
    "user.purge",
    "group.create",
    "group.update",
    "group.delete",
];

/// The channels the audit page filters by.
pub const CHANNELS: [&str; 4] = ["scim", "admin", "cli", "system"];

/// Audit log.
pub fn audit(view: &AuditView<'_>) -> Markup {
    html! {
        h1 { "Audit log" }
        form.search method="get" action="/admin/audit" {
            div.field {
                label for="user" { "User id" }
                input id="user" type="search" name="user" value=(view.user) maxlength="64"
                    placeholder="a user's id";
            }
            div.field {
                label for="action" { "Action" }
                select id="action" name="action" {
                    option value="" selected[view.action.is_empty()] { "All" }
                    @for a in ACTIONS {
                        option value=(a) selected[view.action == a] { (action_label(a)) " (" (a) ")" }
                    }
                }
            }
            div.field {
                label for="channel" { "Channel" }
                select id="channel" name="channel" {
                    option value="" selected[view.channel.is_empty()] { "All" }
                    @for c in CHANNELS {
                        option value=(c) selected[view.channel == c] { (c) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        (events_table(view.events, true))
        nav.paging aria-label="Pages" {
            @if view.paged {
                a href=(format!("/admin/audit?{}", query(&[("user", view.user), ("action", view.action), ("channel", view.channel)]))) {
                    "Newest events"
                }
            }
            @if let Some(next) = &view.next {
                a href=(next) rel="next" { "Older events" }
            }
        }
    }
}

/// Event subscriptions (read-only; managed through the admin API).
pub fn events(subscriptions: &[SubscriptionRow]) -> Markup {
    html! {
        h1 { "Event subscriptions" }
        p.help {
            "Receivers of lifecycle events (docs/events.md). Create, test and delete them with "
            code { "/admin/v1/event-subscriptions" } "."
        }
        @if subscriptions.is_empty() {
            p.empty { "No subscriptions." }
        } @else {
            table.events {
                thead {
                    tr {
                        th scope="col" { "URL" }
                        th scope="col" { "Events" }
                        th scope="col" { "Status" }
                        th scope="col" { "Created" }
                        th scope="col" { "Description" }
                    }
                }
                tbody {
                    @for s in subscriptions {
                        tr {
                            td data-label="URL" { code { (s.url) } }
                            td data-label="Events" { (s.events.as_deref().unwrap_or("all")) }
                            td data-label="Status" {
                                (s.status)
                                @if let Some(reason) = &s.disabled_reason { " (" (reason) ")" }
                            }
                            td data-label="Created" { (when(s.created_at)) }
                            td data-label="Description" { (s.description.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_and_skip_empty_values() {
        assert_eq!(
            query(&[("q", "a b&c"), ("status", "")]),
            "q=a%20b%26c".to_owned()
        );
    }

    #[test]
    fn pages_escape_what_they_show() {
        let html = error(400, "<script>alert(1)</script>", false).into_string();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
