//! Event subscriptions of an org (docs/events.md): creating them (the receiver URL checked, a
//! signing secret issued), reading, deleting, enabling again, their deliveries, and test pings.
//! The events themselves are queued by `store::audit::append` in the transaction of each
//! audited change, and sent by [`super::delivery`].

use std::net::IpAddr;

use reqwest::Url;

use crate::clock;
use crate::events::{EventType, webhook};
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::events::{self, DeliveryRow, NewSubscription, SubscriptionRow};
use crate::store::{Store, write_tx};

pub use crate::store::events::{SET, WEBHOOK};

/// The longest `audience` of a `set` subscription.
const MAX_AUDIENCE_LENGTH: usize = 2048;

/// A subscription request refused, with a stable code for the admin API's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refused {
    /// `invalid_url`, `insecure_url`, `unknown_event_type` or `unsupported_format`.
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    fn new(code: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
        }
    }
}

/// A checked subscription request.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub url: Url,
    /// [`WEBHOOK`] or [`SET`].
    pub format: &'static str,
    /// The `aud` of a `set` subscription's SETs; `None`: the receiver URL.
    pub audience: Option<String>,
    /// `None`: every type, including types added later.
    pub events: Option<Vec<EventType>>,
    pub description: Option<String>,
}

impl Subscription {
    /// Checks a request: the URL is absolute `https` (or, when `allow_insecure`, `http`), names
    /// no credentials and, unless `allow_insecure`, no loopback, private, link-local or other
    /// non-public address; the format is `webhook` (the default) or `set`; an `audience` is
    /// given for `set` only; every event type is known.
    pub fn parse(
        url: &str,
        format: Option<&str>,
        events: Option<Vec<String>>,
        description: Option<String>,
        audience: Option<String>,
        allow_insecure: bool,
    ) -> Result<Subscription, Refused> {
        let format = match format {
            None | Some(WEBHOOK) => WEBHOOK,
            Some(SET) => SET,
            Some(other) => {
                return Err(Refused::new(
                    "unsupported_format",
                    format!("format '{other}' is not supported; use \"webhook\" or \"set\""),
                ));
            }
        };
        if let Some(audience) = &audience {
            if format != SET {
                return Err(Refused::new(
                    "invalid_audience",
                    "audience applies to format \"set\" only",
                ));
            }
            if audience.is_empty() || audience.len() > MAX_AUDIENCE_LENGTH {
                return Err(Refused::new(
                    "invalid_audience",
                    format!("audience must be 1 to {MAX_AUDIENCE_LENGTH} bytes long"),
                ));
            }
        }
        let url = receiver_url(url, allow_insecure)?;
        let events = events
            .map(|names| {
                let mut types = Vec::with_capacity(names.len());
                for name in names {
                    let Some(t) = EventType::parse(&name) else {
                        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                        return Err(Refused::new(
                            "unknown_event_type",
                            format!(
                                "unknown event type '{name}'; known types: {}",
                                known.join(", ")
                            ),
                        ));
                    };
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                if types.is_empty() {
                    return Err(Refused::new(
                        "unknown_event_type",
                        "events is empty; leave it out to receive every type",
                    ));
                }
                Ok(types)
            })
            .transpose()?;
        Ok(Subscription {
            url,
            format,
            audience,
            events,
            description,
        })
    }
}

/// The receiver URL, checked (see [`Subscription::parse`]). Addresses a host name resolves to
/// are checked again on every connection by the delivery worker.
fn receiver_url(url: &str, allow_insecure: bool) -> Result<Url, Refused> {
    let parsed = Url::parse(url)
        .map_err(|e| Refused::new("invalid_url", format!("url is not an absolute URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => {
            return Err(Refused::new(
                "insecure_url",
                "url must be https; plain http is allowed only when the server runs with ROSTER_EVENTS_ALLOW_INSECURE=true",
            ));
        }
        other => {
            return Err(Refused::new(
                "invalid_url",
                format!("url must be https, not {other}"),
            ));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::new(
            "invalid_url",
            "url must not carry credentials; receivers verify the webhook-signature instead",
        ));
    }
    let Some(host) = parsed.host_str() else {
        return Err(Refused::new("invalid_url", "url has no host"));
    };
    if !allow_insecure {
        // The URL parser has already normalised IP literals (`127.1` is `127.0.0.1`, IPv6 in
        // brackets).
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let private = match literal.parse::<IpAddr>() {
            Ok(ip) => !is_public(ip),
            Err(_) => {
                let name = host.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if private {
            return Err(Refused::new(
                "insecure_url",
                "url names a loopback, private or otherwise non-public address; such receivers are allowed only when the server runs with ROSTER_EVENTS_ALLOW_INSECURE=true",
            ));
        }
    }
    Ok(parsed)
}

/// Whether `ip` is an address on the public internet: not loopback, private (RFC 1918, ULA),
/// link-local (cloud metadata at 169.254.169.254), CGNAT, unspecified, multicast, broadcast or
/// documentation; IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Creates a subscription; returns it with its secret (shown to the caller once; `set`
/// subscriptions have none: their SETs are signed with roster's key).
pub async fn create(
    store: &Store,
    org: &OrgId,
    subscription: Subscription,
) -> Result<SubscriptionRow, ScimError> {
    let secret = if subscription.format == WEBHOOK {
        webhook::generate_secret().map_err(|e| {
            ScimError::internal_from(format!("no randomness for a webhook secret: {e}"))
        })?
    } else {
        String::new()
    };
    let org = org.clone();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let id = uuid::Uuid::now_v7().to_string();
                Ok(events::create(
                    conn,
                    &NewSubscription {
                        id: &id,
                        org: &org,
                        url: subscription.url.as_str(),
                        format: subscription.format,
                        events: subscription.events.as_deref(),
                        description: subscription.description.as_deref(),
                        secret: &secret,
                        audience: subscription.audience.as_deref(),
                        now: clock::now(),
                    },
                )?)
            })
        })
        .await
}

