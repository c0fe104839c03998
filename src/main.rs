//! The `padetl` binary: parse, call the library, map the result to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    bounded_malloc();
    let cli = padetl::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PADETL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, not in a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(padetl::error::exit::INTERNAL);
        }
    };
    match runtime.block_on(padetl::cli::execute(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", e.to_string().trim_end());
            ExitCode::from(e.exit_code())
        }
    }
}

/// glibc's defaults let a long run's memory grow with the data: every
/// thread that allocates gets its own arena (up to eight per core), pages
/// are read on blocking threads and freed on others, and after a large
/// buffer is freed glibc raises its mmap threshold, so the next pages' Arrow
/// buffers come from the arenas and stay there. With two arenas and large
/// buffers always mapped (and unmapped when freed) a 10M-request run's peak
/// RSS fell from 473 MB to the figure in `benches/results/README.md`
/// ("Memory"). Called first, before any thread starts; `MALLOC_ARENA_MAX`
/// and `MALLOC_MMAP_THRESHOLD_` in the environment still win.
fn bounded_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, param, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 2),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 1 << 20),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt only sets an allocator parameter; no other
            // thread exists yet.
            unsafe {
                libc::mallopt(param, value);
            }
        }
    }
}
