//! The event outbox (docs/events.md): subscriptions, and one delivery row per event and
//! subscription, written by [`enqueue`] in the transaction of the change it reports (called by
//! [`super::audit::append`], which every audited change goes through). So a committed change
//! always has its deliveries, and a change rolled back has none.
//!
//! The delivery worker (`provisioning::delivery`) takes a subscription with a lease
//! (`lease_owner`, `lease_until`) and sends its pending rows strictly in `id` order; on
//! PostgreSQL the lease is taken with `FOR NO KEY UPDATE SKIP LOCKED`, so several nodes never
//! hold one subscription at once, and a worker that dies hands over when its lease expires.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use serde_json::{Map, Value, json};

use super::DbConnection;
use super::audit::NewEvent;
use super::schema::{event_deliveries, event_subscriptions, groups, settings, users};
use crate::events::{EventType, PING, set};
use crate::ids::OrgId;

/// `status` of a subscription that receives deliveries.
pub const ACTIVE: &str = "active";
/// `status` of a subscription the worker stopped after sustained failure. Events are still
/// queued for it, and delivered in order once it is enabled again.
pub const DISABLED: &str = "disabled";
/// `status` of a delivery not yet acknowledged by the receiver.
pub const PENDING: &str = "pending";
/// `status` of a delivery the receiver acknowledged with a 2xx.
pub const DELIVERED: &str = "delivered";
/// `format` of a Standard Webhooks subscription.
pub const WEBHOOK: &str = "webhook";
/// `format` of a Security Event Token subscription (RFC 8417, RFC 9967, pushed per RFC 8935).
pub const SET: &str = "set";

/// A stored subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub format: String,
    /// Space-separated event types; `None`: every type.
    pub events: Option<String>,
    pub description: Option<String>,
    /// The `whsec_` signing secret, as issued; empty for a `set` subscription.
    pub secret: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    /// The `aud` of a `set` subscription's SETs; `None`: the receiver URL.
    pub audience: Option<String>,
}

impl SubscriptionRow {
    /// The `aud` of this subscription's SETs: the configured audience, else the receiver URL.
    pub fn set_audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.url)
    }
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub org: &'a OrgId,
    pub url: &'a str,
    pub format: &'a str,
    /// `None`: every type.
    pub events: Option<&'a [EventType]>,
    pub description: Option<&'a str>,
    /// The webhook secret; empty for a `set` subscription.
    pub secret: &'a str,
    /// The `aud` of a `set` subscription's SETs.
    pub audience: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// A stored delivery: one event for one subscription, and how its delivery went so far.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscription_id: String,
    pub org_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub response_excerpt: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
}