/// The subscriptions of `org`.
pub async fn list(store: &Store, org: &OrgId) -> Result<Vec<SubscriptionRow>, ScimError> {
    let org = org.clone();
    store.run(move |conn| Ok(events::list(conn, &org)?)).await
}

/// The subscription `id` of `org`; another org's answers 404 as one that never existed.
pub async fn get(store: &Store, org: &OrgId, id: &str) -> Result<SubscriptionRow, ScimError> {
    let org = org.clone();
    let id = id.to_owned();
    store
        .run(move |conn| events::find(conn, &org, &id)?.ok_or_else(|| not_found(&id)))
        .await
}

/// Deletes the subscription `id` of `org` and its undelivered events.
pub async fn delete(store: &Store, org: &OrgId, id: &str) -> Result<(), ScimError> {
    let org = org.clone();
    let id = id.to_owned();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                if events::delete(conn, &org, &id)? {
                    Ok(())
                } else {
                    Err(not_found(&id))
                }
            })
        })
        .await
}

/// Enables the subscription `id` of `org` again; its pending events are retried at once, in
/// order. Enabling an active subscription changes nothing.
pub async fn enable(store: &Store, org: &OrgId, id: &str) -> Result<SubscriptionRow, ScimError> {
    let org = org.clone();
    let id = id.to_owned();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let current = events::find(conn, &org, &id)?.ok_or_else(|| not_found(&id))?;
                if current.status == events::ACTIVE {
                    return Ok(current);
                }
                events::enable(conn, &org, &id, clock::now())?;
                events::find(conn, &org, &id)?.ok_or_else(|| not_found(&id))
            })
        })
        .await
}

