use std::process::ExitCode;

fn main() -> ExitCode {
    match quid::cli::run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("quid: {error:#}");
            ExitCode::FAILURE
        }
    }
}
