//! Unit tests of the connection set-up and the transactions.

use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{self};

use super::DbConnection;
use super::connection::*;
use super::pool::*;
use super::tx::*;

fn sqlite() -> (tempfile::TempDir, DbConnection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    (dir, DbConnection::Sqlite(conn))
}

#[test]
fn sqlite_synchronous_is_the_configured_one() {
    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("t.db").display().to_string();
    for (setting, expected) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
        let options = StoreOptions {
            queries: StoreSettings {
                synchronous: setting,
                ..StoreSettings::default()
            },
            ..StoreOptions::new(1, Duration::from_secs(5))
        };
        let store = Store::open_with(&url, &options).unwrap();
        let pragma: Pragma = diesel::sql_query("PRAGMA synchronous")
            .get_result(&mut *store.conn().unwrap())
            .unwrap();
        assert_eq!(pragma.synchronous, expected, "{setting:?}");
    }
}

#[test]
fn kept_transactions_keep_diesels_depth_true() {
    let (_dir, mut conn) = sqlite();
    begin_kept(&mut conn, "BEGIN").unwrap();
    assert_eq!(transaction_depth(&mut conn).unwrap(), 1);
    assert!(
        begin_kept(&mut conn, "BEGIN").is_err(),
        "no transaction inside a transaction"
    );
    end_kept(&mut conn, true).unwrap();
    assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
    begin_kept(&mut conn, "BEGIN IMMEDIATE").unwrap();
    end_kept(&mut conn, false).unwrap();
    assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
    assert!(!r2d2::R2D2Connection::is_broken(&mut conn));
}

#[test]
fn a_transaction_sqlite_ended_by_itself_leaves_the_connection_usable() {
    let (_dir, mut conn) = sqlite();
    begin_kept(&mut conn, "BEGIN").unwrap();
    // SQLite ends a transaction itself on some failures; diesel still counts it open.
    conn.batch_execute("ROLLBACK").unwrap();
    assert!(end_kept(&mut conn, true).is_err(), "the COMMIT fails");
    assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
    assert!(
        !r2d2::R2D2Connection::is_broken(&mut conn),
        "a healthy connection is not discarded"
    );
    begin_kept(&mut conn, "BEGIN").unwrap();
    end_kept(&mut conn, true).unwrap();
}
