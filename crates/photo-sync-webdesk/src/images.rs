//! Reading `person_images` and the conditional photo write, which stores the image and
//! the job's sync state in one transaction.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use photo_sync_domain::ports::{PhotoWrite, WriteResult};
use photo_sync_domain::{ModifiedBy, PersonId, WebdeskImage};
use time::PrimitiveDateTime;

use crate::MAX_KEYS_PER_QUERY;
use crate::connection::DbConnection;
use crate::schema::person_images;
use crate::state::upsert_state;
use crate::timestamp::{UtcTimestamp, from_stored};

#[derive(Queryable, Selectable)]
#[diesel(table_name = person_images)]
struct ImageRow {
    person_id: i64,
    content: Vec<u8>,
    content_type: String,
    modified_at: PrimitiveDateTime,
    modified_by: String,
    version: i64,
}

/// A failure while loading images.
#[derive(Debug)]
pub(crate) enum ImageError {
    Database(DieselError),
    /// A `modified_by` value outside the contract's `'upload'` and `'graph-sync'`, which
    /// only a database without the contract's `CHECK` constraint can hold.
    UnknownAuthor {
        person_id: i64,
        modified_by: String,
    },
}

impl From<DieselError> for ImageError {
    fn from(error: DieselError) -> Self {
        Self::Database(error)
    }
}

/// Loads the images of `persons`, one query per [`MAX_KEYS_PER_QUERY`] persons.
pub(crate) async fn load_images(
    conn: &mut DbConnection,
    persons: &[PersonId],
) -> Result<HashMap<PersonId, WebdeskImage>, ImageError> {
    let ids: Vec<i64> = persons.iter().map(|id| id.0).collect();
    let mut images = HashMap::with_capacity(ids.len());

    for chunk in ids.chunks(MAX_KEYS_PER_QUERY) {
        let rows: Vec<ImageRow> = person_images::table
            .filter(person_images::person_id.eq_any(chunk))
            .select(ImageRow::as_select())
            .load(conn)
            .await?;

        for row in rows {
            let modified_by = parse_modified_by(&row)?;
            let image = WebdeskImage {
                content: row.content,
                content_type: row.content_type,
                modified_at: from_stored(row.modified_at),
                modified_by,
                version: row.version,
            };
            images.insert(PersonId(row.person_id), image);
        }
    }
    Ok(images)
}

fn parse_modified_by(row: &ImageRow) -> Result<ModifiedBy, ImageError> {
    [ModifiedBy::Upload, ModifiedBy::GraphSync]
        .into_iter()
        .find(|author| author.as_str() == row.modified_by)
        .ok_or_else(|| ImageError::UnknownAuthor { person_id: row.person_id, modified_by: row.modified_by.clone() })
}

/// The reason a photo write transaction rolls back.
enum WriteAbort {
    /// The image row is not at the expected version any more, or appeared meanwhile.
    Conflict,
    Database(DieselError),
}

impl From<DieselError> for WriteAbort {
    fn from(error: DieselError) -> Self {
        Self::Database(error)
    }
}

/// Writes the photo only while `person_images` is still at `write.expected_version`, and
/// records `write.state` in the same transaction, so a conflict leaves both unchanged.
pub(crate) async fn store_photo(conn: &mut DbConnection, write: &PhotoWrite<'_>) -> Result<WriteResult, DieselError> {
    let outcome = conn
        .transaction(async |conn| {
            let version = write_image(conn, write).await?;
            upsert_state(conn, write.person_id, &write.state).await?;
            Ok::<_, WriteAbort>(version)
        })
        .await;

    match outcome {
        Ok(version) => Ok(WriteResult::Stored { version }),
        Err(WriteAbort::Conflict) => Ok(WriteResult::Conflict),
        Err(WriteAbort::Database(error)) => Err(error),
    }
}

/// Updates or inserts the image row and returns the version it has now.
async fn write_image(conn: &mut DbConnection, write: &PhotoWrite<'_>) -> Result<i64, WriteAbort> {
    let person_id = write.person_id.0;
    let content = write.photo.bytes();
    let content_type = write.photo.format().content_type();
    let modified_by = ModifiedBy::GraphSync.as_str();

    let Some(expected_version) = write.expected_version else {
        let inserted = diesel::insert_into(person_images::table)
            .values((
                person_images::person_id.eq(person_id),
                person_images::content.eq(content),
                person_images::content_type.eq(content_type),
                person_images::modified_at.eq(UtcTimestamp::new(write.modified_at)),
                person_images::modified_by.eq(modified_by),
                person_images::version.eq(1_i64),
            ))
            .execute(conn)
            .await;

        // Someone uploaded an image after the job read that there was none.
        return match inserted {
            Ok(_) => Ok(1),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(WriteAbort::Conflict),
            Err(error) => Err(WriteAbort::Database(error)),
        };
    };

    let still_expected = person_images::table
        .filter(person_images::person_id.eq(person_id))
        .filter(person_images::version.eq(expected_version));
    let updated = diesel::update(still_expected)
        .set((
            person_images::content.eq(content),
            person_images::content_type.eq(content_type),
            person_images::modified_at.eq(UtcTimestamp::new(write.modified_at)),
            person_images::modified_by.eq(modified_by),
            person_images::version.eq(person_images::version + 1),
        ))
        .execute(conn)
        .await?;

    if updated == 0 {
        return Err(WriteAbort::Conflict);
    }
    Ok(expected_version + 1)
}
