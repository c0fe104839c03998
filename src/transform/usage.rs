//! What the pipeline's DataFusion SQL can read, so that the session keeps
//! only that for the whole run: a keymap column or a table's rejected keys
//! that no query names are dropped once built. At 10M requests the keymaps
//! are the largest thing a run holds (82 MB), much of it natural keys only
//! the keymap's own matching used.
//!
//! Conservative by construction: a name is "read" if it appears as a whole
//! word anywhere in any query (quotes and case ignored), and a query with a
//! `*` other than `count(*)` reads every column.

/// The pipeline's DataFusion queries (transforms and page checks), as one
/// normalized text.
#[derive(Debug, Clone)]
pub struct SqlUse {
    text: String,
    star: bool,
}

impl SqlUse {
    pub fn of<'a>(queries: impl IntoIterator<Item = &'a str>) -> SqlUse {
        let text: String = queries
            .into_iter()
            .map(|q| q.to_lowercase().replace('"', ""))
            .collect::<Vec<_>>()
            .join("\n");
        let star = text.replace("count(*)", "").contains('*');
        SqlUse { text, star }
    }

    /// A query may read column `name` of a table it joins.
    pub fn reads_column(&self, name: &str) -> bool {
        self.star || self.names(&name.to_lowercase())
    }

    /// A query names table `schema.table`.
    pub fn reads_table(&self, schema: &str, table: &str) -> bool {
        self.names(&format!("{schema}.{table}").to_lowercase())
    }

    fn names(&self, word: &str) -> bool {
        let part_of_name = |c: char| c.is_alphanumeric() || c == '_';
        self.text.match_indices(word).any(|(at, _)| {
            let before = self.text[..at].chars().next_back();
            let after = self.text[at + word.len()..].chars().next();
            !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_read_where_a_query_names_it() {
        let used = SqlUse::of([
            "SELECT emp.target_id, sec.\"ISIN\" FROM source.r LEFT JOIN keymap.employee emp ON emp.source_id = r.employee_id",
            "SELECT count(*) FROM output.r",
        ]);
        assert!(used.reads_column("target_id"));
        assert!(used.reads_column("isin"), "quotes and case ignored");
        assert!(!used.reads_column("mako_id"));
        assert!(
            !used.reads_column("id"),
            "whole words only: source_id is not id"
        );
        assert!(used.reads_table("keymap", "employee"));
        assert!(!used.reads_table("rejected", "pad_request"));
    }

    #[test]
    fn a_star_reads_every_column_but_no_other_table() {
        let used = SqlUse::of([
            "SELECT r.*, k.target_id FROM source.r r JOIN keymap.x k ON k.source_id = r.id",
        ]);
        assert!(used.reads_column("mako_id"));
        assert!(!used.reads_table("rejected", "r"));
        let used = SqlUse::of(["SELECT a * b FROM rejected.pad_request_old"]);
        assert!(
            used.reads_column("anything"),
            "a product counts as a star: kept"
        );
        assert!(!used.reads_table("rejected", "pad_request"));
    }
}
