//! The tables, written by hand for diesel's multi-backend types (no Jsonb or Timestamptz):
//! `JsonDoc` is `jsonb` on PostgreSQL and JSON text on SQLite; `Timestamp` holds naive UTC.
//! A test migrates both backends and checks their tables and columns against this file.

diesel::table! {
    use diesel::sql_types::*;

    orgs (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        schema_version -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::json::JsonDoc;

    users (id) {
        id -> Text,
        org_id -> Text,
        user_name -> Text,
        user_name_ci -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        active -> Bool,
        resource -> JsonDoc,
        password_hash -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        last_modified -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
        deactivated_by -> Nullable<Text>,
        deactivated_via -> Nullable<Text>,
        held_at -> Nullable<Timestamp>,
        held_by -> Nullable<Text>,
        hold_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    user_emails (id) {
        id -> BigInt,
        user_id -> Text,
        org_id -> Text,
        value -> Text,
        value_ci -> Text,
        #[sql_name = "type"]
        kind -> Nullable<Text>,
        is_primary -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    user_phone_numbers (id) {
        id -> BigInt,
        user_id -> Text,
        org_id -> Text,
        value -> Text,
        #[sql_name = "type"]
        kind -> Nullable<Text>,
        is_primary -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    revoked_tokens (jti) {
        jti -> Text,
        revoked_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::json::JsonDoc;

    audit_events (id) {
        id -> BigInt,
        org_id -> Text,
        occurred_at -> Timestamp,
        actor -> Text,
        channel -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        attributes -> JsonDoc,
        detail -> Nullable<JsonDoc>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::json::JsonDoc;

    groups (id) {
        id -> Text,
        org_id -> Text,
        display_name -> Text,
        display_name_ci -> Text,
        external_id -> Nullable<Text>,
        resource -> JsonDoc,
        version -> BigInt,
        created_at -> Timestamp,
        last_modified -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    group_members (group_id, member_id) {
        group_id -> Text,
        org_id -> Text,
        member_id -> Text,
        member_type -> Text,
        member_user_id -> Nullable<Text>,
        member_group_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    event_subscriptions (id) {
        id -> Text,
        org_id -> Text,
        url -> Text,
        format -> Text,
        events -> Nullable<Text>,
        description -> Nullable<Text>,
        secret -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        audience -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    event_deliveries (id) {
        id -> BigInt,
        subscription_id -> Text,
        org_id -> Text,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        created_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    api_tokens (jti) {
        jti -> Text,
        org_id -> Text,
        name -> Text,
        role -> Text,
        subject -> Nullable<Text>,
        created_at -> Timestamp,
        created_by -> Text,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        rotated_to -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    org_deleted_user_retention (org_id) {
        org_id -> Text,
        days -> Integer,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    org_rate_limits (org_id) {
        org_id -> Text,
        per_second -> Integer,
        burst -> Integer,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    scim_requests (id) {
        id -> BigInt,
        org_id -> Text,
        occurred_at -> Timestamp,
        token_jti -> Text,
        method -> Text,
        path -> Text,
        status -> Integer,
        scim_type -> Nullable<Text>,
        duration_us -> BigInt,
        resource_id -> Nullable<Text>,
        body_summary -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    console_sessions (id_hash) {
        id_hash -> Text,
        org_id -> Text,
        admin_sub -> Nullable<Text>,
        token_jti -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        idle_expires_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    console_links (id_hash) {
        id_hash -> Text,
        org_id -> Text,
        jti -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::json::JsonDoc;

    deleted_users (id) {
        id -> Text,
        org_id -> Text,
        user_name -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        active -> Bool,
        resource -> JsonDoc,
        password_hash -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
        deactivated_by -> Nullable<Text>,
        deactivated_via -> Nullable<Text>,
        held_at -> Nullable<Timestamp>,
        held_by -> Nullable<Text>,
        hold_reason -> Nullable<Text>,
        deleted_at -> Timestamp,
        deleted_by -> Text,
        deleted_via -> Text,
        removed_groups -> JsonDoc,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::store::json::JsonDoc;

    schema_extensions (org_id, urn_ci) {
        org_id -> Text,
        urn_ci -> Text,
        urn -> Text,
        resource_type -> Text,
        definition -> JsonDoc,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    user_extension_values (id) {
        id -> BigInt,
        user_id -> Text,
        org_id -> Text,
        attr -> Text,
        value -> Text,
        value_ci -> Text,
    }
}

diesel::joinable!(users -> orgs (org_id));
diesel::joinable!(groups -> orgs (org_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(user_emails -> users (user_id));
diesel::joinable!(user_phone_numbers -> users (user_id));
diesel::joinable!(event_deliveries -> event_subscriptions (subscription_id));
diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    users,
    user_emails,
    user_phone_numbers,
    revoked_tokens,
    audit_events,
    groups,
    group_members,
    event_subscriptions,
    event_deliveries,
    api_tokens,
    org_rate_limits,
    scim_requests,
    console_sessions,
    console_links,
    deleted_users,
    org_deleted_user_retention,
    schema_extensions,
    user_extension_values,
);
