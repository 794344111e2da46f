//! Writes the man pages and shell completions into a directory, for packaging and the
//! install guide: `cargo run --example generate_docs -- target/docs`.

#[path = "../tests/common/docs.rs"]
mod docs;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: generate_docs OUTPUT_DIRECTORY")?;
    docs::generate(std::path::Path::new(&out))?;
    println!("{out}/man, {out}/completions");
    Ok(())
}
