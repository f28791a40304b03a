//! The HTML of the console's Connectors page (maud, escaped by default; no inline script: the
//! page's behaviour is in `assets/connectors.js`).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::pages::{query, when};
use crate::provisioning::rate_limits::OrgLimit;
use crate::provisioning::request_log::Record;
use crate::provisioning::tokens::TokenView;

/// What the Connectors page shows.
pub struct ConnectorsView<'a> {
    /// The SCIM base URL an IdP is given.
    pub base_url: &'a str,
    pub tokens: &'a [TokenView],
    pub now: DateTime<Utc>,
    /// Whether this node can mint tokens (it has an HS256 secret).
    pub can_mint: bool,
    /// The overlap a rotation gets unless the admin changes it, as `24h`.
    pub default_overlap: &'a str,
    pub limit: &'a OrgLimit,
    pub requests: &'a [Record],
    /// Whether the request log is written at all on this server.
    pub log_enabled: bool,
    pub failures_only: bool,
    /// The link of the next (older) page of the request log.
    pub next: Option<String>,
    /// Whether this is a later page of the request log.
    pub paged: bool,
}

/// A token's state at `now`, as the page shows it.
pub fn token_state(token: &TokenView, now: DateTime<Utc>) -> String {
    if token.revoked(now) {
        "Revoked".to_owned()
    } else if token.expires_at.is_some_and(|e| e <= now) {
        "Expired".to_owned()
    } else if let Some(at) = token.revoked_at {
        format!("Retiring: refused from {}", when(at.naive_utc()))
    } else {
        "Active".to_owned()
    }
}

/// An id shortened for a table cell (the whole id is in the cell's `title`).
fn short(id: &str) -> String {
    if id.chars().count() > 13 {
        let head: String = id.chars().take(12).collect();
        format!("{head}…")
    } else {
        id.to_owned()
    }
}

fn time(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), |t| when(t.naive_utc()))
}

/// A copy button for the field `target` (an element id).
fn copy_button(target: &str, label: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(target) aria-label=(label) { "Copy" }
    }
}

/// The Connectors page.
pub fn connectors(view: &ConnectorsView<'_>) -> Markup {
    html! {
        h1 { "Connectors" }
        p.help {
            "Connect an identity provider (Okta, Entra ID, …) to this organization: give it the "
            "SCIM base URL and a provisioner token."
        }
        section aria-labelledby="scim-url-title" {
            h2 id="scim-url-title" { "SCIM base URL" }
            div.copy-field {
                label.sr-only for="scim-base-url" { "SCIM base URL" }
                input id="scim-base-url" type="text" readonly value=(view.base_url);
                (copy_button("scim-base-url", "Copy the SCIM base URL"))
            }
            p.help {
                "Okta: " em { "SCIM connector base URL" } ". Entra ID: " em { "Tenant URL" }
                ". Authentication: HTTP header (bearer token)."
            }
        }
        section id="new-token" aria-labelledby="new-token-title" hidden {
            h2 id="new-token-title" { "New token" }
            div.card {
                p id="new-token-text" {}
                div.copy-field {
                    label.sr-only for="new-token-value" { "The new token" }
                    input id="new-token-value" type="text" readonly value="" autocomplete="off"
                        spellcheck="false";
                    (copy_button("new-token-value", "Copy the new token"))
                }
                p.help {
                    "This is the only time roster shows this token: copy it into your identity "
                    "provider now. It is not stored in a readable form and is gone when you leave "
                    "or reload this page."
                }
                div { button id="new-token-done" type="button" { "Done" } }
            }
        }
        (tokens(view))
        (rate_limit(view.limit))
        (requests(view))
        (connector_dialog(view.default_overlap))
        script type="module" src="/admin/assets/connectors.js" {}
    }
}

