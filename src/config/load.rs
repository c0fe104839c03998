//! Reading pipeline files: the file, its includes (recursively), each parsed
//! on its own so that a TOML error points at the right file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{line_of, ConfigError, Problem};
use super::raw::{merge, RawPipeline};

const MAX_INCLUDE_DEPTH: usize = 8;

/// The merged raw pipeline plus the text of every file read, for locating
/// values in later validation messages.
#[derive(Debug)]
pub struct LoadedFiles {
    pub raw: RawPipeline,
    pub texts: BTreeMap<PathBuf, String>,
}

impl LoadedFiles {
    /// File and line of the first file (top file first) whose text contains `needle`.
    pub fn locate(&self, top: &Path, needle: &str) -> (PathBuf, Option<usize>) {
        let order = std::iter::once(top.to_path_buf()).chain(self.texts.keys().cloned());
        for file in order {
            if let Some(text) = self.texts.get(&file) {
                if let Some(at) = text.find(needle) {
                    return (file, Some(line_of(text, at)));
                }
            }
        }
        (top.to_path_buf(), None)
    }
}

/// Reads `path` and everything it includes; includes come first, so the
/// including file's values win.
pub fn read_pipeline_files(path: &Path) -> Result<LoadedFiles, ConfigError> {
    let mut texts = BTreeMap::new();
    let raw = read_one(path, &mut texts, 0, &mut Vec::new())?;
    Ok(LoadedFiles { raw, texts })
}

fn read_one(
    path: &Path,
    texts: &mut BTreeMap<PathBuf, String>,
    depth: usize,
    stack: &mut Vec<PathBuf>,
) -> Result<RawPipeline, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such pipeline file".to_string(),
            _ => format!("cannot read: {e}"),
        };
        ConfigError::one(Problem::new(path, None, what))
    })?;
    let mut raw: RawPipeline = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        let message = e
            .span()
            .and_then(|span| super::settings::type_error(&text, span))
            .unwrap_or_else(|| e.message().trim().to_string());
        ConfigError::one(Problem::new(path, line, message))
    })?;
    texts.insert(path.to_path_buf(), text.clone());
    let dir = path.parent().unwrap_or(Path::new("."));
    anchor_paths(&mut raw, dir);

    if depth >= MAX_INCLUDE_DEPTH || stack.iter().any(|p| p == path) {
        let line = super::error::find_line(&text, "include");
        return Err(ConfigError::one(Problem::new(
            path,
            line,
            "include cycle or nesting deeper than 8 files",
        )));
    }
    stack.push(path.to_path_buf());
    let mut merged = RawPipeline::default();
    let mut problems = Vec::new();
    for inc in std::mem::take(&mut raw.include) {
        let inc_path = dir.join(&inc);
        match read_one(&inc_path, texts, depth + 1, stack) {
            Ok(r) => merged = merge(merged, r),
            Err(mut e) => {
                if e.problems
                    .iter()
                    .all(|p| p.file == inc_path && p.line.is_none())
                {
                    let line = super::error::find_line(&text, &inc);
                    problems.push(Problem::new(
                        path,
                        line,
                        format!("included file {} cannot be read", inc_path.display()),
                    ));
                } else {
                    problems.append(&mut e.problems);
                }
            }
        }
    }
    stack.pop();
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(merge(merged, raw))
}

/// Makes file references absolute-ish (relative to the declaring file), so
/// that merging files from several folders keeps each path meaningful.
fn anchor_paths(raw: &mut RawPipeline, dir: &Path) {
    for t in &mut raw.tables {
        t.sql = t
            .sql
            .as_ref()
            .map(|sql| dir.join(sql).to_string_lossy().into_owned());
    }
    if let Some(target) = &mut raw.target {
        if let Some(m) = &target.migrations {
            target.migrations = Some(dir.join(m).to_string_lossy().into_owned());
        }
    }
}
