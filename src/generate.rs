//! `lab completions SHELL` and `lab man`: shell completions (clap_complete) and man pages
//! (clap_mangen), generated from the same clap definitions as the command line itself, so they
//! cannot drift from it.

use std::io::Write;
use std::path::Path;

pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> Result<(), String> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lab", &mut out);
    write_stdout(&out)
}

/// Without `out`: lab(1) on standard output (`lab man | man -l -`). With it: a page per
/// command in that folder, for `MANPATH` or /usr/local/share/man/man1.
pub fn man(cmd: clap::Command, out: Option<&Path>) -> Result<(), String> {
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| format!("cannot render the man page: {e}"))?;
            write_stdout(&page)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| format!("--out {}: {e}", dir.display()))?;
            println!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}