fn tokens(view: &ConnectorsView<'_>) -> Markup {
    html! {
        section id="tokens" aria-labelledby="tokens-title" {
            h2 id="tokens-title" { "Tokens" }
            @if view.can_mint {
                form.search id="create-token" {
                    div.field {
                        label for="token-name" { "Name" }
                        input id="token-name" type="text" name="name" required maxlength="100"
                            placeholder="Okta production";
                    }
                    div.field {
                        label for="token-role" { "Role" }
                        select id="token-role" name="role" {
                            option value="provisioner" selected { "provisioner (SCIM)" }
                            option value="admin" { "admin (admin API and console)" }
                        }
                    }
                    div.field {
                        label for="token-ttl" { "Lifetime" }
                        input id="token-ttl" type="text" name="ttl" maxlength="32"
                            placeholder="empty: never; or 90d"
                            aria-describedby="token-ttl-help";
                    }
                    button.primary type="submit" { "Create token" }
                }
                p.help id="token-ttl-help" {
                    "Lifetime: from 1m to 10 years (" code { "90d" } ", " code { "1y" } ", "
                    code { "12h" } "); leave it empty for a token that does not expire, "
                    "which is what IdP connectors expect."
                }
            } @else {
                p.help {
                    "This server verifies tokens issued elsewhere and mints none: set "
                    code { "ROSTER_JWT_SECRET" } " to create tokens here."
                }
            }
            @if view.tokens.is_empty() {
                p.empty { "No tokens yet." }
            } @else {
                table.tokens {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Role" }
                            th scope="col" { "Created" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Last used" }
                            th scope="col" { "State" }
                            th scope="col" { span.sr-only { "Actions" } }
                        }
                    }
                    tbody {
                        @for t in view.tokens {
                            (token_row(t, view.now, view.can_mint))
                        }
                    }
                }
            }
        }
    }
}

fn token_row(t: &TokenView, now: DateTime<Utc>, can_mint: bool) -> Markup {
    let usable = !t.revoked(now) && t.expires_at.is_none_or(|e| e > now);
    html! {
        tr id=(format!("token-{}", t.jti)) data-jti=(t.jti) data-name=(t.name) {
            td data-label="Name" { (t.name) br; code.muted title=(t.jti) { (short(&t.jti)) } }
            td data-label="Role" { (t.role) }
            td data-label="Created" {
                (when(t.created_at.naive_utc())) br;
                span.muted title=(t.created_by) { "by " (short(&t.created_by)) }
            }
            td data-label="Expires" { (time(t.expires_at, "Never")) }
            td data-label="Last used" { (time(t.last_used_at, "Never")) }
            td.state data-label="State" { (token_state(t, now)) }
            td.actions {
                @if usable && t.rotated_to.is_none() {
                    @if can_mint {
                        button type="button" data-token-action="rotate"
                            aria-label=(format!("Rotate {}", t.name)) { "Rotate" }
                        " "
                    }
                }
                @if !t.revoked(now) {
                    button.danger-text type="button" data-token-action="revoke"
                        aria-label=(format!("Revoke {}", t.name)) { "Revoke" }
                }
            }
        }
    }
}

fn rate_limit(limit: &OrgLimit) -> Markup {
    let per_second = limit.limit.map(|l| l.per_second.get().to_string());
    let burst = limit.limit.map(|l| l.burst.get().to_string());
    html! {
        section id="rate-limit" aria-labelledby="rate-limit-title" {
            h2 id="rate-limit-title" { "Rate limit" }
            p id="rate-limit-now" {
                @match limit.limit {
                    Some(l) => {
                        (l.per_second.get()) " requests per second, bursts of " (l.burst.get())
                    }
                    None => { "No limit" }
                }
                @if limit.own {
                    " (this organization's own"
                    @if let (Some(at), Some(by)) = (limit.updated_at, &limit.updated_by) {
                        ", set " (when(at.naive_utc())) " by " span title=(by) { (short(by)) }
                    }
                    ")"
                } @else {
                    " (the server's default)"
                }
                "."
            }
            form.search id="set-rate-limit" {
                div.field {
                    label for="per-second" { "Requests per second" }
                    input id="per-second" type="text" inputmode="numeric" name="perSecond"
                        required maxlength="7" value=[per_second];
                }
                div.field {
                    label for="burst" { "Burst" }
                    input id="burst" type="text" inputmode="numeric" name="burst" required
                        maxlength="7" value=[burst];
                }
                button type="submit" { "Save rate limit" }
            }
            p.help {
                "Beyond the limit SCIM requests get " code { "429 Too Many Requests" }
                " with " code { "Retry-After" } ". Entra ID's gallery needs at least 25 per second."
            }
        }
    }
}

