//! The `smsqd` daemon: see `smsqd --help` and the README.

fn main() -> std::process::ExitCode {
    smsq::smsqd::main()
}
