//! Every SQL text padetl sends to a source, in the source's dialect: one
//! implementation per kind of query (keyset page, count, first row, numeric
//! probe, keymap keys), so that Postgres and Oracle differ only here.
//!
//! The NULL-key probe is the count's `count(key)` against `count(*)`; the
//! duplicate-key probe needs no SQL of its own (a repeated key is adjacent
//! in a key-ordered page, or shows as fewer rows read than counted).
//!
//! Literals (keys, limits) are inlined: they are integers padetl produced,
//! and connectorx takes a query text, not parameters.

use crate::config::{DbKind, Incremental, Keymap};
use crate::schema::literal;

/// The SQL dialect of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Oracle,
}

/// The scale connectorx gives every decimal it reads (Postgres `numeric`,
/// Oracle `NUMBER` with a scale or without a precision): `Decimal128(38, 10)`.
pub const CX_NUMERIC_SCALE: i8 = 10;

impl Dialect {
    /// The dialect of a database of `kind`.
    pub fn of(kind: DbKind) -> Self {
        match kind {
            DbKind::Postgres => Dialect::Postgres,
            DbKind::Oracle => Dialect::Oracle,
        }
    }

    fn kind(self) -> DbKind {
        match self {
            Dialect::Postgres => DbKind::Postgres,
            Dialect::Oracle => DbKind::Oracle,
        }
    }

    /// A plain name quoted as this dialect reads it (see [`DbKind::ident`]).
    pub fn ident(self, name: &str) -> String {
        self.kind().ident(name)
    }

    /// `(query) alias`: Oracle refuses `AS` before a table alias.
    fn from(self, query: &str, alias: &str) -> String {
        match self {
            Dialect::Postgres => format!("({query}) AS {alias}"),
            Dialect::Oracle => format!("({query}) {alias}"),
        }
    }