fn requests(view: &ConnectorsView<'_>) -> Markup {
    let filter = if view.failures_only { "1" } else { "" };
    html! {
        section id="requests" aria-labelledby="requests-title" {
            h2 id="requests-title" { "SCIM request log" }
            p.help {
                "Requests that failed or changed something, newest first. Bodies are summarized "
                "by attribute name; values are never recorded."
            }
            @if !view.log_enabled {
                p.help { "The request log is turned off on this server (" code { "ROSTER_REQUEST_LOG" } ")." }
            }
            form.search method="get" action="/admin/connectors" {
                div.field.check {
                    label {
                        input id="failures-only" type="checkbox" name="failures" value="1"
                            checked[view.failures_only];
                        " Failures only (4xx and 5xx)"
                    }
                }
                button type="submit" { "Filter" }
            }
            @if view.requests.is_empty() {
                p.empty { "No requests." }
            } @else {
                table.requests {
                    thead {
                        tr {
                            th scope="col" { "Time" }
                            th scope="col" { "Status" }
                            th scope="col" { "Method" }
                            th scope="col" { "Path" }
                            th scope="col" { "scimType" }
                            th scope="col" { "Attributes" }
                            th scope="col" { "Token" }
                        }
                    }
                    tbody {
                        @for r in view.requests {
                            tr data-status=(r.status) {
                                td data-label="Time" { (r.at.format("%Y-%m-%d %H:%M:%S UTC")) }
                                td.status data-label="Status" {
                                    span.badge.deactivated[r.status >= 400].active[r.status < 400] { (r.status) }
                                }
                                td data-label="Method" { (r.method) }
                                td data-label="Path" { code { (r.path) } }
                                td data-label="scimType" { (r.scim_type.as_deref().unwrap_or("")) }
                                td data-label="Attributes" {
                                    (r.body_attributes.as_deref().map(|a| a.join(", ")).unwrap_or_default())
                                }
                                td data-label="Token" title=(r.token_jti) {
                                    (r.token_name.as_deref().unwrap_or(&r.token_jti))
                                }
                            }
                        }
                    }
                }
            }
            nav.paging aria-label="Request log pages" {
                @if view.paged {
                    a href=(format!("/admin/connectors?{}", query(&[("failures", filter)]))) {
                        "Newest requests"
                    }
                }
                @if let Some(next) = &view.next {
                    a href=(next) rel="next" { "Older requests" }
                }
            }
        }
    }
}

/// The dialog that confirms a rotation (with its overlap) or a revocation.
fn connector_dialog(default_overlap: &str) -> Markup {
    html! {
        dialog id="token-confirm" aria-labelledby="token-confirm-title"
            aria-describedby="token-confirm-text" {
            form method="dialog" {
                h2 id="token-confirm-title" {}
                p id="token-confirm-text" {}
                div id="token-overlap-field" hidden {
                    label for="token-overlap" { "Overlap (the old token keeps working this long)" }
                    input id="token-overlap" type="text" maxlength="32" value=(default_overlap)
                        data-default=(default_overlap);
                }
                div.buttons {
                    button id="token-confirm-cancel" type="button" value="cancel" { "Cancel" }
                    button.primary id="token-confirm-ok" type="submit" value="confirm" {}
                }
            }
        }
    }
}
