use quid::cli::StdoutFailed;
use std::process::ExitCode;

/// What a shell reports for a program that SIGPIPE ended: 128 + 13.
const CLOSED_PIPE: u8 = 141;

fn main() -> ExitCode {
    match quid::cli::run() {
        Ok(code) => code,
        // `quid ... | head`: the reader has all it wanted. Unix tools stop without a word.
        Err(error) if reader_went_away(&error) => ExitCode::from(CLOSED_PIPE),
        Err(error) => {
            eprintln!("{}", quid::cli::output::error_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn reader_went_away(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<StdoutFailed>()
        .is_some_and(|failed| failed.0.kind() == std::io::ErrorKind::BrokenPipe)
}