/// Queues a `ping` for the subscription `id` of `org`, behind the events already queued for it.
pub async fn ping(store: &Store, org: &OrgId, id: &str) -> Result<DeliveryRow, ScimError> {
    let org = org.clone();
    let id = id.to_owned();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let subscription = events::find(conn, &org, &id)?.ok_or_else(|| not_found(&id))?;
                Ok(events::enqueue_ping(
                    conn,
                    &org,
                    &id,
                    &subscription.format,
                    clock::now(),
                )?)
            })
        })
        .await
}

/// The newest `limit` deliveries of the subscription `id` of `org`.
pub async fn deliveries(
    store: &Store,
    org: &OrgId,
    id: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ScimError> {
    let org = org.clone();
    let id = id.to_owned();
    store
        .run(move |conn| {
            events::find(conn, &org, &id)?.ok_or_else(|| not_found(&id))?;
            Ok(events::deliveries(conn, &org, &id, limit)?)
        })
        .await
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("no event subscription with id '{id}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str, insecure: bool) -> Result<Url, &'static str> {
        receiver_url(u, insecure).map_err(|r| r.code)
    }

    #[test]
    fn receivers_must_be_public_https_unless_insecure_is_allowed() {
        assert!(url("https://hooks.example.com/roster", false).is_ok());
        assert_eq!(url("http://hooks.example.com/", false), Err("insecure_url"));
        assert_eq!(url("https://127.0.0.1/", false), Err("insecure_url"));
        assert_eq!(url("https://localhost:8443/", false), Err("insecure_url"));
        assert_eq!(url("https://10.1.2.3/", false), Err("insecure_url"));
        assert_eq!(url("https://169.254.169.254/", false), Err("insecure_url"));
        assert_eq!(url("https://100.64.0.1/", false), Err("insecure_url"));
        assert_eq!(url("https://[::1]/", false), Err("insecure_url"));
        assert_eq!(url("https://[fd00::1]/", false), Err("insecure_url"));
        assert_eq!(
            url("https://[::ffff:127.0.0.1]/", false),
            Err("insecure_url")
        );
        assert_eq!(url("ftp://example.com/", false), Err("invalid_url"));
        assert_eq!(url("/relative", false), Err("invalid_url"));
        assert_eq!(url("https://u:p@example.com/", false), Err("invalid_url"));
        assert!(url("http://127.0.0.1:9000/hook", true).is_ok());
        assert_eq!(url("ftp://127.0.0.1/", true), Err("invalid_url"));
    }

    #[test]
    fn event_types_are_checked_and_formats_other_than_webhook_and_set_refused() {
        let parse = |events: Option<Vec<&str>>, format: Option<&str>| {
            Subscription::parse(
                "https://example.com/",
                format,
                events.map(|e| e.into_iter().map(str::to_owned).collect()),
                None,
                None,
                false,
            )
            .map(|s| s.events)
            .map_err(|r| r.code)
        };
        assert_eq!(parse(None, None), Ok(None));
        assert_eq!(
            parse(Some(vec!["user.deactivated", "user.deactivated"]), None),
            Ok(Some(vec![EventType::UserDeactivated]))
        );
        assert_eq!(
            parse(Some(vec!["user.disabled"]), None),
            Err("unknown_event_type")
        );
        assert_eq!(parse(Some(vec![]), None), Err("unknown_event_type"));
        assert_eq!(parse(None, Some("set")), Ok(None));
        assert_eq!(parse(None, Some("SET")), Err("unsupported_format"));
        assert_eq!(parse(None, Some("jwt")), Err("unsupported_format"));
        let audience = |format: &str, audience: &str| {
            Subscription::parse(
                "https://example.com/",
                Some(format),
                None,
                None,
                Some(audience.to_owned()),
                false,
            )
            .map(|s| s.audience)
            .map_err(|r| r.code)
        };
        assert_eq!(
            audience("set", "https://app.example.com"),
            Ok(Some("https://app.example.com".to_owned()))
        );
        assert_eq!(audience("set", ""), Err("invalid_audience"));
        assert_eq!(audience("webhook", "x"), Err("invalid_audience"));
    }
}
