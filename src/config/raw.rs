//! The pipeline file as written: serde types that mirror the TOML exactly,
//! with `deny_unknown_fields` so a typo is an error, not a silently ignored key.
//! Every field is optional here; [`super::resolve`] decides what is required
//! once the env file and its includes are merged.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One pipeline or include file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Environment name: selects `envs/.env.<env>`.
    pub env: Option<String>,
    /// Files whose tables, keymaps and settings this file builds on (relative paths).
    #[serde(default)]
    pub include: Vec<String>,
    pub description: Option<String>,
    /// `true` makes `run` demand `--confirm <env>` (production).
    pub confirm: Option<bool>,
    pub source: Option<RawSource>,
    pub target: Option<RawTarget>,
    pub settings: Option<RawSettings>,
    #[serde(default)]
    pub keymaps: BTreeMap<String, RawKeymap>,
    #[serde(default)]
    pub tables: Vec<RawTable>,
    #[serde(default)]
    pub checks: Vec<RawCheck>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub url: Option<String>,
    /// Zone of the source's naive timestamps, e.g. `Europe/London`.
    pub timezone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: Option<String>,
    pub app_schema: Option<String>,
    pub reference_schema: Option<String>,
    /// Folder of the ordered migration files, relative to the declaring file.
    pub migrations: Option<String>,
    /// How long to wait for a lock (e.g. `60s`) before giving up.
    pub lock_timeout: Option<String>,
    /// Longest any one statement may run (e.g. `1h`).
    pub statement_timeout: Option<String>,
    /// Ids the app hands out in the target start here, beyond any the
    /// source will reach: padetl moves each table's identity there.
    pub app_ids_from: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub batch_size: Option<usize>,
    /// Source readers per table: a large table is read in that many key ranges at once.
    pub readers: Option<usize>,
    /// Violating rows shown per check in reports.
    pub sample_rows: Option<usize>,
    /// Columns whose values reports show as `***` (quarantine keeps them).
    pub mask_columns: Option<Vec<String>>,
}

/// One integrity check of the transformed rows (see docs/checks.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: String,
    pub table: Option<String>,
    /// `references`, `not_null`, `unique`, `accepted_values`, `range`, `sql`, `row_count`.
    pub kind: Option<String>,
    /// `fail` (default), `warn` or `quarantine`.
    pub policy: Option<String>,
    pub column: Option<String>,
    /// `references`: the keymap that re-points `column`.
    pub keymap: Option<String>,
    /// `accepted_values`.
    pub values: Option<Vec<String>>,
    /// `range`, inclusive.
    pub min: Option<RawNumber>,
    pub max: Option<RawNumber>,
    /// `sql`: a DataFusion query returning the violating rows' keys.
    pub sql: Option<String>,
    /// `row_count`: the table must hold at least this many rows after the load.
    pub min_rows: Option<u64>,
    /// `row_count`: the load must not leave the table smaller than before.
    pub not_shrink: Option<bool>,
}

/// A number as TOML writes it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum RawNumber {
    Int(i64),
    Float(f64),
}

/// How the surrogate ids of one reference table are re-pointed from the
/// source environment to the target environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeymap {
    /// Reference table (in the reference schema on both sides).
    pub table: Option<String>,
    /// Surrogate id column.
    pub id: Option<String>,
    /// Natural keys, most trusted first.
    pub keys: Option<Vec<RawKey>>,
    /// Replaces the generated source-side query (must return `id` and every key).
    pub source_query: Option<String>,
    /// Replaces the generated target-side query (must return `id` and every key).
    pub target_query: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: String,
    /// SQL expression over the reference table; defaults to the column `name`.
    pub expr: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    /// Target table in the app schema.
    pub name: String,
    /// Source table as `schema.table` (or give `query`).
    pub source: Option<String>,
    /// Source query, instead of `source`.
    pub query: Option<String>,
    /// Integer key: extraction pages on it, the load merges on it.
    pub key: Option<String>,
    /// Transform SQL file, relative to the declaring file.
    pub sql: Option<String>,
    /// `upsert` (default), `insert` or `replace`.
    pub mode: Option<String>,
    /// Columns that say which entity a row is (e.g. `["reference_id"]`): a
    /// loaded row whose key the target holds with another identity is a
    /// collision, never an update.
    pub identity: Option<Vec<String>>,
    /// What a collision does: `fail` (default) or `quarantine`.
    pub collision: Option<String>,
    /// A row changed in the target since padetl wrote it, that the source
    /// would change too: `fail` (default), `source_wins` or `target_wins`.
    pub on_target_change: Option<String>,
    /// Read only what changed since the last successful run:
    /// `{ key = "id" }` or `{ column = "updated_at", overlap = "5m" }`.
    pub incremental: Option<RawIncremental>,
}