    /// At most `n` rows of an ordered query.
    fn limit(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("LIMIT {n}"),
            Dialect::Oracle => format!("FETCH FIRST {n} ROWS ONLY"),
        }
    }

    /// One page of `base` after key `after` and up to key `upto` (both
    /// optional), ordered by the column `key`.
    ///
    /// The upper bound filters outside the limit, so the database sees only
    /// "after this key, in key order, this many rows": an index scan that
    /// stops after one page. With both bounds inside, a planner that expects
    /// few rows in the range (no statistics yet, say) scans the whole range
    /// and sorts it for every page: measured on Postgres with 3M rows, 500 ms
    /// a page instead of 9 ms. A range's last page may read up to a page past
    /// its end; the filter drops those rows and the shorter page ends the range.
    pub fn page_sql(
        self,
        base: &str,
        key: &str,
        after: Option<i64>,
        upto: Option<i64>,
        limit: usize,
    ) -> String {
        let key = self.ident(key);
        let filter = match after {
            Some(k) => format!(" WHERE padetl_page.{key} > {k}"),
            None => String::new(),
        };
        let page = format!(
            "SELECT * FROM {}{filter} ORDER BY padetl_page.{key} {}",
            self.from(base, "padetl_page"),
            self.limit(limit)
        );
        match upto {
            Some(k) => format!(
                "SELECT * FROM {} WHERE padetl_range.{key} <= {k} ORDER BY padetl_range.{key}",
                self.from(&page, "padetl_range")
            ),
            None => page,
        }
    }

    /// Counts rows and rows with a key, so that a NULL key (which paging
    /// would skip) is caught instead of silently losing rows; the key's range
    /// is what partitioned reading splits. Duplicate keys are caught while
    /// paging, not by a `count(DISTINCT)`, which sorts the whole table on the
    /// source's disk. Oracle reports `count`, `min` and `max` as `NUMBER`
    /// without precision (read as a decimal): each is cast to `NUMBER(19)`
    /// so that it arrives as a 64-bit integer.
    ///
    /// The same scan finds, for each of the decimal `numeric` columns, the
    /// smallest key whose value connectorx cannot hold exactly (columns
    /// `bad_0`, `bad_1`, … after `max_key`): the table is read once before
    /// paging, not once more per check.
    ///
    /// Postgres' `numeric` goes into `Decimal128(38, 10)` (28 integer digits)
    /// and has a NaN. An Oracle `NUMBER` passes through `rust_decimal` (28
    /// significant digits) before that, so 18 integer digits is the most it
    /// keeps at 10 decimal places; Oracle's `NUMBER` has no NaN.
    pub fn count_sql(self, base: &str, key: &str, numeric: &[String]) -> String {
        let key = format!("padetl_count.{}", self.ident(key));
        let int = |e: String| match self {
            Dialect::Postgres => e,
            Dialect::Oracle => format!("CAST({e} AS NUMBER(19))"),
        };
        let mut columns = vec![
            format!("{} AS n", int("count(*)".into())),
            format!("{} AS keyed", int(format!("count({key})"))),
            format!("{} AS min_key", int(format!("min({key})"))),
            format!("{} AS max_key", int(format!("max({key})"))),
        ];
        columns.extend(numeric.iter().enumerate().map(|(i, c)| {
            let bad = self.unreadable_numeric(&format!("padetl_count.{}", self.ident(c)));
            format!(
                "{} AS bad_{i}",
                int(format!("min(CASE WHEN {bad} THEN {key} END)"))
            )
        }));
        format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            self.from(base, "padetl_count")
        )
    }

    /// True where decimal column `c` holds what connectorx would round.
    fn unreadable_numeric(self, c: &str) -> String {
        let digits = self.numeric_integer_digits();
        match self {
            Dialect::Postgres => format!(
                "({c} <> round({c}, {CX_NUMERIC_SCALE}) OR abs({c}) >= 1e{digits} OR {c} = 'NaN')"
            ),
            Dialect::Oracle => {
                format!("({c} <> ROUND({c}, {CX_NUMERIC_SCALE}) OR ABS({c}) >= 1e{digits})")
            }
        }
    }

    /// An incremental table's next mark over `base`, as text: the largest
    /// value of its column, less the overlap for a change column (so that
    /// the read's filter is `column >= mark`, which an index on the column
    /// serves; computed here, in the column's own type).
    pub fn mark_sql(self, base: &str, incremental: &Incremental) -> String {
        let col = format!("padetl_mark.{}", self.ident(incremental.column().as_str()));
        let value = match (incremental, self) {
            (Incremental::Key { .. }, _) => format!("max({col})"),
            (
                Incremental::Column {
                    overlap_seconds, ..
                },
                Dialect::Postgres,
            ) => {
                format!("max({col}) - INTERVAL '{overlap_seconds} seconds'")
            }
            (
                Incremental::Column {
                    overlap_seconds, ..
                },
                Dialect::Oracle,
            ) => {
                format!("max({col}) - NUMTODSINTERVAL({overlap_seconds}, 'SECOND')")
            }
        };
        let text = match self {
            Dialect::Postgres => format!("({value})::text"),
            Dialect::Oracle => format!("TO_CHAR({value})"),
        };
        format!(
            "SELECT {text} AS mark FROM {}",
            self.from(base, "padetl_mark")
        )
    }

    /// `base` narrowed to the rows past an incremental table's mark: for a
    /// key, above it; for a change column, at or after it (the mark already
    /// has the overlap taken off; its literal takes the column's own type),
    /// or NULL (a row never stamped). `held`: keys an earlier run held back, read again so
    /// that a row rejected then loads once its cause is gone.
    pub fn since_mark_sql(
        self,
        base: &str,
        incremental: &Incremental,
        mark: &str,
        key: &str,
        held: &[i64],
    ) -> String {
        let col = format!("padetl_since.{}", self.ident(incremental.column().as_str()));
        let mark = self.string(mark);
        let mut filter = match incremental {
            Incremental::Key { .. } => format!("{col} > {mark}"),
            Incremental::Column { .. } => format!("{col} >= {mark} OR {col} IS NULL"),
        };
        if !held.is_empty() {
            let keys: Vec<String> = held.iter().map(i64::to_string).collect();
            filter = format!(
                "{filter} OR padetl_since.{} IN ({})",
                self.ident(key),
                keys.join(", ")
            );
        }
        format!(
            "SELECT * FROM {} WHERE {filter}",
            self.from(base, "padetl_since")
        )
    }

    /// A string literal that means the same whatever the server's
    /// `standard_conforming_strings`: Postgres' `E''` form escapes
    /// backslashes too.
    fn string(self, text: &str) -> String {
        match self {
            Dialect::Postgres if text.contains('\\') => {
                format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            _ => literal(text),
        }
    }

    /// `base`'s columns and their types, reading no row where the reader can
    /// say them without one (Postgres). A row would be no cheaper: behind an
    /// incremental filter the first row that passes can be the table's last
    /// (a 10M-row table scanned 5 s for it).
    pub fn columns_sql(self, base: &str) -> String {
        let rows = match self {
            Dialect::Postgres => 0,
            Dialect::Oracle => 1,
        };
        format!(
            "SELECT * FROM {} {}",
            self.from(base, "padetl_probe"),
            self.limit(rows)
        )
    }

    /// The most integer digits of a value that [`Dialect::count_sql`] lets
    /// through for this dialect.
    pub fn numeric_integer_digits(self) -> i8 {
        match self {
            Dialect::Postgres => 38 - CX_NUMERIC_SCALE,
            Dialect::Oracle => ORACLE_INTEGER_DIGITS,
        }
    }

    /// What to do about a key that arrived as something other than an
    /// integer: an Oracle `NUMBER` without precision arrives as a decimal.
    pub fn integer_key_hint(self) -> &'static str {
        match self {
            Dialect::Postgres => "",
            Dialect::Oracle => "; an Oracle key must be NUMBER(p,0): write CAST(id AS NUMBER(19)) AS id in the table's query",
        }
    }

    /// `query` (a keymap's) with its `id` as a 64-bit integer and its keys
    /// as text, so that the keymap compares like with like on both sides
    /// whatever the reference columns' types.
    pub fn keys_sql(self, query: &str, km: &Keymap) -> String {
        let (int, text) = match self {
            Dialect::Postgres => ("bigint", "text"),
            Dialect::Oracle => ("NUMBER(19)", "VARCHAR2(4000)"),
        };
        // Postgres' `id` unquoted, as it always was.
        let id = match self {
            Dialect::Postgres => "id".to_string(),
            Dialect::Oracle => self.ident("id"),
        };
        let keys: Vec<String> = km
            .keys
            .iter()
            .map(|k| format!("CAST(q.{0} AS {text}) AS {0}", self.ident(k.as_str())))
            .collect();
        format!(
            "SELECT CAST(q.{id} AS {int}) AS {id}, {} FROM {}",
            keys.join(", "),
            self.from(query, "q")
        )
    }
}

