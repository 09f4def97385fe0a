//! The job's own `photo_sync_state` table: what the job stored and observed per person.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use photo_sync_domain::{ETag, PersonId, SyncState};
use time::PrimitiveDateTime;

use crate::MAX_KEYS_PER_QUERY;
use crate::connection::DbConnection;
use crate::schema::photo_sync_state;
use crate::timestamp::{UtcTimestamp, from_stored};

#[derive(Queryable, Selectable)]
#[diesel(table_name = photo_sync_state)]
struct StateRow {
    person_id: i64,
    stored_etag: Option<String>,
    written_version: Option<i64>,
    observed_etag: Option<String>,
    observed_at: PrimitiveDateTime,
}

/// Loads the states of `persons`, one query per [`MAX_KEYS_PER_QUERY`] persons.
pub(crate) async fn load_states(
    conn: &mut DbConnection,
    persons: &[PersonId],
) -> QueryResult<HashMap<PersonId, SyncState>> {
    let ids: Vec<i64> = persons.iter().map(|id| id.0).collect();
    let mut states = HashMap::with_capacity(ids.len());

    for chunk in ids.chunks(MAX_KEYS_PER_QUERY) {
        let rows: Vec<StateRow> = photo_sync_state::table
            .filter(photo_sync_state::person_id.eq_any(chunk))
            .select(StateRow::as_select())
            .load(conn)
            .await?;

        for row in rows {
            let state = SyncState {
                stored_etag: row.stored_etag.and_then(ETag::new),
                written_version: row.written_version,
                observed_etag: row.observed_etag.and_then(ETag::new),
                observed_at: from_stored(row.observed_at),
            };
            states.insert(PersonId(row.person_id), state);
        }
    }
    Ok(states)
}

/// Records all `states` in one transaction.
pub(crate) async fn record_states(conn: &mut DbConnection, states: &[(PersonId, SyncState)]) -> QueryResult<()> {
    if states.is_empty() {
        return Ok(());
    }

    conn.transaction(async |conn| {
        for (person_id, state) in states {
            upsert_state(conn, *person_id, state).await?;
        }
        Ok(())
    })
    .await
}

/// Updates the person's state row, or inserts it when there is none. Both backends run
/// the same two statements because `ON CONFLICT` is not available through the
/// multi-backend connection; the caller provides the transaction.
pub(crate) async fn upsert_state(conn: &mut DbConnection, person_id: PersonId, state: &SyncState) -> QueryResult<()> {
    let stored_etag = state.stored_etag.as_ref().map(ETag::as_str);
    let observed_etag = state.observed_etag.as_ref().map(ETag::as_str);

    let updated = diesel::update(photo_sync_state::table.find(person_id.0))
        .set((
            photo_sync_state::stored_etag.eq(stored_etag),
            photo_sync_state::written_version.eq(state.written_version),
            photo_sync_state::observed_etag.eq(observed_etag),
            photo_sync_state::observed_at.eq(UtcTimestamp::new(state.observed_at)),
        ))
        .execute(conn)
        .await?;
    if updated > 0 {
        return Ok(());
    }

    diesel::insert_into(photo_sync_state::table)
        .values((
            photo_sync_state::person_id.eq(person_id.0),
            photo_sync_state::stored_etag.eq(stored_etag),
            photo_sync_state::written_version.eq(state.written_version),
            photo_sync_state::observed_etag.eq(observed_etag),
            photo_sync_state::observed_at.eq(UtcTimestamp::new(state.observed_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