/// Creates a subscription.
pub fn create(conn: &mut DbConnection, new: &NewSubscription<'_>) -> QueryResult<SubscriptionRow> {
    let events = new.events.map(|types| {
        types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let insert = diesel::insert_into(event_subscriptions::table).values((
        event_subscriptions::id.eq(new.id),
        event_subscriptions::org_id.eq(new.org.as_str()),
        event_subscriptions::url.eq(new.url),
        event_subscriptions::format.eq(new.format),
        event_subscriptions::events.eq(events),
        event_subscriptions::description.eq(new.description),
        event_subscriptions::secret.eq(new.secret),
        event_subscriptions::status.eq(ACTIVE),
        event_subscriptions::created_at.eq(new.now.naive_utc()),
        event_subscriptions::audience.eq(new.audience),
    ));
    // Through the backend's own connection: diesel's `MultiConnection` has no RETURNING.
    native!(conn, |c| insert
        .returning(SubscriptionRow::as_returning())
        .get_result(c))
}

/// The subscriptions of `org`, oldest first.
pub fn list(conn: &mut DbConnection, org: &OrgId) -> QueryResult<Vec<SubscriptionRow>> {
    event_subscriptions::table
        .filter(event_subscriptions::org_id.eq(org.as_str()))
        .select(SubscriptionRow::as_select())
        .order((
            event_subscriptions::created_at.asc(),
            event_subscriptions::id.asc(),
        ))
        .load(conn)
}

/// The subscription `id` of `org`.
pub fn find(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
) -> QueryResult<Option<SubscriptionRow>> {
    event_subscriptions::table
        .filter(event_subscriptions::org_id.eq(org.as_str()))
        .filter(event_subscriptions::id.eq(id))
        .select(SubscriptionRow::as_select())
        .get_result(conn)
        .optional()
}

/// Deletes the subscription `id` of `org` and its deliveries. Whether it existed.
pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &str) -> QueryResult<bool> {
    // Explicit rather than through ON DELETE CASCADE, which needs SQLite's foreign_keys pragma.
    diesel::delete(
        event_deliveries::table
            .filter(event_deliveries::org_id.eq(org.as_str()))
            .filter(event_deliveries::subscription_id.eq(id)),
    )
    .execute(conn)?;
    let deleted = diesel::delete(
        event_subscriptions::table
            .filter(event_subscriptions::org_id.eq(org.as_str()))
            .filter(event_subscriptions::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// Makes the subscription `id` of `org` active again and its pending deliveries due now, so the
/// worker resumes where it stopped. Whether it exists.
pub fn enable(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        event_subscriptions::table
            .filter(event_subscriptions::org_id.eq(org.as_str()))
            .filter(event_subscriptions::id.eq(id)),
    )
    .set((
        event_subscriptions::status.eq(ACTIVE),
        event_subscriptions::disabled_reason.eq(None::<String>),
        event_subscriptions::disabled_at.eq(None::<NaiveDateTime>),
        event_subscriptions::failing_since.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    diesel::update(
        event_deliveries::table
            .filter(event_deliveries::subscription_id.eq(id))
            .filter(event_deliveries::status.eq(PENDING)),
    )
    .set(event_deliveries::next_attempt_at.eq(now.naive_utc()))
    .execute(conn)?;
    Ok(true)
}

/// The deliveries of subscription `id` of `org`, newest first, at most `limit`.
pub fn deliveries(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    event_deliveries::table
        .filter(event_deliveries::org_id.eq(org.as_str()))
        .filter(event_deliveries::subscription_id.eq(id))
        .select(DeliveryRow::as_select())
        .order(event_deliveries::id.desc())
        .limit(limit)
        .load(conn)
}

/// A fresh event id, the `webhook-id` of every delivery of the event: no `.` (it is part of
/// the signed content's separators) and nothing a user chose.
fn event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// Whether a subscription's `events` column asks for `kind`.
fn wants(events: Option<&str>, kind: EventType) -> bool {
    events.is_none_or(|list| list.split(' ').any(|t| t == kind.as_str()))
}

/// Makes the audited change `event` deliverable to every subscription of its org that asks for
/// its type (active or disabled: a disabled subscription gets its backlog when enabled), in the
/// caller's transaction. Costs one indexed read when the org has no subscriptions.
pub fn enqueue(conn: &mut DbConnection, event: &NewEvent<'_>) -> QueryResult<()> {
    let Some(kind) = EventType::of_audit_action(event.action) else {
        return Ok(());
    };
    let query = event_subscriptions::table
        .filter(event_subscriptions::org_id.eq(event.org.as_str()))
        .select((
            event_subscriptions::id,
            event_subscriptions::events,
            event_subscriptions::format,
        ));
    // On PostgreSQL the rows are read `FOR KEY SHARE`, the lock the deliveries' foreign key
    // takes anyway, taken before deciding: a subscription being deleted concurrently is waited
    // for and then skipped, instead of failing this change on the foreign key. It does not
    // conflict with the worker's or an admin's updates of a subscription.
    let subscriptions: Vec<(String, Option<String>, String)> = match conn {
        DbConnection::Pg(c) => query.for_key_share().load(c)?,
        DbConnection::Sqlite(c) => query.load(c)?,
    };
    let targets = |format: &str| -> Vec<&str> {
        subscriptions
            .iter()
            .filter(|(_, events, f)| f == format && wants(events.as_deref(), kind))
            .map(|(id, _, _)| id.as_str())
            .collect()
    };
    let (webhooks, sets) = (targets(WEBHOOK), targets(SET));
    if webhooks.is_empty() && sets.is_empty() {
        return Ok(());
    }
    // One event id for every subscription: the `webhook-id` and the `jti`.
    let event_id = event_id();
    let resource = resource(conn, event)?;
    if !webhooks.is_empty() {
        let body = payload(event, kind, &resource);
        insert_deliveries(
            conn,
            event.org,
            &webhooks,
            &event_id,
            kind.as_str(),
            &body,
            event.occurred_at,
        )?;
    }
    if !sets.is_empty() {
        let claims = set::claims(&set::Change {
            kind,
            resource_type: event.target_type,
            id: event.target_id,
            external_id: resource.external_id.as_deref(),
            attributes: &event.attributes,
            occurred_at: event.occurred_at,
            txn: &event_id,
        });
        insert_deliveries(
            conn,
            event.org,
            &sets,
            &event_id,
            kind.as_str(),
            &claims.to_string(),
            event.occurred_at,
        )?;
    }
    Ok(())
}

/// Queues a `ping` event for the subscription `id` of `org` alone; returns its delivery.
pub fn enqueue_ping(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    format: &str,
    now: DateTime<Utc>,
) -> QueryResult<DeliveryRow> {
    let body = if format == SET {
        set::ping_claims(id, now)
    } else {
        json!({
            "type": PING,
            "timestamp": now.to_rfc3339_opts(SecondsFormat::Micros, true),
            "data": {"org": org.as_str(), "subscription": id},
        })
    }
    .to_string();
    insert_deliveries(conn, org, &[id], &event_id(), PING, &body, now)?;
    event_deliveries::table
        .filter(event_deliveries::subscription_id.eq(id))
        .select(DeliveryRow::as_select())
        .order(event_deliveries::id.desc())
        .first(conn)
}

thread_local! {
    /// Set on the thread that queued deliveries ([`insert_deliveries`]), taken by
    /// [`super::Store::run_write`] once the write has committed, to wake this process's
    /// delivery worker ([`super::Store::outbox`]).
    static QUEUED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the work run on this thread since the last call queued deliveries; clears the mark.
/// A mark left by work that rolled back only costs the worker a look.
pub(super) fn take_queued() -> bool {
    QUEUED.with(std::cell::Cell::take)
}

fn insert_deliveries(
    conn: &mut DbConnection,
    org: &OrgId,
    subscriptions: &[&str],
    event_id: &str,
    kind: &str,
    body: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let now = now.naive_utc();
    let rows: Vec<_> = subscriptions
        .iter()
        .map(|subscription| {
            (
                event_deliveries::subscription_id.eq(*subscription),
                event_deliveries::org_id.eq(org.as_str()),
                event_deliveries::event_id.eq(event_id),
                event_deliveries::event_type.eq(kind),
                event_deliveries::body.eq(body),
                event_deliveries::created_at.eq(now),
                event_deliveries::status.eq(PENDING),
                event_deliveries::attempts.eq(0),
                event_deliveries::next_attempt_at.eq(now),
            )
        })
        .collect();
    // A multi-row INSERT: through the backend's own connection, since diesel's
    // `MultiConnection` has no batch insert.
    let insert = diesel::insert_into(event_deliveries::table).values(rows);
    native!(conn, |c| insert.execute(c))?;
    QUEUED.with(|queued| queued.set(true));
    Ok(())
}

/// What an event says about its resource, read in the change's transaction: the state the
/// change left (callers record a deletion before deleting the row).
#[derive(Debug, Default)]
struct Resource {
    external_id: Option<String>,
    /// `userName` or `displayName`.
    name: Option<String>,
    /// Users only.
    active: Option<bool>,
    found: bool,
}

fn resource(conn: &mut DbConnection, event: &NewEvent<'_>) -> QueryResult<Resource> {
    let org = event.org.as_str();
    Ok(match event.target_type {
        "User" => {
            let query = users::table
                .filter(users::org_id.eq(org))
                .filter(users::id.eq(event.target_id))
                .select((users::external_id, users::user_name, users::active));
            let row: Option<(Option<String>, String, bool)> =
                native!(conn, |c| query.get_result(c).optional())?;
            row.map_or_else(Resource::default, |(external_id, name, active)| Resource {
                external_id,
                name: Some(name),
                active: Some(active),
                found: true,
            })
        }
        "Group" => {
            let query = groups::table
                .filter(groups::org_id.eq(org))
                .filter(groups::id.eq(event.target_id))
                .select((groups::external_id, groups::display_name));
            let row: Option<(Option<String>, String)> =
                native!(conn, |c| query.get_result(c).optional())?;
            row.map_or_else(Resource::default, |(external_id, name)| Resource {
                external_id,
                name: Some(name),
                active: None,
                found: true,
            })
        }
        _ => Resource::default(),
    })
}

/// The webhook body of the event: its type, time, and data naming the org, the resource
/// (`id`, `externalId`, `userName` or `displayName`, `active`), the names of changed
/// attributes, for membership changes the member ids, and the actor. Nothing else about the
/// person: the receiver reads the resource over SCIM when it needs more.
fn payload(event: &NewEvent<'_>, kind: EventType, resource: &Resource) -> String {
    let mut data = Map::new();
    data.insert("org".to_owned(), json!(event.org.as_str()));
    data.insert("resourceType".to_owned(), json!(event.target_type));
    data.insert("id".to_owned(), json!(event.target_id));
    if resource.found {
        data.insert("externalId".to_owned(), json!(resource.external_id));
        let name = if event.target_type == "Group" {
            "displayName"
        } else {
            "userName"
        };
        data.insert(name.to_owned(), json!(resource.name));
        if let Some(active) = resource.active {
            data.insert("active".to_owned(), json!(active));
        }
    }
    if matches!(kind, EventType::UserUpdated | EventType::GroupUpdated) {
        data.insert("changedAttributes".to_owned(), json!(event.attributes));
    }
    if let Some(Value::Object(detail)) = &event.detail {
        // Membership changes: counts, and the member ids when the audit log kept them.
        for key in ["membersAdded", "membersRemoved", "added", "removed"] {
            if let Some(value) = detail.get(key) {
                data.insert(key.to_owned(), value.clone());
            }
        }
    }
    data.insert(
        "actor".to_owned(),
        json!({"id": event.actor, "channel": event.channel}),
    );
    json!({
        "type": kind.as_str(),
        "timestamp": event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

/// Whether some active subscription, not leased by a live worker, has a head delivery (its
/// oldest pending one) that is due at `now`. A read, so an idle worker costs no write.
pub fn any_due(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        due: bool,
    }
    let sql = placeholders(conn, format!("SELECT EXISTS (SELECT 1 {DUE}) AS due"));
    let due: Due = diesel::sql_query(sql)
        .bind::<Timestamp, _>(now.naive_utc())
        .get_result(conn)?;
    Ok(due.due)
}

/// When subscription `s`'s head delivery (its oldest pending one) is due; `NULL` when it has
/// none. A macro so that [`DUE`] and [`claim`]'s order are one constant string each.
macro_rules! head_due {
    () => {
        "(SELECT d.next_attempt_at FROM event_deliveries d \
          WHERE d.subscription_id = s.id AND d.status = 'pending' \
          ORDER BY d.id LIMIT 1)"
    };
}

/// The subscriptions whose turn it is: active, lease free or expired, head delivery due.
/// Binds `$1`: now.
const DUE: &str = concat!(
    "FROM event_subscriptions s \
     WHERE s.status = 'active' \
     AND (s.lease_until IS NULL OR s.lease_until < $1) \
     AND ",
    head_due!(),
    " <= $1"
);

/// `sql` with its `$n` parameters as the backend numbers them: SQLite reads `$1` as a name
/// and numbers names by first appearance, so it is given `?1`.
fn placeholders(conn: &DbConnection, sql: String) -> String {
    match conn {
        DbConnection::Pg(_) => sql,
        DbConnection::Sqlite(_) => sql.replace('$', "?"),
    }
}

/// Leases up to `limit` due subscriptions to `owner` until `until`, and returns them: those
/// whose head delivery has waited longest first, so that when more are due than `limit`, none
/// waits behind the others turn after turn. On PostgreSQL the rows are locked with
/// `SKIP LOCKED`, so concurrent workers on other nodes take other subscriptions instead of
/// waiting or taking the same ones.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<SubscriptionRow>> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let lock = match conn {
        DbConnection::Pg(_) => " FOR NO KEY UPDATE SKIP LOCKED",
        // One writer at a time: the statement runs alone.
        DbConnection::Sqlite(_) => "",
    };
    let sql = placeholders(
        conn,
        format!(
            "UPDATE event_subscriptions SET lease_owner = $2, lease_until = $3 \
             WHERE id IN (SELECT s.id {DUE} ORDER BY {head}, s.id LIMIT $4{lock}) \
             RETURNING id",
            head = head_due!()
        ),
    );
    let claimed: Vec<Claimed> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(now.naive_utc())
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(until.naive_utc())
        .bind::<BigInt, _>(limit)
        .load(conn)?;
    let ids: Vec<String> = claimed.into_iter().map(|c| c.id).collect();
    event_subscriptions::table
        .filter(event_subscriptions::id.eq_any(ids))
        .filter(event_subscriptions::lease_owner.eq(owner))
        .select(SubscriptionRow::as_select())
        .load(conn)
}

/// The oldest `limit` pending deliveries of `subscription`, oldest first: the first is the only
/// one that may be sent now, each next one once the one before it was acknowledged.
pub fn pending(
    conn: &mut DbConnection,
    subscription: &str,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    event_deliveries::table
        .filter(event_deliveries::subscription_id.eq(subscription))
        .filter(event_deliveries::status.eq(PENDING))
        .select(DeliveryRow::as_select())
        .order(event_deliveries::id.asc())
        .limit(limit)
        .load(conn)
}

/// What one attempt to deliver came to.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub delivery: i64,
    pub at: DateTime<Utc>,
    /// The HTTP status, when a response came.
    pub status: Option<i32>,
    /// Why it failed; `None` when the receiver acknowledged it.
    pub error: Option<&'a str>,
    pub response_excerpt: Option<&'a str>,
    /// When to try again after a failure.
    pub retry_at: DateTime<Utc>,
}

/// Where a subscription stands after a batch of attempts.
#[derive(Debug, Clone)]
pub struct Standing<'a> {
    /// The subscription's run of failures (`None` after a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Disable the subscription: why, and when.
    pub disable: Option<(&'a str, DateTime<Utc>)>,
    /// The lease, renewed until then; `None`: given back in the same write.
    pub lease_until: Option<DateTime<Utc>>,
}

/// Records `attempts` (a subscription's, in the order they were made) and its `standing`, if
/// `owner` still holds the subscription's lease (else nothing is written and `false` returned:
/// another worker took over, and will send the deliveries again). One lease update for the
/// batch, then the attempts: one statement for them all on PostgreSQL, one per attempt on
/// SQLite (where they run on the writer thread without a round trip).
pub fn record(
    conn: &mut DbConnection,
    subscription: &str,
    owner: &str,
    attempts: &[Attempt<'_>],
    standing: &Standing<'_>,
) -> QueryResult<bool> {
    let subscription_row = event_subscriptions::table
        .filter(event_subscriptions::id.eq(subscription))
        .filter(event_subscriptions::lease_owner.eq(owner));
    let held = diesel::update(subscription_row)
        .set((
            event_subscriptions::lease_owner.eq(standing.lease_until.map(|_| owner)),
            event_subscriptions::lease_until.eq(standing.lease_until.map(|t| t.naive_utc())),
            event_subscriptions::failing_since.eq(standing.failing_since.map(|t| t.naive_utc())),
        ))
        .execute(conn)?;
    if held == 0 {
        return Ok(false);
    }
    if let Some((reason, at)) = standing.disable {
        diesel::update(event_subscriptions::table.find(subscription))
            .set((
                event_subscriptions::status.eq(DISABLED),
                event_subscriptions::disabled_reason.eq(reason),
                event_subscriptions::disabled_at.eq(at.naive_utc()),
            ))
            .execute(conn)?;
    }
    if let DbConnection::Pg(c) = conn {
        return record_batch(c, attempts).map(|()| true);
    }
    for attempt in attempts {
        let at = attempt.at.naive_utc();
        let delivered = attempt.error.is_none();
        diesel::update(event_deliveries::table.find(attempt.delivery))
            .set((
                event_deliveries::attempts.eq(event_deliveries::attempts + 1),
                event_deliveries::last_attempt_at.eq(at),
                event_deliveries::last_status.eq(attempt.status),
                event_deliveries::last_error.eq(attempt.error),
                event_deliveries::response_excerpt.eq(attempt.response_excerpt),
                event_deliveries::status.eq(if delivered { DELIVERED } else { PENDING }),
                event_deliveries::delivered_at.eq(delivered.then_some(at)),
                event_deliveries::next_attempt_at.eq(if delivered {
                    at
                } else {
                    attempt.retry_at.naive_utc()
                }),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

/// [`record`]'s attempts on PostgreSQL: one `UPDATE … FROM unnest(…)` for the batch instead
/// of one statement per acknowledged event (a batch holds each delivery at most once: a
/// failure ends it).
fn record_batch(conn: &mut diesel::PgConnection, attempts: &[Attempt<'_>]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Integer, Nullable};
    if attempts.is_empty() {
        return Ok(());
    }
    let at = |a: &Attempt<'_>| a.at.naive_utc();
    let next = |a: &Attempt<'_>| {
        if a.error.is_none() {
            a.at.naive_utc()
        } else {
            a.retry_at.naive_utc()
        }
    };
    diesel::sql_query(
        "UPDATE event_deliveries d SET attempts = d.attempts + 1, last_attempt_at = a.at, \
         last_status = a.status, last_error = a.error, response_excerpt = a.excerpt, \
         status = CASE WHEN a.error IS NULL THEN 'delivered' ELSE 'pending' END, \
         delivered_at = CASE WHEN a.error IS NULL THEN a.at END, next_attempt_at = a.next \
         FROM unnest($1::bigint[], $2::timestamp[], $3::integer[], $4::text[], $5::text[], \
                     $6::timestamp[]) AS a(id, at, status, error, excerpt, next) \
         WHERE d.id = a.id",
    )
    .bind::<Array<BigInt>, _>(attempts.iter().map(|a| a.delivery).collect::<Vec<_>>())
    .bind::<Array<Timestamp>, _>(attempts.iter().map(at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Integer>>, _>(attempts.iter().map(|a| a.status).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(attempts.iter().map(|a| a.error).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        attempts
            .iter()
            .map(|a| a.response_excerpt)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Timestamp>, _>(attempts.iter().map(next).collect::<Vec<_>>())
    .execute(conn)
    .map(drop)
}

/// The `settings` row holding roster's SET signing key when it is kept in the database.
const SIGNING_KEY: &str = "events_signing_key";

/// roster's SET signing key kept in the database (PKCS#8 PEM): the stored one, else
/// `candidate`, stored now. Concurrent first starts agree: the insert does nothing when a key
/// is already there, and every node reads the one that won.
pub fn signing_key(conn: &mut DbConnection, candidate: &str) -> QueryResult<String> {
    let insert = diesel::insert_into(settings::table)
        .values((
            settings::name.eq(SIGNING_KEY),
            settings::value.eq(candidate),
        ))
        .on_conflict_do_nothing();
    native!(conn, |c| insert.execute(c))?;
    settings::table
        .find(SIGNING_KEY)
        .select(settings::value)
        .get_result(conn)
}

/// Gives up `owner`'s lease on `subscription`.
pub fn release(conn: &mut DbConnection, subscription: &str, owner: &str) -> QueryResult<()> {
    diesel::update(
        event_subscriptions::table
            .filter(event_subscriptions::id.eq(subscription))
            .filter(event_subscriptions::lease_owner.eq(owner)),
    )
    .set((
        event_subscriptions::lease_owner.eq(None::<String>),
        event_subscriptions::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_without_a_list_wants_every_type() {
        assert!(wants(None, EventType::GroupDeleted));
        assert!(wants(
            Some("user.created user.deactivated"),
            EventType::UserDeactivated
        ));
        assert!(!wants(Some("user.created"), EventType::UserUpdated));
    }

    #[test]
    fn event_ids_hold_no_dot() {
        let id = event_id();
        assert!(id.starts_with("evt_") && !id.contains('.'));
        assert_ne!(id, event_id());
    }
}
