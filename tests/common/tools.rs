//! Real programs some tests drive (a browser, an upstream client library): where one is
//! missing, the test says so and passes on a developer's machine, and fails in CI (`CI` set),
//! where `.ci/run` installs them.
#![allow(dead_code)]

use std::path::PathBuf;

/// Whether a test may go on without `what`; in CI it may not.
pub fn missing(what: &str, how: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing, and CI must run this test: {how}");
    }
    eprintln!("SKIPPED: {what} is missing ({how}); CI runs this test");
    true
}

/// `python3`, if the machine has it.
pub fn python() -> Option<PathBuf> {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("python3"))
}

/// The upstream SMS Gateway for Android Python client, installed by `.ci/run` into
/// `target/pyclient` (or where `SMSQ_PYCLIENT` says).
pub fn android_client() -> Option<PathBuf> {
    let dir = std::env::var_os("SMSQ_PYCLIENT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyclient"),
        PathBuf::from,
    );
    dir.join("android_sms_gateway").is_dir().then_some(dir)
}

/// How `.ci/run` installs the client (the same line).
pub const ANDROID_CLIENT_INSTALL: &str = "python3 -m pip install --quiet --target target/pyclient android-sms-gateway==4.3.3 requests==2.34.2";