/// rust_decimal's 28 significant digits less [`CX_NUMERIC_SCALE`].
const ORACLE_INTEGER_DIGITS: i8 = 28 - CX_NUMERIC_SCALE;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ident;

    const PG: Dialect = Dialect::Postgres;
    const ORA: Dialect = Dialect::Oracle;

    #[test]
    fn pages_continue_after_the_last_key() {
        assert_eq!(
            PG.page_sql("SELECT * FROM \"a\".\"b\"", "id", None, None, 10),
            "SELECT * FROM (SELECT * FROM \"a\".\"b\") AS padetl_page ORDER BY padetl_page.\"id\" LIMIT 10"
        );
        assert!(PG
            .page_sql("q", "id", Some(42), None, 10)
            .contains("WHERE padetl_page.\"id\" > 42"));
        assert_eq!(
            PG.page_sql("q", "id", Some(42), Some(99), 10),
            "SELECT * FROM (SELECT * FROM (q) AS padetl_page WHERE padetl_page.\"id\" > 42 ORDER BY padetl_page.\"id\" LIMIT 10) \
             AS padetl_range WHERE padetl_range.\"id\" <= 99 ORDER BY padetl_range.\"id\""
        );
    }

    #[test]
    fn oracle_pages_fetch_first_and_alias_without_as() {
        assert_eq!(
            ORA.page_sql("SELECT * FROM \"A\".\"B\"", "id", None, None, 10),
            "SELECT * FROM (SELECT * FROM \"A\".\"B\") padetl_page ORDER BY padetl_page.\"ID\" FETCH FIRST 10 ROWS ONLY"
        );
        assert_eq!(
            ORA.page_sql("q", "id", Some(42), None, 10),
            "SELECT * FROM (q) padetl_page WHERE padetl_page.\"ID\" > 42 ORDER BY padetl_page.\"ID\" FETCH FIRST 10 ROWS ONLY"
        );
        assert_eq!(
            ORA.page_sql("q", "id", Some(-7), Some(99), 10),
            "SELECT * FROM (SELECT * FROM (q) padetl_page WHERE padetl_page.\"ID\" > -7 ORDER BY padetl_page.\"ID\" FETCH FIRST 10 ROWS ONLY) \
             padetl_range WHERE padetl_range.\"ID\" <= 99 ORDER BY padetl_range.\"ID\""
        );
    }

    #[test]
    fn counts_take_rows_keys_and_the_key_range() {
        assert_eq!(
            PG.count_sql("q", "id", &[]),
            "SELECT count(*) AS n, count(padetl_count.\"id\") AS keyed, min(padetl_count.\"id\") AS min_key, max(padetl_count.\"id\") AS max_key FROM (q) AS padetl_count"
        );
        assert_eq!(
            ORA.count_sql("q", "id", &[]),
            "SELECT CAST(count(*) AS NUMBER(19)) AS n, CAST(count(padetl_count.\"ID\") AS NUMBER(19)) AS keyed, \
             CAST(min(padetl_count.\"ID\") AS NUMBER(19)) AS min_key, CAST(max(padetl_count.\"ID\") AS NUMBER(19)) AS max_key \
             FROM (q) padetl_count"
        );
    }

    #[test]
    fn the_column_probe_reads_no_row_where_it_can() {
        assert_eq!(
            PG.columns_sql("q"),
            "SELECT * FROM (q) AS padetl_probe LIMIT 0"
        );
        assert_eq!(
            ORA.columns_sql("q"),
            "SELECT * FROM (q) padetl_probe FETCH FIRST 1 ROWS ONLY"
        );
    }

    #[test]
    fn the_count_finds_what_connectorx_would_round() {
        let cols = ["price".to_string(), "o'qty".to_string()];
        assert_eq!(
            PG.count_sql("q", "id", &cols[..1]),
            "SELECT count(*) AS n, count(padetl_count.\"id\") AS keyed, min(padetl_count.\"id\") AS min_key, \
             max(padetl_count.\"id\") AS max_key, min(CASE WHEN (padetl_count.\"price\" <> round(padetl_count.\"price\", 10) \
             OR abs(padetl_count.\"price\") >= 1e28 OR padetl_count.\"price\" = 'NaN') THEN padetl_count.\"id\" END) AS bad_0 \
             FROM (q) AS padetl_count"
        );
        assert_eq!(
            ORA.count_sql("q", "id", &cols),
            "SELECT CAST(count(*) AS NUMBER(19)) AS n, CAST(count(padetl_count.\"ID\") AS NUMBER(19)) AS keyed, \
             CAST(min(padetl_count.\"ID\") AS NUMBER(19)) AS min_key, CAST(max(padetl_count.\"ID\") AS NUMBER(19)) AS max_key, \
             CAST(min(CASE WHEN (padetl_count.\"PRICE\" <> ROUND(padetl_count.\"PRICE\", 10) OR ABS(padetl_count.\"PRICE\") >= 1e18) \
             THEN padetl_count.\"ID\" END) AS NUMBER(19)) AS bad_0, \
             CAST(min(CASE WHEN (padetl_count.\"O'QTY\" <> ROUND(padetl_count.\"O'QTY\", 10) OR ABS(padetl_count.\"O'QTY\") >= 1e18) \
             THEN padetl_count.\"ID\" END) AS NUMBER(19)) AS bad_1 \
             FROM (q) padetl_count"
        );
        assert_eq!(PG.numeric_integer_digits(), 28);
        assert_eq!(ORA.numeric_integer_digits(), 18);
    }

    fn keymap() -> Keymap {
        Keymap {
            name: Ident::parse("employee").unwrap(),
            source_query: String::new(),
            target_query: String::new(),
            keys: vec![
                Ident::parse("mako_id").unwrap(),
                Ident::parse("email").unwrap(),
            ],
            origin: "p.toml:1".into(),
        }
    }

    #[test]
    fn keymap_keys_are_cast_alike_on_both_sides() {
        assert_eq!(
            PG.keys_sql("SELECT 1", &keymap()),
            "SELECT CAST(q.id AS bigint) AS id, CAST(q.\"mako_id\" AS text) AS \"mako_id\", \
             CAST(q.\"email\" AS text) AS \"email\" FROM (SELECT 1) AS q"
        );
        assert_eq!(
            ORA.keys_sql("SELECT 1 FROM dual", &keymap()),
            "SELECT CAST(q.\"ID\" AS NUMBER(19)) AS \"ID\", CAST(q.\"MAKO_ID\" AS VARCHAR2(4000)) AS \"MAKO_ID\", \
             CAST(q.\"EMAIL\" AS VARCHAR2(4000)) AS \"EMAIL\" FROM (SELECT 1 FROM dual) q"
        );
    }

    #[test]
    fn reads_past_a_mark_by_key_or_by_change_time_with_its_overlap() {
        use crate::config::Ident;
        let key = Incremental::Key {
            column: Ident::parse("id").unwrap(),
        };
        assert_eq!(
            Dialect::Postgres.since_mark_sql("SELECT * FROM a.t", &key, "41", "id", &[3, 5]),
            "SELECT * FROM (SELECT * FROM a.t) AS padetl_since WHERE padetl_since.\"id\" > '41' OR padetl_since.\"id\" IN (3, 5)"
        );
        let column = Incremental::Column {
            column: Ident::parse("updated_at").unwrap(),
            overlap_seconds: 300,
        };
        assert_eq!(
            Dialect::Postgres.since_mark_sql("SELECT * FROM a.t", &column, "2026-11-20 09:00:00", "id", &[]),
            "SELECT * FROM (SELECT * FROM a.t) AS padetl_since WHERE padetl_since.\"updated_at\" >= '2026-11-20 09:00:00' OR padetl_since.\"updated_at\" IS NULL"
        );
        assert_eq!(
            Dialect::Postgres.string("a\\' OR 1=1 --"),
            "E'a\\\\'' OR 1=1 --'"
        );
        assert_eq!(
            Dialect::Postgres.mark_sql("SELECT * FROM a.t", &key),
            "SELECT (max(padetl_mark.\"id\"))::text AS mark FROM (SELECT * FROM a.t) AS padetl_mark"
        );
        assert_eq!(
            Dialect::Postgres.mark_sql("SELECT * FROM a.t", &column),
            "SELECT (max(padetl_mark.\"updated_at\") - INTERVAL '300 seconds')::text AS mark FROM (SELECT * FROM a.t) AS padetl_mark"
        );
    }
}
