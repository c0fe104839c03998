//! Bulk loading into an empty table the way `pg_restore` does: the table's
//! indexes and its foreign keys within the app schema are dropped before
//! the rows go in and recreated, from their own definitions, after.
//!
//! Why: a foreign key checks every inserted row with its own query and row
//! lock, and an index takes every row one by one into a growing B-tree. For
//! a first load of millions of rows that is most of the server's work
//! (measured on 1.9M approvals: COPY with the foreign key 11.4 s, without it
//! 2.2 s, adding the foreign key afterwards 0.8 s). Recreating validates
//! every row in one join and builds each index with one sort.
//!
//! Everything happens inside the run's transaction: a failed or killed run
//! rolls the drops back with the rows, and nobody else sees the table
//! without its constraints (the drops hold an exclusive lock on it until the
//! run commits). Foreign keys into other schemas (the read-only reference
//! schema) are never touched: dropping one would change the referenced
//! table's triggers, which is DDL on a table padetl must not alter.
//!
//! A primary key that other tables' foreign keys reference is dropped too
//! when every such table is empty, in the app schema and owned by the
//! run's role: those keys are dropped first and recreated, instantly on
//! empty tables, once the primary key is back (the target's work of a 1M
//! load, replayed: pad_request's COPY 4.0 s with its primary key, 2.5 s
//! without it, 0.3 s to build it after). Otherwise the primary key stays.

use tokio_postgres::Client;

use super::LoadError;
use crate::config::{quote, Ident, QualifiedName};
use crate::schema::{droppable_indexes, literal, local_foreign_keys, referencing_foreign_keys};

/// One dropped object and the statements that bring it back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dropped {
    /// For messages: `index x` or `constraint y`.
    what: String,
    drop: String,
    create: String,
    comment: Option<String>,
}

/// The indexes and foreign keys of one table, dropped for its load;
/// [`Deferred::restore`] recreates them.
#[derive(Debug, Default)]
pub struct Deferred {
    /// Indexes first, then foreign keys: a foreign key may need an index.
    objects: Vec<Dropped>,
}

impl Deferred {
    /// Drops `table`'s indexes (but those that foreign keys reference) and
    /// its foreign keys within its schema. The table must be empty and
    /// locked against other writers: nothing may rely on its keys meanwhile.
    pub async fn defer(tx: &Client, table: &QualifiedName) -> Result<Deferred, LoadError> {
        // Dropped first, so that the primary key they pin becomes droppable;
        // recreated last, once it is back.
        let referencing = empty_referencing_keys(tx, table).await?;
        drop_all(tx, table, &referencing).await?;
        let mut objects = Vec::new();
        for index in droppable_indexes(tx, table).await? {
            objects.push(match &index.constraint {
                Some((name, definition)) => {
                    constraint_object(table, name, definition, index.comment.clone())
                }
                None => Dropped {
                    what: format!("index {}", index.name),
                    drop: format!(
                        "DROP INDEX {}.{}",
                        table.schema.quoted(),
                        quote(&index.name)
                    ),
                    create: index.definition.clone(),
                    comment: index
                        .comment
                        .as_ref()
                        .map(|c| comment_sql("INDEX", table, &quote(&index.name), c)),
                },
            });
        }
        for fk in local_foreign_keys(tx, table).await? {
            objects.push(constraint_object(
                table,
                &fk.name,
                &fk.definition,
                fk.comment,
            ));
        }
        drop_all(tx, table, &objects).await?;
        objects.extend(referencing);
        Ok(Deferred { objects })
    }

    /// Nothing is dropped: for a table that is not empty, or a dry run.
    pub fn none() -> Deferred {
        Deferred::default()
    }

    /// How many indexes and constraints wait to be recreated.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Recreates what [`Deferred::defer`] dropped, with the same names and
    /// definitions. Rows that break one (a duplicate, a child without its
    /// parent) fail here, naming the index or constraint, as the row's own
    /// insert would have.
    pub async fn restore(self, tx: &Client, table: &QualifiedName) -> Result<(), LoadError> {
        for o in self.objects {
            let what = format!("recreating {} after the load", o.what);
            tx.batch_execute(&o.create)
                .await
                .map_err(|e| LoadError::db(table, &what, &e))?;
            if let Some(comment) = &o.comment {
                tx.batch_execute(comment)
                    .await
                    .map_err(|e| LoadError::db(table, &what, &e))?;
            }
        }
        Ok(())
    }
}

