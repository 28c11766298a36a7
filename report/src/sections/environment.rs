//! Section 7: the machine, its limits and every command, so that a grader can rerun it.

use super::*;

impl Ctx<'_> {
    pub(super) fn environment(&mut self) {
        self.section("environment", "7. The environment, and how to rerun it");
        let p = &self.s.plan;
        let e = &p.environment;
        let kv = |k: &str, v: String| vec![k.to_string(), v];
        let rows = vec![
            kv("CPU", e.cpu_model.clone()),
            kv("cores", e.cores.to_string()),
            kv("memory", fmt::bytes(e.memory_bytes as f64)),
            kv("operating system", e.os.clone()),
            kv("kernel", e.kernel.clone()),
            kv(
                "open files (ulimit -n, soft / hard)",
                format!("{} / {}", e.open_files_soft, e.open_files_hard),
            ),
            kv("net.core.somaxconn", e.somaxconn.clone()),
            kv(
                "net.ipv4.ip_local_port_range",
                e.ip_local_port_range.clone(),
            ),
            kv("kernel.threads-max", e.threads_max.clone()),
            kv("kernel.pid_max", e.pid_max.clone()),
            kv("vm.max_map_count", e.max_map_count.clone()),
            kv("rustc", e.rustc.clone()),
            kv("lab", format!("{} ({} build)", e.lab_version, e.build)),
            kv("git commit", e.git_commit.clone()),
            kv("started", p.date.clone()),
            kv(
                "finished",
                p.finished.clone().unwrap_or_else(|| "(interrupted)".into()),
            ),
            kv(
                "duration per cell",
                format!(
                    "{} s measured, after a warm-up of connections / 2000 + 0.5 s",
                    fmt::fixed(p.duration_s, 1)
                ),
            ),
            kv("transport", transport_text(&p.transport).into()),
        ];
        self.push(Block::Table {
            head: vec!["".into(), "value".into()],
            rows,
        });
        let over = if p.transport == "unix" {
            " They talk over a Unix domain socket, so the kernel's TCP stack is not part of any \
             figure here: do not set them beside loopback TCP figures."
        } else {
            ""
        };
        self.para(format!(
            "Server and load generator share the machine's cores (the load generator uses one \
             thread), so compare models within this report rather than against numbers from \
             another machine.{over} To rerun the whole comparison:"
        ));
        self.push(Block::Code(vec![shell_join(&p.command)]));
        self.para("Each cell, exactly as it was run (`lab` is the same binary):");
        let cmds: Vec<String> = p.cells.iter().map(|c| shell_join(&c.command)).collect();
        self.push(Block::Code(cmds));
    }
}

/// How the load reached the servers, for the environment table.
fn transport_text(transport: &str) -> &'static str {
    match transport {
        "unix" => "Unix domain socket (--transport unix): a socket file in a temporary directory",
        _ => "loopback TCP (127.0.0.1)",
    }
}

/// A command line as a shell would need it typed.
fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
