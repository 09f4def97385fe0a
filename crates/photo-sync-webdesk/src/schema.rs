//! The diesel schema of the five Webdesk tables this job reads (and `person_images`, which
//! it writes) and of the job's own tables: `photo_sync_state`, `photo_sync_lease` and
//! `photo_sync_runs`.
//!
//! The SQL types are the subset both backends share through the multi-backend connection:
//! SQLite stores dates and timestamps as text, and PostgreSQL's `TIMESTAMPTZ` columns are
//! read as `Timestamp` because both carry UTC microseconds on the wire. Writes of
//! timestamps go through [`crate::timestamp::UtcTimestamp`], which binds the exact type
//! each backend stores.

diesel::table! {
    clients (id) {
        id -> BigInt,
        short_name -> Text,
        name -> Text,
    }
}

diesel::table! {
    persons (id) {
        id -> BigInt,
        client_id -> BigInt,
        username -> Text,
        first_name -> Text,
        last_name -> Text,
        personnel_number -> Nullable<Text>,
        email -> Nullable<Text>,
        active -> Bool,
        entra_object_id -> Nullable<Text>,
        entra_user_principal_name -> Nullable<Text>,
    }
}

diesel::table! {
    groups (id) {
        id -> BigInt,
        client_id -> BigInt,
        short_name -> Text,
        name -> Text,
        parent_id -> Nullable<BigInt>,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    group_memberships (group_id, person_id, valid_from) {
        group_id -> BigInt,
        person_id -> BigInt,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    person_images (person_id) {
        person_id -> BigInt,
        content -> Binary,
        content_type -> Text,
        modified_at -> Timestamp,
        modified_by -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    photo_sync_state (person_id) {
        person_id -> BigInt,
        stored_etag -> Nullable<Text>,
        written_version -> Nullable<BigInt>,
        observed_etag -> Nullable<Text>,
        observed_at -> Timestamp,
    }
}

diesel::table! {
    photo_sync_lease (id) {
        id -> BigInt,
        token -> Text,
        host -> Text,
        pid -> BigInt,
        started_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    photo_sync_runs (id) {
        id -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        mode -> Text,
        status -> Text,
        exit_status -> Nullable<Integer>,
        targets -> Nullable<BigInt>,
        created -> Nullable<BigInt>,
        updated -> Nullable<BigInt>,
        unchanged -> Nullable<BigInt>,
        kept_local -> Nullable<BigInt>,
        no_graph_photo -> Nullable<BigInt>,
        failed -> Nullable<BigInt>,
        host -> Text,
        pid -> BigInt,
        message -> Nullable<Text>,
    }
}

diesel::joinable!(persons -> clients (client_id));
diesel::joinable!(groups -> clients (client_id));
diesel::joinable!(group_memberships -> groups (group_id));
diesel::joinable!(group_memberships -> persons (person_id));
diesel::joinable!(person_images -> persons (person_id));
diesel::joinable!(photo_sync_state -> persons (person_id));

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    persons,
    groups,
    group_memberships,
    person_images,
    photo_sync_state
);
