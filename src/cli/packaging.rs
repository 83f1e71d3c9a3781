//! `quid completions SHELL` and `quid man`: what a packager or a user's dotfiles install,
//! generated from the same clap definition as the commands, so they never drift.

use super::Cli;
use anyhow::Context;
use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "quid", &mut script);
    print_bytes(&script)
}

/// quid(1), or with a command's name its own page, quid-NAME(1), as git does.
pub fn man_page(command: Option<&str>) -> anyhow::Result<ExitCode> {
    let (_, roff) = render(&page(command)?)?;
    print_bytes(&roff)
}

/// Writes quid.1 and each command's quid-NAME.1 into `dir` (or only `command`'s page), as a
/// package or `~/.local/share/man/man1` wants them; says what it wrote.
pub fn write_man_pages(dir: &Path, command: Option<&str>) -> anyhow::Result<ExitCode> {
    let pages = match command {
        Some(name) => vec![page(Some(name))?],
        None => {
            let quid = Cli::command();
            let names: Vec<String> = visible_commands(&quid).map(str::to_owned).collect();
            let mut pages = vec![quid];
            for name in &names {
                pages.push(page(Some(name))?);
            }
            pages
        }
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot make the directory {}", dir.display()))?;
    for page in &pages {
        let (name, roff) = render(page)?;
        let path = dir.join(name);
        std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
    }
    say!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The page of quid, or of one of its commands.
fn page(command: Option<&str>) -> anyhow::Result<clap::Command> {
    let quid = Cli::command();
    let Some(name) = command else {
        return Ok(quid);
    };
    let Some(sub) = quid.find_subcommand(name) else {
        let names: Vec<&str> = visible_commands(&quid).collect();
        anyhow::bail!("no command {name:?}; commands: {}", names.join(", "));
    };
    Ok(sub
        .clone()
        .name(format!("quid-{name}"))
        .bin_name(format!("quid {name}"))
        .version(env!("CARGO_PKG_VERSION")))
}

fn visible_commands(quid: &clap::Command) -> impl Iterator<Item = &str> {
    quid.get_subcommands()
        .filter(|command| !command.is_hide_set())
        .map(|command| command.get_name())
}

/// A page's file name (NAME.SECTION) and its roff.
fn render(page: &clap::Command) -> anyhow::Result<(String, Vec<u8>)> {
    let man = clap_mangen::Man::new(page.clone());
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    Ok((man.get_filename(), roff))
}

fn print_bytes(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    say!("{}", String::from_utf8_lossy(bytes).trim_end());
    Ok(ExitCode::SUCCESS)
}