async fn drop_all(
    tx: &Client,
    table: &QualifiedName,
    objects: &[Dropped],
) -> Result<(), LoadError> {
    for o in objects {
        tx.batch_execute(&o.drop)
            .await
            .map_err(|e| LoadError::db(table, &format!("dropping {} for the load", o.what), &e))?;
    }
    Ok(())
}

/// The foreign keys of other tables that reference `table`, when all of
/// them may be dropped for its load: each on an empty table of its schema
/// that the run's role owns. Any other case (a key from another schema
/// among them) gives none, and the primary key stays.
async fn empty_referencing_keys(
    tx: &Client,
    table: &QualifiedName,
) -> Result<Vec<Dropped>, LoadError> {
    let keys = referencing_foreign_keys(tx, table).await?;
    let mut objects = Vec::new();
    for key in keys {
        let child = match Ident::parse(&key.child) {
            Ok(name) if key.droppable => QualifiedName::new(table.schema.clone(), name),
            _ => return Ok(Vec::new()),
        };
        if !is_empty(tx, &child).await? {
            return Ok(Vec::new());
        }
        let k = key.key;
        objects.push(constraint_object(&child, &k.name, &k.definition, k.comment));
    }
    Ok(objects)
}

fn constraint_object(
    table: &QualifiedName,
    name: &str,
    def: &str,
    comment: Option<String>,
) -> Dropped {
    let (table_sql, name_sql) = (table.quoted(), quote(name));
    Dropped {
        what: format!("constraint {name}"),
        drop: format!("ALTER TABLE {table_sql} DROP CONSTRAINT {name_sql}"),
        create: format!("ALTER TABLE {table_sql} ADD CONSTRAINT {name_sql} {def}"),
        comment: comment.map(|c| {
            format!(
                "COMMENT ON CONSTRAINT {name_sql} ON {table_sql} IS {}",
                literal(&c)
            )
        }),
    }
}

fn comment_sql(kind: &str, table: &QualifiedName, name_sql: &str, comment: &str) -> String {
    format!(
        "COMMENT ON {kind} {}.{name_sql} IS {}",
        table.schema.quoted(),
        literal(comment)
    )
}

/// Whether `table` is empty, and if so locks it against other writers
/// (readers go on) until the run ends, so that it stays empty but for the
/// run's own rows. A table that is not empty is left unlocked.
pub(super) async fn claim_if_empty(tx: &Client, table: &QualifiedName) -> Result<bool, LoadError> {
    if !is_empty(tx, table).await? {
        return Ok(false);
    }
    let sql = format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", table.quoted());
    tx.batch_execute(&sql)
        .await
        .map_err(|e| LoadError::db(table, "locking the empty table for a bulk load", &e))?;
    // Another writer may have come in between the look and the lock.
    is_empty(tx, table).await
}

async fn is_empty(tx: &Client, table: &QualifiedName) -> Result<bool, LoadError> {
    let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", table.quoted());
    Ok(tx
        .query_one(sql.as_str(), &[])
        .await
        .map_err(|e| LoadError::db(table, "looking whether the table is empty", &e))?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QualifiedName;

    fn table() -> QualifiedName {
        QualifiedName::parse("padealing.pad_approval").expect("a valid name")
    }

    #[test]
    fn a_constraint_comes_back_with_its_name_and_definition() {
        let o = constraint_object(
            &table(),
            "pad_approval_request_id_fkey",
            "FOREIGN KEY (request_id) REFERENCES padealing.pad_request(id)",
            Some("it's the request".into()),
        );
        assert_eq!(
            o.drop,
            "ALTER TABLE \"padealing\".\"pad_approval\" DROP CONSTRAINT \"pad_approval_request_id_fkey\""
        );
        assert_eq!(
            o.create,
            "ALTER TABLE \"padealing\".\"pad_approval\" ADD CONSTRAINT \"pad_approval_request_id_fkey\" FOREIGN KEY (request_id) REFERENCES padealing.pad_request(id)"
        );
        assert_eq!(
            o.comment.as_deref(),
            Some("COMMENT ON CONSTRAINT \"pad_approval_request_id_fkey\" ON \"padealing\".\"pad_approval\" IS 'it''s the request'")
        );
    }
}
