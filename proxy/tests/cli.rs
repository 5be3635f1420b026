//! The command line is a contract: the binary refuses to start — exit code 2 and a
//! message naming what is missing — without a key or an allowed origin, and starts with
//! nothing else at all.

use std::process::Command;

fn run(args: &[&str], key: Option<&str>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_multishot-proxy"));
    command.args(args).env_remove("WAVESPEED_API_KEY");
    for (name, _) in std::env::vars() {
        if name.starts_with("MULTISHOT_") {
            command.env_remove(name);
        }
    }
    if let Some(key) = key {
        command.env("WAVESPEED_API_KEY", key);
    }
    let output = command.output().expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_key_is_exit_code_2_with_a_message() {
    let (code, stderr) = run(&["--allow-origin", "https://www.example.com"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no API key: set WAVESPEED_API_KEY"),
        "{stderr}"
    );
}

#[test]
fn no_origin_is_exit_code_2_with_a_message() {
    let (code, stderr) = run(&[], Some("wsk_live_x"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no allowed origin: give --allow-origin"),
        "{stderr}"
    );
}

#[test]
fn a_bad_flag_value_names_the_flag_and_the_key_is_never_echoed() {
    let (code, stderr) = run(
        &[
            "--allow-origin",
            "https://www.example.com",
            "--daily-budget-usd",
            "lots",
        ],
        Some("wsk_live_SECRET_NOT_ECHOED"),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--daily-budget-usd"), "{stderr}");
    assert!(!stderr.contains("SECRET_NOT_ECHOED"));
    let (code, stderr) = run(&["--listen", "nowhere"], Some("k"));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn help_lists_the_contract_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_multishot-proxy"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--upstream",
        "--allow-origin",
        "--daily-budget-usd",
        "--monthly-budget-usd",
        "--runs-per-ip-per-hour",
        "--price-usd",
        "--redis",
        "--paused",
        "--max-running",
        "--trust-proxy",
        "WAVESPEED_API_KEY",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
