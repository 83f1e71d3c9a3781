//! `quid completions SHELL` and `quid man`: what a packager or a user's dotfiles install,
//! generated from the same clap definition as the commands, so they never drift.

use super::Cli;
use clap::CommandFactory;
use std::process::ExitCode;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "quid", &mut script);
    print_bytes(&script)
}

/// quid(1), or with a command's name its own page, quid-NAME(1), as git does.
pub fn man_page(command: Option<&str>) -> anyhow::Result<ExitCode> {
    let quid = Cli::command();
    let page = match command {
        None => quid,
        Some(name) => {
            let Some(sub) = quid.find_subcommand(name) else {
                let names: Vec<&str> = quid.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!("no command {name:?}; commands: {}", names.join(", "));
            };
            sub.clone()
                .name(format!("quid-{name}"))
                .bin_name(format!("quid {name}"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    print_bytes(&roff)
}

fn print_bytes(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    say!("{}", String::from_utf8_lossy(bytes).trim_end());
    Ok(ExitCode::SUCCESS)
}
