//! What `/metrics` reads from the store (docs/operations.md, "Metrics"): the pool's state, the
//! writes admitted and not yet answered, and the event deliveries waiting to be sent.

use diesel::prelude::*;

use super::{DbConnection, Store, StoreError};

/// The connection pool at one instant (r2d2's `state()`), and the pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open, idle or in use.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens (`ROSTER_DB_POOL_SIZE`).
    pub max: u32,
}

impl Store {
    /// The pool's state now.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Writes admitted and not yet answered (queued for the SQLite writer, or running);
    /// bounded by `ROSTER_WRITE_QUEUE`.
    pub fn writes_in_flight(&self, write_queue: usize) -> usize {
        write_queue
            .max(1)
            .saturating_sub(self.writes.available_permits())
    }

    /// Event deliveries not yet delivered, over every org and subscription (the delivery
    /// backlog; disabled subscriptions' included).
    pub async fn delivery_backlog(&self) -> Result<i64, StoreError> {
        self.run(|conn| Ok::<_, StoreError>(pending_deliveries(conn)?))
            .await
    }
}

fn pending_deliveries(conn: &mut DbConnection) -> QueryResult<i64> {
    use super::schema::event_deliveries;
    event_deliveries::table
        .filter(event_deliveries::status.eq(super::events::PENDING))
        .count()
        .get_result(conn)
}
