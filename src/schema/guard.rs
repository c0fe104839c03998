//! Rule 1 enforced at run time, not only by reading SQL: a fingerprint of
//! the reference schema's catalog taken when the transaction starts, plus
//! the transaction's own write statistics and locks on it. Checked after
//! the scratch migrations, after reconciling and before commit; any change,
//! row write or lock stronger than a read fails the run, which rolls back.

use tokio_postgres::GenericClient;

use super::SchemaError;

const CATALOG: &str = "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1) \
    SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM ( \
      SELECT format('nsp %s %s %s', n.nspname, n.nspowner, n.nspacl) AS x FROM pg_namespace n, ns WHERE n.oid = ns.oid \
      UNION ALL SELECT format('rel %s %s %s %s %s %s', c.oid, c.relname, c.relkind, c.relfilenode, c.relacl, c.reloptions) \
        FROM pg_class c, ns WHERE c.relnamespace = ns.oid \
      UNION ALL SELECT format('att %s %s %s %s %s %s', a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attisdropped) \
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, ns WHERE c.relnamespace = ns.oid AND a.attnum > 0 \
      UNION ALL SELECT format('def %s %s %s', d.adrelid, d.adnum, pg_get_expr(d.adbin, d.adrelid)) \
        FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid, ns WHERE c.relnamespace = ns.oid \
      UNION ALL SELECT format('con %s %s', co.conname, pg_get_constraintdef(co.oid)) \
        FROM pg_constraint co, ns WHERE co.connamespace = ns.oid \
      UNION ALL SELECT format('trg %s %s %s', t.tgrelid, t.tgname, t.tgenabled) \
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid, ns WHERE c.relnamespace = ns.oid \
      UNION ALL SELECT format('fn %s %s', p.oid, md5(p.prosrc)) FROM pg_proc p, ns WHERE p.pronamespace = ns.oid \
    ) s";

const WRITES: &str = "SELECT relname::text, n_tup_ins + n_tup_upd + n_tup_del \
    FROM pg_stat_xact_user_tables WHERE schemaname = $1 AND n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY 1";

const LOCKS: &str = "SELECT c.relname::text, l.mode FROM pg_locks l \
    JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE l.pid = pg_backend_pid() AND n.nspname = $1 AND l.mode <> 'AccessShareLock' ORDER BY 1";

/// The reference schema's catalog and every row of it, as one string: what
/// `verify` compares with the fingerprint the last successful run recorded.
/// Rows are hashed without sorting (a sum of row hashes), so the cost is one
/// scan of each table.
pub async fn reference_fingerprint<C: GenericClient>(
    client: &C,
    schema: &str,
) -> Result<String, SchemaError> {
    let err = |e| SchemaError::db("fingerprinting the reference schema's rows", &e);
    let catalog: String = client
        .query_one(CATALOG, &[&schema])
        .await
        .map_err(err)?
        .get(0);
    let tables = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .map_err(err)?;
    let mut out = format!("catalog {catalog}");
    for t in tables {
        let table: String = t.get(0);
        let sql = format!(
            "SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(r::text, 0)::numeric), 0)::text FROM {table} r"
        );
        let rows: String = client
            .query_one(sql.as_str(), &[])
            .await
            .map_err(err)?
            .get(0);
        out.push_str(&format!("; {table} {rows}"));
    }
    Ok(out)
}

/// The reference schema as the transaction found it.
#[derive(Debug, Clone)]
pub struct ReferenceGuard {
    schema: String,
    catalog: String,
}

impl ReferenceGuard {
    /// Takes the fingerprint; call it first thing in the transaction.
    pub async fn capture<C: GenericClient>(client: &C, schema: &str) -> Result<Self, SchemaError> {
        let catalog = client
            .query_one(CATALOG, &[&schema])
            .await
            .map_err(|e| SchemaError::db("fingerprinting the reference schema", &e))?
            .get(0);
        Ok(ReferenceGuard {
            schema: schema.to_string(),
            catalog,
        })
    }

    /// Fails when this transaction changed, wrote or locked the reference
    /// schema in any way since [`capture`](Self::capture).
    pub async fn verify<C: GenericClient>(
        &self,
        client: &C,
        during: &str,
    ) -> Result<(), SchemaError> {
        let err = |e| SchemaError::db("checking the reference schema", &e);
        let mut found = Vec::new();
        let now: String = client
            .query_one(CATALOG, &[&self.schema])
            .await
            .map_err(err)?
            .get(0);
        if now != self.catalog {
            found.push("its catalog changed (DDL)".to_string());
        }
        for r in client.query(WRITES, &[&self.schema]).await.map_err(err)? {
            let (table, rows): (String, i64) = (r.get(0), r.get(1));
            found.push(format!("{rows} row(s) written to {table}"));
        }
        for r in client.query(LOCKS, &[&self.schema]).await.map_err(err)? {
            let (table, mode): (String, String) = (r.get(0), r.get(1));
            found.push(format!("{mode} taken on {table}"));
        }
        if found.is_empty() {
            return Ok(());
        }
        Err(SchemaError::ReferenceTouched {
            schema: self.schema.clone(),
            during: during.to_string(),
            found,
        })
    }
}
