//! Unit tests of the translation and the sort keys, on both dialects.

use diesel::pg::Pg;
use diesel::sqlite::Sqlite;

use crate::scim::filter::Filter;
use crate::scim::schema::USER_RESOURCE;

use super::columns::*;
use super::sort::*;
use super::sql::*;
use super::translate::*;

use diesel::debug_query;
use diesel::prelude::*;

use crate::store::schema::users;

fn expr(filter: &str) -> SqlBool {
    let f: Filter = filter.parse().unwrap();
    let f = f.validate(&USER_RESOURCE).unwrap();
    let org = crate::ids::OrgId::parse("default").unwrap();
    translate(&USER_RESOURCE, &f).unwrap().for_org(&org)
}

fn pg(filter: &str) -> String {
    let q = users::table.select(users::id).filter(expr(filter));
    debug_query::<Pg, _>(&q).to_string()
}

fn lite(filter: &str) -> String {
    let q = users::table.select(users::id).filter(expr(filter));
    debug_query::<Sqlite, _>(&q).to_string()
}

#[test]
fn hot_columns_keep_index_friendly_shapes() {
    let out = pg("userName eq \"A\"");
    assert!(out.contains("users.user_name_ci = $1"), "{out}");
    let out = lite("active eq false");
    assert!(out.contains("(NOT users.active)"), "{out}");
    let out = lite("emails[type eq \"work\"].value eq \"x@y\"");
    assert!(
        out.contains("users.id IN (SELECT c.user_id FROM user_emails c WHERE"),
        "{out}"
    );
    assert!(out.contains("c.value_ci = ?"), "{out}");
}

#[test]
fn sqlite_checks_the_time_budget_first_in_every_where() {
    let out = lite("title co \"x\" or emails.value co \"y\"");
    assert!(
        out.starts_with("SELECT `users`.`id` FROM `users` WHERE (roster_within_budget() AND ("),
        "{out}"
    );
    assert!(
        out.contains("FROM user_emails c WHERE roster_within_budget() AND "),
        "{out}"
    );
    assert!(!pg("title co \"x\"").contains("roster_within_budget"));
}

#[test]
fn json_paths_come_from_the_schema() {
    let out = pg("name.FAMILYNAME sw \"o'\"");
    assert!(
        out.contains("lower((users.resource->'name'->>'familyName')) LIKE lower($1)"),
        "{out}"
    );
    let out =
        lite("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"");
    assert!(
        out.contains(
            "json_extract(users.resource, '$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"employeeNumber\"')"
        ),
        "{out}"
    );
    let out = pg("ims[type eq \"xmpp\" and primary eq true]");
    assert!(out.contains("jsonb_array_elements"), "{out}");
    let out = lite("ims[type eq \"xmpp\" and primary eq true]");
    assert!(
        out.contains("json_each(users.resource, '$.\"ims\"')"),
        "{out}"
    );
}

#[test]
fn child_tables_only_when_exact() {
    let f = |s: &str| -> Filter { s.parse().unwrap() };
    assert!(child_table_fits(
        Child::Emails,
        &f("type eq \"work\" and value co \"@x\"")
    ));
    assert!(child_table_fits(Child::Emails, &f("value pr")));
    assert!(!child_table_fits(Child::Emails, &f("type eq \"work\"")));
    assert!(!child_table_fits(
        Child::Emails,
        &f("value eq \"a\" and primary eq false")
    ));
    assert!(child_table_fits(
        Child::Emails,
        &f("value eq \"a\" and primary eq true")
    ));
    assert!(!child_table_fits(
        Child::Emails,
        &f("value eq \"a\" or type eq \"b\"")
    ));
    assert!(!child_table_fits(
        Child::Emails,
        &f("value eq \"a\" and display pr")
    ));
    assert!(child_table_fits(Child::Members, &f("type eq \"User\"")));
}

#[test]
fn escapes_patterns() {
    assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    assert_eq!(escape_glob("a*b?[c]"), "a[*]b[?][[]c]");
}

#[test]
fn sort_keys() {
    let s = |by: &str, o| {
        let order = sort(&USER_RESOURCE, Some(by), o).unwrap();
        let q = users::table.select(users::id).order(order);
        debug_query::<Pg, _>(&q).to_string()
    };
    let out = s("userName", SortOrder::Descending);
    assert!(
        out.contains("ORDER BY users.user_name_ci COLLATE \"C\" DESC NULLS FIRST, users.id ASC"),
        "{out}"
    );
    let out = s("emails", SortOrder::Ascending);
    assert!(out.contains("WITH ORDINALITY"), "{out}");
    for bad in ["nosuch", "password", "schemas", "groups", "a b"] {
        let err = sort(&USER_RESOURCE, Some(bad), SortOrder::Ascending).unwrap_err();
        assert_eq!(err.status(), 400, "{bad}");
    }
    assert!(SortOrder::parse("DESCENDING").is_ok());
    assert!(SortOrder::parse("down").is_err());
}
