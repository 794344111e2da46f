//! The `smsq` command line. `src/bin/smsq.rs` only calls [`main`].
//!
//! Exit codes: 0 success, 1 the input or request was refused (malformed PDU, text that cannot
//! be encoded, bad number, unknown message), 2 usage errors (clap's own), 3 the daemon is not
//! running or its socket is not accessible. Errors go to stderr as one line; with
//! `--json-errors` a JSON error object also goes to stdout for scripts.

mod care;
mod daemon;
mod pdu;
mod workflows;

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "smsq", version, about = "SMS gateway client and PDU toolkit")]
struct Cli {
    /// On failure, also print a JSON object {"error": {"code", "message", ...}} on stdout.
    #[arg(long, global = true)]
    json_errors: bool,
    #[command(flatten)]
    connection: daemon::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode or encode SMS PDUs, without a daemon.
    #[command(subcommand)]
    Pdu(pdu::PduCommand),
    /// How a text would travel: encoding, parts, units used and left.
    Estimate(pdu::EstimateArgs),
    #[command(flatten)]
    Daemon(daemon::DaemonCommand),
}

/// A failure to report: a stable code, a one-line message, and optional extra JSON fields.
#[derive(Debug)]
pub(crate) struct CommandError {
    pub code: String,
    pub message: String,
    pub details: serde_json::Map<String, serde_json::Value>,
    pub exit: u8,
}

impl CommandError {
    pub(crate) fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            details: serde_json::Map::new(),
            exit: 1,
        }
    }

    pub(crate) fn exit(mut self, code: u8) -> Self {
        self.exit = code;
        self
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// smsq's command line, for generated documentation (man page, completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    // A reader that goes away (`smsq watch --json | grep -m1 delivered`, `... | head`) ends
    // smsq quietly, as it ends other Unix tools: Rust ignores SIGPIPE, so every println!
    // would otherwise panic on the broken pipe.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pdu(cmd) => pdu::run(cmd),
        Command::Estimate(args) => pdu::estimate(args),
        Command::Daemon(cmd) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(daemon::run(cli.connection, cmd)),
            Err(e) => Err(CommandError::new("runtime", e.to_string())),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("smsq: {}", failure.message);
            if cli.json_errors {
                let mut error = serde_json::Map::new();
                error.insert("code".into(), failure.code.into());
                error.insert("message".into(), failure.message.into());
                error.extend(failure.details);
                println!("{}", serde_json::json!({ "error": error }));
            }
            ExitCode::from(failure.exit)
        }
    }
}

/// The text argument, or standard input when it is `-`. One trailing line end from stdin is
/// dropped: `echo hi | smsq estimate -` means "hi", not "hi\n".
pub(crate) fn text_arg(arg: &str) -> Result<String, CommandError> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CommandError::new("stdin", format!("cannot read standard input: {e}")))?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    Ok(s)
}