/// How a table finds what changed since the last run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncremental {
    /// A column whose values only grow (append-only tables).
    pub key: Option<String>,
    /// A column set to the time of every change.
    pub column: Option<String>,
    /// How far before the mark a `column` read starts (`30s`, `5m`, `1h`).
    pub overlap: Option<String>,
}

/// Merges `over` onto `base` field by field: the environment's file wins over its includes.
pub fn merge(mut base: RawPipeline, over: RawPipeline) -> RawPipeline {
    base.env = over.env.or(base.env);
    base.description = over.description.or(base.description);
    base.confirm = over.confirm.or(base.confirm);
    base.source = merge_opt(base.source, over.source, |b, o| RawSource {
        url: o.url.or(b.url),
        timezone: o.timezone.or(b.timezone),
    });
    base.target = merge_opt(base.target, over.target, |b, o| RawTarget {
        url: o.url.or(b.url),
        app_schema: o.app_schema.or(b.app_schema),
        reference_schema: o.reference_schema.or(b.reference_schema),
        migrations: o.migrations.or(b.migrations),
        lock_timeout: o.lock_timeout.or(b.lock_timeout),
        statement_timeout: o.statement_timeout.or(b.statement_timeout),
        app_ids_from: o.app_ids_from.or(b.app_ids_from),
    });
    base.settings = merge_opt(base.settings, over.settings, |b, o| RawSettings {
        batch_size: o.batch_size.or(b.batch_size),
        readers: o.readers.or(b.readers),
        sample_rows: o.sample_rows.or(b.sample_rows),
        mask_columns: o.mask_columns.or(b.mask_columns),
    });
    // A check named again in the including file overrides fields of the
    // include's (e.g. prod makes a `warn` a `fail`).
    merge_named(
        &mut base.checks,
        over.checks,
        |c| &c.name,
        |old, o| RawCheck {
            name: old.name,
            table: o.table.or(old.table),
            kind: o.kind.or(old.kind),
            policy: o.policy.or(old.policy),
            column: o.column.or(old.column),
            keymap: o.keymap.or(old.keymap),
            values: o.values.or(old.values),
            min: o.min.or(old.min),
            max: o.max.or(old.max),
            sql: o.sql.or(old.sql),
            min_rows: o.min_rows.or(old.min_rows),
            not_shrink: o.not_shrink.or(old.not_shrink),
        },
    );
    for (name, o) in over.keymaps {
        let merged = match base.keymaps.remove(&name) {
            Some(b) => RawKeymap {
                table: o.table.or(b.table),
                id: o.id.or(b.id),
                keys: o.keys.or(b.keys),
                source_query: o.source_query.or(b.source_query),
                target_query: o.target_query.or(b.target_query),
            },
            None => o,
        };
        base.keymaps.insert(name, merged);
    }
    // A table named again in the including file overrides the include's
    // fields.
    merge_named(
        &mut base.tables,
        over.tables,
        |t| &t.name,
        |old, o| RawTable {
            name: old.name,
            source: o.source.or(old.source),
            query: o.query.or(old.query),
            key: o.key.or(old.key),
            sql: o.sql.or(old.sql),
            mode: o.mode.or(old.mode),
            identity: o.identity.or(old.identity),
            collision: o.collision.or(old.collision),
            on_target_change: o.on_target_change.or(old.on_target_change),
            incremental: o.incremental.or(old.incremental),
        },
    );
    base
}

/// Entries of `over` named like one of `base`'s replace it with
/// `combine(base's, over's)`; the others are added. An entry named twice in
/// `over` itself stays twice, so that the resolver reports it instead of
/// one silently overriding the other.
fn merge_named<T: Default>(
    base: &mut Vec<T>,
    over: Vec<T>,
    name: impl Fn(&T) -> &str,
    combine: impl Fn(T, T) -> T,
) {
    let n_base = base.len();
    let mut named = std::collections::BTreeSet::new();
    for o in over {
        let first = named.insert(name(&o).to_string());
        match base[..n_base]
            .iter_mut()
            .find(|b| first && name(b) == name(&o))
        {
            Some(b) => {
                let old = std::mem::take(b);
                *b = combine(old, o);
            }
            None => base.push(o),
        }
    }
}

fn merge_opt<T>(base: Option<T>, over: Option<T>, f: impl FnOnce(T, T) -> T) -> Option<T> {
    match (base, over) {
        (Some(b), Some(o)) => Some(f(b, o)),
        (b, o) => o.or(b),
    }
}
