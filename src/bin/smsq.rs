//! The `smsq` command: see `smsq --help` and the README.

fn main() -> std::process::ExitCode {
    smsq::cli::main()
}
