//! `padetl plan` and `padetl validate`: what a run would do, computed without
//! changing anything. `plan` reads the catalog and builds the desired shapes
//! on temporary tables inside a transaction that is always rolled back.

use std::fmt::Write;

use super::{load, Context};
use crate::cli::{PipelineArgs, PlanArgs};
use crate::config::Pipeline;
use crate::error::Error;
use crate::flow::migrations;
use crate::schema::{
    join_versions as join, prepare, NotApplied, ReferenceGuard, RowCounts, SchemaPlan, Step,
    TableState,
};
use crate::target::{require_privileges, Need, TargetSession};

/// `padetl plan`.
pub(crate) async fn plan(args: &PlanArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(&args.target)?;
    let plan = plan_target(&pipeline, args.allow_destructive).await?;
    let printed = ctx.print(&plan, || render_plan(&plan))?;
    if !plan.plan.is_refused() {
        return Ok(printed);
    }
    // The plan is on stdout; the refusal is also an error, said where
    // scripts and people look for one.
    let refused = crate::schema::SchemaError::Refused {
        app_schema: plan.plan.app_schema.clone(),
        refused: plan.plan.refused.clone(),
    };
    eprintln!("error: {refused}");
    Ok(crate::error::exit::BAD_INPUT)
}

/// `padetl validate`: the pipeline as padetl understands it; no connection.
pub(crate) fn validate(args: &PipelineArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(args)?;
    let summary = describe_pipeline(&pipeline);
    ctx.print(&summary, || {
        format!("{} is valid\n{}", pipeline.path.display(), summary.render())
    })
}

/// The schema plan of one target.
#[derive(Debug, serde::Serialize)]
struct PlanReport {
    pub target: String,
    pub reference_schema: String,
    #[serde(flatten)]
    pub plan: SchemaPlan,
}

/// Computes the schema plan; the transaction is rolled back whatever happens.
async fn plan_target(pipeline: &Pipeline, allow_destructive: bool) -> Result<PlanReport, Error> {
    let migrations = migrations(pipeline)?;
    require_privileges(pipeline, Need::Plan).await?;
    let session = TargetSession::scratch(pipeline).await?;
    let tx = session.client();
    let reference = pipeline.target.reference_schema.as_str();
    let guard = ReferenceGuard::capture(tx, reference).await?;
    let app_schema = pipeline.target.app_schema.as_str();
    let prepared = prepare(
        tx,
        app_schema,
        &migrations,
        &guard,
        allow_destructive,
        RowCounts::Every,
    )
    .await;
    session.end().await?;
    Ok(PlanReport {
        target: pipeline.target.url.to_string(),
        reference_schema: reference.to_string(),
        plan: prepared?.plan,
    })
}

/// The plan as text: per-table states, the steps, what is not applied and
/// why, then the SQL that would run.
fn render_plan(report: &PlanReport) -> String {
    let plan = &report.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "target {} · app schema {} · reference schema {} (read only)",
        report.target, plan.app_schema, report.reference_schema
    );
    let history = match &plan.history {
        None => "none (no history table)".to_string(),
        Some(v) if v.is_empty() => "empty".to_string(),
        Some(v) => format!("versions {}", join(v)),
    };
    let shape = match plan.shape_version {
        Some(0) => "no tables yet".to_string(),
        Some(v) => format!("every table equals version {v}"),
        None => "the tables equal no single version".to_string(),
    };
    let _ = writeln!(
        out,
        "migrations: head is version {} · history: {history} · shape: {shape}\n",
        plan.head
    );
    render_tables(&mut out, plan);
    let _ = writeln!(out, "\nplan: {}", headline(plan));
    let mut last = String::new();
    for step in &plan.steps {
        let line = match step {
            Step::Migration { file, checksum, .. } => {
                format!("run {file} (sha256 {})", &checksum[..checksum.len().min(12)])
            }
            Step::MigrationPart { file, checksum, tables, statements, .. } => format!(
                "run {file} (sha256 {}) for {} only: {} of its statements (lines {})",
                &checksum[..checksum.len().min(12)],
                tables.join(", "),
                statements.len(),
                lines_of(statements)
            ),
            Step::Statement { table, change, destructive, .. } => format!(
                "{table}: {change}{}",
                if *destructive { " (destructive, allowed)" } else { "" }
            ),
            Step::Baseline { versions } => format!(
                "record versions {} in the history without running them (the tables already equal them)",
                join(versions)
            ),
        };
        // A constraint added NOT VALID then validated is one change.
        if line != last {
            let _ = writeln!(out, "  - {line}");
        }
        last = line;
    }
    render_not_applied(&mut out, plan);
    render_refused(&mut out, plan);
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\nother tables in {} (no migration defines them; never touched): {}",
            plan.app_schema,
            plan.unmanaged.join(", ")
        );
    }
    let sql: Vec<&Step> = plan.steps.iter().filter(|s| s.sql().is_some()).collect();
    if !sql.is_empty() {
        let _ = writeln!(
            out,
            "\nSQL that {}, in one transaction (search_path = {}):",
            if plan.is_refused() {
                "would run once the refusal is dealt with"
            } else {
                "would run"
            },
            plan.app_schema
        );
        for step in sql {
            match step {
                Step::Migration { file, sql, .. } => {
                    let _ = writeln!(out, "\n-- {file}\n{}", sql.trim_end());
                }
                Step::MigrationPart {
                    file,
                    tables,
                    statements,
                    ..
                } => {
                    let _ = writeln!(out, "\n-- {file}, the statements for {}", tables.join(", "));
                    for s in statements {
                        let _ = writeln!(out, "-- line {}\n{};", s.line, s.sql);
                    }
                }
                Step::Statement { sql, .. } => {
                    let _ = writeln!(out, "{sql};");
                }
                Step::Baseline { .. } => {}
            }
        }
    }
    out
}

