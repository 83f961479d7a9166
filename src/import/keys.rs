//! Imported items found by the key they came with (`externalKey`): for the
//! import, which updates them in place, and for the API, which filters by it.

use std::collections::HashMap;

use entity::{feature, story, team};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::AppResult;

/// The program's features that have a key, by key.
pub async fn features(
    conn: &impl ConnectionTrait,
    program: i64,
) -> AppResult<HashMap<String, feature::Model>> {
    features_where(conn, program, feature::Column::ExternalKey.is_not_null()).await
}

/// The program's feature with `key`, if any.
pub async fn feature(
    conn: &impl ConnectionTrait,
    program: i64,
    key: &str,
) -> AppResult<Option<feature::Model>> {
    Ok(
        features_where(conn, program, feature::Column::ExternalKey.eq(key))
            .await?
            .remove(key),
    )
}

async fn features_where(
    conn: &impl ConnectionTrait,
    program: i64,
    keyed: sea_orm::sea_query::SimpleExpr,
) -> AppResult<HashMap<String, feature::Model>> {
    Ok(feature::Entity::find()
        .filter(feature::Column::ProgramId.eq(program))
        .filter(keyed)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|f| Some((f.external_key.clone()?, f)))
        .collect())
}

/// The program's stories with these keys, by key.
pub async fn stories(
    conn: &impl ConnectionTrait,
    program: i64,
    keys: &[String],
) -> AppResult<HashMap<String, story::Model>> {
    let mut out = HashMap::new();
    // In chunks, so a large export stays under the bound-parameter limits.
    for chunk in keys.chunks(500) {
        let rows = story::Entity::find()
            .inner_join(team::Entity)
            .filter(team::Column::ProgramId.eq(program))
            .filter(story::Column::ExternalKey.is_in(chunk.to_vec()))
            .all(conn)
            .await?;
        out.extend(
            rows.into_iter()
                .filter_map(|s| Some((s.external_key.clone()?, s))),
        );
    }
    Ok(out)
}
