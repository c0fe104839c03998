//! `padetl plan` and `padetl validate`: what a run would do, computed
//! read-only (`plan` opens a READ ONLY transaction on the target).

use std::fmt::Write;

use crate::config::Pipeline;
use crate::error::Error;
use crate::schema::{plan_schema, read_state, SchemaPlan};
use crate::target::query_error;

/// The schema plan of one target, with the tables it concerns.
#[derive(Debug, serde::Serialize)]
pub struct PlanReport {
    pub target: String,
    pub app_schema: String,
    pub existing_tables: Vec<String>,
    pub missing_tables: Vec<String>,
    pub plan: SchemaPlan,
    /// `(version, file)` of each migration the plan would apply.
    pub migrations: Vec<(i64, String)>,
}

/// Computes the schema plan without changing anything.
pub async fn plan_target(pipeline: &Pipeline) -> Result<PlanReport, Error> {
    let (migrations, mut client) = crate::run::open_target(pipeline).await?;
    let url = &pipeline.target.url;
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(|e| query_error(url, "starting a read-only transaction", &e))?;
    let state = read_state(&tx, pipeline).await?;
    let plan = plan_schema(&state, &migrations)?;
    tx.rollback()
        .await
        .map_err(|e| query_error(url, "ending the read-only transaction", &e))?;
    let chosen = migrations
        .iter()
        .filter(|m| plan.versions().contains(&m.version))
        .map(|m| (m.version, m.path.display().to_string()))
        .collect();
    Ok(PlanReport {
        target: url.to_string(),
        app_schema: pipeline.target.app_schema.to_string(),
        existing_tables: state.existing_tables,
        missing_tables: state.missing_tables,
        plan,
        migrations: chosen,
    })
}

/// The plan as text.
pub fn render_plan(pipeline: &Pipeline, report: &PlanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "target {} schema {}", report.target, report.app_schema);
    for t in &pipeline.tables {
        let state = if report.existing_tables.contains(&t.name.to_string()) {
            "exists"
        } else {
            "missing"
        };
        let _ = writeln!(out, "  {:<16} {state}", t.name);
    }
    let action = match &report.plan {
        SchemaPlan::UpToDate { version } => {
            format!("up to date at migration {version}: nothing to apply")
        }
        SchemaPlan::Create { .. } => "create: apply every migration".to_string(),
        SchemaPlan::Upgrade { from, .. } => format!("upgrade from migration {from}"),
    };
    let _ = writeln!(out, "plan: {action}");
    for (v, file) in &report.migrations {
        let _ = writeln!(out, "  apply {v:04} {file}");
    }
    out
}

/// What a validated pipeline contains, for `validate`.
#[derive(Debug, serde::Serialize)]
pub struct PipelineSummary {
    pub pipeline: String,
    pub env: String,
    pub env_file: String,
    pub source: String,
    pub target: String,
    pub app_schema: String,
    pub reference_schema: String,
    pub timezone: String,
    pub batch_size: usize,
    pub keymaps: Vec<String>,
    pub tables: Vec<String>,
}

pub fn describe_pipeline(p: &Pipeline) -> PipelineSummary {
    PipelineSummary {
        pipeline: p.name.clone(),
        env: p.env.clone(),
        env_file: p.env_file.display().to_string(),
        source: p.source.url.to_string(),
        target: p.target.url.to_string(),
        app_schema: p.target.app_schema.to_string(),
        reference_schema: p.target.reference_schema.to_string(),
        timezone: p.source.timezone.to_string(),
        batch_size: p.batch_size,
        keymaps: p.keymaps.iter().map(|k| k.name.to_string()).collect(),
        tables: p.tables.iter().map(|t| t.name.to_string()).collect(),
    }
}

impl PipelineSummary {
    pub fn render(&self) -> String {
        format!(
            "  env {} ({})\n  source {}\n  target {} (app schema {}, reference schema {} read-only)\n  timezone {} · batch size {}\n  keymaps: {}\n  tables: {}\n",
            self.env, self.env_file, self.source, self.target, self.app_schema, self.reference_schema,
            self.timezone, self.batch_size, self.keymaps.join(", "), self.tables.join(" → ")
        )
    }
}
