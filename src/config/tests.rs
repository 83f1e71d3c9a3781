use super::*;

fn check(text: &str, wanted: Option<&str>) -> Result<Profile, String> {
    resolve(Path::new("/etc/quid/config.toml"), text, wanted).map_err(|e| e.to_string())
}

const TWO_PROFILES: &str = r#"default_profile = "alice"

[profiles.alice]
server = "ws://127.0.0.1:7447"
username = "alice"
data_dir = "/tmp/quid-alice"

[profiles.bob]
server = "wss://chat.example.org"
username = "bob"
data_dir = "state/bob"
"#;

#[test]
fn resolves_the_default_and_a_named_profile() {
    let alice = check(TWO_PROFILES, None).unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.server.as_str(), "ws://127.0.0.1:7447/");
    assert_eq!(alice.data_dir, PathBuf::from("/tmp/quid-alice"));
    let bob = check(TWO_PROFILES, Some("bob")).unwrap();
    assert_eq!(bob.username, "bob");
    assert_eq!(bob.data_dir, PathBuf::from("/etc/quid/state/bob"));
}

#[test]
fn an_unknown_key_names_file_line_column_and_key() {
    let text = "[profiles.alice]\nserver = \"ws://h:1\"\nusername = \"alice\"\nsever = \"x\"\n";
    let error = check(text, None).unwrap_err();
    assert!(
        error.starts_with("/etc/quid/config.toml:4:1: profiles.alice.sever: "),
        "{error}"
    );
    assert!(error.contains("unknown field"), "{error}");
}

#[test]
fn a_bad_url_points_at_its_value() {
    let text = "[profiles.alice]\nserver = \"http://h:1\"\nusername = \"alice\"\n";
    let error = check(text, None).unwrap_err();
    assert!(
        error.starts_with("/etc/quid/config.toml:2:10: profiles.alice.server: "),
        "{error}"
    );
    assert!(error.contains("ws://"), "{error}");
}

#[test]
fn a_missing_profile_lists_the_ones_that_exist() {
    let error = check(TWO_PROFILES, Some("carol")).unwrap_err();
    assert!(error.contains("no profile named \"carol\""), "{error}");
    assert!(error.contains("alice, bob"), "{error}");
    let text = TWO_PROFILES.replace("default_profile = \"alice\"", "default_profile = \"zed\"");
    let error = check(&text, None).unwrap_err();
    assert!(
        error.starts_with("/etc/quid/config.toml:1:19: default_profile: "),
        "{error}"
    );
}

#[test]
fn syntax_errors_and_missing_keys_point_at_the_line() {
    let error = check("[profiles.alice]\nserver = \"ws://h:1\n", None).unwrap_err();
    assert!(error.starts_with("/etc/quid/config.toml:2:"), "{error}");
    let error = check("[profiles.alice]\nserver = \"ws://h:1\"\n", None).unwrap_err();
    assert!(error.contains("username"), "{error}");
    let error = check(
        "[profiles.alice]\nserver = \"ws://h:1\"\nusername = \"Alice!\"\n",
        None,
    )
    .unwrap_err();
    assert!(
        error.starts_with("/etc/quid/config.toml:3:12: profiles.alice.username: "),
        "{error}"
    );
}

#[test]
fn the_shipped_example_is_valid() {
    let text = include_str!("../../config.example.toml");
    let alice = check(text, None).unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.username.as_str()),
        ("alice", "alice")
    );
    assert!(
        alice.data_dir.ends_with("profiles/alice"),
        "the default place, so QUID_DATA_DIR applies to every profile alike"
    );
    let bob = check(text, Some("bob")).unwrap();
    assert!(bob.data_dir.ends_with("profiles/bob"));
}

#[test]
fn tui_settings_are_read_plainly_with_where_they_were_written() {
    let base = "[profiles.alice]\nserver = \"ws://h:1\"\nusername = \"alice\"\n";
    let good = format!(
        "{base}theme = \"light\"\nnotify_osc = true\n[profiles.alice.keys]\nquit = \"ctrl-x\"\nhelp = [\"f1\", \"f12\"]\n"
    );
    let profile = check(&good, None).unwrap();
    assert_eq!(profile.tui.theme, "light");
    assert_eq!(
        profile.tui.theme_written.unwrap().to_string(),
        "/etc/quid/config.toml:4:9: profiles.alice.theme"
    );
    assert!(profile.tui.notify_osc && profile.tui.notify_bell);
    let help = &profile.tui.keys[0];
    assert_eq!(
        (help.action.as_str(), help.keys.clone()),
        ("help", vec!["f1".into(), "f12".into()])
    );
    let mine = check(&format!("{base}theme = \"themes/mine.toml\"\n"), None).unwrap();
    assert_eq!(
        mine.tui.theme, "/etc/quid/themes/mine.toml",
        "relative to the config"
    );
}

#[test]
fn a_ca_file_must_hold_certificates_and_go_with_a_wss_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let at = |text: &str| resolve(&path, text, None).map_err(|e| e.to_string());
    let plain = "[profiles.a]\nserver = \"ws://h:1\"\nusername = \"alice\"\nca_file = \"ca.pem\"\n";
    let error = at(plain).unwrap_err();
    assert!(
        error.contains(":4:11: profiles.a.ca_file: ca_file is for wss://"),
        "{error}"
    );

    let tls = "[profiles.a]\nserver = \"wss://h:1\"\nusername = \"alice\"\nca_file = \"ca.pem\"\n";
    let error = at(tls).unwrap_err();
    assert!(
        error.contains("profiles.a.ca_file: cannot read certificates from"),
        "{error}"
    );
    assert!(error.contains("ca.pem"), "{error}");

    let certified = rcgen::generate_simple_self_signed(vec!["h".into()]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), certified.cert.pem()).unwrap();
    let profile = at(tls).unwrap();
    assert_eq!(profile.ca_file, Some(dir.path().join("ca.pem")));
}
