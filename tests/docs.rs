//! The man pages and completions generate, and say what the commands do.

#[path = "common/docs.rs"]
mod docs;

#[test]
fn man_pages_and_completions_cover_both_commands() {
    let dir = tempfile::tempdir().unwrap();
    docs::generate(dir.path()).unwrap();
    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    let smsqd = read("man/smsqd.8");
    assert!(smsqd.contains(".TH smsqd 8"), "{smsqd}");
    assert!(smsqd.contains("simulate") && smsqd.contains("config"));
    let smsq = read("man/smsq.1");
    assert!(smsq.contains(".TH smsq 1"));
    for sub in [
        "send", "outbox", "inbox", "watch", "modems", "stats", "ussd",
    ] {
        assert!(smsq.contains(sub), "smsq(1) lacks {sub}");
    }
    for file in [
        "completions/smsq.bash",
        "completions/_smsq",
        "completions/smsq.fish",
        "completions/smsqd.bash",
        "completions/_smsqd",
        "completions/smsqd.fish",
    ] {
        let text = read(file);
        assert!(text.contains("smsq"), "{file}");
    }
    assert!(read("completions/smsq.bash").contains("outbox"));
}
