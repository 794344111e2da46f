//! Man pages (`smsq.1`, `smsqd.8`) and shell completions (bash, zsh, fish) for both commands,
//! from the same definitions the binaries parse with, so they cannot drift. Shared by
//! `examples/generate_docs.rs` (for packaging) and `tests/docs.rs` (which checks them).

use std::path::Path;

use clap_complete::Shell;

/// Writes `man/` and `completions/` under `out`.
pub fn generate(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    for (command, section) in [(smsq::cli::command(), "1"), (smsq::smsqd::command(), "8")] {
        let mut command = command.version(env!("CARGO_PKG_VERSION"));
        let name = command.get_name().to_string();
        let mut text = Vec::new();
        clap_mangen::Man::new(command.clone())
            .section(section)
            .render(&mut text)?;
        std::fs::write(man.join(format!("{name}.{section}")), text)?;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            clap_complete::generate_to(shell, &mut command, &name, &completions)?;
        }
    }
    Ok(())
}