fn lines_of(statements: &[crate::schema::Statement]) -> String {
    statements
        .iter()
        .map(|s| s.line.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_refused(out: &mut String, plan: &SchemaPlan) {
    if !plan.is_refused() {
        return;
    }
    let _ = writeln!(out, "\nrefused, so nothing runs:");
    for r in &plan.refused {
        let _ = writeln!(out, "  - {r}");
    }
}

fn render_tables(out: &mut String, plan: &SchemaPlan) {
    let _ = writeln!(out, "  {:<16} {:>10}  state", "table", "rows");
    for t in &plan.tables {
        let rows = t.rows.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let renamed = match &t.found_as {
            Some(name) if name != &t.table => format!(" (found as {name})"),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {:<16} {rows:>10}  {}{renamed}", t.table, t.state);
        for d in &t.differences {
            let _ = writeln!(out, "  {:<16} {:>10}    · {d}", "", "");
        }
        if let Some(outcome) = t.outcome.describe() {
            let _ = writeln!(out, "  {:<16} {:>10}    → {outcome}", "", "");
        }
    }
}

fn render_not_applied(out: &mut String, plan: &SchemaPlan) {
    if plan.not_applied.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nnot applied:");
    for c in &plan.not_applied {
        let label = match c.kind {
            NotApplied::Destructive => "destructive, needs --allow-destructive",
            NotApplied::Blocked => "blocked",
            NotApplied::Kept => "kept",
        };
        let _ = writeln!(out, "  - {}: {} ({label}): {}", c.table, c.change, c.why);
        for sql in &c.sql {
            let _ = writeln!(out, "      {sql};");
        }
    }
}

fn headline(plan: &SchemaPlan) -> String {
    if plan.is_refused() {
        return "refused: nothing will run (why, and what to do, below)".into();
    }
    if plan.is_noop() {
        return format!("nothing to do: {}", plan.summary());
    }
    match plan.action {
        crate::schema::Action::Use => format!("use the tables as they are (version {})", plan.head),
        crate::schema::Action::Create => format!("create every table (version {})", plan.head),
        crate::schema::Action::Upgrade { from, to } => {
            format!("upgrade from version {from} to {to}, keeping every row")
        }
        crate::schema::Action::RepairAndUpgrade { from, to } => format!(
            "apply the safe part of the drift towards version {from}, then upgrade from {from} to {to}, keeping every row"
        ),
        crate::schema::Action::UpgradeEach { from, to } => format!(
            "upgrade each table from its own version (the oldest is {from}) to {to}, keeping every row"
        ),
        crate::schema::Action::Repair => {
            let count = |state: fn(&TableState) -> bool| {
                plan.tables.iter().filter(|t| state(&t.state)).count()
            };
            format!(
                "create {} missing table(s), apply the safe part of {} drifted table(s)' differences",
                count(|s| matches!(s, TableState::Missing)),
                count(|s| matches!(s, TableState::Drifted { .. }))
            )
        }
    }
}

/// What a validated pipeline contains, for `validate`.
#[derive(Debug, serde::Serialize)]
struct PipelineSummary {
    pub pipeline: String,
    pub description: Option<String>,
    pub env: String,
    pub env_file: String,
    pub source: String,
    pub target: String,
    pub app_schema: String,
    pub reference_schema: String,
    pub timezone: String,
    pub batch_size: usize,
    pub readers: usize,
    pub keymaps: Vec<String>,
    pub tables: Vec<String>,
}

fn describe_pipeline(p: &Pipeline) -> PipelineSummary {
    PipelineSummary {
        pipeline: p.name.clone(),
        description: p.description.clone(),
        env: p.env.clone(),
        env_file: p.env_file.display().to_string(),
        source: p.source.url.to_string(),
        target: p.target.url.to_string(),
        app_schema: p.target.app_schema.to_string(),
        reference_schema: p.target.reference_schema.to_string(),
        timezone: p.source.timezone.to_string(),
        batch_size: p.batch_size,
        readers: p.readers,
        keymaps: p.keymaps.iter().map(|k| k.name.to_string()).collect(),
        tables: p.tables.iter().map(|t| t.name.to_string()).collect(),
    }
}

impl PipelineSummary {
    fn render(&self) -> String {
        let description = match &self.description {
            Some(d) => format!("  {d}\n"),
            None => String::new(),
        };
        format!(
            "{description}  env {} ({})\n  source {}\n  target {} (app schema {}, reference schema {} read-only)\n  timezone {} · batch size {} · {} readers per table\n  keymaps: {}\n  tables: {}\n",
            self.env, self.env_file, self.source, self.target, self.app_schema, self.reference_schema,
            self.timezone, self.batch_size, self.readers, self.keymaps.join(", "), self.tables.join(" → ")
        )
    }
}
